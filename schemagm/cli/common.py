"""Helpers shared by the command modules: error reporting and output.

Exit status, the same in every command: 0 success, 1 a problem with the user's input (a spec or
data error, a missing or unreadable file, a full disk: a message naming the file, never a
traceback), 2 a malformed command line (an unknown option, a value of the wrong type), 130 an
interrupted run.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

import typer

from ..errors import SpecError


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn the project's error type into a message on stderr and exit status 1."""
    try:
        yield
    except SpecError as err:
        from .app import print_error

        print_error(err)
        raise typer.Exit(1) from None
    except OSError as err:  # a file operation that no helper wrapped: still a message, not a traceback
        from ..fileio import os_error
        from .app import print_error

        print_error(os_error(err, "read or write"))
        raise typer.Exit(1) from None
    except KeyboardInterrupt:  # Ctrl-C before a run could save, or twice: every file is whole (atomic writes)
        sys.stderr.write("interrupted (files already written are complete; a run continues with --resume)\n")
        raise typer.Exit(130) from None


def load_torch() -> None:
    """Import torch, then freeze the objects its import made out of the garbage collector's scans.

    They live as long as the process.  Left in the collector, each full collection that the
    command's own imports and work set off walks them all again: one or two, about 50 ms each, in
    every command that loads torch (docs/benchmarks.md).  Call it before the command's other imports.
    """
    import gc

    import torch  # noqa: F401

    gc.freeze()


def echo(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
