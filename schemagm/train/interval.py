"""The values of a metrics line: means over the steps since the previous line, from the steps themselves.

Every training step already computes each term's contribution ``sign * weight * value`` on its
batch (a phase's loss is their sum).  :class:`IntervalMeans` keeps, per phase, the sum of the
contributions of that phase's terms, in float64 on the model's device, with no host
synchronisation.  A phase step only keeps its contributions, detached (no tensor operation: the
step's own cost is a few microseconds, and cold caches after a training step's kernels make each
tensor call several times dearer than it is in a loop of its own); they are added to the sums in
one stack and sum every :data:`FOLD_EVERY` steps and whenever the sums are read or saved.  A
metrics line reads the sums once and divides by the number of phase steps:

* ``terms[t]``: the mean of term ``t``'s contribution over the interval's steps of its own phase
  (an adversary term over the ``discriminator_steps`` updates of every step);
* ``losses[g]``: the mean of group ``g``'s loss (the sum of its terms' contributions) over the
  interval's steps of the phase that updates ``g``; 0 for a group without terms.

The values are those the optimiser saw, before each update: no second forward pass, so a metrics
line costs no model evaluation and leaves every buffer a forward pass may update (NVIL's
baselines, BatchNorm's running statistics) to the training steps alone.  The sums travel in the
checkpoint (:meth:`state_dict`), so a resumed run writes the lines the uninterrupted run writes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

__all__ = ["IntervalMeans", "FOLD_EVERY"]

#: the most phase steps whose contributions wait, detached, to be added to the sums (a bound on the
#: memory they hold when metrics lines are far apart)
FOLD_EVERY = 64


class IntervalMeans:
    """Running sums of each phase's term contributions since the last metrics line."""

    def __init__(self, objective: Any, groups: Sequence[str]) -> None:
        phases = list(objective.phases)
        # per phase, the terms its loss sums (those that update any of its groups), in objective order
        self.names: dict[str, list[str]] = {
            p.name: [t.name for t in objective.terms if set(t.groups) & set(p.groups)] for p in phases
        }
        self.sums: dict[str, torch.Tensor | None] = {p.name: None for p in phases}
        # per phase, each step's detached contributions not yet in its sum (in step order)
        self.pending: dict[str, list[list[torch.Tensor]]] = {p.name: [] for p in phases}
        self.counts: dict[str, int] = {p.name: 0 for p in phases}
        # where each term's mean is read: its own phase where that phase sums it, else the first that does
        self.term_at: dict[str, tuple[str, int]] = {}
        for t in objective.terms:
            owners = [p for p in self.names if t.name in self.names[p]]
            if getattr(t, "phase", None) in owners:
                owners.insert(0, t.phase)
            if owners:
                self.term_at[t.name] = (owners[0], self.names[owners[0]].index(t.name))
        # where each group's loss is read: the phase that updates it, its terms' positions there
        self.group_at: dict[str, tuple[str, list[int]] | None] = {}
        self.complete = len(self.term_at) == len(objective.terms)
        for g in groups:
            terms = [t.name for t in objective.terms if g in t.groups]
            phase = next((p.name for p in phases if g in p.groups), None)
            if not terms:
                self.group_at[g] = None  # no terms: its loss is 0
            elif phase is None:
                self.complete = False  # a group no phase updates: its loss is not computed by any step
            else:
                self.group_at[g] = (phase, [self.names[phase].index(n) for n in terms])
        self.terms = [t.name for t in objective.terms]

    def add(self, phase: str, results: Mapping[str, torch.Tensor]) -> bool:
        """Add one phase step's contributions (``results``: term name -> contribution, as computed for
        the step's loss); False (and nothing added) when one of the phase's terms is missing."""
        names = self.names[phase]
        if not names:
            self.counts[phase] += 1
            return True
        try:
            values = [results[n].detach() for n in names]
        except KeyError:
            return False
        rows = self.pending[phase]
        rows.append(values)
        self.counts[phase] += 1
        if len(rows) >= FOLD_EVERY:
            self._fold(phase)
        return True

    def _fold(self, phase: str) -> None:
        """Add the waiting steps' contributions to the phase's sum: one stack, one sum."""
        rows = self.pending[phase]
        if not rows:
            return
        flat = [v for row in rows for v in row]
        with torch.no_grad():
            try:
                stacked = torch.stack(flat)  # 0-dim contributions (the usual case): one call
            except RuntimeError:  # of mixed shapes, e.g. [] and [1]: one value each
                stacked = torch.stack([v.reshape(()) for v in flat])
            block = torch.sum(stacked.reshape(len(rows), len(rows[0])), 0, dtype=torch.float64)
            total = self.sums[phase]
            self.sums[phase] = block if total is None else total.add_(block)
        rows.clear()

    def ready(self) -> bool:
        """Whether every phase has at least one step in the interval (a line can be read)."""
        return self.complete and all(self.counts[p] > 0 for p in self.counts)

    def read(self) -> tuple[dict[str, float], dict[str, float]]:
        """The interval's mean per-group losses and per-term contributions (one host read per phase)."""
        means: dict[str, list[float]] = {}
        for p in self.pending:
            self._fold(p)
        for p, total in self.sums.items():
            means[p] = [] if total is None else (total / self.counts[p]).tolist()
        losses: dict[str, float] = {}
        for g, where in self.group_at.items():
            if where is None:
                losses[g] = 0.0
            else:
                phase, idx = where
                losses[g] = float(sum(means[phase][i] for i in idx))
        terms = {name: float(means[p][i]) for name, (p, i) in self.term_at.items()}
        return losses, {name: terms[name] for name in self.terms}

    def reset(self) -> None:
        for p in self.sums:
            self.sums[p] = None
            self.pending[p].clear()
            self.counts[p] = 0

    # -- checkpoints -----------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        for p in self.pending:
            self._fold(p)
        return {
            "sums": {p: (t.detach().cpu().clone() if t is not None else None) for p, t in self.sums.items()},
            "counts": dict(self.counts),
        }

    def load_state_dict(self, state: Mapping[str, Any] | None, device: torch.device) -> None:
        """Continue the interval of a checkpoint; one that does not fit (or none: an older checkpoint)
        starts a new interval."""
        self.reset()
        if not state or set(state.get("counts", {})) != set(self.counts):
            return
        for p, t in state["sums"].items():
            if t is not None and (not isinstance(t, torch.Tensor) or t.shape != (len(self.names[p]),)):
                self.reset()
                return
            self.sums[p] = None if t is None else t.to(device=device, dtype=torch.float64)
            self.counts[p] = int(state["counts"][p])
