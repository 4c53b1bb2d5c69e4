"""Open a finished (or interrupted) run: its config, graph, trained model and data.

::

    from schemagm.train.run import load_run
    run = load_run("runs/vae")            # checkpoints/last.pt; or checkpoint="step-0000500.pt"
    run.model                             # the CompiledModel with the trained weights, in eval mode
    run.graph, run.config, run.data       # SchematicGraph, TrainConfig, DataSource (same split as training)
    run.step, run.epoch, run.metrics()    # where training stopped; the parsed metrics.jsonl

The model is compiled from the run's own ``spec.sgm`` and the checkpoint is
checked against it (a checkpoint of another spec is a SpecError naming the
parameters that differ).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..errors import SpecError
from ..graph.build import parse, read_spec_text
from ..graph.model import SchematicGraph
from .checkpoint import check_compatible, load_checkpoint
from .config import TrainConfig, load_config
from .data import DataSource, get_dataset
from .distributed import resolve_device
from .rundir import RunDir, open_run_dir

__all__ = ["Run", "load_run"]


@dataclass
class Run:
    path: Path
    dir: RunDir
    config: TrainConfig
    graph: SchematicGraph
    model: Any
    data: DataSource
    step: int
    epoch: int
    checkpoint: Path

    def metrics(self) -> list[dict[str, Any]]:
        return self.dir.read_metrics()


def load_run(
    path: str | Path,
    checkpoint: str | Path | None = None,
    device: str = "cpu",
    data: str | None = None,
) -> Run:
    """Load a run directory; ``checkpoint`` is a file name in ``checkpoints/`` or a path; ``data`` overrides
    the source."""
    rundir = open_run_dir(path)
    config = load_config(rundir.config)
    ckpt_path = rundir.last
    if checkpoint is not None:
        c = Path(checkpoint)
        ckpt_path = c if c.exists() or c.is_absolute() or len(c.parts) > 1 else rundir.checkpoints / c
    if not ckpt_path.is_file():
        raise SpecError(
            f"run '{rundir.path}' has no checkpoint '{ckpt_path}'",
            hint="train it first (schemagm train) or name an existing checkpoint",
        )
    ckpt = load_checkpoint(ckpt_path)
    text = read_spec_text(rundir.spec)
    graph = parse(text, file=str(rundir.spec))
    from ..compiler import compile as compile_graph

    with torch.random.fork_rng(devices=[]):  # the initial weights are replaced: leave the caller's RNG alone
        model = compile_graph(graph)
    check_compatible(ckpt["model"], model, ckpt_path)
    if ckpt["spec"] != text:
        raise SpecError(
            f"run '{rundir.path}': its spec.sgm is not the spec checkpoint '{ckpt_path}' was trained with",
            hint="restore the run's spec.sgm (the checkpoint stores the spec it was trained with), or train again",
        )
    model.load_state_dict(ckpt["model"])
    model.to(resolve_device(device))
    model.eval()
    dataset = get_dataset(
        data if data is not None else config.data, graph, seed=config.data_seed, test_fraction=config.test_fraction
    )
    return Run(
        path=rundir.path,
        dir=rundir,
        config=config,
        graph=graph,
        model=model,
        data=dataset,
        step=int(ckpt["step"]),
        epoch=int(ckpt["epoch"]),
        checkpoint=ckpt_path,
    )
