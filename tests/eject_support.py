"""Load an ejected script as a module and compare it with the compiled model (tests only)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import torch


def load_script(text: str, where: Path, name: str = "ejected") -> Any:
    path = where / f"{name}.py"
    path.write_text(text, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(f"_ejected_{name}_{id(where)}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def networks_like(module: Any, model: Any) -> Any:
    """The script's networks with the compiled model's weights and buffers."""
    nets = module.Networks()
    state = {k.removeprefix("networks."): v.clone() for k, v in model.state_dict().items()}
    nets.load_state_dict(state)
    return nets


def group_parameters(module: Any, nets: Any, group: str) -> list[torch.nn.Parameter]:
    return module.parameters(nets, group)
