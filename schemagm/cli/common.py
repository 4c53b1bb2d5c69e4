"""Helpers shared by the command modules: error reporting and output."""

from __future__ import annotations

import contextlib
import sys
from typing import Iterator

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
        raise typer.Exit(1)


def echo(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
