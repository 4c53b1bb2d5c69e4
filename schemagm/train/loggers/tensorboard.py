"""TensorBoard, through ``torch.utils.tensorboard`` (needs the ``tensorboard`` package).

Event files go to ``<run>/tensorboard``; view them with ``tensorboard --logdir runs``.
Scalars keep their ``phase/``, ``loss/`` and ``term/`` prefixes (one TensorBoard
section each), pictures are images, the objective and the spec are text
(markdown), the hyper-parameters go to the HPARAMS tab and, as a table, to text.
A resumed run appends to the same directory: the events logged after the step
it resumes from are dropped, and what was logged once at the start (text,
hyper-parameters, diagram) is not logged again.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from PIL import Image

from ...errors import SpecError
from .base import RunLogger

__all__ = ["TensorBoardLogger"]


class TensorBoardLogger(RunLogger):
    name = "tensorboard"

    def __init__(self, log_dir: str | Path, start_step: int = 0) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:  # torch says: "TensorBoard logging requires TensorBoard ..."
            raise SpecError(
                f"--logger tensorboard needs the tensorboard package ({exc})",
                hint="pip install 'schemagm[tracking]' (or pip install tensorboard)",
            ) from None
        self.log_dir = Path(log_dir)
        self.start_step = start_step
        # steps up to start_step were logged by the run being resumed; later ones are logged again
        self.writer = SummaryWriter(str(self.log_dir), purge_step=start_step + 1 if start_step > 0 else None)

    def log_params(self, params: Mapping[str, str | int | float | bool]) -> None:
        if self.start_step > 0:
            return
        from torch.utils.tensorboard.summary import hparams

        exp, ssi, sei = hparams(dict(params), metric_dict={})
        writer = self.writer._get_file_writer()
        for summary in (exp, ssi, sei):
            writer.add_summary(summary)
        rows = "\n".join(f"| {k} | {v} |" for k, v in params.items())
        self.writer.add_text("hparams", f"| parameter | value |\n|---|---|\n{rows}", 0)

    def log_text(self, tag: str, text: str) -> None:
        if self.start_step > 0:
            return
        self.writer.add_text(tag, "```\n" + text + "\n```", 0)

    def log_scalars(self, step: int, scalars: Mapping[str, float]) -> None:
        for key, value in scalars.items():
            self.writer.add_scalar(key, value, step)

    def log_image(self, step: int, tag: str, image: Image.Image) -> None:
        if step <= self.start_step and self.start_step > 0:
            return
        pixels = np.asarray(image.convert("RGB"))
        self.writer.add_image(tag, pixels, step, dataformats="HWC")

    def close(self) -> None:
        self.writer.flush()
        self.writer.close()
