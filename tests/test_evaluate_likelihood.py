"""Test ELBO and importance-weighted bound: aggregation against numpy, and the bounds' order."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from schemagm.errors import SpecError
from schemagm.evaluate.likelihood import estimate, likelihood_bounds

S2 = 0.5  # p(x | z) = N(z, S2), p(z) = N(0, 1): p(x) = N(0, 1 + S2)


class LinearGaussian(torch.nn.Module):
    """A hand-written latent Gaussian model whose log p(x) is known; q(z | x) = N(a x, v)."""

    def __init__(self, a: float, v: float) -> None:
        super().__init__()
        self.a, self.v = a, v

    def _log_w(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        log_p = -0.5 * (z**2 + math.log(2 * math.pi)) - 0.5 * ((x - z) ** 2 / S2 + math.log(2 * math.pi * S2))
        log_q = -0.5 * ((z - self.a * x) ** 2 / self.v + math.log(2 * math.pi * self.v))
        return (log_p - log_q).sum(-1)

    def elbo(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        x = batch["x"]
        z = self.a * x + math.sqrt(self.v) * torch.randn_like(x)
        return self._log_w(x, z)

    def iw_bound(self, batch: dict[str, torch.Tensor], k: int) -> torch.Tensor:
        x = batch["x"]
        z = self.a * x + math.sqrt(self.v) * torch.randn(k, *x.shape, dtype=x.dtype)
        return torch.logsumexp(self._log_w(x.unsqueeze(0), z), 0) - math.log(k)


def _data(n: int = 300) -> torch.Tensor:
    g = torch.Generator().manual_seed(12345)  # not the evaluation's seed: its noise must not be the data's
    return torch.randn(n, 1, generator=g, dtype=torch.float64) * math.sqrt(1 + S2)


def _log_px(x: torch.Tensor) -> np.ndarray:
    v = 1 + S2
    return (-0.5 * (x.numpy() ** 2 / v + math.log(2 * math.pi * v))).sum(1)


def _batches(x: torch.Tensor, size: int = 64) -> list[dict[str, torch.Tensor]]:
    return [{"x": x[i : i + size]} for i in range(0, len(x), size)]


def test_exact_posterior_gives_log_px_with_numpy_standard_error() -> None:
    x = _data()
    exact = LinearGaussian(a=1 / (1 + S2), v=S2 / (1 + S2))
    r = likelihood_bounds(exact, _batches(x), k=7)
    ref = _log_px(x)
    for est in (r.elbo, r.iw_bound):
        assert est is not None and est.n == len(ref)
        assert est.mean == pytest.approx(ref.mean(), abs=1e-9)
        assert est.stderr == pytest.approx(ref.std(ddof=1) / math.sqrt(len(ref)), rel=1e-6)


def test_iw_bound_rises_with_k_towards_log_px() -> None:
    x = _data()
    wrong = LinearGaussian(a=0.3, v=0.2)
    target = _log_px(x).mean()
    means = [likelihood_bounds(wrong, _batches(x), k=k, elbo=False).iw_bound.mean for k in (1, 5, 50, 500)]  # type: ignore[union-attr]
    elbo = likelihood_bounds(wrong, _batches(x), iw=False).elbo
    assert elbo is not None and elbo.mean < means[1]
    assert means == sorted(means) and means[-1] < target
    assert target - means[-1] < 0.2 * (target - means[0])


def test_callable_batches_and_reproducibility() -> None:
    x = _data(50)
    m = LinearGaussian(0.3, 0.2)
    a = likelihood_bounds(m, lambda: iter(_batches(x, 16)), k=3, seed=4)
    b = likelihood_bounds(m, _batches(x, 16), k=3, seed=4)
    assert a == b
    assert likelihood_bounds(m, _batches(x, 16), k=3, seed=5) != a


def test_estimate_rejects_bad_values() -> None:
    with pytest.raises(SpecError, match="not finite"):
        estimate(torch.tensor([1.0, float("nan")]))
    with pytest.raises(SpecError, match="no test examples"):
        likelihood_bounds(LinearGaussian(0.3, 0.2), [], k=2)
    with pytest.raises(SpecError, match="at least 1"):
        likelihood_bounds(LinearGaussian(0.3, 0.2), _batches(_data(4)), k=0)


def test_compiled_vae_bounds_are_ordered() -> None:
    """On the compiled catalog VAE: IW(k=1) matches the ELBO in expectation; the bound rises with k."""
    from reference.batches import digits

    from schemagm.compiler import compile

    torch.manual_seed(0)
    model = compile(Path(__file__).resolve().parent.parent / "specs" / "vae.sgm")
    x = digits(200)
    batches = _batches(x, 100)
    r1 = likelihood_bounds(model, batches, k=1)
    r5 = likelihood_bounds(model, batches, k=5, elbo=False)
    r50 = likelihood_bounds(model, batches, k=50, elbo=False)
    assert r1.elbo is not None and r1.iw_bound is not None
    assert abs(r1.iw_bound.mean - r1.elbo.mean) < 4 * math.hypot(r1.elbo.stderr, r1.iw_bound.stderr)
    assert r1.elbo.mean < r5.iw_bound.mean < r50.iw_bound.mean  # type: ignore[union-attr]
    assert model.training  # left as found
