"""The trainer's optimisers: torch's own update arithmetic over state kept in torch's own layout.

One :class:`GroupOptimizer` per parameter group (theta, eta, phi, ...) holds that group's settings
and per-parameter state exactly as ``torch.optim.Adam`` / ``RMSprop`` / ``SGD`` would hold them,
and the update itself is torch's public functional one (``torch.optim.adam.adam``,
``torch.optim.rmsprop.rmsprop``, ``torch.optim.sgd.sgd``, with the multi-tensor "foreach" kernels).
Keeping the state here rather than in a ``torch.optim.Optimizer`` buys two things:

* :func:`step_together` updates every group of a phase whose settings are equal in one functional
  call: one foreach kernel per arithmetic op over all their tensors instead of one per group.  The
  kernels work tensor by tensor, so the parameters are bitwise those of one optimiser per group.
* No ``torch._dynamo`` import.  ``Optimizer.__init__``, ``step``, ``state_dict`` and
  ``load_state_dict`` each import it on their first call (about 0.8 s of a run's start-up, with
  sympy and torch.distributed behind it) to guard against ``torch.compile``, which never runs here.

Checkpoints keep each group's ``state_dict()`` in torch's format, so a state saved here loads into
``torch.optim.Adam.load_state_dict`` (the ejected script does) and one saved by torch loads here.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torch.optim.adam import adam as adam_update
from torch.optim.rmsprop import rmsprop as rmsprop_update
from torch.optim.sgd import sgd as sgd_update

__all__ = ["GroupOptimizer", "KINDS", "step_together"]


def _settings_of(cls: type) -> dict[str, Any]:
    """The settings a ``torch.optim`` class stores in each parameter group, with its defaults."""
    params = inspect.signature(cls.__init__).parameters  # type: ignore[misc]
    return {k: p.default for k, p in params.items() if k not in ("self", "params") and p.default is not p.empty}


@functools.cache
def _known(fn: Callable[..., None]) -> frozenset[str]:
    return frozenset(inspect.signature(fn).parameters)


def _call(fn: Callable[..., None], *lists: list[Any], **settings: Any) -> None:
    """``fn(*lists, **settings)`` with only the settings this torch's ``fn`` knows (older releases
    take fewer: ``has_complex``, ``decoupled_weight_decay``)."""
    known = _known(fn)
    fn(*lists, **{k: v for k, v in settings.items() if k in known})


def _zeros(p: Tensor) -> Tensor:
    return torch.zeros_like(p, memory_format=torch.preserve_format)


def _step_count(p: Tensor, settings: Mapping[str, Any]) -> Tensor:
    """``state["step"]``: on the CPU unless capturable or fused (torch's note "special device hosting for step")."""
    if settings.get("capturable") or settings.get("fused"):
        return torch.zeros((), dtype=torch.float32, device=p.device)
    return torch.tensor(0.0, dtype=torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32)


def _adam(settings: Mapping[str, Any], params: list[Tensor], states: list[dict[str, Tensor]]) -> None:
    for p, s in zip(params, states, strict=True):
        if not s:
            s.update(step=_step_count(p, settings), exp_avg=_zeros(p), exp_avg_sq=_zeros(p))
            if settings["amsgrad"]:
                s["max_exp_avg_sq"] = _zeros(p)
    beta1, beta2 = settings["betas"]
    _call(
        adam_update,
        params,
        [p.grad for p in params],
        [s["exp_avg"] for s in states],
        [s["exp_avg_sq"] for s in states],
        [s["max_exp_avg_sq"] for s in states] if settings["amsgrad"] else [],
        [s["step"] for s in states],
        **{k: v for k, v in settings.items() if k != "betas"},
        beta1=beta1,
        beta2=beta2,
        has_complex=any(torch.is_complex(p) for p in params),
    )


def _rmsprop(settings: Mapping[str, Any], params: list[Tensor], states: list[dict[str, Tensor]]) -> None:
    for p, s in zip(params, states, strict=True):
        if not s:
            s.update(step=_step_count(p, settings), square_avg=_zeros(p))
            if settings["momentum"] > 0:
                s["momentum_buffer"] = _zeros(p)
            if settings["centered"]:
                s["grad_avg"] = _zeros(p)
    _call(
        rmsprop_update,
        params,
        [p.grad for p in params],
        [s["square_avg"] for s in states],
        [s["grad_avg"] for s in states] if settings["centered"] else [],
        [s["momentum_buffer"] for s in states] if settings["momentum"] > 0 else [],
        [s["step"] for s in states],
        **settings,
        has_complex=any(torch.is_complex(p) for p in params),
    )


def _sgd(settings: Mapping[str, Any], params: list[Tensor], states: list[dict[str, Tensor]]) -> None:
    buffers: list[Tensor | None] = [s.get("momentum_buffer") for s in states]
    _call(sgd_update, params, [p.grad for p in params], buffers, **settings)
    if settings["momentum"] != 0:  # the functional update creates the buffers it was handed as None
        for s, b in zip(states, buffers, strict=True):
            s["momentum_buffer"] = b  # type: ignore[assignment]


@dataclass(frozen=True)
class Kind:
    """One optimiser: its torch class (the settings and their defaults) and its update."""

    name: str
    torch_class: type
    update: Callable[[Mapping[str, Any], list[Tensor], list[dict[str, Tensor]]], None]

    def settings(self, **given: Any) -> dict[str, Any]:
        return {**_settings_of(self.torch_class), **given}


KINDS: dict[str, Kind] = {
    "adam": Kind("adam", torch.optim.Adam, _adam),
    "rmsprop": Kind("rmsprop", torch.optim.RMSprop, _rmsprop),
    "sgd": Kind("sgd", torch.optim.SGD, _sgd),
}


class GroupOptimizer:
    """One parameter group's optimiser: ``torch.optim.<kind>(params, **settings)`` as state and
    settings, stepped by torch's functional update (alone, or with others by :func:`step_together`)."""

    def __init__(self, kind: str, params: Iterable[torch.nn.Parameter], **settings: Any) -> None:
        self.kind = KINDS[kind]
        self.params = list(params)
        self.settings = self.kind.settings(**settings)
        self.state: list[dict[str, Tensor]] = [{} for _ in self.params]

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        """torch's view: one parameter group, its settings and its parameters."""
        return [{**self.settings, "params": self.params}]

    def step(self) -> None:
        step_together([self])

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.zero_()

    def state_dict(self) -> dict[str, Any]:
        """As ``torch.optim.<kind>.state_dict()``: the state of each parameter that has one, by index."""
        return {
            "state": {i: dict(s) for i, s in enumerate(self.state) if s},
            "param_groups": [{**self.settings, "params": list(range(len(self.params)))}],
        }

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """As ``torch.optim.<kind>.load_state_dict``: the saved settings and state, each tensor but
        ``step`` cast to its parameter's dtype and device.  Raises ValueError when it does not fit."""
        groups = state_dict["param_groups"]
        if len(groups) != 1:
            raise ValueError(f"the state has {len(groups)} parameter groups, the optimiser 1")
        (group,) = groups
        index = list(group["params"])
        if len(index) != len(self.params):
            raise ValueError(f"the state has {len(index)} parameters, the group {len(self.params)}")
        position = {saved: i for i, saved in enumerate(index)}
        state: list[dict[str, Tensor]] = [{} for _ in self.params]
        for saved, values in state_dict["state"].items():
            if saved not in position:
                raise ValueError(f"the state names parameter {saved!r}, which its group does not hold")
            p = self.params[position[saved]]
            state[position[saved]] = {k: _placed(k, v, p, group) for k, v in values.items()}
        # the saved settings; a setting an older torch did not save takes its default, as torch's own
        # ``__setstate__`` gives it
        self.settings = self.kind.settings(**{k: v for k, v in group.items() if k != "params"})
        self.state = state


def _placed(key: str, value: Any, p: Tensor, group: Mapping[str, Any]) -> Any:
    if not isinstance(value, Tensor):
        return value
    if key == "step":
        if group.get("capturable") or group.get("fused"):
            return value.to(dtype=torch.float32, device=p.device)
        return value
    return value.to(dtype=p.dtype, device=p.device) if p.is_floating_point() else value.to(device=p.device)


def step_together(optimizers: Sequence[GroupOptimizer]) -> None:
    """Step each optimiser once, with the gradients its parameters hold (a parameter without one is
    left alone, as torch does).  Optimisers of one kind with equal settings and no shared
    parameter are updated in one functional call."""
    calls: list[tuple[GroupOptimizer, list[Tensor], list[dict[str, Tensor]], set[int]]] = []
    for opt in optimizers:
        for p in opt.params:
            if p.grad is not None and p.grad.is_sparse:
                raise RuntimeError(f"{opt.kind.name} does not support sparse gradients")
        pairs = [(p, s) for p, s in zip(opt.params, opt.state, strict=True) if p.grad is not None]
        ids = {id(p) for p, _ in pairs}
        for first, params, states, seen in calls:
            if first.kind is opt.kind and first.settings == opt.settings and not (seen & ids):
                params += [p for p, _ in pairs]
                states += [s for _, s in pairs]
                seen |= ids
                break
        else:
            calls.append((opt, [p for p, _ in pairs], [s for _, s in pairs], ids))
    with torch.no_grad():
        for first, params, states, _ in calls:
            if params:
                first.kind.update(first.settings, params, states)
