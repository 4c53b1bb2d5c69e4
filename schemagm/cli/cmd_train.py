"""``schemagm train``: train a spec and write a run directory."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

from ..limits import MAX_SEED
from .common import echo, load_torch, user_errors

HELP = """Train a spec: one optimiser per parameter group, the adversary phase first.

Writes a run directory (--out, default runs/<model>-<timestamp>) holding
config.toml, spec.sgm, metrics.jsonl, checkpoints/last.pt and samples/.
Options may also come from a TOML file (--config); flags override it.
An existing run directory is never overwritten unless --force is given.

Data: the spec's `from NAME` clauses, or --data with a built-in set (digits,
ring8, grid25, moons, swissroll, domains) or a file (.npy, .npz, .csv, a folder
of images, an IDX file).

Examples:

  schemagm train specs/vae.sgm --epochs 20 --out runs/vae

  schemagm train specs/gan.sgm --steps 2000 --lr theta=2e-4 --lr phi=2e-4

  schemagm train --resume runs/vae --epochs 40

  schemagm train specs/vae.sgm --logger tensorboard   (then: tensorboard --logdir runs)

  schemagm train specs/extra/cvae.sgm --data x=train-images-idx3-ubyte --data c=train-labels-idx1-ubyte

  torchrun --nproc_per_node 2 -m schemagm train specs/ae.sgm --batch-size 128
"""


def register(app: typer.Typer) -> None:
    @app.command("train", help=HELP)
    def train_command(
        spec: Path | None = typer.Argument(
            None,
            help="the .sgm file to train (optional with --resume or a config file that names it)",
            show_default=False,
        ),
        data: list[str] | None = typer.Option(
            None,
            "--data",
            help="a built-in data set or a data file/folder, or NODE=SOURCE per data node (repeatable); "
            "default: the spec's `from` clauses",
        ),
        out: Path | None = typer.Option(None, "--out", "-o", help="run directory [default: runs/<model>-<timestamp>]"),
        epochs: int | None = typer.Option(
            None, "--epochs", min=1, help="passes over the training split [default: 10 when --steps is not given]"
        ),
        steps: int | None = typer.Option(
            None, "--steps", min=1, help="updates of the model phase (training stops at whichever limit comes first)"
        ),
        batch_size: int | None = typer.Option(
            None, "--batch-size", "-b", min=1, help="global batch size [default: 64]"
        ),
        labelled_batch: int | None = typer.Option(
            None,
            "--labelled-batch",
            min=0,
            help="for a spec with a `partial` node: N labelled rows added to each batch of --batch-size "
            "unlabelled rows, cycling through the labelled rows; 0 for plain batches [default: 0]",
        ),
        lr: list[str] | None = typer.Option(
            None, "--lr", help="learning rate: NUMBER for every group, or GROUP=NUMBER (repeatable) [default: 1e-3]"
        ),
        optimizer: str | None = typer.Option(None, "--optimizer", help="adam, sgd or rmsprop [default: adam]"),
        seed: int | None = typer.Option(
            None, "--seed", min=0, max=MAX_SEED, help="seed of weights, noise and data order [default: 0]"
        ),
        test_fraction: float | None = typer.Option(
            None, "--test-fraction", min=0.0, max=0.99, help="share of rows held out for testing [default: 0.1]"
        ),
        config: Path | None = typer.Option(None, "--config", "-c", help="a TOML file of options (flags override it)"),
        resume: Path | None = typer.Option(
            None, "--resume", help="continue this run directory from its last checkpoint"
        ),
        force: bool = typer.Option(False, "--force", help="replace an existing run directory"),
        device: str | None = typer.Option(None, "--device", help="cpu, cuda or cuda:N [default: cpu]"),
        threads: int | None = typer.Option(
            None,
            "--threads",
            min=1,
            help="CPU threads per process [default: 1 below 30M parameters, else torch's choice]",
        ),
        log_every: int | None = typer.Option(
            None,
            "--log-every",
            min=1,
            help="steps between lines of metrics.jsonl (losses: means over them) [default: 10]",
        ),
        checkpoint_every: int | None = typer.Option(
            None, "--checkpoint-every", min=1, help="steps between checkpoints [default: 500]"
        ),
        samples: int | None = typer.Option(
            None,
            "--samples",
            min=0,
            help="samples in each picture (epochs 1, 2, 5, 10, 20, ...), 0 for none [default: 64]",
        ),
        progress: bool | None = typer.Option(
            None, "--progress/--no-progress", help="show a live progress bar [default: on]"
        ),
        logger: str | None = typer.Option(
            None, "--logger", help="also log to tensorboard, mlflow or wandb; none: metrics.jsonl only [default: none]"
        ),
    ) -> None:
        from ..errors import SpecError
        from ..train.config import load_config, parse_data_flags, parse_lr_flags

        try:
            default_lr, group_lr = parse_lr_flags(lr)
        except SpecError as err:
            raise typer.BadParameter(err.message, param_hint="--lr") from None
        try:
            data_source = parse_data_flags(data)
        except SpecError as err:
            raise typer.BadParameter(err.message, param_hint="--data") from None
        if optimizer is not None and optimizer not in ("adam", "sgd", "rmsprop"):
            from ..suggest import did_you_mean

            guess = did_you_mean(optimizer, ("adam", "sgd", "rmsprop"))
            raise typer.BadParameter(
                f"'{optimizer}' is not one of adam, sgd, rmsprop; {guess}".rstrip("; "), param_hint="--optimizer"
            )
        if logger is not None and logger not in ("none", "tensorboard", "mlflow", "wandb"):
            from ..suggest import did_you_mean

            guess = did_you_mean(logger, ("tensorboard", "mlflow", "wandb", "none"))
            raise typer.BadParameter(
                f"'{logger}' is not one of tensorboard, mlflow, wandb, none; {guess}".rstrip("; "),
                param_hint="--logger",
            )
        if resume is not None and config is not None:
            raise typer.BadParameter(
                "--resume uses the run's own config.toml; leave out --config", param_hint="--config"
            )
        if spec is None and resume is None and config is None:
            raise typer.BadParameter(
                "give the spec to train (e.g. specs/vae.sgm), a --config file, or --resume RUN", param_hint="SPEC"
            )
        overrides = {
            "spec": str(spec) if spec is not None else None,
            "data": data_source,
            "out": str(out) if out is not None else None,
            "epochs": epochs,
            "steps": steps,
            "batch_size": batch_size,
            "labelled_batch": labelled_batch,
            "lr": default_lr,
            "group_lr": group_lr or None,
            "optimizer": optimizer,
            "seed": seed,
            "test_fraction": test_fraction,
            "device": device,
            "threads": threads,
            "log_every": log_every,
            "checkpoint_every": checkpoint_every,
            "samples": samples,
            "progress": progress,
            "logger": logger,
        }
        from rich.console import Console

        console = Console(stderr=True, highlight=False, soft_wrap=True)
        with user_errors(), _labelled_batch_usage():
            load_torch()
            from ..train import distributed
            from ..train.launch import repeat_config, resume_config, train

            failed = True
            try:
                if resume is not None:
                    if spec is not None:
                        overrides["spec"] = None  # the run's spec.sgm is trained; checked below
                    cfg = resume_config(resume, overrides)
                    if spec is not None:
                        _same_spec(spec, resume)
                else:
                    cfg = load_config(config, overrides)
                    if config is not None and out is None and not force:
                        repeat = repeat_config(cfg, config)
                        if repeat.out != cfg.out:
                            console.print(f"[yellow]repeating run {cfg.out} in {repeat.out}[/yellow]")
                        cfg = repeat
                launched = train(
                    cfg,
                    resume=resume,
                    force=force,
                    console=console,
                    announce=lambda m: console.print(f"[yellow]{m}[/yellow]"),
                )
                failed = False
            finally:
                distributed.shutdown(barrier=not failed)
            result = launched.result
            if launched.run is None or not _is_main():
                return
            where = launched.run.path
            if result.status == "diverged":
                raise SpecError(result.message, hint="lower the learning rate (--lr) or check the data's range")
            if result.status == "interrupted":
                console.print(f"[yellow]{result.message}[/yellow]\ncontinue with: schemagm train --resume {where}")
                raise typer.Exit(130)
            if result.message:  # e.g. a model without parameters, fitted by keeping the training points
                echo(result.message)
            echo(
                summary(cfg.spec if resume is None else str(where), result, launched.resumed_from)
                + f"\nrun directory: {where}"
            )


def summary(what: str, result, resumed_from: int | None) -> str:  # noqa: ANN001 - a TrainResult
    """The closing line: steps, this session's training time (and the run's total after a resume),
    the per-group losses of the last logged step (``L_theta=...``), as the progress bar names them."""
    from ..train.trainer import loss_label

    epochs = f"{result.epoch} epoch{'' if result.epoch == 1 else 's'}"
    if resumed_from is None:
        time = f"in {result.session_seconds:.1f} s"
    else:
        time = f"from step {resumed_from} in {result.session_seconds:.1f} s ({result.seconds:.1f} s in all sessions)"
    if result.group_losses:
        losses = ", ".join(f"{loss_label(g)}={v:.4g}" for g, v in result.group_losses.items())
    else:
        losses = ", ".join(f"{p} phase={v:.4g}" for p, v in result.last_losses.items()) or "none"
    return f"trained {what} for {result.step} steps ({epochs}) {time}; losses per group: {losses}"


@contextmanager
def _labelled_batch_usage() -> Iterator[None]:
    """``--labelled-batch`` on a spec without a partially observed node is a usage error (exit 2)."""
    from ..train.data.labelled import NoPartialNode

    try:
        yield
    except NoPartialNode as err:
        hint = err.diagnostics[0].hint
        raise typer.BadParameter(err.message + (f"; {hint}" if hint else ""), param_hint="--labelled-batch") from None


def _is_main() -> bool:
    import os

    return int(os.environ.get("RANK", "0")) == 0


def _same_spec(spec: Path, run: Path) -> None:
    from ..errors import SpecError
    from ..graph.build import read_spec_text

    if read_spec_text(spec) != read_spec_text(run / "spec.sgm"):
        raise SpecError(
            f"{spec} is not the spec run '{run}' was trained with ({run / 'spec.sgm'})",
            hint="leave out SPEC when resuming; the run's own spec.sgm is used",
        )
