"""Frozen twins of networks: what a term that must not train a network calls instead of it.

A red edge's reversed term (the generator's loss) runs the discriminator, yet must send no
gradient to the discriminator's weights.  Its twin computes the same function with the same
tensors -- parameters as plain detached views, buffers the network's own objects -- so in-place
updates (an optimiser step, ``load_state_dict``, BatchNorm's running statistics) reach both, and
the backward pass computes gradients for the input only.  :func:`same_tensors` says when a twin
is stale (a tensor replaced: ``.to()``, ``load_state_dict(assign=True)``, a copy of the model).
"""

from __future__ import annotations

import copy
from typing import Any

from torch import nn

__all__ = ["Slots", "make_twin", "same_tensors"]

#: every parameter and buffer slot of a network: (its dict, its name, the tensor, its storage)
Slots = list[tuple[dict, str, Any, int]]


def _tensor_slots(net: nn.Module) -> Slots:
    """The slots of ``net`` and of every module in it."""
    slots = []
    for module in net.modules():
        for d in (module._parameters, module._buffers):
            for name, t in d.items():
                slots.append((d, name, t, t.data_ptr() if t is not None else 0))
    return slots


def same_tensors(slots: Slots) -> bool:
    """Do the slots still hold the same tensors, on the same storage?"""
    for d, name, t, ptr in slots:
        now = d.get(name)
        if now is not t or (t is not None and t.data_ptr() != ptr):
            return False
    return True


def make_twin(net: nn.Module) -> tuple[nn.Module, Slots]:
    """The frozen twin of ``net``: a copy whose parameters are plain detached views of ``net``'s
    and whose buffers ARE ``net``'s (the same tensor objects, so in-place changes are shared)."""
    slots = _tensor_slots(net)
    memo: dict[int, Any] = {}
    for module in net.modules():
        for t in module._buffers.values():
            if t is not None:
                memo[id(t)] = t
        for p in module._parameters.values():
            if p is not None:
                memo[id(p)] = p.detach()
    shadow = copy.deepcopy(net, memo)
    for module in shadow.modules():
        for attr in [a for a, p in module._parameters.items() if p is not None]:
            view = module._parameters.pop(attr)
            object.__setattr__(module, attr, view)  # a plain tensor: not a parameter of the twin
    return shadow, slots
