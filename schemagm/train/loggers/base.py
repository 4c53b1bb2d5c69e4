"""The interface every experiment tracker implements, and the trainer's record flattened for it.

The trainer writes ``metrics.jsonl`` itself (always); a :class:`RunLogger` gets
the same values as flat scalars, plus pictures, text and hyper-parameters::

    logger.log_params({"lr": 0.001, "optimizer": "adam", ...})     # once, at the start
    logger.log_text("objective", "loss(θ) = ...")                 # the derived objective, the spec
    logger.log_image(0, "diagram", picture)                        # the schematic graph
    logger.log_scalars(step, {"loss/theta": 0.83, "phase/model": 0.84, "term/nll:p_theta": 0.83})
    logger.log_image(step, "samples", picture)                     # each epoch
    logger.close()

The base class logs nothing (``--logger none``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PIL import Image

__all__ = ["RunLogger", "scalars_of", "flat_params"]


class RunLogger:
    """A tracker of one run; this base class drops everything (``--logger none``)."""

    name = "none"

    def log_params(self, params: Mapping[str, str | int | float | bool]) -> None:
        """The run's hyper-parameters (flat, see :func:`flat_params`)."""

    def log_text(self, tag: str, text: str) -> None:
        """A piece of text: the derived objective, the spec."""

    def log_scalars(self, step: int, scalars: Mapping[str, float]) -> None:
        """Scalars of one step (see :func:`scalars_of`)."""

    def log_image(self, step: int, tag: str, image: Image.Image) -> None:
        """A picture: samples, reconstructions, the diagram."""

    def close(self) -> None:
        """Flush and finish the run."""


#: the prefix of each part of a metrics.jsonl record among the logged scalars
PREFIXES = {"phase_losses": "phase", "losses": "loss", "terms": "term"}


def scalars_of(record: Mapping[str, Any]) -> dict[str, float]:
    """A metrics.jsonl record as flat scalars: ``phase/<phase>``, ``loss/<group>``, ``term/<term>``, ``epoch``."""
    out: dict[str, float] = {}
    for part, prefix in PREFIXES.items():
        for key, value in record.get(part, {}).items():
            out[f"{prefix}/{key}"] = float(value)
    if "epoch" in record:
        out["epoch"] = float(record["epoch"])
    return out


def flat_params(config: Mapping[str, Any]) -> dict[str, str | int | float | bool]:
    """A config as flat hyper-parameters: tables become ``key.sub``; lists and None become text."""
    out: dict[str, str | int | float | bool] = {}
    for key, value in config.items():
        if isinstance(value, Mapping):
            for sub, v in flat_params(value).items():
                out[f"{key}.{sub}"] = v
        elif isinstance(value, (bool, int, float, str)):
            out[key] = value
        elif value is None:
            out[key] = "none"
        else:
            out[key] = str(list(value)) if isinstance(value, (list, tuple)) else str(value)
    return out
