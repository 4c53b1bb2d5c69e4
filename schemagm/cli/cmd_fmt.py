"""``schemagm fmt FILE...``: print a spec in its canonical form, check it, or rewrite it in place."""

from __future__ import annotations

from pathlib import Path

import typer

from ..fileio import write_atomic
from .common import echo, user_errors

HELP = """Print the canonical text of a spec (comments are kept).

The canonical form aligns the columns, puts the nodes, then the edges, then
the options (only those that differ from their defaults), and normalises
numbers and spacing.  Parsing it again gives the same graph.

  --check  print nothing but the files that would change; exit 1 if any would
  --write  rewrite the files that would change (atomically: a temporary file
           replaces the original only once it is complete)

Examples:

  schemagm fmt specs/vae.sgm

  schemagm fmt --check specs/*.sgm

  schemagm fmt --write mine.sgm
"""


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` by ``text`` atomically, keeping the file's permissions (a spec is the user's own file)."""
    write_atomic(path, text, keep_mode=True)


def register(app: typer.Typer) -> None:
    @app.command("fmt", help=HELP)
    def fmt(
        files: list[Path] = typer.Argument(..., help="spec files (.sgm)", show_default=False),
        check: bool = typer.Option(False, "--check", help="exit 1 and name the files that are not canonical"),
        write: bool = typer.Option(False, "--write", "-w", help="rewrite the files that are not canonical"),
    ) -> None:
        from ..graph.build import format_text, read_spec_text

        if check and write:
            raise typer.BadParameter("--check and --write exclude each other")
        from ..fileio import require_file

        changed = []
        with user_errors():
            for path in files:
                require_file(path, "spec file", pipe=True)
            for path in files:
                text = read_spec_text(path)
                canonical = format_text(text, file=str(path))
                if check:
                    if canonical != text:
                        changed.append(path)
                        typer.echo(f"{path}: would change", err=True)
                elif write:
                    if canonical != text:
                        write_atomically(path, canonical)
                        echo(f"{path}: reformatted")
                    else:
                        echo(f"{path}: unchanged")
                else:
                    typer.echo(canonical, nl=False)
        if changed:
            raise typer.Exit(1)
