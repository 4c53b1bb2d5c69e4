"""Compare a compiled model's losses with a reference: values and gradients, group by group."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

TOL = dict(rtol=1e-5, atol=1e-5)


def assert_same_losses_and_gradients(
    model: Any, got: dict[str, Tensor], expected: dict[str, Tensor], label: str = ""
) -> None:
    """Every group's loss agrees, and so does its gradient w.r.t. every parameter of the group;
    and each group's loss really trains the group (a nonzero gradient)."""
    assert set(got) == set(expected) == set(model.groups), (label, sorted(got), sorted(expected))
    for g in model.groups:
        torch.testing.assert_close(got[g], expected[g], **TOL, msg=lambda m, g=g: f"{label}: loss of {g}: {m}")
        params = model.parameters_of(g)
        assert params, f"{label}: group {g} has no parameters"
        a = assert_same_gradients(got[g], expected[g], params, f"{label}: gradient of {g}'s loss")
        assert any(gr is not None and torch.count_nonzero(gr) for gr in a), f"{label}: {g}'s loss does not train {g}"


def assert_same_gradients(got: Tensor, expected: Tensor, params: list[Any], label: str) -> tuple[Tensor | None, ...]:
    """``got`` and ``expected`` have the same gradient w.r.t. each of ``params`` (none counts as zero);
    returns got's gradients."""
    a = torch.autograd.grad(got, params, retain_graph=True, allow_unused=True)
    b = torch.autograd.grad(expected, params, retain_graph=True, allow_unused=True)
    for p, ga, gb in zip(params, a, b, strict=True):
        ga = torch.zeros_like(p) if ga is None else ga
        gb = torch.zeros_like(p) if gb is None else gb
        torch.testing.assert_close(ga, gb, **TOL, msg=lambda m: f"{label}: {m}")
    return a
