"""MLflow (the optional extra ``schemagm[mlflow]``), through ``MlflowClient``.

The tracking server is MLflow's own setting: ``MLFLOW_TRACKING_URI`` (an
``http://`` server, ``sqlite:///mlflow.db``, or a ``file:///path/mlruns`` store
with ``MLFLOW_ALLOW_FILE_STORE=true``), else MLflow's default.  The experiment is
``MLFLOW_EXPERIMENT_NAME`` or ``schemagm``; the run is named after the run
directory.  Scalars are metrics (same keys as TensorBoard's), the
hyper-parameters are params, text and pictures are artifacts
(``text/objective.txt``, ``samples/step-0000100.png``, ``diagram/diagram.png``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

from PIL import Image

from ...errors import SpecError
from .base import RunLogger

__all__ = ["MLflowLogger"]

#: MLflow takes at most this many metrics or params in one request
BATCH = 1000


class MLflowLogger(RunLogger):
    name = "mlflow"

    def __init__(self, run_name: str, tracking_uri: str | None = None, experiment: str | None = None) -> None:
        try:
            from mlflow.tracking import MlflowClient
        except ImportError as exc:
            raise SpecError(
                f"--logger mlflow needs the mlflow package ({exc})",
                hint="pip install 'schemagm[mlflow]' (or pip install mlflow-skinny)",
            ) from None
        from mlflow.exceptions import MlflowException

        uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or None
        name = experiment or os.environ.get("MLFLOW_EXPERIMENT_NAME") or "schemagm"
        try:
            self.client: Any = MlflowClient(tracking_uri=uri)
            found = self.client.get_experiment_by_name(name)
            experiment_id = found.experiment_id if found is not None else self.client.create_experiment(name)
            self.run_id: str = self.client.create_run(experiment_id, run_name=run_name).info.run_id
        except MlflowException as exc:
            raise SpecError(
                f"--logger mlflow could not start a run at tracking URI '{uri or 'the default'}': {exc.message}",
                hint="set MLFLOW_TRACKING_URI to a server (http://...), sqlite:///mlflow.db, "
                "or file:///path/mlruns with MLFLOW_ALLOW_FILE_STORE=true",
            ) from None
        self.tracking_uri = self.client.tracking_uri

    def log_params(self, params: Mapping[str, str | int | float | bool]) -> None:
        from mlflow.entities import Param

        items = [Param(k, str(v)) for k, v in params.items()]
        for i in range(0, len(items), BATCH):
            self.client.log_batch(self.run_id, params=items[i : i + BATCH])

    def log_text(self, tag: str, text: str) -> None:
        self.client.log_text(self.run_id, text, f"text/{tag}.txt")

    def log_scalars(self, step: int, scalars: Mapping[str, float]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(k, float(v), now, step) for k, v in scalars.items()]
        for i in range(0, len(items), BATCH):
            self.client.log_batch(self.run_id, metrics=items[i : i + BATCH])

    def log_image(self, step: int, tag: str, image: Image.Image) -> None:
        self.client.log_image(self.run_id, image, f"{tag}/step-{step:07d}.png")

    def close(self) -> None:
        self.client.set_terminated(self.run_id)
