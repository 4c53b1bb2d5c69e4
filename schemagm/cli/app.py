"""The ``schemagm`` command: a thin layer over the library.

Each command lives in its own module under :mod:`schemagm.cli` and exposes a
function ``register(app)`` that adds it to the typer application. Errors of the
project's one type (:class:`~schemagm.errors.SpecError`) are printed with their
positions and carets, without a traceback, and exit with status 1; usage errors
exit with status 2 (typer/click's convention).
"""

from __future__ import annotations

import sys
from importlib import import_module
from typing import Any

import typer
from typer.core import TyperGroup

from ..errors import SpecError

#: command modules, in the order ``schemagm --help`` lists them
COMMANDS = (
    "check",
    "fmt",
    "compile",
    "eject",
    "render",
    "transform",
    "equiv",
    "explain",
    "train",
    "sample",
    "eval",
    "reproduce",
    "lsp",
)


class _Group(TyperGroup):
    """The top-level command: every command's help in one style (see :mod:`.help`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from .help import polish

        polish(self)


app = typer.Typer(
    cls=_Group,
    name="schemagm",
    help=(
        "A declarative compiler for deep generative models drawn as schematic graphical models "
        "(Hu et al., ICLR 2018).\n\nExample: schemagm check specs/*.sgm"
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _print_version(value: bool) -> None:
    if value:
        from .. import __version__

        typer.echo(f"schemagm {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", is_eager=True, callback=_print_version, help="Print the version."),
) -> None:
    pass


def _register_all(only: str | None = None) -> None:
    """Add the commands to the app: every one, or only ``only`` (what one command line needs)."""
    for name in COMMANDS if only is None else (only,):
        module = import_module(f"schemagm.cli.cmd_{name}")
        module.register(app)


def _command_word(argv: list[str]) -> str | None:
    """The command a command line runs, when it names one (its first word); else None."""
    return argv[0] if argv and argv[0] in COMMANDS else None


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script.  A command line that names a command registers only
    that one (importing every command module costs start-up time); help, --version and an
    unknown command (which gets a suggestion) register them all."""
    try:
        _register_all(_command_word(sys.argv[1:] if argv is None else argv))
        app(args=argv, standalone_mode=True, prog_name="schemagm")
    except SpecError as err:  # raised outside a command's own handler
        print_error(err)
        sys.exit(1)
    except KeyboardInterrupt:  # Ctrl-C while the command starts
        sys.stderr.write("interrupted\n")
        sys.exit(130)


def print_error(err: SpecError) -> None:
    from rich.console import Console
    from rich.markup import escape

    Console(stderr=True, highlight=False, soft_wrap=True).print(f"[red]{escape(str(err))}[/red]")
