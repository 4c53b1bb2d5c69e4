"""Experiment tracking: the trainer's values, pictures and objective sent to TensorBoard, MLflow or W&B.

``metrics.jsonl`` is always written (it is the run's own record); ``--logger``
adds one tracker on top::

    logger = open_logger("tensorboard", run_dir)       # or "mlflow", "wandb", "none"
    log_run_start(logger, graph, model, config)         # hyper-parameters, objective, spec, diagram
    trainer.logger = logger                             # scalars each log step, pictures each epoch
    ...
    logger.close()

See docs/tracking.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PIL import Image

from ...errors import SpecError
from ..rundir import RunDir
from .base import RunLogger, flat_params, scalars_of

__all__ = [
    "LOGGERS",
    "RunLogger",
    "require",
    "open_logger",
    "log_run_start",
    "scalars_of",
    "flat_params",
    "diagram_picture",
]

#: the names ``--logger`` takes
LOGGERS = ("none", "tensorboard", "mlflow", "wandb")


#: logger -> (the module it needs, the extra that installs it)
PACKAGES = {"tensorboard": ("tensorboard", "tensorboard"), "mlflow": ("mlflow", "mlflow"), "wandb": ("wandb", "wandb")}


def require(kind: str) -> None:
    """Fail early -- before a run directory is made -- when the tracker ``kind`` is unknown or not installed."""
    if kind not in LOGGERS:
        raise SpecError(f"unknown logger '{kind}'", hint=f"the loggers: {', '.join(LOGGERS)}")
    if kind == "none":
        return
    from importlib import import_module

    module, extra = PACKAGES[kind]
    try:
        import_module(module)
    except ImportError as exc:
        raise SpecError(
            f"--logger {kind} needs the {module} package, which is not installed ({exc})",
            hint=f"pip install 'schemagm[{extra}]'",
        ) from None


def open_logger(kind: str, run: RunDir, start_step: int = 0) -> RunLogger:
    """The tracker ``kind`` for run directory ``run``; ``start_step`` > 0 when a run is resumed."""
    if kind == "none":
        return RunLogger()
    if kind == "tensorboard":
        from .tensorboard import TensorBoardLogger

        return TensorBoardLogger(run.path / "tensorboard", start_step=start_step)
    if kind == "mlflow":
        from .mlflow import MLflowLogger

        return MLflowLogger(run_name=run.path.name)
    if kind == "wandb":
        from .wandb import WandbLogger

        return WandbLogger(run_name=run.path.name, directory=run.path)
    raise SpecError(f"unknown logger '{kind}'", hint=f"the loggers: {', '.join(LOGGERS)}")


def diagram_picture(graph: Any) -> Image.Image | None:
    """The run's schematic graph as a picture (through Graphviz's ``dot``), or None without ``dot``."""
    import io

    from ...render import dot_available, drawing, render_bytes

    if not dot_available():
        return None
    return Image.open(io.BytesIO(render_bytes(drawing(graph, legend=True), "png")))


def log_run_start(
    logger: RunLogger,
    graph: Any,
    model: Any,
    config: Any,
    spec_text: str,
    note: Callable[[str], None] | None = None,
) -> None:
    """What a tracker gets once: hyper-parameters, the derived objective (unicode, LaTeX), the spec, the diagram."""
    if logger.name == "none":
        return
    logger.log_params(flat_params(config.to_dict()))
    logger.log_text("objective", model.objective.text())
    logger.log_text("objective_latex", model.objective.text(latex=True))
    logger.log_text("spec", spec_text)
    picture = diagram_picture(graph)
    if picture is None:
        if note is not None:
            note("the diagram is not logged: Graphviz's `dot` is not installed")
        return
    logger.log_image(0, "diagram", picture)
