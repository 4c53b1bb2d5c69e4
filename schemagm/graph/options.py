"""The ``options { ... }`` block: typed knobs that change terms, not structure."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..limits import MAX_REPEATS

__all__ = ["Options", "ADVERSARIAL_FORMS"]

ADVERSARIAL_FORMS = ("minimax", "non_saturating", "least_squares", "hinge", "wasserstein")


class Options(BaseModel):
    """Options of a spec.  Unknown names and ill-typed values are spec errors."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    adversarial: Literal["minimax", "non_saturating", "least_squares", "hinge", "wasserstein"] = Field(
        "non_saturating", description="form of the adversarial game on every red edge with a network"
    )
    gradient_penalty: float = Field(10.0, ge=0, description="weight of the gradient penalty (wasserstein form)")
    beta: float = Field(1.0, ge=0, description="weight of every KL(q || prior) term (beta-VAE)")
    importance_samples: int = Field(
        1,
        ge=1,
        le=MAX_REPEATS,
        description="k: importance-weighted bound (IWAE) or importance-weighted generator loss (IWGAN)",
    )
    discriminator_steps: int = Field(
        1, ge=1, le=MAX_REPEATS, description="adversary updates per update of the other groups"
    )
    mi_weight: float = Field(
        1.0, ge=0, description="weight of log-likelihood terms scored on generated samples (InfoGAN's lambda)"
    )
    reconstruction: Literal["auto", "bce", "mse"] = Field(
        "auto", description="score of a deterministic (hollow) solid edge: bce for targets in [0, 1], else mse"
    )
    kl: Literal["analytic", "monte_carlo"] = Field(
        "analytic", description="KL(q || prior): analytic where both are Gaussian, else Monte Carlo"
    )
    walkback: int = Field(
        1, ge=1, le=MAX_REPEATS, description="corruption/denoising steps from one data point (DAE walkback)"
    )
    temperature: float = Field(0.5, gt=0, description="temperature of relaxed categorical/bernoulli samples")
    discrete: Literal["auto", "enumerate", "score"] = Field(
        "auto",
        description="gradient of a discrete dashed sample: exact enumeration (auto: supports of at most 64 "
        "values) or the score function with a baseline",
    )

    @classmethod
    def names(cls) -> list[str]:
        return list(cls.model_fields)
