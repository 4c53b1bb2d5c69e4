"""The ``options { ... }`` block: typed knobs that change terms, not structure."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from ..limits import MAX_REPEATS

__all__ = ["Options", "EdgeSettings", "AdversarialForm", "Distance", "ADVERSARIAL_FORMS", "DISTANCES"]

AdversarialForm = Literal["minimax", "non_saturating", "least_squares", "hinge", "wasserstein"]
Distance = Literal["l1", "l2", "bce"]
ADVERSARIAL_FORMS: tuple[str, ...] = get_args(AdversarialForm)
#: reconstruction distances a hollow solid edge may name: l1 = Σ|x − x̂|, l2 = Σ(x − x̂)², bce = binary cross-entropy
DISTANCES: tuple[str, ...] = get_args(Distance)


class Options(BaseModel):
    """Options of a spec.  Unknown names and ill-typed values are spec errors."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    adversarial: AdversarialForm = Field(
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


class EdgeSettings(BaseModel):
    """Per-edge settings, written after an edge's flags: ``F_theta = mlp(64) weight=10 distance=l1``.

    Each is ``None`` when not written (the model-wide option applies).  Unknown names and
    ill-typed values are spec errors at the setting's position; a setting the edge's terms do
    not use is a check warning.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    weight: float | None = Field(None, ge=0, description="factor on every term the edge contributes (cycle λ, α)")
    distance: Distance | None = Field(None, description="reconstruction distance of a hollow solid edge (l1, l2, bce)")
    form: AdversarialForm | None = Field(None, description="adversarial form of this red edge's game")

    @classmethod
    def names(cls) -> list[str]:
        return list(cls.model_fields)
