"""MMD² and its permutation test against a hand-written numpy double loop."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from schemagm.errors import SpecError
from schemagm.evaluate.two_sample import median_bandwidth, mmd2, mmd_test


def _k(a: np.ndarray, b: np.ndarray, bandwidths: list[float]) -> float:
    d2 = float(np.sum((a - b) ** 2))
    return sum(math.exp(-d2 / (2 * s * s)) for s in bandwidths)


def mmd2_loop(x: np.ndarray, y: np.ndarray, bandwidths: list[float], unbiased: bool = True) -> float:
    """The textbook estimate (Gretton et al. 2012, eq. 3 / eq. 5), one pair at a time."""
    m, n = len(x), len(y)
    sxx = sum(_k(x[i], x[j], bandwidths) for i in range(m) for j in range(m) if i != j or not unbiased)
    syy = sum(_k(y[i], y[j], bandwidths) for i in range(n) for j in range(n) if i != j or not unbiased)
    sxy = sum(_k(x[i], y[j], bandwidths) for i in range(m) for j in range(n))
    if unbiased:
        return sxx / (m * (m - 1)) + syy / (n * (n - 1)) - 2 * sxy / (m * n)
    return sxx / m**2 + syy / n**2 - 2 * sxy / (m * n)


@pytest.mark.parametrize("unbiased", [True, False])
@pytest.mark.parametrize("bandwidths", [[1.0], [0.5, 2.0, 4.0]])
def test_mmd2_matches_double_loop(unbiased: bool, bandwidths: list[float]) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(13, 3))
    y = rng.normal(loc=0.7, size=(17, 3))
    got = mmd2(torch.tensor(x), torch.tensor(y), bandwidths, unbiased=unbiased)
    assert got == pytest.approx(mmd2_loop(x, y, bandwidths, unbiased), rel=1e-10, abs=1e-12)


def test_median_heuristic_is_the_median_pairwise_distance() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(6, 2)), rng.normal(size=(5, 2))
    z = np.concatenate([x, y])
    dists = [np.linalg.norm(z[i] - z[j]) for i in range(len(z)) for j in range(i + 1, len(z))]
    # torch's median of an even count is the lower middle value
    expected = sorted(dists)[(len(dists) - 1) // 2]
    assert median_bandwidth(torch.tensor(x), torch.tensor(y)) == pytest.approx(expected)
    assert mmd2(torch.tensor(x), torch.tensor(y)) == pytest.approx(mmd2_loop(x, y, [expected]))


def test_images_are_flattened() -> None:
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(10, 1, 8, 8, generator=g), torch.rand(12, 1, 8, 8, generator=g)
    assert mmd2(x, y, [2.0]) == pytest.approx(
        mmd2_loop(x.reshape(10, -1).numpy(), y.reshape(12, -1).numpy(), [2.0]), rel=1e-6
    )


def test_p_value_small_for_different_distributions() -> None:
    g = torch.Generator().manual_seed(2)
    x = torch.randn(150, 2, generator=g)
    y = torch.randn(150, 2, generator=g) * 1.0 + torch.tensor([0.8, 0.0])
    res = mmd_test(x, y, permutations=200, seed=0)
    assert res.mmd2 > 0.02
    assert res.p_value == pytest.approx(1 / 201)  # no relabelling reaches the observed value


def test_p_values_spread_for_the_same_distribution() -> None:
    """Under the null the p-value is (roughly) uniform: not concentrated near 0."""
    ps = []
    for s in range(12):
        g = torch.Generator().manual_seed(100 + s)
        ps.append(
            mmd_test(torch.randn(60, 2, generator=g), torch.randn(60, 2, generator=g), permutations=99, seed=s).p_value
        )
    assert min(ps) >= 0.01
    assert float(np.median(ps)) > 0.2
    assert sum(p < 0.05 for p in ps) <= 2
    assert all(0 < p <= 1 for p in ps)


def test_permutation_test_is_reproducible_and_exact_for_identical_sets() -> None:
    g = torch.Generator().manual_seed(3)
    x = torch.randn(30, 2, generator=g)
    a, b = mmd_test(x, x + 0.1, seed=5), mmd_test(x, x + 0.1, seed=5)
    assert a == b
    same = mmd_test(torch.zeros(5, 2), torch.zeros(7, 2), permutations=20)
    assert same.mmd2 == pytest.approx(0.0, abs=1e-12)
    assert same.p_value == 1.0


def test_bad_inputs_are_spec_errors() -> None:
    with pytest.raises(SpecError, match="different sizes"):
        mmd2(torch.zeros(4, 2), torch.zeros(4, 3))
    with pytest.raises(SpecError, match="at least 2 samples"):
        mmd2(torch.zeros(1, 2), torch.zeros(4, 2))
    with pytest.raises(SpecError, match="bandwidths must be positive"):
        mmd2(torch.zeros(4, 2), torch.ones(4, 2), [1.0, -1.0])
