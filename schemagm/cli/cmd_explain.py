"""``schemagm explain A B``: the shortest chain of transformations that turns A into B."""

from __future__ import annotations

from pathlib import Path

import typer

from .common import echo, user_errors

HELP = """Find the shortest chain of transformations (swap-processes, swap-nodes,
activate/degenerate-adversary, remove-edge) that maps A onto B up to
structural equivalence.  The search is structural: a graph on the way may carry
a network next to a node it no longer fits (decoration); --valid-only visits
only graphs that pass the checker.

Exit status 0 and the chain as an expression when one of at most --max-depth
steps exists; exit status 1 when none does.

Examples:

  schemagm explain specs/infogan.sgm specs/vae.sgm
      vae ≅ degenerate_adversary(swap_processes(infogan))

  schemagm explain specs/infogan.sgm specs/aae.sgm --max-depth 2
"""


def register(app: typer.Typer) -> None:
    @app.command("explain", help=HELP)
    def explain_command(
        a: Path = typer.Argument(..., help="the spec to start from", show_default=False),
        b: Path = typer.Argument(..., help="the spec to reach", show_default=False),
        max_depth: int = typer.Option(3, "--max-depth", min=0, max=6, help="longest chain to look for"),
        valid_only: bool = typer.Option(False, "--valid-only", help="every graph on the way must be a valid model"),
    ) -> None:
        from ..transform.explain import explain
        from .cmd_equiv import read_specs

        with user_errors():
            ga, gb = read_specs(a, b)
            chain = explain(ga, gb, max_depth=max_depth, valid_only=valid_only)
        if chain is None:
            through = " through valid models" if valid_only else ""
            echo(f"no chain of at most {max_depth} transformations maps {ga.name} onto {gb.name}{through}")
            raise typer.Exit(1)
        if len(chain) == 0:
            echo(f"{gb.name} ≅ {ga.name} (already structurally equivalent)")
        else:
            echo(f"{gb.name} ≅ {chain}")
        # the same way round as the header: B's node or edge first, then the one of the chain's result
        for line in chain.match.describe(chain.result, gb, b_first=True):
            echo(f"  {line}")
