"""The objective IR: each term of the rule is an expression tree, planned once at compile time,
from which its value (:meth:`Expr.eval`) and its formula (:meth:`Expr.sym`, unicode and LaTeX)
both come, so the printed and the computed objective cannot disagree.

Per-row expressions (``eval(run, ctx) -> [n]``, one value per row of the context):

* :class:`LogProb` ``log f(v | pa)`` of a factor: a stochastic edge's density at the value of its
  target (any head whose :class:`~.distributions.Dist` has ``log_prob``: normal, bernoulli,
  categorical, relaxed heads, and a flow's change-of-variables density when it comes);
* :class:`LogPrior` ``log p(v)`` of a latent's prior;
* :class:`KL` ``KL(q ‖ p)`` of a pair of factors on one node: the closed form where the pair has
  one and the option ``kl`` allows it, else the Monte Carlo estimate ``log q − log p`` at the
  sample (the same objective in expectation);
* :class:`Diff` ``log q − log p`` of a pair whose p-side depends on the sample (a bottom-up
  hierarchy: ``p(z1 | z2)`` with ``z2 ~ q(z2 | z1)``): no closed form applies;
* :class:`Recon` a reconstruction distance of a hollow solid edge;
* :class:`Neg`;
* :class:`EnumSum` ``Σ_k q(v = k | pa) · body[v := k]``: exact enumeration of a small discrete node;
* :class:`Score` the score-function surrogate ``f + (f̄ − b) · (log q − log q̄)`` (bars: stop-grad) of
  a body that depends on discrete samples drawn without gradient, with a moving-average baseline
  ``b`` (NVIL); its value is ``f`` (the surrogate adds zero), its gradient the estimator's;
* :class:`Opaque` a planned closure with its formula (walkback chains, the IWAE bound).

Scalar expressions (``eval(run) -> []``): :class:`Mean` (``𝔼`` over the rows of a context) and
:class:`Pool` (the D-weighted pool of real and generated rows of a dashed red edge).

A new kind of factor plugs in as a :class:`LogProb`: an edge whose head returns a ``Dist`` with
``log_prob`` needs nothing else.  A later emitter reads the same trees (every node names its
edge, node and context).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from .distributions import Prior, kl_pair, kl_to_prior, reconstruction
from .terms import LOG, Sym

__all__ = [
    "namespace",
    "Expr",
    "LogProb",
    "LogPrior",
    "KL",
    "Diff",
    "Recon",
    "Neg",
    "Expect",
    "EnumSum",
    "Score",
    "Opaque",
    "Mean",
    "Pool",
    "walk",
]

Run = Any  # run.Run (not imported: this module is read by the printer too)


class Expr:
    """A node of the objective IR."""

    def eval(self, run: Run, ctx: str) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def sym(self) -> Sym:  # pragma: no cover - abstract
        raise NotImplementedError

    def py(self, ctx: str) -> str:  # pragma: no cover - abstract
        """The expression as Python source over the names of :func:`namespace` (a second reader of
        the tree: evaluating it gives :meth:`eval`'s value on the same call)."""
        raise NotImplementedError

    def children(self) -> tuple[Expr, ...]:
        return ()


def namespace(run: Run) -> dict[str, Any]:
    """The names :meth:`Expr.py` source reads, bound to one call (its values and draws)."""
    infos = run.plan.infos

    def kl_closed(q: Any, p: Any) -> Tensor:
        out = kl_to_prior(q, p) if isinstance(p, Prior) else kl_pair(q, p)
        if out is None:  # pragma: no cover - only closed pairs are emitted this way
            raise ValueError("no closed form")
        return out

    from .distributions import mmd2
    from .ir_games import grad_penalty, iw_log_d, kernel_side
    from .partial import observed_mask, observed_value
    from .planner import ACTIVATIONS

    return {
        "F": torch.nn.functional,
        "logit_at": lambda c, i, detach, frozen: run.logit(c, infos[i], detach, frozen),
        "iw_log_d": iw_log_d,
        "grad_penalty": lambda real, gen, i: grad_penalty(run, real, gen, infos[i]),
        "mmd2": mmd2,
        "side": lambda c, i: kernel_side(run, c, infos[i]),
        "torch": torch,
        "value": run.value,
        "dist": lambda c, i: run.dist(c, infos[i]),
        "forward": lambda c, i: run.forward(c, infos[i]),
        "logit": lambda c, i: run.logit(c, infos[i], False),
        "act": lambda i: ACTIVATIONS[infos[i].activation],
        "prior": run.plan.priors,
        "kl_closed": kl_closed,
        "reconstruction": reconstruction,
        # the flow path's factors (compiler/ir_flows.py): a network itself, a flow's context, a base draw
        "math": math,
        "net": lambda i: run.nets[infos[i].net_key],
        "flat": lambda t: t.reshape(t.shape[0], -1),
        "context": lambda c, i: run.context(c, infos[i]),
        "noise": lambda c, i: run.noise(c, infos[i]),
        "support": lambda v: run.support(v),
        # partially observed nodes (compiler/partial.py): the mask, the observed value, the k-th value
        "observed": lambda node: observed_mask(run, node),
        "observed_value": lambda node: observed_value(run, node),
        "enum_value": lambda node, k: _enum_value(run, node, k),
        "dtype": run.dtype,
    }


def _enum_value(run: Run, node: str, k: int) -> Tensor:
    from .distributions import support

    n = run.plan.graph.nodes[node]
    one = support(n.value, n.shape)[k].to(run.device, run.dtype)
    return one.expand(run.n, *one.shape)


def walk(e: Expr):
    """Every node of a tree, depth first."""
    yield e
    for c in e.children():
        yield from walk(c)


@dataclass(eq=False)
class LogProb(Expr):
    """``log f(target | inputs)`` of a stochastic edge, at the target's value in the context."""

    edge: Any  # planner.EdgeInfo
    target: str
    s: Sym  # f(target|inputs)

    def eval(self, run: Run, ctx: str) -> Tensor:
        return run.dist(ctx, self.edge).log_prob(run.value(ctx, self.target))

    def py(self, ctx: str) -> str:
        return f"dist({ctx!r}, {self.edge.index}).log_prob(value({ctx!r}, {self.target!r}))"

    def sym(self) -> Sym:
        return LOG + self.s


@dataclass(eq=False)
class LogPrior(Expr):
    node: str
    prior: Prior
    s: Sym  # p(v)

    def eval(self, run: Run, ctx: str) -> Tensor:
        return self.prior.log_prob(run.value(ctx, self.node))

    def py(self, ctx: str) -> str:
        return f"prior[{self.node!r}].log_prob(value({ctx!r}, {self.node!r}))"

    def sym(self) -> Sym:
        return LOG + self.s


@dataclass(eq=False)
class KL(Expr):
    """``KL(q ‖ p)`` of a pair whose p-side does not depend on q's sample."""

    q: LogProb
    p: LogProb | LogPrior
    analytic: bool = True

    def eval(self, run: Run, ctx: str) -> Tensor:
        if self.analytic:
            d = run.dist(ctx, self.q.edge)
            kl = (
                kl_to_prior(d, self.p.prior) if isinstance(self.p, LogPrior) else kl_pair(d, run.dist(ctx, self.p.edge))
            )
            if kl is not None:
                return kl
        return self.q.eval(run, ctx) - self.p.eval(run, ctx)

    def py(self, ctx: str) -> str:
        if self.analytic:
            p = f"prior[{self.p.node!r}]" if isinstance(self.p, LogPrior) else f"dist({ctx!r}, {self.p.edge.index})"
            return f"kl_closed(dist({ctx!r}, {self.q.edge.index}), {p})"
        return f"({self.q.py(ctx)} - {self.p.py(ctx)})"

    def sym(self) -> Sym:
        return Sym("KL(", "\\mathrm{KL}(") + self.q.s + Sym(" ‖ ", " \\,\\|\\, ") + self.p.s + Sym(")", ")")

    def children(self) -> tuple[Expr, ...]:
        return (self.q, self.p)


@dataclass(eq=False)
class Diff(Expr):
    """``log q − log p`` at the sample."""

    q: Expr
    p: Expr

    def eval(self, run: Run, ctx: str) -> Tensor:
        return self.q.eval(run, ctx) - self.p.eval(run, ctx)

    def py(self, ctx: str) -> str:
        return f"({self.q.py(ctx)} - {self.p.py(ctx)})"

    def sym(self) -> Sym:
        return Sym("[", "[") + self.q.sym() + Sym(" − ", " - ") + self.p.sym() + Sym("]", "]")

    def children(self) -> tuple[Expr, ...]:
        return (self.q, self.p)


@dataclass(eq=False)
class Recon(Expr):
    edge: Any
    target: str
    kind: str
    act: Callable[[Tensor], Tensor]
    logits: bool
    s: Sym

    def eval(self, run: Run, ctx: str) -> Tensor:
        return reconstruction(
            self.act(run.forward(ctx, self.edge)), run.value(ctx, self.target), self.kind, logits=self.logits
        )

    def py(self, ctx: str) -> str:
        act = "(lambda t: t)" if self.logits else f"act({self.edge.index})"
        out = f"forward({ctx!r}, {self.edge.index})"
        return f"reconstruction({act}({out}), value({ctx!r}, {self.target!r}), {self.kind!r}, logits={self.logits})"

    def sym(self) -> Sym:
        return self.s


@dataclass(eq=False)
class Neg(Expr):
    body: Expr

    def eval(self, run: Run, ctx: str) -> Tensor:
        return -self.body.eval(run, ctx)

    def py(self, ctx: str) -> str:
        return f"(-{self.body.py(ctx)})"

    def sym(self) -> Sym:
        return Sym("−", "-") + self.body.sym()

    def children(self) -> tuple[Expr, ...]:
        return (self.body,)


@dataclass(eq=False)
class Expect(Expr):
    """A per-row body under an inner expectation (printing only: its value is one sample's)."""

    body: Expr
    over: Sym

    def eval(self, run: Run, ctx: str) -> Tensor:
        return self.body.eval(run, ctx)

    def py(self, ctx: str) -> str:
        return self.body.py(ctx)

    def sym(self) -> Sym:
        return self.over + self.body.sym()

    def children(self) -> tuple[Expr, ...]:
        return (self.body,)


@dataclass(eq=False)
class EnumSum(Expr):
    """``Σ_k q(v = k | pa) · body`` with v fixed to its k-th value (exact enumeration)."""

    node: str
    q: Any  # the dashed edge that samples v
    values: list[Tensor]
    body: Expr
    planner: Any
    qsym: Sym
    _ctx: dict[str, list[str]] = field(default_factory=dict)

    def contexts(self, ctx: str) -> list[str]:
        out = self._ctx.get(ctx)
        if out is None:
            out = self._ctx[ctx] = [self.planner.enum_context(ctx, self.node, k, v) for k, v in enumerate(self.values)]
        return out

    def eval(self, run: Run, ctx: str) -> Tensor:
        d = run.dist(ctx, self.q)
        total = None
        for c in self.contexts(ctx):
            w = torch.exp(d.log_prob(run.value(c, self.node)))
            t = w * self.body.eval(run, c)
            total = t if total is None else total + t
        return total  # type: ignore[return-value]

    def py(self, ctx: str) -> str:
        q = f"dist({ctx!r}, {self.q.index})"
        return (
            "("
            + " + ".join(
                f"torch.exp({q}.log_prob(value({c!r}, {self.node!r}))) * {self.body.py(c)}" for c in self.contexts(ctx)
            )
            + ")"
        )

    def sym(self) -> Sym:
        v = self.node
        return Sym(f"Σ_{v} ", f"\\sum_{{{v}}} ") + self.qsym + Sym(" ", " \\, ") + self.body.sym()

    def children(self) -> tuple[Expr, ...]:
        return (self.body,)


@dataclass(eq=False)
class Score(Expr):
    """Score-function surrogate of ``body`` for the discrete samples of the ``logq`` factors.

    Value ``f``; gradient ``∇f + (f − b) ∇ Σ log q`` with ``b`` a moving average of the batch mean
    of ``f`` (NVIL's centring baseline, decay ``decay``; 0 before the first training call)."""

    body: Expr
    logq: list[LogProb]
    key: str
    decay: float = 0.9
    buffer: str = ""  # the model's buffer [b, set] (registered at compile time: saved in checkpoints)

    def eval(self, run: Run, ctx: str) -> Tensor:
        f = self.body.eval(run, ctx)
        lq = self.logq[0].eval(run, ctx)
        for e in self.logq[1:]:
            lq = lq + e.eval(run, ctx)
        model = run.model
        state = getattr(model, self.buffer)
        b = state[0]  # 0 until the first training call; a tensor (no host sync on the hot path)
        model.last_baselines[self.key] = b
        if torch.is_grad_enabled() and model.training:
            m = f.detach().mean()
            new = m + state[1] * self.decay * (b - m)  # the first batch mean, then the moving average
            setattr(model, self.buffer, torch.stack([new, torch.ones_like(new)]))  # out of place: b stays as used
        return f + (f.detach() - b) * (lq - lq.detach())

    def py(self, ctx: str) -> str:
        return self.body.py(ctx)  # the surrogate adds zero to the value

    def sym(self) -> Sym:
        return self.body.sym()

    def children(self) -> tuple[Expr, ...]:
        return (self.body, *self.logq)


@dataclass(eq=False)
class Opaque(Expr):
    fn: Callable[[Run, str], Tensor]
    s: Sym

    def eval(self, run: Run, ctx: str) -> Tensor:
        return self.fn(run, ctx)

    def py(self, ctx: str) -> str:
        raise NotImplementedError("an opaque node (a planned closure) has no source form")

    def sym(self) -> Sym:
        return self.s


@dataclass(eq=False)
class Mean(Expr):
    """``𝔼`` over the rows of ``ctx`` (the expectation's factors printed as its subscript)."""

    body: Expr
    ctx: str
    over: Sym

    def eval(self, run: Run, ctx: str | None = None) -> Tensor:
        return self.body.eval(run, self.ctx).mean()

    def py(self, ctx: str | None = None) -> str:
        return f"{self.body.py(self.ctx)}.mean()"

    def sym(self) -> Sym:
        return self.over + self.body.sym()

    def children(self) -> tuple[Expr, ...]:
        return (self.body,)


@dataclass(eq=False)
class Pool(Expr):
    """``𝔼_real stopgrad(D(v))·ℓ + 𝔼_gen stopgrad(D(v))·ℓ``: a dashed red edge's re-weighting."""

    body: Expr
    red: Any
    real: str
    gen: str
    over_real: Sym
    over_gen: Sym
    dsym: Sym  # D(v) at the real side
    dsym_gen: Sym  # D(v) at the generated side

    def eval(self, run: Run, ctx: str | None = None) -> Tensor:
        w_real = _pool_weight(run, self.real, self.red)
        w_gen = _pool_weight(run, self.gen, self.red)
        return (w_real * self.body.eval(run, self.real)).mean() + (w_gen * self.body.eval(run, self.gen)).mean()

    def py(self, ctx: str | None = None) -> str:
        def half(c: str) -> str:
            return f"(torch.sigmoid(logit({c!r}, {self.red.index}).detach()) * {self.body.py(c)}).mean()"

        return f"({half(self.real)} + {half(self.gen)})"

    def sym(self) -> Sym:
        b = self.body.sym()

        def d(s: Sym) -> Sym:
            return Sym("sg(", "\\mathrm{sg}(") + s + Sym(")·", ") \\cdot ")

        real = self.over_real + d(self.dsym) + Sym("[", "[") + b + Sym("]", "]")
        return real + Sym(" + ", " + ") + self.over_gen + d(self.dsym_gen) + Sym("[", "[") + b + Sym("]", "]")

    def children(self) -> tuple[Expr, ...]:
        return (self.body,)


def _pool_weight(run: Run, ctx: str, red: Any) -> Tensor:
    """``stopgrad(D(v))`` at the values of ``ctx``, once per call: every pooled term of the
    call (the likelihood and the KL of a branch) reads the same weights."""
    key = ("pool weight", ctx, red.index)
    w = run.logits.get(key)
    if w is None:
        w = run.logits[key] = torch.sigmoid(run.logit(ctx, red, False).detach())
    return w
