"""ELBO surgery: average KL = I_q(x; z) + KL(q(z) || p(z)), on posteriors with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import distributions as D

from schemagm.errors import SpecError
from schemagm.evaluate.surgery import elbo_surgery

PRIOR = D.Normal(torch.tensor(0.0), torch.tensor(1.0))


def _kl_normal_std(mu: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """KL(N(mu, sd²) || N(0, 1)) per point, summed over dimensions (closed form)."""
    return np.sum(0.5 * (sd**2 + mu**2 - 1.0) - np.log(sd), axis=-1)


def test_linear_gaussian_vae_with_exact_posterior() -> None:
    """p(z) = N(0, 1), p(x | z) = N(z, s²): q(z | x) = N(x / (1 + s²), s² / (1 + s²)) exactly.

    With x ~ p(x) = N(0, 1 + s²) the aggregate posterior is the prior (marginal KL 0) and
    I(x; z) = ½ log((1 + s²) / s²) per dimension.
    """
    s2, n, d = 1.0, 500, 2
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, d, generator=g, dtype=torch.float64) * math.sqrt(1 + s2)
    mu, sd = x / (1 + s2), torch.full((n, d), math.sqrt(s2 / (1 + s2)), dtype=torch.float64)
    res = elbo_surgery(D.Independent(D.Normal(mu, sd), 1), PRIOR, draws=6, seed=1)
    assert res.analytic_kl
    assert res.average_kl == pytest.approx(float(_kl_normal_std(mu.numpy(), sd.numpy()).mean()), rel=1e-10)
    assert res.mutual_information == pytest.approx(d * 0.5 * math.log((1 + s2) / s2), abs=0.05)
    assert res.marginal_kl == pytest.approx(0.0, abs=0.05)
    assert abs(res.residual) < 4 * res.residual_stderr + 1e-9
    assert 0 <= res.mutual_information <= res.log_n


def test_identical_posteriors_carry_no_information() -> None:
    n = 50
    mu = torch.tensor([[0.5, -1.0]]).repeat(n, 1)
    sd = torch.tensor([[0.5, 2.0]]).repeat(n, 1)
    res = elbo_surgery(D.Normal(mu, sd), PRIOR, draws=3)  # a plain Normal: per-dimension log-probs are summed
    assert res.mutual_information == pytest.approx(0.0, abs=1e-5)  # float32 round-off
    kl = float(_kl_normal_std(mu[:1].numpy(), sd[:1].numpy())[0])
    assert res.average_kl == pytest.approx(kl)
    assert res.marginal_kl == pytest.approx(kl, abs=6 * res.residual_stderr + 1e-9)


def test_separated_posteriors_reach_log_n() -> None:
    n = 16
    mu = torch.arange(n, dtype=torch.float64).unsqueeze(1) * 10.0  # far apart, narrow
    res = elbo_surgery(D.Normal(mu, torch.full_like(mu, 0.1)), PRIOR, draws=4)
    assert res.mutual_information == pytest.approx(math.log(n), abs=1e-6)
    assert res.average_kl == pytest.approx(res.mutual_information + res.marginal_kl, abs=4 * res.residual_stderr + 1e-6)


def test_uniform_posteriors_off_support() -> None:
    """Uniform posteriors: log q(z | x_m) = -inf off the support of x_m's box; still adds up."""
    n = 40
    g = torch.Generator().manual_seed(2)
    lo = torch.randn(n, 1, generator=g, dtype=torch.float64)
    q = D.Independent(D.Uniform(lo, lo + 1.0, validate_args=False), 1)
    res = elbo_surgery(q, PRIOR, draws=200, seed=3)
    # KL(U(a, a+1) || N(0,1)) = -H(U) - E log N = ½ log 2π + ½ E z², E z² = a² + a + 1/3
    a = lo.squeeze(1).numpy()
    expected = float(np.mean(0.5 * math.log(2 * math.pi) + 0.5 * (a**2 + a + 1 / 3)))
    assert res.average_kl == pytest.approx(expected, rel=1e-9)
    assert abs(res.residual) < 4 * res.residual_stderr


def test_monte_carlo_average_kl_when_no_closed_form() -> None:
    """Student-t posteriors: torch has no KL(t || normal); the average KL is estimated and checked by quadrature."""
    from scipy import stats

    n = 12
    loc = torch.linspace(-1.0, 1.0, n, dtype=torch.float64).unsqueeze(1)
    q = D.Independent(D.StudentT(torch.tensor(5.0, dtype=torch.float64), loc, torch.full_like(loc, 0.5)), 1)
    res = elbo_surgery(q, PRIOR, draws=600, seed=4)
    assert not res.analytic_kl
    grid = np.linspace(-40, 40, 20001)  # KL by the trapezoid rule on a fine grid
    kls = []
    for m in loc.squeeze(1).numpy():
        log_t = stats.t.logpdf(grid, 5, m, 0.5)
        kls.append(np.trapezoid(np.exp(log_t) * (log_t - stats.norm.logpdf(grid)), grid))
    assert res.average_kl == pytest.approx(float(np.mean(kls)), abs=0.04)
    assert abs(res.residual) < 4 * res.residual_stderr


def test_needs_two_points() -> None:
    with pytest.raises(SpecError, match="at least 2"):
        elbo_surgery(D.Independent(D.Normal(torch.zeros(1, 2), torch.ones(1, 2)), 1), PRIOR)
