"""``schemagm reproduce``: the paper's and the lectures' tables, with error bars (docs/reproduction.md)."""

from __future__ import annotations

from pathlib import Path

import typer

from ..limits import MAX_SEED
from .common import echo, load_torch, user_errors

HELP = """Reproduce the paper's and the lectures' claims: train and evaluate the
catalog's models over several seeds and write a page of tables (mean ± standard
deviation over seeds, each seed's value, the published number beside ours),
with figures, from one JSON result file per cell.

Tables (--only NAME, repeatable): gan_iwgan (inception score and FID), vae_aavae
(test IW bound at 1, 10, 100 % of the data), ring8 (modes covered, high-quality
fraction), dae (walkback and the chain's spurious modes), beta_vae
(reconstruction, KL, I(x; z), marginal KL), flows (bits/dim, uniform against
variational dequantization).

Results are cached per cell under OUT/reproduction/results/: a re-run trains
only the cells whose spec, budget, seed or version changed, and an interrupted
run keeps every finished cell. --page-only re-renders the page and figures from
the result files without training. --quick is a minutes-long smoke run with tiny
budgets and one seed; it writes to runs/reproduce-quick unless --out is given,
never into docs/. --mnist DIR runs the digits tables on MNIST from its IDX
files (train-images-idx3-ubyte) into runs/reproduce-mnist. A page not written
by this command is not overwritten unless --force is given.

Examples:

  schemagm reproduce

  schemagm reproduce --only beta_vae --only dae

  schemagm reproduce --quick --out /tmp/repro

  schemagm reproduce --page-only
"""


def register(app: typer.Typer) -> None:
    @app.command("reproduce", help=HELP)
    def reproduce_command(
        out: Path | None = typer.Option(
            None, "--out", help="folder of the page, figures and results [default: docs, or runs/reproduce-quick]"
        ),
        only: list[str] | None = typer.Option(None, "--only", help="one table (repeatable) [default: every table]"),
        seeds: list[int] | None = typer.Option(
            None, "--seeds", min=0, max=MAX_SEED, help="a seed (repeatable) [default: 0 1 2, --quick: 0]"
        ),
        quick: bool = typer.Option(False, "--quick", help="tiny budgets: a smoke run of a few minutes"),
        mnist: Path | None = typer.Option(None, "--mnist", help="a folder with the MNIST IDX files"),
        page_only: bool = typer.Option(False, "--page-only", help="re-render the page and figures; train nothing"),
        threads: int = typer.Option(1, "--threads", min=1, help="CPU threads of each cell's training"),
        force: bool = typer.Option(False, "--force", help="replace a page that this command did not write"),
    ) -> None:
        from ..reproduce.tables import TABLE_NAMES

        for name in only or []:
            if name not in TABLE_NAMES:
                from ..suggest import did_you_mean

                raise typer.BadParameter(
                    f"unknown table '{name}'; {did_you_mean(name, TABLE_NAMES)}the tables: {', '.join(TABLE_NAMES)}",
                    param_hint="--only",
                )
        profile = "quick" if quick else "full"
        chosen = list(dict.fromkeys(seeds)) if seeds else ([0] if quick else [0, 1, 2])
        default = Path("runs/reproduce-quick") if quick else Path("runs/reproduce-mnist") if mnist else Path("docs")
        folder = out if out is not None else default
        with user_errors():
            load_torch()
            from ..reproduce.runner import repository_root, reproduce, write_page

            if quick and folder.resolve() in (Path("docs").resolve(), (repository_root() / "docs").resolve()):
                raise typer.BadParameter("--quick never writes into docs/; choose another folder", param_hint="--out")

            if page_only:
                data = "mnist" if mnist else "digits"
                outcome = write_page(folder, profile=profile, data=data, seeds=chosen, force=force)
            else:
                outcome = reproduce(
                    folder,
                    profile=profile,
                    seeds=chosen,
                    only=only or None,
                    mnist=mnist,
                    threads=threads,
                    force=force,
                    say=echo,
                )
                echo(
                    f"{len(outcome.trained)} cell(s) trained, {len(outcome.cached)} cached"
                    + (f", {len(outcome.failed)} diverged: {', '.join(outcome.failed)}" if outcome.failed else "")
                )
            if outcome.figures_skipped:
                echo(outcome.figures_skipped)
            for f in outcome.figures:
                echo(f"wrote {f}")
            echo(f"wrote {outcome.page}")
