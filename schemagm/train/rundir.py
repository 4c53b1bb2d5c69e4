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

import errno
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import SpecError, printable
from ..fileio import os_error
from .checkpoint import atomic_write_bytes

__all__ = ["RunDir", "MetricsFile", "create_run_dir", "open_run_dir", "default_run_name", "RUN_FILES"]

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
        """Add one line to metrics.jsonl, written whole (one ``write`` of the full line) or not at all."""
        log = MetricsFile(self.metrics)
        try:
            log.append(record)
        finally:
            log.close()

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


class MetricsFile:
    """metrics.jsonl held open for appending while a run trains: each line one ``write``, no open
    and close per line (on a training step's cold caches those cost more than the line itself).

    The file is opened at the first line, so a resumed run opens it after cutting it back to the
    checkpoint's step.  Each line is written whole or not at all: a short write (a full disk) is
    taken back."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def append(self, record: dict[str, Any]) -> None:
        line = (json.dumps(record) + "\n").encode()
        try:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
            written = os.write(self._fd, line)
            if written != len(line):  # a full disk: take the partial line back
                os.ftruncate(self._fd, os.fstat(self._fd).st_size - written)
                raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as exc:
            raise os_error(exc, "write", self.path) from None

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)


def default_run_name(model_name: str) -> str:
    return f"{model_name}-{time.strftime('%Y%m%d-%H%M%S')}"


#: the names a run (and ``schemagm sample``) writes in each folder of a run directory
_WRITTEN = {
    "": re.compile(r"(config\.toml|spec\.sgm|metrics\.jsonl)"),
    "checkpoints": re.compile(r"(last|step-\d{7,})\.pt"),
    "samples": re.compile(r"(last|epoch-\d{4,}|(sample|reconstruct|interpolate)-seed-?\d+)\.(png|npy)"),
}
_TEMP = re.compile(r"\..+\.[A-Za-z0-9_]+\.tmp")


def run_files(p: Path) -> tuple[list[Path], list[str]]:
    """(the files and folders of ``p`` a run wrote, the paths of everything else), walking sub-folders."""
    ours: list[Path] = []
    foreign: list[str] = []
    for child in sorted(p.iterdir()):
        if child.name in ("checkpoints", "samples") and child.is_dir() and not child.is_symlink():
            pattern = _WRITTEN[child.name]
            for f in sorted(child.iterdir()):
                if f.is_file() and not f.is_symlink() and (pattern.fullmatch(f.name) or _TEMP.fullmatch(f.name)):
                    ours.append(f)
                else:
                    foreign.append(f"{child.name}/{f.name}")
            ours.append(child)
        elif (
            child.is_file()
            and not child.is_symlink()
            and (_WRITTEN[""].fullmatch(child.name) or _TEMP.fullmatch(child.name))
        ):
            ours.append(child)
        else:
            foreign.append(child.name + ("/" if child.is_dir() else ""))
    return ours, foreign


def create_run_dir(path: str | Path, force: bool = False) -> tuple[RunDir, bool]:
    """Make a fresh run directory; returns it and whether an old run was replaced.

    With ``force`` an old run is replaced, but only when every file in it (sub-folders included) is
    one a run writes; then exactly those files are deleted, never anything else.
    """
    p = Path(path)
    replaced = False
    if p.exists() or p.is_symlink():
        if not p.is_dir():
            raise SpecError(f"'{printable(str(p))}' exists and is a file, not a run directory")
        if any(p.iterdir()):
            if not force:
                raise SpecError(
                    f"run directory '{printable(str(p))}' already exists; it is not overwritten",
                    hint="pass --force to replace it, --resume to continue it, or --out to choose another directory",
                )
            ours, foreign = run_files(p)
            if foreign:
                shown = ", ".join(printable(f) for f in foreign[:5]) + (
                    f" and {len(foreign) - 5} more" if len(foreign) > 5 else ""
                )
                raise SpecError(
                    f"'{printable(str(p))}' holds files a run does not write ({shown}); --force will not delete them",
                    hint="choose another --out directory",
                )
            try:
                for f in ours:  # files first, then their (now empty) folders
                    if f.is_file():
                        f.unlink()
                for f in ours:
                    if f.is_dir():
                        f.rmdir()
            except OSError as exc:
                raise os_error(exc, "replace the run directory", p) from None
            replaced = True
    try:
        p.mkdir(parents=True, exist_ok=True)
        run = RunDir(p)
        run.checkpoints.mkdir(exist_ok=True)
        run.samples.mkdir(exist_ok=True)
    except OSError as exc:
        raise os_error(exc, "create the run directory", p) from None
    return run, replaced


def open_run_dir(path: str | Path) -> RunDir:
    """An existing run directory (for --resume, sample, eval)."""
    p = Path(path)
    if not p.is_dir():
        if p.exists():
            raise SpecError(f"run directory '{printable(str(p))}' is a file, not a folder")
        raise SpecError(f"run directory '{printable(str(p))}' does not exist", hint="check the path")
    run = RunDir(p)
    for need in (run.config, run.spec):
        if not need.is_file():
            raise SpecError(f"'{p}' is not a schemagm run directory: it has no {need.name}")
    return run
