"""Weights & Biases (the optional extra ``schemagm[wandb]``).

W&B's own settings apply: ``WANDB_MODE=offline`` keeps the run on disk (``wandb
sync`` uploads it later), ``WANDB_PROJECT`` names the project (default
``schemagm``), ``WANDB_DIR`` where its files go (default: the run directory).
Scalars are logged at the trainer's step with the same keys as TensorBoard's,
pictures as ``wandb.Image``, the hyper-parameters as the run's config and text
(the objective, the spec) in the run's summary.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from PIL import Image

from ...errors import SpecError
from .base import RunLogger

__all__ = ["WandbLogger"]


class WandbLogger(RunLogger):
    name = "wandb"

    def __init__(self, run_name: str, directory: str | Path, project: str | None = None) -> None:
        try:
            import wandb
        except ImportError as exc:
            raise SpecError(
                f"--logger wandb needs the wandb package ({exc})",
                hint="pip install 'schemagm[wandb]' (or pip install wandb)",
            ) from None
        self._wandb: Any = wandb
        where = os.environ.get("WANDB_DIR") or str(directory)
        Path(where).mkdir(parents=True, exist_ok=True)
        try:
            self.run: Any = wandb.init(
                project=project or os.environ.get("WANDB_PROJECT") or "schemagm",
                name=run_name,
                dir=where,
                reinit="create_new",
            )
        except Exception as exc:  # wandb raises its own types (UsageError, CommError, AuthenticationError, ...)
            raise SpecError(
                f"--logger wandb could not start a run: {exc}",
                hint="log in with `wandb login`, or set WANDB_MODE=offline to keep the run on disk",
            ) from None

    def log_params(self, params: Mapping[str, str | int | float | bool]) -> None:
        self.run.config.update(dict(params), allow_val_change=True)

    def log_text(self, tag: str, text: str) -> None:
        self.run.summary[tag] = text

    def log_scalars(self, step: int, scalars: Mapping[str, float]) -> None:
        self.run.log(dict(scalars), step=step)

    def log_image(self, step: int, tag: str, image: Image.Image) -> None:
        self.run.log({tag: self._wandb.Image(image)}, step=step)

    def close(self) -> None:
        self.run.finish()
