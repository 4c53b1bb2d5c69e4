"""Partially observed nodes (``data c : categorical[10] from digits.label partial``).

A partially observed node ``c`` is data where its mask says so and missing elsewhere; where it is
missing, its dashed edge ``q(c | x)`` infers it.  The rule (SEMANTICS §2) then reads, per row with
mask ``m`` (1 where observed):

* every term that reads ``c`` is summed over c's values with the weights
  ``w(c) = m·𝟙[c = c°] + (1 − m)·q(c | x)`` (``c°`` the observed value): an observed row is the
  enumeration with a point mass at its value, a missing row the exact enumeration under q;
* the pair of q(c | x) with the prior p(c) (uniform over the classes) is
  ``m·(−log p(c°)) + (1 − m)·KL(q(c | x) ‖ p(c))``: the prior's factor of the joint on an observed
  row, the KL on a missing row (this is the form printed; it equals
  ``−H(q(c | x)) + log K`` under the uniform prior);
* plus the supervised term ``α·𝔼_{observed rows}[−log q(c° | x)]`` (Kingma et al. 2014, M2's
  α-weighted classification loss), α the ``weight=`` written on the dashed edge into c
  (:func:`supervised_weight`, 1 when not written).  The rule's own terms of that edge are never
  re-weighted: they are the bound.

The mask is the batch's ``observed_key(c)`` (bool ``[n]``); a batch without it has every row
missing (the node is inferred everywhere: ``encode(x)`` on data alone).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ..graph.model import Edge, observed_key
from .ir import EnumSum, Expr
from .terms import Sym

__all__ = [
    "supervised_weight",
    "observed_mask",
    "observed_value",
    "mixed_getter",
    "Observed",
    "ObservedMean",
    "PartialEnumSum",
]

Run = Any


def supervised_weight(edge: Edge) -> float:
    """α of the supervised term of a partially observed node: the ``weight=`` on its dashed edge
    (the one place that reads ``edge.weight`` for the dashed edge into a partially observed node)."""
    return 1.0 if edge.weight is None else float(edge.weight)


def observed_mask(run: Run, node: str) -> Tensor:
    """The rows where ``node`` is observed, bool ``[n]`` (none when the batch has no mask or no
    value for the node)."""
    key = observed_key(node)
    m = run.batch.get(key)
    if m is None or node not in run.batch:
        return torch.zeros(run.n, dtype=torch.bool, device=run.device)
    return m.to(device=run.device, dtype=torch.bool).reshape(run.n)


def observed_value(run: Run, node: str) -> Tensor:
    """The node's value from the batch (one-hot for a categorical), zeros where the batch has none."""
    n = run.plan.graph.nodes[node]
    if node not in run.batch:
        return torch.zeros(run.n, *(n.shape or (1,)), device=run.device, dtype=run.dtype)
    return run.data(n, None, 1)


def _expand(m: Tensor, like: Tensor) -> Tensor:
    return m.reshape(m.shape[0], *([1] * (like.dim() - 1)))


def mixed_getter(node: str, inner: Callable[[Run], Tensor]) -> Callable[[Run], Tensor]:
    """The value of a partially observed node in a branch: the batch's where observed, ``inner``
    (its dashed producer's sample, or the enumerated value) where missing."""

    def get(run: Run) -> Tensor:
        v = inner(run)
        m, seen = observed_mask(run, node), observed_value(run, node)
        if v.shape[0] != m.shape[0]:  # k copies of the rows (an importance-weighted bound)
            k = v.shape[0] // max(m.shape[0], 1)
            m, seen = m.repeat(k), seen.repeat(k, *([1] * (seen.dim() - 1)))
        return torch.where(_expand(m, v), seen, v)

    return get


@dataclass(eq=False)
class Observed(Expr):
    """``m·seen + (1 − m)·missing`` per row, ``m`` the mask of ``node``."""

    node: str
    seen: Expr
    missing: Expr

    def eval(self, run: Run, ctx: str) -> Tensor:
        m = observed_mask(run, self.node)
        return torch.where(m, self.seen.eval(run, ctx), self.missing.eval(run, ctx))

    def py(self, ctx: str) -> str:
        return f"torch.where(observed({self.node!r}), {self.seen.py(ctx)}, {self.missing.py(ctx)})"

    def sym(self) -> Sym:
        m = f"m_{self.node}"
        return (
            Sym(f"[{m}·(", f"[m_{{{self.node}}} \\cdot (")
            + self.seen.sym()
            + Sym(f") + (1 − {m})·", f") + (1 - m_{{{self.node}}}) \\cdot ")
            + self.missing.sym()
            + Sym("]", "]")
        )

    def children(self) -> tuple[Expr, ...]:
        return (self.seen, self.missing)


@dataclass(eq=False)
class CodeLogLik(Expr):
    """``log f(v | pa)`` of a hollow edge whose output is a soft code (``-> softmax``: the
    categorical with those probabilities; ``-> sigmoid``: the Bernoulli), at v's value: the
    cross-entropy of the semi-supervised AAE's classification phase (Makhzani et al. 2016)."""

    edge: Any
    target: str
    s: Sym

    def eval(self, run: Run, ctx: str) -> Tensor:
        out = run.forward(ctx, self.edge)
        v = run.value(ctx, self.target)
        if self.edge.activation == "softmax":
            return (torch.log_softmax(out, -1) * v).reshape(v.shape[0], -1).sum(1)
        return -F.binary_cross_entropy_with_logits(out, v, reduction="none").reshape(v.shape[0], -1).sum(1)

    def py(self, ctx: str) -> str:
        out = f"forward({ctx!r}, {self.edge.index})"
        v = f"value({ctx!r}, {self.target!r})"
        if self.edge.activation == "softmax":
            return f"(torch.log_softmax({out}, -1) * {v}).reshape({v}.shape[0], -1).sum(1)"
        return f"(-F.binary_cross_entropy_with_logits({out}, {v}, reduction='none').reshape({v}.shape[0], -1).sum(1))"

    def sym(self) -> Sym:
        return Sym("log ", "\\log ") + self.s


@dataclass(eq=False)
class ObservedMean(Expr):
    """``𝔼`` over the rows of ``ctx`` where ``node`` is observed (0 when a batch has none)."""

    body: Expr
    ctx: str
    node: str
    over: Sym

    def eval(self, run: Run, ctx: str | None = None) -> Tensor:
        m = observed_mask(run, self.node).to(run.dtype)
        return (m * self.body.eval(run, self.ctx)).sum() / m.sum().clamp(min=1.0)

    def py(self, ctx: str | None = None) -> str:
        m = f"observed({self.node!r}).to(dtype)"
        return f"(({m} * {self.body.py(self.ctx)}).sum() / {m}.sum().clamp(min=1.0))"

    def sym(self) -> Sym:
        return self.over + self.body.sym()

    def children(self) -> tuple[Expr, ...]:
        return (self.body,)


@dataclass(eq=False)
class PartialEnumSum(EnumSum):
    """``Σ_k w_k · body[v := k]`` with ``w_k = 𝟙[v° = k]`` on observed rows (the body at the observed
    value) and ``q(v = k | pa)`` on missing rows (exact enumeration)."""

    def _weight(self, run: Run, ctx: str, k: int, d: Any) -> Tensor:
        value = self.values[k].to(run.device, run.dtype)
        q = torch.exp(d.log_prob(value.expand(run.n, *value.shape)))
        seen = (observed_value(run, self.node) == value).reshape(run.n, -1).all(1).to(q.dtype)
        return torch.where(observed_mask(run, self.node), seen, q)

    def eval(self, run: Run, ctx: str) -> Tensor:
        d = run.dist(ctx, self.q)
        total = None
        for k, c in enumerate(self.contexts(ctx)):
            t = self._weight(run, ctx, k, d) * self.body.eval(run, c)
            total = t if total is None else total + t
        return total  # type: ignore[return-value]

    def py(self, ctx: str) -> str:
        q = f"dist({ctx!r}, {self.q.index})"
        terms = []
        for k, c in enumerate(self.contexts(ctx)):
            val = f"enum_value({self.node!r}, {k})"
            w = (
                f"torch.where(observed({self.node!r}), "
                f"(observed_value({self.node!r}) == {val}).reshape({val}.shape[0], -1).all(1).to(dtype), "
                f"torch.exp({q}.log_prob({val})))"
            )
            terms.append(f"{w} * {self.body.py(c)}")
        return "(" + " + ".join(terms) + ")"

    def sym(self) -> Sym:
        v = self.node
        w = Sym(
            f"(m_{v}·𝟙[{v} = {v}°] + (1 − m_{v})·", f"(m_{{{v}}} \\mathbb{{1}}[{v} = {v}^\\circ] + (1 - m_{{{v}}}) "
        )
        return Sym(f"Σ_{v} ", f"\\sum_{{{v}}} ") + w + self.qsym + Sym(") ", ") \\, ") + self.body.sym()
