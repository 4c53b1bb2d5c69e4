"""``schemagm eject SPEC -o FILE``: a spec as one standalone, readable PyTorch script."""

from __future__ import annotations

from pathlib import Path

import typer

from .common import echo, user_errors

HELP = """Write a spec as one standalone PyTorch script that does not import schemagm.

The script holds the networks as nn.Module classes named after the paper's
symbols (G_theta, q_eta, D_phi), each group's loss as plain PyTorch lines with
its derived formula above them, the sampling of every branch, the training
loop (one Adam optimiser per group, the phases in the compiler's order), data
loading (the spec's built-in set, or --data FILE.npz / FILE.csv), checkpoints
and a command line (python FILE --help).  The same seed gives the same
weights, batches and noise as schemagm train.  An existing FILE is kept
unless --force.

Examples:

  schemagm eject specs/vae.sgm -o vae.py

  python vae.py --epochs 2 --out run

  schemagm eject specs/gan.sgm -o gan.py --force
"""


def register(app: typer.Typer) -> None:
    @app.command("eject", help=HELP)
    def eject_command(
        spec: Path = typer.Argument(..., help="the .sgm file to eject", show_default=False),
        output: Path = typer.Option(..., "--output", "-o", help="the script to write", show_default=False),
        force: bool = typer.Option(False, "--force", help="replace an existing FILE"),
    ) -> None:
        with user_errors():
            from ..fileio import check_output, require_file, write_atomic

            require_file(spec, "spec file")
            check_output(output, force=force, inputs=[spec], what="script")
            from ..eject import eject

            text = eject(spec)
            write_atomic(output, text)
            echo(f"wrote {output}: run it with python {output} --help")
