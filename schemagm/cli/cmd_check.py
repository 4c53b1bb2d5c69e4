"""``schemagm check FILE...``: parse and check specs, print every problem with its position."""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import SpecError
from .common import echo

HELP = """Parse and check .sgm specs; report every problem of every file.

For a valid file it prints `FILE: ok (N nodes, M edges, groups theta, phi)`.
For an invalid one it prints each problem with its file, line and column, the
line with a caret under the culprit and a hint.  A directory stands for the
.sgm files in it.

An option or a per-edge setting that the model does not use (`beta` on a
GAN, `gradient_penalty` with the hinge form, `distance=` on a stochastic
edge) is a warning with its position; it does not change the exit status.

Exit status: 0 when every file is valid, 1 when any spec has an error or a
file is missing (all files are still checked), 2 for a usage error.

Examples:

  schemagm check specs/vae.sgm

  schemagm check specs/*.sgm

  schemagm check specs/
"""


def expand(paths: list[Path]) -> tuple[list[Path], list[Path]]:
    """(files to read, paths that do not exist); a directory gives its *.sgm files."""
    files: list[Path] = []
    missing: list[Path] = []
    for p in paths:
        if p.is_dir():
            files.extend(sorted(p.glob("*.sgm")))
        elif p.exists():
            files.append(p)
        else:
            missing.append(p)
    return files, missing


def summary(graph) -> str:  # noqa: ANN001 - a SchematicGraph
    groups = graph.groups
    n, m = len(graph.nodes), len(graph.edges)
    what = f"groups {', '.join(groups)}" if groups else "no parameter groups"
    return f"{n} node{'s' if n != 1 else ''}, {m} edge{'s' if m != 1 else ''}, {what}"


def register(app: typer.Typer) -> None:
    @app.command("check", help=HELP)
    def check(
        files: list[Path] = typer.Argument(..., help="spec files (.sgm) or directories of them", show_default=False),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="print only the problems, not the ok lines"),
    ) -> None:
        from ..fileio import require_file
        from ..graph.build import parse_file
        from .app import print_error

        found, missing = expand(files)
        for p in missing:
            try:
                require_file(p, "spec file", pipe=True)
            except SpecError as err:
                print_error(err)
        failed = bool(missing)
        for path in found:
            try:
                graph = parse_file(path)
            except SpecError as err:
                failed = True
                print_error(err)
                continue
            for warning in graph.warnings:  # options and settings the model does not use (exit status 0)
                typer.echo(warning.render(graph.source, str(path)), err=True)
            if not quiet:
                echo(f"{path}: ok ({summary(graph)})")
        if not found and not missing:
            typer.echo("error: no .sgm files to check", err=True)
            raise typer.Exit(1)
        raise typer.Exit(1 if failed else 0)
