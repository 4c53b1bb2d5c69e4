"""``schemagm equiv A B``: are two specs the same model up to renaming and decoration?"""

from __future__ import annotations

from pathlib import Path

import typer

from .common import echo, user_errors

HELP = """Compare the structure of two specs: node roles, edge endpoints, solid or dashed,
red (and the kind of adversary).  Networks, sizes, labels and options are decoration.

Exit status 0 when they are equivalent (prints how the nodes and edges
correspond), 1 when not (prints the differences in words).

Examples:

  schemagm equiv specs/beta_vae.sgm specs/vae.sgm

  schemagm transform swap-nodes specs/infogan.sgm x z > mine.sgm && schemagm equiv mine.sgm specs/aae.sgm
"""


def read_specs(*paths: Path) -> list:
    """Parse and check spec files (a missing file is a SpecError)."""
    from ..graph.build import parse_file

    return [parse_file(p) for p in paths]


def register(app: typer.Typer) -> None:
    @app.command("equiv", help=HELP)
    def equiv_command(
        a: Path = typer.Argument(..., help="first .sgm file", show_default=False),
        b: Path = typer.Argument(..., help="second .sgm file", show_default=False),
        show_hash: bool = typer.Option(False, "--hash", help="also print both structural hashes"),
    ) -> None:
        from ..transform.equivalence import differences, find_isomorphism, structural_hash

        with user_errors():
            ga, gb = read_specs(a, b)
        if show_hash:
            echo(f"{a}: {structural_hash(ga)}\n{b}: {structural_hash(gb)}")
        match = find_isomorphism(ga, gb)
        if match is not None:
            echo(f"{a} and {b} are structurally equivalent ({ga.name} ≅ {gb.name}):")
            for line in match.describe(ga, gb):
                echo(f"  {line}")
            return
        echo(f"{a} and {b} are not equivalent (A = {ga.name}, B = {gb.name}):")
        for line in differences(ga, gb):
            echo(f"  - {line}")
        raise typer.Exit(1)
