"""Classifier-based sample quality: inception score and Fréchet distance.

* Inception score (Salimans et al. 2016): IS = exp(E_x KL(p(y | x) || p(y))),
  p(y) = E_x p(y | x).  Between 1 (every prediction the same) and K (confident
  predictions spread evenly over the K classes).
* Fréchet distance (Heusel et al. 2017) between Gaussians fitted to two sets of
  features: ‖μ₁ - μ₂‖² + tr(Σ₁ + Σ₂ - 2 (Σ₁ Σ₂)^{1/2}), with the matrix square
  root from :func:`scipy.linalg.sqrtm` and the usual care: a small multiple of
  the identity is added when the product is singular, and an imaginary part left
  by round-off is dropped (a large one is an error).

Here the classifier is the project's digits classifier
(:mod:`schemagm.evaluate.classifier`), so the scores are the "inception score"
and "FID" of the digits data set, comparable between models, not with the
published Inception-network figures.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from ..errors import SpecError

__all__ = ["inception_score", "frechet_distance", "frechet_distance_from_stats", "feature_stats"]


def inception_score(probs: torch.Tensor | np.ndarray, splits: int = 1, eps: float = 1e-12) -> tuple[float, float]:
    """(mean, std) of exp(E KL(p(y|x) || p(y))) over ``splits`` equal parts of the predictions ([n, K])."""
    p = np.asarray(torch.as_tensor(probs).detach().to(torch.float64))
    if p.ndim != 2 or p.shape[0] == 0:
        raise SpecError(f"inception score needs class probabilities [n, K], got shape {p.shape}")
    if np.any(p < -1e-9) or not np.allclose(p.sum(1), 1.0, atol=1e-5):
        raise SpecError("inception score needs class probabilities: non-negative rows that sum to 1")
    if not 1 <= splits <= p.shape[0]:
        raise SpecError(f"splits must be between 1 and the number of samples ({p.shape[0]}), got {splits}")
    scores = []
    for part in np.array_split(p, splits):
        py = part.mean(axis=0, keepdims=True)
        kl = np.where(part > 0, part * (np.log(np.maximum(part, eps)) - np.log(np.maximum(py, eps))), 0.0)
        scores.append(float(np.exp(kl.sum(axis=1).mean())))
    return float(np.mean(scores)), float(np.std(scores))


def feature_stats(features: torch.Tensor | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (unbiased) covariance of features [n, d]."""
    f = np.asarray(torch.as_tensor(features).detach().to(torch.float64))
    if f.ndim != 2 or f.shape[0] < 2:
        raise SpecError(f"Fréchet distance needs at least 2 feature vectors [n, d], got shape {f.shape}")
    return f.mean(axis=0), np.atleast_2d(np.cov(f, rowvar=False))


def frechet_distance_from_stats(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray, eps: float = 1e-6
) -> float:
    """‖μ₁ - μ₂‖² + tr(Σ₁ + Σ₂ - 2 (Σ₁ Σ₂)^{1/2})."""
    from scipy import linalg

    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    sigma1, sigma2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (mu1.size, mu1.size):
        raise SpecError(
            f"Fréchet distance: mismatched statistics {mu1.shape}/{sigma1.shape} vs {mu2.shape}/{sigma2.shape}"
        )
    diff = mu1 - mu2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sqrtm warns on singular products; handled below
        covmean = linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        imag = np.max(np.abs(covmean.imag)) if covmean.size else 0.0
        scale = max(1.0, float(np.max(np.abs(covmean.real))))
        if imag > 1e-3 * scale:
            raise SpecError(f"Fréchet distance: the matrix square root has a large imaginary part ({imag:.3g})")
        covmean = covmean.real
    value = float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean))
    return max(value, 0.0) if value > -1e-6 * max(1.0, abs(value)) else value


def frechet_distance(features1: torch.Tensor | np.ndarray, features2: torch.Tensor | np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets."""
    return frechet_distance_from_stats(*feature_stats(features1), *feature_stats(features2))
