"""IR nodes of the terms that are not the rule's factors: the adversarial games (owner and
reversed, every form, the IWGAN weights, the gradient penalty), the kernel test (MMD²) and the
sleep phase.  Each node gives the value (``eval``), the formula (``sym``) and the Python source
(``py``, over :func:`schemagm.compiler.ir.namespace`) of its part of a term."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import Tensor

from .distributions import mmd2
from .ir import Expr, Run
from .terms import Sym

__all__ = [
    "LogMeanExp",
    "Side",
    "IWSide",
    "Sum",
    "GradPenalty",
    "MMD2",
    "FORMS",
    "iw_log_d",
    "grad_penalty",
    "kernel_side",
]

#: per-row maps of a red edge's logit l (D = sigmoid(l)): value and Python source (``{}`` is l)
FORMS: dict[str, tuple[Callable[[Tensor], Tensor], str]] = {
    "log_d": (F.logsigmoid, "F.logsigmoid({})"),  # log D
    "log_1md": (lambda t: F.logsigmoid(-t), "F.logsigmoid(-{})"),  # log(1 − D)
    "half_sq_m1": (lambda t: 0.5 * (t - 1.0) ** 2, "0.5 * ({} - 1.0) ** 2"),
    "half_sq": (lambda t: 0.5 * t**2, "0.5 * {} ** 2"),
    "hinge_real": (lambda t: F.relu(1.0 - t), "F.relu(1.0 - {})"),
    "hinge_gen": (lambda t: F.relu(1.0 + t), "F.relu(1.0 + {})"),
    "id": (lambda t: t, "{}"),
    "neg": (lambda t: -t, "-{}"),
}


@dataclass(eq=False)
class Side(Expr):
    """``𝔼 form(D(v))`` on one side of a red edge: the mean over the rows of ``ctx`` of a per-row map
    of the logit; ``detach``: the samples carry no gradient (the owner's term); ``frozen``: the
    adversary's parameters carry none (the other groups' term)."""

    form: str
    red: Any  # planner.EdgeInfo
    ctx: str
    detach: bool
    frozen: bool
    s: Sym

    def __post_init__(self) -> None:
        self._form = FORMS[self.form][0]  # looked up once, not per call

    def eval(self, run: Run, ctx: str | None = None) -> Tensor:
        return self._form(run.logit(self.ctx, self.red, self.detach, self.frozen)).mean()

    def py(self, ctx: str | None = None) -> str:
        logit = f"logit_at({self.ctx!r}, {self.red.index}, {self.detach}, {self.frozen})"
        return f"({FORMS[self.form][1].format(logit)}).mean()"

    def sym(self) -> Sym:
        return self.s


def iw_log_d(lg: Tensor, k: int) -> Tensor:
    """Mean over groups of k generated samples of sum_i stopgrad(softmax(l)_i) log D(v_i)."""
    n = lg.shape[0]
    m = (n // k) * k
    sums = []
    if m:
        g = (lg if m == n else lg[:m]).reshape(-1, k)
        sums.append((torch.softmax(g.detach(), 1) * F.logsigmoid(g)).sum(1))
    if m < n:
        r = lg[m:].reshape(1, -1)
        sums.append((torch.softmax(r.detach(), 1) * F.logsigmoid(r)).sum(1))
    return torch.cat(sums).mean() if len(sums) > 1 else sums[0].mean()


@dataclass(eq=False)
class IWSide(Expr):
    """IWGAN's generated side: ``𝔼 Σ_i w̄_i log D(v_i)`` with w̄ = stopgrad(softmax over k of the logits)."""

    red: Any
    ctx: str
    k: int
    s: Sym

    def eval(self, run: Run, ctx: str | None = None) -> Tensor:
        return iw_log_d(run.logit(self.ctx, self.red, False, True), self.k)

    def py(self, ctx: str | None = None) -> str:
        return f"iw_log_d(logit_at({self.ctx!r}, {self.red.index}, False, True), {self.k})"

    def sym(self) -> Sym:
        return self.s


@dataclass(eq=False)
class Sum(Expr):
    """``Σ c_i · part_i``, printed as the parts joined by ``joiner`` (where a term's sign distributes
    over its parts, ``−[a + b]`` prints as ``−a − b``)."""

    parts: list[tuple[float, Expr]]
    joiner: Sym

    def eval(self, run: Run, ctx: str | None = None) -> Tensor:
        total: Any = None  # (not 0.0 + the first part: one tensor op less, the same value)
        at: str = ctx  # type: ignore[assignment]  # a part that needs a context is summed under one
        for c, p in self.parts:
            v = p.eval(run, at)
            v = v if c == 1.0 else c * v
            total = v if total is None else total + v
        return total

    def py(self, ctx: str | None = None) -> str:
        ctx_ = cast(str, ctx)  # as in eval
        return " + ".join(f"({p.py(ctx_)})" if c == 1.0 else f"{c!r} * ({p.py(ctx_)})" for c, p in self.parts)

    def sym(self) -> Sym:
        return Sym(
            self.joiner.u.join(p.sym().u for _, p in self.parts),
            self.joiner.tex.join(p.sym().tex for _, p in self.parts),
        )

    def children(self) -> tuple[Expr, ...]:
        return tuple(p for _, p in self.parts)


def grad_penalty(run: Run, real: str, gen: str, red: Any) -> Tensor:
    """``𝔼_x̂ (‖∇ D(x̂)‖ − 1)²`` at x̂ = ε·real + (1 − ε)·generated, ε ~ U(0, 1) per row (WGAN-GP)."""
    reals = [run.value(real, v).detach() for v in red.inputs]
    gens = [run.value(gen, v).detach() for v in red.inputs]
    m = min(reals[0].shape[0], gens[0].shape[0])
    eps = run.base(f"gp:{red.index}:{gen}", "uniform", (m,), reals[0].dtype)
    run.draws[f"gp:{red.name}:{gen}"] = eps
    mixed = []
    for a, c in zip(reals, gens, strict=True):
        e_ = eps.reshape(m, *([1] * (a.dim() - 1)))
        mixed.append((e_ * a[:m] + (1 - e_) * c[:m]).requires_grad_(True))
    x = mixed[0] if len(mixed) == 1 else torch.cat([t.reshape(m, -1) for t in mixed], 1)
    out = run.nets[red.net_key](x).reshape(m)
    grads = torch.autograd.grad(out.sum(), mixed, create_graph=True)
    norm = torch.cat([gr.reshape(m, -1) for gr in grads], 1).norm(2, dim=1)
    return ((norm - 1.0) ** 2).mean()


@dataclass(eq=False)
class GradPenalty(Expr):
    red: Any
    real: str
    gen: str
    s: Sym

    def eval(self, run: Run, ctx: str | None = None) -> Tensor:
        return grad_penalty(run, self.real, self.gen, self.red)

    def py(self, ctx: str | None = None) -> str:
        return f"grad_penalty({self.real!r}, {self.gen!r}, {self.red.index})"

    def sym(self) -> Sym:
        return self.s


def kernel_side(run: Run, ctx: str, red: Any) -> Tensor:
    """The tested values of a red edge in ``ctx``, one row per sample, flattened and side by side."""
    vals = [run.value(ctx, v) for v in red.inputs]
    if len(vals) == 1:
        return vals[0].reshape(vals[0].shape[0], -1)
    return torch.cat([t.reshape(t.shape[0], -1) for t in vals], 1)


@dataclass(eq=False)
class MMD2(Expr):
    """``MMD²(real, generated)`` with a sum of Gaussian kernels of the given bandwidths."""

    red: Any
    real: str
    gen: str
    bandwidths: tuple[float, ...]
    s: Sym

    def eval(self, run: Run, ctx: str | None = None) -> Tensor:
        return mmd2(kernel_side(run, self.real, self.red), kernel_side(run, self.gen, self.red), *self.bandwidths)

    def py(self, ctx: str | None = None) -> str:
        i = self.red.index
        return f"mmd2(side({self.real!r}, {i}), side({self.gen!r}, {i}), *{self.bandwidths!r})"

    def sym(self) -> Sym:
        return self.s


@dataclass(eq=False)
class LogMeanExp(Expr):
    """``log (1/k) Σ_i exp(log_w_i)`` over the k tiled samples of each row (the importance-weighted
    bound): ``log_w`` is evaluated in the tiled context ``tiled`` (rows i·n + j for sample i of row j)."""

    log_w: Expr
    tiled: str
    k: int
    s: Sym

    def eval(self, run: Run, ctx: str | None = None) -> Tensor:
        lw = self.log_w.eval(run, self.tiled).reshape(self.k, -1)
        return torch.logsumexp(lw, 0) - math.log(self.k)

    def py(self, ctx: str | None = None) -> str:
        return f"(torch.logsumexp(({self.log_w.py(self.tiled)}).reshape({self.k}, -1), 0) - {math.log(self.k)!r})"

    def sym(self) -> Sym:
        return self.s

    def children(self) -> tuple[Expr, ...]:
        return (self.log_w,)
