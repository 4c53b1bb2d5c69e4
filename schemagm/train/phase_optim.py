"""One torch optimiser per phase, holding one parameter group per schemagm group.

:func:`schemagm.train.trainer.make_optimizers` gives one optimiser per group (theta, eta, phi, ...),
each with its own learning rate.  The groups of one phase are always stepped together, and every
``Optimizer.step`` call carries a fixed Python cost (hooks, profiling scope, grad mode) of about
0.1 ms on the CPU -- a few per cent of a small model's step.  :class:`PhaseOptimizer` steps them
as one torch optimiser whose ``param_groups`` are the groups' own, which computes bitwise the same
update (the optimisers' arithmetic is per parameter group).

Checkpoints keep the per-group format: :meth:`group_states` gives each group the state dict its own
optimiser would give (``{"state": {0: ...}, "param_groups": [...]}``), and :meth:`load_group_states`
takes them back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from ..errors import SpecError

__all__ = ["PhaseOptimizer"]


class PhaseOptimizer:
    """The optimisers of ``groups`` (one each, all of one type and settings but the learning rate)
    stepped as one."""

    def __init__(self, groups: Sequence[str], optimizers: Mapping[str, torch.optim.Optimizer]) -> None:
        self.groups = list(groups)
        first = optimizers[self.groups[0]]
        param_groups = []
        for g in self.groups:
            (pg,) = optimizers[g].param_groups
            param_groups.append({k: v for k, v in pg.items()})
        self.optimizer: torch.optim.Optimizer = type(first)(param_groups, **first.defaults)
        self.sizes = [len(pg["params"]) for pg in self.optimizer.param_groups]

    @staticmethod
    def fits(groups: Sequence[str], optimizers: Mapping[str, torch.optim.Optimizer]) -> bool:
        """Whether the groups' optimisers can be stepped as one (same type and settings, one
        parameter group each, no shared parameter)."""
        opts = [optimizers[g] for g in groups]
        if not opts or any(len(o.param_groups) != 1 for o in opts):
            return False
        first = opts[0]
        same = all(type(o) is type(first) for o in opts)
        settings = [{k: v for k, v in o.param_groups[0].items() if k not in ("params", "lr")} for o in opts]
        ids = [id(p) for o in opts for p in o.param_groups[0]["params"]]
        return same and all(s == settings[0] for s in settings) and len(ids) == len(set(ids))

    def step(self) -> None:
        self.optimizer.step()

    def group_states(self) -> dict[str, dict[str, Any]]:
        """Each group's state dict, as its own optimiser's ``state_dict()`` gives it."""
        sd = self.optimizer.state_dict()
        out: dict[str, dict[str, Any]] = {}
        for g, pg in zip(self.groups, sd["param_groups"], strict=True):
            idx = pg["params"]
            out[g] = {
                "state": {i: sd["state"][j] for i, j in enumerate(idx) if j in sd["state"]},
                "param_groups": [{**pg, "params": list(range(len(idx)))}],
            }
        return out

    def load_group_states(self, states: Mapping[str, Mapping[str, Any]], where: str) -> None:
        """Load each group's state dict (the per-group format of :meth:`group_states`)."""
        state: dict[int, Any] = {}
        param_groups: list[dict[str, Any]] = []
        offset = 0
        for g, size in zip(self.groups, self.sizes, strict=True):
            sd = states[g]
            try:
                (pg,) = sd["param_groups"]
                if len(pg["params"]) != size:
                    raise ValueError(f"the state has {len(pg['params'])} parameters, the group {size}")
                for i, s in sd["state"].items():
                    state[offset + int(i)] = s
            except (ValueError, KeyError, TypeError) as exc:
                raise SpecError(
                    f"checkpoint '{where}': the optimiser state of group '{g}' does not fit: {exc}"
                ) from None
            param_groups.append({**pg, "params": list(range(offset, offset + size))})
            offset += size
        try:
            self.optimizer.load_state_dict({"state": state, "param_groups": param_groups})
        except (ValueError, KeyError, RuntimeError) as exc:
            raise SpecError(
                f"checkpoint '{where}': the optimiser state of group(s) {', '.join(self.groups)} does not fit: {exc}"
            ) from None
