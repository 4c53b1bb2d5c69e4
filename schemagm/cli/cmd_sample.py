"""``schemagm sample``: pictures and arrays of samples from a trained run."""

from __future__ import annotations

from pathlib import Path

import typer

from ..limits import MAX_SEED
from .common import echo, load_torch, user_errors

HELP = """Draw samples from a trained run and save them as a picture (and raw arrays).

The picture is an image grid for image-shaped data (or 64-, 784-dim vectors),
a scatter over the test data for 2-D data. --reconstruct shows test rows and
their reconstructions in alternating rows; --interpolate decodes points on the
line between the codes of two test rows, a row per pair. --compare, for a
translation model (its generative process starts from given data rows, as
CycleGAN's x_a), draws each direction: n test rows of the source beside their
translation (2-D: in colour over the target's test rows in grey; images: two
grids, cell by cell); the array is [directions, 2, n, ...] (source rows, their
translations). Existing files are not overwritten unless --force is given.

Examples:

  schemagm sample runs/vae -n 64 -o grid.png

  schemagm sample runs/gan2d -n 1000 -o scatter.png --npy samples.npy --seed 3

  schemagm sample runs/vae --reconstruct -o recon.png

  schemagm sample runs/vae --interpolate -o interp.png

  schemagm sample runs/cyclegan --compare -n 500 -o translation.png
"""


def register(app: typer.Typer) -> None:
    @app.command("sample", help=HELP)
    def sample_command(
        run: Path = typer.Argument(..., help="a run directory written by schemagm train", show_default=False),
        n: int = typer.Option(64, "-n", "--n-samples", min=1, help="how many samples (or reconstructed test rows)"),
        output: Path | None = typer.Option(
            None, "--output", "-o", help="the picture (.png) [default: RUN/samples/<kind>-seed<seed>.png]"
        ),
        npy: Path | None = typer.Option(None, "--npy", help="also save the raw samples as a .npy array"),
        seed: int = typer.Option(0, "--seed", min=0, max=MAX_SEED, help="seed of the random draws"),
        reconstruct: bool = typer.Option(
            False, "--reconstruct", help="test rows and their reconstructions (array [2, n, ...])"
        ),
        interpolate: bool = typer.Option(
            False, "--interpolate", help="latent interpolation between pairs of test rows (array [pairs, steps, ...])"
        ),
        compare: bool = typer.Option(
            False,
            "--compare",
            help="each direction of a translation model: test rows beside their translation "
            "(array [directions, 2, n, ...])",
        ),
        pairs: int = typer.Option(4, "--pairs", min=1, help="pairs of test rows for --interpolate"),
        steps: int = typer.Option(8, "--steps", min=2, help="points on each line for --interpolate"),
        checkpoint: str | None = typer.Option(None, "--checkpoint", help="a checkpoint of the run [default: last.pt]"),
        device: str = typer.Option("cpu", "--device", help="cpu, cuda or cuda:N"),
        force: bool = typer.Option(False, "--force", help="overwrite existing output files"),
    ) -> None:
        if reconstruct and interpolate:
            raise typer.BadParameter("choose one of --reconstruct and --interpolate", param_hint="--interpolate")
        if compare and (reconstruct or interpolate):
            other = "--reconstruct" if reconstruct else "--interpolate"
            raise typer.BadParameter(f"choose one of --compare and {other}", param_hint="--compare")
        if output is not None and output.suffix.lower() != ".png":
            raise typer.BadParameter(f"'{output}' should end in .png", param_hint="--output")
        if npy is not None and npy.suffix.lower() != ".npy":
            raise typer.BadParameter(f"'{npy}' should end in .npy", param_hint="--npy")
        with user_errors():
            load_torch()
            import io

            import numpy as np
            import torch

            from ..errors import SpecError
            from ..train.checkpoint import atomic_write_bytes
            from ..train.pictures import save_png
            from ..train.run import load_run
            from ..train.sampling import (
                draw_interpolations,
                draw_reconstructions,
                draw_samples,
                draw_translations,
                sampled_node,
            )

            kind = (
                "reconstruct" if reconstruct else "interpolate" if interpolate else "compare" if compare else "sample"
            )
            picture_path = (
                output if output is not None else (run / "samples" / f"{kind}-seed{seed}.png" if npy is None else None)
            )
            from ..fileio import check_output
            from ..train.rundir import open_run_dir

            rundir = open_run_dir(run)
            inputs = [rundir.spec, rundir.config, rundir.metrics, rundir.last, *rundir.checkpoints.glob("*.pt")]
            if output is None and npy is None and not rundir.samples.is_dir():
                rundir.samples.mkdir()
            if picture_path is not None and npy is not None and picture_path.resolve() == npy.resolve():
                raise SpecError(f"--npy and --output name the same file '{npy}'")
            for target, option in ((picture_path, "--output"), (npy, "--npy")):
                if target is not None:
                    check_output(target, force=force, inputs=inputs, what="output file", option=option)
            loaded = load_run(run, checkpoint=checkpoint, device=device)
            directions: list[tuple[str, str]] = []
            if compare:
                directions, translations, picture = draw_translations(loaded.model, loaded.data, n, seed)
                ways = ", ".join(f"{s} -> {t}" for s, t in directions)
                if picture is None and picture_path is not None:
                    raise SpecError(
                        f"the translations ({ways}) are neither images nor 2-D points: there is no picture to draw",
                        hint="save them with --npy instead",
                    )
                if translations is None:
                    if npy is not None:
                        raise SpecError(
                            f"the domains of the translations ({ways}) differ in shape: there is no one array to save",
                            hint="draw the picture without --npy",
                        )
                    translations = torch.empty(0)
                array = translations
            elif reconstruct:
                array, picture = draw_reconstructions(loaded.model, loaded.data, n, seed)
            elif interpolate:
                array, picture = draw_interpolations(loaded.model, loaded.data, pairs, steps, seed)
            else:
                array, picture = draw_samples(loaded.model, loaded.data, n, seed)
            node = sampled_node(loaded.model, loaded.data) if kind == "sample" else loaded.data.primary
            written = []
            if picture_path is not None:
                if picture is None:
                    raise SpecError(
                        f"the samples of '{node}' (shape {list(array.shape[1:])}) are neither images nor 2-D "
                        "points: there is no picture to draw",
                        hint="save them with --npy instead",
                    )
                save_png(picture, picture_path)
                written.append(str(picture_path))
            if npy is not None:
                buf = io.BytesIO()
                np.save(buf, array.numpy())
                atomic_write_bytes(npy, buf.getvalue())
                written.append(f"{npy} (array {list(array.shape)})")
            what = {
                "sample": f"{len(array)} samples",
                "reconstruct": f"{array.shape[1]} test rows and their reconstructions",
                "interpolate": f"{pairs} interpolations of {steps} points",
                "compare": f"the translations of test rows ({', '.join(f'{s} -> {t}' for s, t in directions)})",
            }[kind]
            of = "" if compare else f" of '{node}'"
            echo(f"{what}{of} from {run} (step {loaded.step}): wrote {', '.join(written)}")
