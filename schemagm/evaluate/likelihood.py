"""Test likelihood: the ELBO and the importance-weighted bound over a test split.

For each test example x the compiled model gives

* ``elbo(batch)``: E_q[log p(x, z) - log q(z | x)] (one draw of z), a lower bound on log p(x);
* ``iw_bound(batch, k)``: log (1/k) Σ_i p(x, z_i) / q(z_i | x) (Burda et al. 2016), a
  tighter bound that increases with k and tends to log p(x).

Both are in nats per example.  The figures are the means over the test split
with their standard errors (sample std / √n), computed batch by batch under
``torch.no_grad`` with a fixed seed so that a report can be reproduced.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Protocol, cast

import torch

from ..errors import SpecError

__all__ = ["Estimate", "LikelihoodResult", "estimate", "likelihood_bounds"]

Batch = Mapping[str, torch.Tensor]


@dataclass(frozen=True)
class Estimate:
    """A mean over examples with its standard error."""

    mean: float
    stderr: float
    n: int

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class LikelihoodResult:
    elbo: Estimate | None
    iw_bound: Estimate | None
    k: int

    def to_dict(self) -> dict:
        return {
            "elbo": None if self.elbo is None else self.elbo.to_dict(),
            "iw_bound": None if self.iw_bound is None else self.iw_bound.to_dict(),
            "k": self.k,
        }


def estimate(values: torch.Tensor) -> Estimate:
    """Mean and standard error of per-example values (must be finite)."""
    v = torch.as_tensor(values).detach().to(torch.float64).reshape(-1)
    if v.numel() == 0:
        raise SpecError("no test examples to evaluate")
    if not bool(torch.isfinite(v).all()):
        bad = int((~torch.isfinite(v)).sum())
        raise SpecError(f"{bad} of {v.numel()} per-example values are not finite (NaN or infinite)")
    n = v.numel()
    se = float(v.std(unbiased=True) / math.sqrt(n)) if n > 1 else float("nan")
    return Estimate(float(v.mean()), se, n)


def _per_example(fn: Callable[[Batch], torch.Tensor], batches: Iterable[Batch], what: str) -> torch.Tensor:
    out = []
    for batch in batches:
        values = fn(batch)
        n = next(iter(batch.values())).shape[0]
        if values.shape != (n,):
            raise SpecError(f"{what} returned shape {tuple(values.shape)}, expected one value per example ({n})")
        out.append(values.detach().to(torch.float64))
    if not out:
        raise SpecError("no test examples to evaluate")
    return torch.cat(out)


class _Bounds(Protocol):
    """What the bounds call on a model (a compiled model or a reference density); nn.Module types
    every attribute it does not know as Tensor | Module."""

    def elbo(self, batch: Batch) -> torch.Tensor: ...

    def iw_bound(self, batch: Batch, k: int) -> torch.Tensor: ...


def likelihood_bounds(
    model: torch.nn.Module,
    batches: Iterable[Batch] | Callable[[], Iterable[Batch]],
    *,
    k: int = 50,
    elbo: bool = True,
    iw: bool = True,
    seed: int = 0,
) -> LikelihoodResult:
    """Test ELBO and k-sample importance-weighted bound of ``model`` over ``batches``.

    ``batches`` is a list of batches (or a callable returning a fresh iterable),
    consumed once per bound.
    """
    if k < 1:
        raise SpecError(f"k (importance samples) must be at least 1, got {k}")
    make = batches if callable(batches) else (lambda b=list(batches): b)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), torch.random.fork_rng():
            torch.manual_seed(seed)
            bounds = cast(_Bounds, model)
            e = estimate(_per_example(bounds.elbo, make(), "elbo")) if elbo else None
            torch.manual_seed(seed + 1)
            w = estimate(_per_example(lambda b: bounds.iw_bound(b, k), make(), f"iw_bound(k={k})")) if iw else None
    finally:
        model.train(was_training)
    return LikelihoodResult(e, w, k)
