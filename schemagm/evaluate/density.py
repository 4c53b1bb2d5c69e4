"""Exact likelihood, bits per dimension, and the two reference models of "likelihood is not
sample quality" (Theis et al. 2016).

* ``bpd`` (a metric of ``schemagm eval``): the exact test log-likelihood of a model that has one
  (``log_likelihood``: a flow, a kernel density) or else its k-sample importance-weighted bound
  (a VAE, a dequantized flow: a bound on log P(x)), in nats per example and in bits per
  dimension, ``−log p(x) / (D log 2)``.  For dequantized data it is the bits/dim of the
  integer data ``x · scale`` (the dequantization density includes ``D log scale``).
* :class:`KernelDensity`: the training points with Gaussian noise of width ε,
  p(x) = (1/N) Σ_i N(x; x_i, ε² I).  Small ε: samples are (near) copies of training points —
  excellent by any sample-quality measure — and the test likelihood is poor.
* :class:`NoiseMixture`: w · p_model + (1 − w) · uniform noise on the data's box.  With w = 1 %,
  log p ≥ log p_model(x) − log 100 (at most 4.61 nats worse per example, a few hundredths of a
  bit per dimension on digits) while 99 % of its samples are noise.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from ..errors import SpecError

__all__ = ["KernelDensity", "NoiseMixture", "bits_per_dim", "reference_model", "REFERENCES"]

REFERENCES = ("kde", "mixture")


def bits_per_dim(log_likelihood_nats: float, dims: int) -> float:
    return -log_likelihood_nats / (dims * math.log(2.0))


def _flat(x: Tensor) -> Tensor:
    return x.reshape(x.shape[0], -1).to(torch.float64)


class _Reference(nn.Module):
    """The interface ``schemagm eval`` asks of a model: ``elbo``, ``iw_bound``, ``sample``."""

    exact = True

    def __init__(self, node: str, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.node = node
        self.shape = shape

    def _x(self, batch: Any) -> Tensor:
        return _flat(batch[self.node] if isinstance(batch, dict) else batch)

    def log_likelihood(self, batch: Any) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def elbo(self, batch: Any) -> Tensor:
        return self.log_likelihood(batch)

    def iw_bound(self, batch: Any, k: int) -> Tensor:
        return self.log_likelihood(batch)

    def data_dims(self) -> int:
        return math.prod(self.shape)

    def posterior(self, batch: Any) -> Any:
        raise SpecError("a reference density model has no latent code")

    reconstruct = posterior


class KernelDensity(_Reference):
    """(1/N) Σ_i N(x; x_i, ε² I) over the training points ``x_i``."""

    points: Tensor

    def __init__(self, node: str, train: Tensor, epsilon: float) -> None:
        if not epsilon > 0:
            raise SpecError(f"the kernel width ε must be positive, got {epsilon:g}")
        super().__init__(node, tuple(train.shape[1:]))
        self.register_buffer("points", _flat(train))
        self.epsilon = float(epsilon)

    def log_likelihood(self, batch: Any, chunk: int = 512) -> Tensor:
        x = self._x(batch)
        d, n = self.points.shape[1], self.points.shape[0]
        out = []
        for i in range(0, x.shape[0], chunk):
            sq = torch.cdist(x[i : i + chunk], self.points).pow(2)
            out.append(
                torch.logsumexp(-0.5 * sq / self.epsilon**2, 1)
                - math.log(n)
                - d * (math.log(self.epsilon) + 0.5 * math.log(2 * math.pi))
            )
        return torch.cat(out).float()

    def sample(self, n: int, mean: bool = True, **_: Any) -> dict[str, Tensor]:
        idx = torch.randint(self.points.shape[0], (n,))
        x = self.points[idx] + self.epsilon * torch.randn(n, self.points.shape[1], dtype=self.points.dtype)
        return {self.node: x.float().reshape(n, *self.shape)}


class NoiseMixture(_Reference):
    """w · p_model + (1 − w) · U(box); ``model`` needs an exact ``log_likelihood``."""

    low: Tensor
    high: Tensor
    model: Any

    def __init__(self, node: str, model: Any, low: Tensor, high: Tensor, weight: float = 0.01) -> None:
        if not 0 < weight < 1:
            raise SpecError(f"the model's weight in the mixture must be in (0, 1), got {weight:g}")
        if not callable(getattr(model, "log_likelihood", None)) or not getattr(model, "exact", False):
            raise SpecError("the noise mixture needs a model with an exact likelihood (a flow or a kernel density)")
        super().__init__(node, tuple(low.shape))
        self.model = model
        self.weight = float(weight)
        self.register_buffer("low", low.reshape(-1).to(torch.float64))
        self.register_buffer("high", high.reshape(-1).to(torch.float64))

    def log_likelihood(self, batch: Any) -> Tensor:
        x = self._x(batch)
        inside = ((x >= self.low) & (x <= self.high)).all(1)
        log_u = torch.where(inside, -torch.log(self.high - self.low).sum(), torch.tensor(-math.inf, dtype=x.dtype))
        log_m = self.model.log_likelihood(batch).to(torch.float64)
        return torch.logaddexp(math.log(self.weight) + log_m, math.log1p(-self.weight) + log_u).float()

    def sample(self, n: int, mean: bool = True, **_: Any) -> dict[str, Tensor]:
        from_model = torch.rand(n) < self.weight
        noise = self.low + (self.high - self.low) * torch.rand(n, self.low.numel(), dtype=torch.float64)
        m = self.model.sample(n, mean=mean)[self.node].reshape(n, -1).to(torch.float64)
        x = torch.where(from_model[:, None], m, noise)
        return {self.node: x.float().reshape(n, *self.shape)}


def reference_model(
    kind: str,
    node: str,
    train: Tensor,
    model: Any = None,
    epsilon: float = 0.1,
    weight: float = 0.01,
    bounds: tuple[float, float] | None = None,
) -> _Reference:
    """``kde``: a kernel density on ``train``; ``mixture``: ``weight`` of ``model`` (or, when it has
    no exact likelihood, of the kernel density) with uniform noise on the data's box."""
    if kind == "kde":
        return KernelDensity(node, train, epsilon)
    if kind == "mixture":
        base = (
            model
            if getattr(model, "exact", False) and callable(getattr(model, "log_likelihood", None))
            else KernelDensity(node, train, epsilon)
        )
        flat = _flat(train)
        if bounds is not None:
            low, high = torch.full((flat.shape[1],), bounds[0]), torch.full((flat.shape[1],), bounds[1])
        else:
            pad = 0.1 * (flat.max(0).values - flat.min(0).values).clamp_min(1e-3)
            low, high = flat.min(0).values - pad, flat.max(0).values + pad
        return NoiseMixture(node, base, low, high, weight)
    raise SpecError(f"unknown reference model '{kind}'; choose from {', '.join(REFERENCES)}")
