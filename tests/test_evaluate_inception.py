"""Inception score and Fréchet distance against their closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from schemagm.errors import SpecError
from schemagm.evaluate.inception import frechet_distance, frechet_distance_from_stats, inception_score


def test_confident_uniformly_spread_predictions_score_k() -> None:
    k = 10
    probs = torch.eye(k).repeat(7, 1)  # 70 one-hot predictions, 7 per class
    mean, std = inception_score(probs)
    assert mean == pytest.approx(k)
    assert std == 0.0
    mean, std = inception_score(probs, splits=7)  # each split has one of every class
    assert (mean, std) == (pytest.approx(k), pytest.approx(0.0, abs=1e-12))


def test_constant_predictions_score_one() -> None:
    p = torch.softmax(torch.tensor([0.3, -1.0, 2.0, 0.1]), 0)
    assert inception_score(p.repeat(50, 1))[0] == pytest.approx(1.0)
    assert inception_score(torch.eye(5)[[2] * 20])[0] == pytest.approx(1.0)  # confident but constant


def test_inception_score_matches_hand_computation() -> None:
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [0.5, 0.25, 0.25]])
    py = probs.mean(0)
    kls = [sum(p[j] * math.log(p[j] / py[j]) for j in range(3)) for p in probs]
    assert inception_score(torch.tensor(probs))[0] == pytest.approx(math.exp(sum(kls) / 4))
    parts = [probs[:2], probs[2:]]
    per = []
    for part in parts:
        q = part.mean(0)
        per.append(math.exp(np.mean([sum(p[j] * math.log(p[j] / q[j]) for j in range(3)) for p in part])))
    assert inception_score(torch.tensor(probs), splits=2) == (pytest.approx(np.mean(per)), pytest.approx(np.std(per)))


def test_inception_score_rejects_non_probabilities() -> None:
    with pytest.raises(SpecError, match="sum to 1"):
        inception_score(torch.ones(3, 4))
    with pytest.raises(SpecError, match="splits"):
        inception_score(torch.eye(3), splits=4)


def test_fid_zero_for_identical_features() -> None:
    g = torch.Generator().manual_seed(0)
    f = torch.randn(200, 6, generator=g) @ torch.randn(6, 6, generator=g)
    assert frechet_distance(f, f.clone()) == pytest.approx(0.0, abs=1e-6)


def _random_cov(rng: np.random.Generator, d: int) -> np.ndarray:
    a = rng.normal(size=(d, d))
    return a @ a.T + 0.1 * np.eye(d)


def test_fid_closed_form_for_two_gaussians() -> None:
    """Diagonal covariances: ‖μ₁-μ₂‖² + Σ_i (σ₁ᵢ - σ₂ᵢ)² (the 2-Wasserstein distance squared)."""
    mu1, mu2 = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.5])
    s1, s2 = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])  # variances
    expected = float(np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(s1) - np.sqrt(s2)) ** 2))
    assert frechet_distance_from_stats(mu1, np.diag(s1), mu2, np.diag(s2)) == pytest.approx(expected)
    # commuting full covariances: Σ₂ = c Σ₁ gives tr((1 - √c)² Σ₁)
    rng = np.random.default_rng(0)
    cov = _random_cov(rng, 4)
    assert frechet_distance_from_stats(np.zeros(4), cov, np.zeros(4), 4.0 * cov) == pytest.approx(np.trace(cov))


def test_fid_general_covariances_against_eigen_formula() -> None:
    """tr((Σ₁Σ₂)^½) = Σ √λ(Σ₁Σ₂), the eigenvalues being real and positive."""
    rng = np.random.default_rng(1)
    c1, c2 = _random_cov(rng, 5), _random_cov(rng, 5)
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    lam = np.linalg.eigvals(c1 @ c2).real
    expected = float(np.sum((mu1 - mu2) ** 2) + np.trace(c1) + np.trace(c2) - 2 * np.sum(np.sqrt(lam)))
    assert frechet_distance_from_stats(mu1, c1, mu2, c2) == pytest.approx(expected, rel=1e-8)


def test_fid_of_samples_approaches_the_closed_form() -> None:
    g = torch.Generator().manual_seed(4)
    a = torch.randn(20000, 2, generator=g, dtype=torch.float64)
    b = torch.randn(20000, 2, generator=g, dtype=torch.float64) * torch.tensor([2.0, 1.0]) + torch.tensor([1.0, 0.0])
    # closed form: mean gap 1, std gaps (1, 0) -> 1 + 1 = 2
    assert frechet_distance(a, b) == pytest.approx(2.0, abs=0.06)


def test_fid_survives_singular_covariances() -> None:
    # rank-1 features in 3-D: sqrtm of a singular product; the result stays finite and correct
    t = torch.linspace(-1, 1, 50, dtype=torch.float64).unsqueeze(1)
    f = t @ torch.tensor([[1.0, 2.0, 0.0]], dtype=torch.float64)
    value = frechet_distance(f, f + torch.tensor([0.0, 0.0, 3.0], dtype=torch.float64))
    assert value == pytest.approx(9.0, abs=1e-3)
    # Σ₂ = 4 Σ₁ (singular): tr(Σ₁ + 4Σ₁ - 2·2Σ₁) = tr(Σ₁)
    cov = np.cov(f.numpy(), rowvar=False)
    assert frechet_distance(f, 2 * f) == pytest.approx(np.trace(cov), rel=1e-3)
