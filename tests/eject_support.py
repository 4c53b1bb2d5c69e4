"""Load an ejected script as a module and compare it with the compiled model (tests only)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from reference.compare import TOL


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


def _said(what: str) -> Callable[[str], str]:
    """A message for assert_close: what differs, then torch's account of how."""
    return lambda detail: f"{what}: {detail}"


def assert_same(model: Any, got: dict, mine: dict, module: Any, nets: Any, label: str) -> None:
    """Per-group losses and their gradients (to every parameter of the group) equal to 1e-5."""
    assert set(mine) == set(got) == set(model.groups), label
    for g in model.groups:
        torch.testing.assert_close(
            mine[g], got[g], rtol=TOL["rtol"], atol=TOL["atol"], msg=_said(f"{label}: loss of {g}")
        )
        pa, pb = model.parameters_of(g), module.parameters(nets, g)
        assert [p.shape for p in pa] == [p.shape for p in pb], label
        ga = torch.autograd.grad(got[g], pa, retain_graph=True, allow_unused=True)
        gb = torch.autograd.grad(mine[g], pb, retain_graph=True, allow_unused=True)
        for p, a, b in zip(pa, ga, gb, strict=True):
            a = torch.zeros_like(p) if a is None else a
            b = torch.zeros_like(p) if b is None else b
            torch.testing.assert_close(
                b, a, rtol=TOL["rtol"], atol=TOL["atol"], msg=_said(f"{label}: gradient of {g}'s loss")
            )
        assert any(gr is not None and torch.count_nonzero(gr) for gr in gb), f"{label}: {g}'s loss trains nothing"


def assert_script_matches(model: Any, module: Any, batch: dict, label: str, seed: int = 1) -> None:
    """The script's losses and gradients, on the compiled model's weights and its draws of one
    seeded call on ``batch``, are the compiled model's (:func:`assert_same`)."""
    nets = networks_like(module, model)
    torch.manual_seed(seed)
    got = model.losses(batch)
    mine = module.losses(nets, batch, module.Noise(dict(model.last_draws)))
    assert_same(model, got, mine, module, nets, label)
