"""Start or resume a training run: spec -> model -> data -> run directory -> trainer.

:func:`train` is what ``schemagm train`` calls.  A fresh run seeds every RNG
(torch, NumPy, Python) with ``config.seed`` before the model is built, so that
the weights, the noise and the data order are the same in every run with that
seed.  ``resume`` continues a run directory from its ``checkpoints/last.pt``
with the spec and config stored there; only the keys in :data:`RESUMABLE` may
be changed by flags when resuming (``--steps 2000`` to train longer).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import SpecError
from ..graph.build import parse, read_spec_text
from .checkpoint import load_checkpoint
from .config import TrainConfig, config_toml, load_config
from .data import BUILTIN, DataSource, get_dataset, split_source_name
from .distributed import DistInfo, broadcast_module, gather_objects, init_distributed
from .rundir import RunDir, create_run_dir, default_run_name, open_run_dir
from .threads import default_threads
from .trainer import Trainer, TrainResult

__all__ = ["train", "resume_config", "repeat_config", "RESUMABLE", "Launched", "seed_everything"]

#: the config keys a resumed run may change
RESUMABLE = frozenset(
    {"steps", "epochs", "log_every", "checkpoint_every", "samples", "progress", "device", "threads", "logger"}
)


@dataclass
class Launched:
    result: TrainResult
    run: RunDir | None
    config: TrainConfig
    replaced: bool = False
    resumed_from: int | None = None


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def _noise_seed(seed: int, rank: int) -> int:
    """The seed of the training noise of one rank (different per rank, fixed per seed)."""
    return int(np.random.SeedSequence([seed, rank, 7]).generate_state(1, dtype=np.uint64)[0] >> 1)


def resume_config(run_path: str | Path, overrides: Mapping[str, Any]) -> TrainConfig:
    """The run's stored config with the allowed overrides on top."""
    run = open_run_dir(run_path)
    stored = load_config(run.config)
    changed = sorted(
        k
        for k, v in overrides.items()
        if v is not None and k not in RESUMABLE and k != "spec" and v != getattr(stored, k, None)
    )
    if changed:
        raise SpecError(
            f"--resume continues run '{run.path}' as it was configured; it cannot change {', '.join(changed)}",
            hint=f"when resuming, only these may change: {', '.join(sorted(RESUMABLE))}",
        )
    allowed = {k: v for k, v in overrides.items() if k in RESUMABLE and v is not None}
    return stored.model_copy(update=allowed)


def repeat_config(config: TrainConfig, config_file: str | Path) -> TrainConfig:
    """``train --config runs/vae/config.toml`` repeats run ``runs/vae`` in a new directory.

    When the config file is the config.toml of the run directory it names as ``out`` (the
    file a run writes), the repeat is trained into the first free ``<out>-2``, ``<out>-3``, ...
    so that the run it repeats is kept; ``--out`` or ``--force`` choose otherwise."""
    if config.out is None:
        return config
    out = Path(config.out)
    if not out.is_dir() or out.resolve() != Path(config_file).resolve().parent:
        return config
    n = 2
    while Path(f"{out}-{n}").exists():
        n += 1
    return config.model_copy(update={"out": f"{out}-{n}"})


def _compile(graph: Any) -> Any:
    from ..compiler import compile as compile_graph
    from ..limits import MAX_PARAMETERS

    # shapes only (and the RNG left as it was): a model too large to train is refused before it is allocated
    with torch.random.fork_rng(devices=[]), torch.device("meta"):
        total = sum(p.numel() for p in compile_graph(graph).parameters())
    if total > MAX_PARAMETERS:
        raise SpecError(
            f"the model '{graph.name}' has {total:,} parameters; schemagm trains at most {MAX_PARAMETERS:,}",
            hint="use smaller networks (mlp widths, conv channels)",
        )
    return compile_graph(graph)


def train(
    config: TrainConfig,
    *,
    resume: str | Path | None = None,
    force: bool = False,
    console: Any = None,
    compile_fn: Callable[[Any], Any] = _compile,
    announce: Callable[[str], None] | None = None,
) -> Launched:
    """Train ``config.spec`` (or continue run ``resume``); rank 0 writes the run directory."""
    dist, device = init_distributed(config.device)
    say = announce if (announce is not None and dist.is_main) else (lambda _msg: None)
    run: RunDir | None = None
    ckpt = None
    if resume is not None:
        run = open_run_dir(resume)
        if dist.is_main:
            from ..fileio import remove_stale_temps

            for folder in (run.path, run.checkpoints, run.samples):  # left by a run killed while writing
                remove_stale_temps(folder)
        if not run.last.is_file():
            others = sorted(p.name for p in run.checkpoints.glob("step-*.pt")) if run.checkpoints.is_dir() else []
            raise SpecError(
                f"run '{run.path}' has no checkpoints/last.pt to resume from",
                hint=f"copy one of {', '.join(others)} to last.pt"
                if others
                else "the run stopped before its first checkpoint: train it again",
            )
        ckpt = load_checkpoint(run.last)
        spec_file = run.spec
    else:
        spec_file = Path(config.spec)
    spec_text = read_spec_text(spec_file)
    graph = parse(spec_text, file=str(spec_file))
    if ckpt is not None and ckpt["spec"] != spec_text:
        raise SpecError(
            f"run '{run.path}': its spec.sgm is not the spec its checkpoint was trained with",  # type: ignore[union-attr]
            hint="restore the run's spec.sgm, or start a new run",
        )
    seed_everything(config.seed)
    model = compile_fn(graph)
    if config.threads is None:  # the choice is recorded in the run's config.toml
        config = config.model_copy(update={"threads": default_threads(model)})
    torch.set_num_threads(config.threads)  # type: ignore[arg-type]
    data: DataSource = get_dataset(config.data, graph, seed=config.data_seed, test_fraction=config.test_fraction)
    model.to(device)
    if dist.enabled:
        broadcast_module(model)
    torch.manual_seed(_noise_seed(config.seed, dist.rank))

    if resume is None:
        config = _absolute_data_path(config)
    # the trainer checks the optimiser settings and the batch size before any file is written
    trainer = Trainer(
        model,
        data,
        config,
        run=None,
        spec_text=spec_text,
        model_name=graph.name,
        device=device,
        dist=dist,
        console=console,
    )
    if dist.is_main:
        from .loggers import require

        require(config.logger)  # a tracker that is not installed stops the run before anything is written
    replaced = False
    if resume is None:
        run, replaced = _fresh_run_dir(config, graph.name, force, dist)
        if run is not None and dist.is_main:
            if replaced:
                say(f"replacing the existing run directory {run.path} (--force)")
            spec_path = str(Path(config.spec).resolve())  # so that `--config RUN/config.toml` works from anywhere
            run.write_text(run.config, config_toml(config.model_copy(update={"out": str(run.path), "spec": spec_path})))
            run.write_text(run.spec, spec_text)
    elif dist.is_main:
        run.write_text(run.config, config_toml(config))  # type: ignore[union-attr]
    trainer.run = run if dist.is_main else None
    resumed_from = None
    if ckpt is not None:
        trainer.load_state(ckpt, str(run.last))  # type: ignore[union-attr]
        resumed_from = trainer.step
        if dist.is_main:
            run.truncate_metrics(trainer.step)  # type: ignore[union-attr]
        say(f"resuming run {run.path} at step {trainer.step} (epoch {trainer.stream.epoch})")  # type: ignore[union-attr]
    if run is not None and dist.is_main:
        trainer.logger = _start_logger(config, run, trainer.step, graph, model, spec_text, say)
    try:
        result = trainer.fit()
    finally:
        trainer.logger.close()
    return Launched(result, run, config, replaced, resumed_from)


def _start_logger(
    config: TrainConfig, run: RunDir, step: int, graph: Any, model: Any, spec_text: str, say: Callable[[str], None]
) -> Any:
    """The experiment tracker of ``--logger`` with the run's hyper-parameters, objective, spec and diagram."""
    from .loggers import log_run_start, open_logger

    logger = open_logger(config.logger, run, start_step=step)
    log_run_start(logger, graph, model, config, spec_text, note=say)
    return logger


def _absolute_data_path(config: TrainConfig) -> TrainConfig:
    """Data files are recorded by their absolute paths, so the run can be resumed and evaluated from anywhere."""

    def absolute(text: str) -> str:
        where, fld = split_source_name(text)
        if where in BUILTIN or not Path(where).exists():
            return text
        return str(Path(where).resolve()) + (f".{fld}" if fld else "")

    if config.data is None:
        return config
    data = absolute(config.data) if isinstance(config.data, str) else {k: absolute(v) for k, v in config.data.items()}
    return config.model_copy(update={"data": data})


def _fresh_run_dir(config: TrainConfig, model_name: str, force: bool, dist: DistInfo) -> tuple[RunDir | None, bool]:
    """Rank 0 creates the directory; every rank learns whether that worked (so none waits forever)."""
    out = Path(config.out) if config.out else Path("runs") / default_run_name(model_name)
    run: RunDir | None = None
    replaced = False
    error: SpecError | None = None
    if dist.is_main:
        try:
            run, replaced = create_run_dir(out, force)
        except SpecError as exc:
            if not dist.enabled:
                raise
            error = exc
    outcome = gather_objects(None if error is None else str(error), dist)[0]
    if error is not None:
        raise error
    if outcome is not None:
        raise SpecError(f"rank 0 could not create the run directory: {outcome}")
    return (run if dist.is_main else RunDir(out)), replaced
