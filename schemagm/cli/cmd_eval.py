"""``schemagm eval``: the metrics of a trained run, as a table and (optionally) JSON."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ..limits import MAX_SEED
from .common import load_torch, user_errors

HELP = """Evaluate a trained run: every metric that applies to its graph.

Metrics (choose with --metrics; default all): elbo (test ELBO, nats per
example, mean ± standard error); iw (importance-weighted bound with --k
samples); mmd (MMD² of --n-samples samples against test data, with a
permutation p-value); modes (modes covered and high-quality fraction, on
mixtures such as ring8); inception (inception score under the project's digits
classifier); fid (Fréchet distance of that classifier's features, samples vs
test data); surgery (ELBO surgery: average KL = I(x; z) + KL(q(z) || p(z)));
bpd (exact test log-likelihood where the model has one, a flow, else the iw
bound, in nats and bits per dimension); cycle (a translation model such
as CycleGAN: the mean L1 cycle error of each direction, whose mmd is then
the translated test rows against the target domain's test rows).

--reference kde|mixture evaluates a reference model on the run's data in
place of the run's model: likelihood is not sample quality (docs/quality.md).

Metrics that do not apply to the graph (a GAN has no ELBO) are listed as not
applicable with the reason. The digits classifier is trained once and cached
in $SCHEMAGM_CACHE (default ~/.cache/schemagm). An existing --json file is
never overwritten unless --force is given.

Examples:

  schemagm eval runs/vae

  schemagm eval runs/gan2d --metrics mmd,modes --n-samples 2500 --json gan2d.json

  schemagm eval runs/flow2d --reference kde --epsilon 0.05 --metrics bpd,mmd
"""


def register(app: typer.Typer) -> None:
    @app.command("eval", help=HELP)
    def eval_command(
        run: Path = typer.Argument(
            ..., metavar="RUN", help="the run directory (written by schemagm train)", show_default=False
        ),
        json_out: Path | None = typer.Option(None, "--json", help="also write the results to this JSON file"),
        force: bool = typer.Option(False, "--force", help="overwrite an existing --json file"),
        k: int = typer.Option(50, "--k", min=1, help="importance samples of the iw bound"),
        n_samples: int = typer.Option(1000, "--n-samples", min=2, help="samples drawn for mmd, modes, inception, fid"),
        metrics: str | None = typer.Option(
            None,
            "--metrics",
            help="comma-separated subset of elbo,iw,bpd,mmd,modes,inception,fid,surgery,accuracy,cycle [default: all]",
        ),
        bandwidths: str | None = typer.Option(
            None,
            "--bandwidths",
            help="comma-separated Gaussian kernel bandwidths of the MMD test [default: the median heuristic]",
        ),
        permutations: int = typer.Option(200, "--permutations", min=1, help="relabellings of the MMD permutation test"),
        seed: int = typer.Option(0, "--seed", min=0, max=MAX_SEED, help="seed of every random draw of the evaluation"),
        checkpoint: str | None = typer.Option(
            None, "--checkpoint", help="a checkpoint file of the run [default: checkpoints/last.pt]"
        ),
        reference: str | None = typer.Option(
            None,
            "--reference",
            help="evaluate a reference model on the run's data instead: kde (training points + Gaussian noise "
            "of width --epsilon) or mixture (1% the run's exact model, else the kde, 99% uniform noise)",
        ),
        epsilon: float = typer.Option(0.1, "--epsilon", min=0.0, help="kernel width of the kde reference"),
    ) -> None:
        from rich.console import Console

        from ..errors import SpecError

        load_torch()
        from ..evaluate.report import EvalSettings, evaluate_run, parse_metrics

        try:
            names = parse_metrics(metrics)
        except SpecError as err:
            raise typer.BadParameter(err.message, param_hint="--metrics") from None
        bw = None
        if bandwidths is not None:
            try:
                bw = tuple(float(b) for b in bandwidths.split(",") if b.strip())
            except ValueError:
                bw = ()
            if not bw or any(not b > 0 for b in bw):
                raise typer.BadParameter(
                    f"expected positive numbers separated by commas, got '{bandwidths}'", param_hint="--bandwidths"
                )
        with user_errors():
            if json_out is not None:
                from ..fileio import check_output
                from ..train.rundir import open_run_dir

                rundir = open_run_dir(run)
                inputs = [rundir.spec, rundir.config, rundir.metrics, rundir.last, *rundir.checkpoints.glob("*.pt")]
                check_output(
                    json_out, force=force, inputs=inputs, what="--json file", option="--json", create_folder=True
                )
            console = Console(stderr=True)
            with console.status("evaluating") as status:
                report = evaluate_run(
                    run,
                    names,
                    EvalSettings(k=k, n_samples=n_samples, seed=seed, permutations=permutations, bandwidths=bw),
                    checkpoint=checkpoint,
                    progress=lambda name: status.update(f"evaluating: {name}"),
                    reference=reference,
                    epsilon=epsilon,
                )
            if json_out is not None:
                from ..train.checkpoint import atomic_write_bytes

                text = json.dumps(report.to_dict(), indent=2, allow_nan=False) + "\n"
                atomic_write_bytes(json_out, text.encode())
            Console(highlight=False, soft_wrap=False).print(report.table())
            if report.failed:
                raise SpecError(
                    f"metric{'s' if len(report.failed) > 1 else ''} failed: "
                    + "; ".join(f"{n}: {report.results[n].reason}" for n in report.failed)
                )
