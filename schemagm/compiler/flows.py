"""Normalizing flows for an invertible edge, and the dequantization densities.

An invertible edge ``b, c... <-> t : f_theta = realnvp(4)`` carries a bijection ``t = f(b; c)``
of its first source ``b`` (the base, the same size as ``t``) given the other sources ``c`` (the
context).  Its factor's log-density comes by change of variables:

    log p(t | b, c) := −log |det ∂f/∂b|      (so log p(t) = log p(b) − log |det ∂f/∂b|)

The transforms are zuko's (https://github.com/probabilists/zuko): each zuko flow holds a lazy
transform ``T_c`` from its *data* side to its *noise* side, so here ``f = T_c⁻¹`` (the edge runs
from noise to data) and ``f⁻¹ = T_c``, except for the inverse autoregressive flow, where
``f`` is MAF's fast direction (Kingma et al. 2016: sampling in one pass, the density of a
sample it drew is free, the density of any other point costs D passes).  No layer is written
by hand: RealNVP (affine coupling), MAF, IAF and NSF (rational-quadratic spline coupling, here
autoregressive as in zuko) all come from zuko.

Dequantization (Ho et al. 2019) turns data on a grid of step ``1/scale`` into a density
``v = x + u / scale`` with ``u ∈ [0, 1)^D``:

* uniform: ``u ~ U[0, 1)``, ``log q(v | x) = D log scale``;
* variational: ``u = sigmoid(s)``, ``s = f(e; x)``, ``e ~ N(0, I)``, a conditional flow, and
  ``log q(v | x) = log N(e) − log |det ∂f/∂e| − Σ log σ'(s) + D log scale``.

Then log P(x) ≥ E_q[log p(v) − log q(v | x)] (P of the integer data ``x · scale``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
import zuko  # type: ignore[import-untyped]
from torch import Tensor, nn

from ..limits import MAX_PARAMETERS

__all__ = ["FLOW_KINDS", "Flow", "make_flow", "Dequantization", "log_sigmoid_derivative", "standard_normal_log_prob"]

#: the flows an invertible edge can carry
FLOW_KINDS = ("realnvp", "maf", "iaf", "nsf")


def standard_normal_log_prob(e: Tensor) -> Tensor:
    """log N(e; 0, I) summed over each row ``[n, D] -> [n]``."""
    return -0.5 * (e * e).sum(-1) - 0.5 * e.shape[-1] * math.log(2 * math.pi)


def log_sigmoid_derivative(s: Tensor) -> Tensor:
    """log σ'(s) = log σ(s) + log σ(−s), elementwise."""
    return -F.softplus(-s) - F.softplus(s)


class Flow(nn.Module):
    """A bijection ``t = f(b; c)`` of ``features`` numbers given ``context`` numbers (zuko)."""

    def __init__(
        self,
        kind: str,
        features: int,
        context: int = 0,
        transforms: int = 4,
        hidden: Sequence[int] = (64, 64),
        bins: int = 8,
    ) -> None:
        super().__init__()
        if kind not in FLOW_KINDS:
            raise ValueError(f"unknown flow '{kind}' (flows: {', '.join(FLOW_KINDS)})")
        if features < 1 or transforms < 1 or any(h < 1 for h in hidden):
            raise ValueError("a flow needs at least one feature, one transform and positive hidden widths")
        self.kind = kind
        self.features = features
        self.context = context
        hidden = tuple(int(h) for h in hidden)
        if kind == "realnvp" and features < 2:
            raise ValueError("a coupling flow (realnvp) needs at least 2 features: one half conditions the other")
        # zuko builds its autoregressive masks with Tensor.item(), which the meta device (on which
        # parameters are counted) cannot run: the flow is built on the CPU, after a bound on its size
        outputs = 3 * bins + 1 if kind == "nsf" else 2
        widths = [features + context, *hidden, features * outputs]
        bound = transforms * sum(a * b + b for a, b in zip(widths, widths[1:], strict=False))
        if bound > MAX_PARAMETERS:
            raise ValueError(
                f"the flow would have about {bound:,} parameters; schemagm trains at most {MAX_PARAMETERS:,}"
            )
        with torch.device("cpu"):
            if kind == "realnvp":
                lazy: nn.Module = zuko.flows.RealNVP(
                    features, context, transforms=transforms, hidden_features=hidden
                ).transform
            elif kind == "nsf":
                lazy = zuko.flows.NSF(
                    features, context, transforms=transforms, bins=bins, hidden_features=hidden
                ).transform
            else:
                lazy = zuko.flows.MAF(features, context, transforms=transforms, hidden_features=hidden).transform
                if kind == "iaf":
                    lazy = zuko.flows.LazyInverse(lazy)
        #: zuko's lazy transform: context -> T_c, from the target side to the base side (T_c = f⁻¹)
        self.lazy = lazy

    def _t(self, context: Tensor | None) -> Any:  # a zuko transform (call_and_ladj, inv)
        if self.context and context is None:
            raise ValueError(f"this flow is conditioned on {self.context} numbers; no context was given")
        return self.lazy(context if self.context else None)

    def forward(self, b: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``t = f(b; c)`` and ``log |det ∂t/∂b|`` per row (``[n, D] -> [n, D], [n]``)."""
        return self._t(context).inv.call_and_ladj(b)

    def inverse(self, t: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``b = f⁻¹(t; c)`` and ``log |det ∂b/∂t|`` per row."""
        return self._t(context).call_and_ladj(t)

    def extra_repr(self) -> str:
        return f"kind={self.kind}, features={self.features}, context={self.context}"


def make_flow(kind: str, features: int, context: int = 0, *hidden: int, transforms: int = 4, bins: int = 8) -> Flow:
    """The registry's factory: ``realnvp(64, 64, transforms=4)`` — hidden widths, then options."""
    return Flow(kind, features, context, transforms=transforms, hidden=hidden or (64, 64), bins=bins)


class Dequantization(nn.Module):
    """q(v | x) for data on a grid of step ``1/scale``: uniform (no flow) or variational (a flow).

    ``rsample(x)`` returns ``v`` and ``log q(v | x)`` per row; ``quantize(v)`` is the reverse map
    ``x = floor(v · scale) / scale`` of the generative process, whose ``log p(x | v) = 0`` at every
    draw (each v lies in the bin of the x it came from)."""

    def __init__(self, features: int, scale: float, flow: Flow | None = None) -> None:
        super().__init__()
        if scale <= 0:
            raise ValueError(f"the dequantization scale must be positive, got {scale:g}")
        self.features = features
        self.scale = float(scale)
        self.flow = flow

    def noise(self, x: Tensor) -> Tensor:
        """The base draw: U[0, 1) (uniform) or N(0, I) (variational), one per entry of x."""
        x = x.reshape(x.shape[0], -1)
        return torch.rand_like(x) if self.flow is None else torch.randn_like(x)

    def rsample_with(self, x: Tensor, noise: Tensor) -> tuple[Tensor, Tensor]:
        """``v`` and ``log q(v | x)`` per row at the base draw ``noise``."""
        shape = x.shape
        xf = x.reshape(shape[0], -1)
        u, log_q = self._u(xf, noise)
        return (xf + u / self.scale).reshape(shape), log_q

    def log_q(self, x: Tensor, noise: Tensor) -> Tensor:
        """``log q(v | x)`` per row of the ``v`` drawn from the base draw ``noise``."""
        return self._u(x.reshape(x.shape[0], -1), noise)[1]

    def _u(self, xf: Tensor, noise: Tensor) -> tuple[Tensor, Tensor]:
        const = self.features * math.log(self.scale)
        if self.flow is None:
            return noise, xf.new_full((xf.shape[0],), const)
        s, ladj = self.flow(noise, xf)
        log_q = standard_normal_log_prob(noise) - ladj - log_sigmoid_derivative(s).sum(-1) + const
        return torch.sigmoid(s), log_q

    def quantize(self, v: Tensor) -> Tensor:
        return torch.floor(v * self.scale) / self.scale

    def extra_repr(self) -> str:
        return f"scale={self.scale:g}, {'uniform' if self.flow is None else 'variational'}"


def _factory(kind: str):  # type: ignore[no-untyped-def]
    def factory(features: int, context: int = 0, *hidden: int, transforms: int = 4, bins: int = 8) -> Flow:
        return make_flow(kind, features, context, *hidden, transforms=transforms, bins=bins)

    factory.__name__ = kind
    factory.__doc__ = f"the {kind} flow of an invertible edge: factory(features, context, *hidden, transforms=4)"
    return factory


realnvp = _factory("realnvp")
maf = _factory("maf")
iaf = _factory("iaf")
nsf = _factory("nsf")


def uniform_dequantization(scale: float) -> float:
    """The registry's entry for ``x --> v : dequantize(scale)`` (built by the flow compiler)."""
    return float(scale)
