"""The run directory: where a training run keeps everything it writes.

::

    runs/NAME/
      config.toml           the TrainConfig (schemagm train --config runs/NAME/config.toml repeats the run)
      spec.sgm              the spec's text, as trained
      metrics.jsonl         one JSON object per logged step
      checkpoints/last.pt   the latest checkpoint; step-NNNNNNN.pt every checkpoint_every steps
      samples/epoch-NNNN.png  a picture of samples at the end of each epoch
      tensorboard/, wandb/  the trackers' files (--logger tensorboard, --logger wandb)

An existing directory is never overwritten unless asked (``--force``), and even
then only when it holds nothing but what a run writes: ``--force`` on a folder
of someone's files is refused.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import SpecError
from .checkpoint import atomic_write_bytes

__all__ = ["RunDir", "create_run_dir", "open_run_dir", "default_run_name", "RUN_FILES"]

RUN_FILES = ("config.toml", "spec.sgm", "metrics.jsonl", "checkpoints", "samples", "tensorboard", "wandb")


@dataclass(frozen=True)
class RunDir:
    path: Path

    @property
    def config(self) -> Path:
        return self.path / "config.toml"

    @property
    def spec(self) -> Path:
        return self.path / "spec.sgm"

    @property
    def metrics(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def last(self) -> Path:
        return self.checkpoints / "last.pt"

    @property
    def samples(self) -> Path:
        return self.path / "samples"

    def periodic(self, step: int) -> Path:
        return self.checkpoints / f"step-{step:07d}.pt"

    def write_text(self, path: Path, text: str) -> None:
        atomic_write_bytes(path, text.encode())

    def append_metrics(self, record: dict[str, Any]) -> None:
        with open(self.metrics, "a") as f:
            f.write(json.dumps(record) + "\n")

    def _metric_lines(self) -> list[tuple[str, dict[str, Any]]]:
        """Each parsable line with its record; a line cut short by a crash is skipped."""
        if not self.metrics.exists():
            return []
        out = []
        for line in self.metrics.read_text().splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict):
                out.append((line, record))
        return out

    def read_metrics(self) -> list[dict[str, Any]]:
        return [record for _, record in self._metric_lines()]

    def truncate_metrics(self, step: int) -> None:
        """Drop lines logged after ``step`` (a resumed run logs them again) and any broken line."""
        if not self.metrics.exists():
            return
        keep = [line for line, record in self._metric_lines() if record.get("step", 0) <= step]
        self.write_text(self.metrics, "".join(line + "\n" for line in keep))


def default_run_name(model_name: str) -> str:
    return f"{model_name}-{time.strftime('%Y%m%d-%H%M%S')}"


def create_run_dir(path: str | Path, force: bool = False) -> tuple[RunDir, bool]:
    """Make a fresh run directory; returns it and whether an old run was replaced."""
    p = Path(path)
    replaced = False
    if p.exists():
        if not p.is_dir():
            raise SpecError(f"'{p}' exists and is a file, not a run directory")
        contents = sorted(c.name for c in p.iterdir())
        if contents:
            if not force:
                raise SpecError(
                    f"run directory '{p}' already exists; it is not overwritten",
                    hint="pass --force to replace it, --resume to continue it, or --out to choose another directory",
                )
            foreign = [c for c in contents if c not in RUN_FILES]
            if foreign:
                raise SpecError(
                    f"'{p}' holds files a run does not write ({', '.join(foreign[:5])}); --force will not delete them",
                    hint="choose another --out directory",
                )
            shutil.rmtree(p)
            replaced = True
    p.mkdir(parents=True, exist_ok=True)
    run = RunDir(p)
    run.checkpoints.mkdir(exist_ok=True)
    run.samples.mkdir(exist_ok=True)
    return run, replaced


def open_run_dir(path: str | Path) -> RunDir:
    """An existing run directory (for --resume, sample, eval)."""
    p = Path(path)
    if not p.is_dir():
        raise SpecError(f"run directory '{p}' does not exist")
    run = RunDir(p)
    for need in (run.config, run.spec):
        if not need.is_file():
            raise SpecError(f"'{p}' is not a schemagm run directory: it has no {need.name}")
    return run
