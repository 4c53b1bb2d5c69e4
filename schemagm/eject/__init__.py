"""Eject: a compiled model as one standalone, readable PyTorch script (``schemagm eject``), printed
from the objective IR that computes and prints the objective (docs/eject.md).

::

    from schemagm.eject import eject, loss_function
    text = eject("specs/vae.sgm")          # the whole script
    text = loss_function("specs/vae.sgm")  # the loss functions alone (schemagm compile --emit python)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["eject", "loss_function"]


def _compiled(spec: Any) -> tuple[Any, str]:
    import torch

    from ..compiler import compile as compile_spec

    with torch.random.fork_rng(devices=[]):  # the caller's random stream is left alone
        model = compile_spec(spec)
    name = Path(spec).name if isinstance(spec, (str, Path)) and "\n" not in str(spec) else f"{model.graph.name}.sgm"
    return model, name


def eject(spec: Any) -> str:
    """The standalone script of a spec (a path, a text, a graph or a compiled model)."""
    from .script import eject_script

    model, name = (spec, f"{spec.graph.name}.sgm") if hasattr(spec, "objective") else _compiled(spec)
    return eject_script(model, name)


def loss_function(spec: Any) -> str:
    """The loss functions alone: the helpers they call, ``Noise``, the terms and ``losses``."""
    from .script import loss_module

    model, name = (spec, f"{spec.graph.name}.sgm") if hasattr(spec, "objective") else _compiled(spec)
    return loss_module(model, name)
