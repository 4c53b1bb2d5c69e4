"""IR nodes of the factors that the flow path adds to :mod:`.ir`: a flow's change-of-variables
log-determinant, a dequantization density, and the exact sum over an empirical latent (the
kernel density).  Each gives the value (``eval``), the formula (``sym``) and the Python source
(``py``, over :func:`schemagm.compiler.ir.namespace`) of its factor.

* :class:`FlowLogDet` ``log |det ∂f⁻¹(t)/∂t|`` of a solid flow at its target (the factor
  ``log p(t | b) = −log |det ∂f/∂b|``), or ``log |det ∂f(b)/∂b|`` of a dashed flow at its base
  (``log q(t | b) = −log |det ∂f/∂b|``);
* :class:`DequantLogQ` ``log q(v | x)`` of a dequantization at its draw (uniform: ``D log s``);
* :class:`Marginal` ``log (1/N) Σ_j exp(body[v := v_j])`` over the N points ``v_j`` of an
  empirical latent (its support: the training points), e.g. the kernel density
  ``log (1/N) Σ_j N(x; x_j, ε² I)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from .ir import Expr, Run
from .terms import LOG, Sym

__all__ = ["FlowLogDet", "DequantLogQ", "Marginal", "marginal_context"]


@dataclass(eq=False)
class FlowLogDet(Expr):
    """``log |det ∂f⁻¹(t)/∂t|`` at the target ``t`` (``inverse``: a solid flow, whose base the
    dashed process computes by the inverse) or ``log |det ∂f(b)/∂b|`` at the base ``b`` (a dashed
    flow, run forward)."""

    edge: Any  # flow_model._E
    inverse: bool
    at: str  # the node the map is applied to: the target (inverse) or the base
    s: Sym

    def eval(self, run: Run, ctx: str) -> Tensor:
        return run.logdet(ctx, self.edge)  # type: ignore[no-any-return]

    def py(self, ctx: str) -> str:
        i = self.edge.index
        at = f"flat(value({ctx!r}, {self.at!r}))"
        if self.inverse:
            return f"net({i}).inverse({at}, context({ctx!r}, {i}))[1]"
        return f"net({i})({at}, context({ctx!r}, {i}))[1]"

    def sym(self) -> Sym:
        return self.s


@dataclass(eq=False)
class DequantLogQ(Expr):
    """``log q(v | x)`` of a dequantization edge at the value it drew (from its base draw)."""

    edge: Any
    source: str
    s: Sym  # q(v|x)

    def eval(self, run: Run, ctx: str) -> Tensor:
        return run.dequant_log_q(ctx, self.edge)  # type: ignore[no-any-return]

    def py(self, ctx: str) -> str:
        i = self.edge.index
        return f"net({i}).log_q(value({ctx!r}, {self.source!r}), noise({ctx!r}, {i}))"

    def sym(self) -> Sym:
        return LOG + self.s


#: the most numbers one chunk of a :class:`Marginal` evaluates at once (rows × points × size)
CHUNK = 2**24


def marginal_context(ctx: str, node: str, lo: int | None = None, hi: int | None = None) -> str:
    """The context in which ``node`` takes every point of its support in turn (or the points
    ``lo:hi``): row ``i·N + j`` is row ``i`` of ``ctx`` with ``node`` at its ``j``-th point."""
    return f"{ctx}|{node}=support" + (f"[{lo}:{hi}]" if lo is not None else "")


@dataclass(eq=False)
class Marginal(Expr):
    """``log (1/N) Σ_j exp(body)`` with the empirical latent ``node`` at each of its N points:
    ``body`` is evaluated in :func:`marginal_context` (one row per data row and point)."""

    node: str
    body: Expr
    s: Sym

    def eval(self, run: Run, ctx: str) -> Tensor:
        pts = run.support(self.node)
        n = pts.shape[0]
        rows = run.rows(ctx)
        step = max(1, CHUNK // max(1, rows * pts[0].numel()))
        if step >= n:
            lw = self.body.eval(run, marginal_context(ctx, self.node)).reshape(rows, n)
        else:  # a chunk of the points at a time: memory bounded whatever the training set's size
            parts = [
                self.body.eval(run, marginal_context(ctx, self.node, a, min(a + step, n))).reshape(rows, -1)
                for a in range(0, n, step)
            ]
            lw = torch.cat(parts, 1)
        return torch.logsumexp(lw, 1) - math.log(n)

    def py(self, ctx: str) -> str:
        body = self.body.py(marginal_context(ctx, self.node))
        n = f"support({self.node!r}).shape[0]"
        return f"(torch.logsumexp(({body}).reshape(-1, {n}), 1) - math.log({n}))"

    def sym(self) -> Sym:
        return self.s

    def children(self) -> tuple[Expr, ...]:
        return (self.body,)
