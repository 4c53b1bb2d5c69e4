"""Mode coverage on a mixture of Gaussians (the ring-of-8 metrics).

Each sample is assigned to its nearest mode.  It is **high quality** when it
lies within ``radius`` standard deviations (default 3) of that mode.  A mode is
**covered** when at least ``min_count`` high-quality samples are assigned to it
(or, with ``min_fraction``, at least that fraction of all samples).  These are
the metrics of Metz et al. (2017) and Srivastava et al. (VEEGAN, 2017) on the
ring of 8 Gaussians: a GAN tends to produce sharp samples (high-quality
fraction near 1) on few modes, a VAE covers every mode with blurred samples.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

from ..errors import SpecError

__all__ = ["ModeResult", "mode_coverage"]


@dataclass(frozen=True)
class ModeResult:
    modes_covered: int
    n_modes: int
    high_quality_fraction: float
    #: high-quality samples per mode, in the order of the modes
    counts: tuple[int, ...]
    #: modes that at least ``min_count`` samples have as their nearest mode, however far (a blurred model
    #: reaches a mode without covering it sharply)
    modes_reached: int
    #: samples per nearest mode, however far
    nearest_counts: tuple[int, ...]
    #: a mode counts as covered from this many high-quality samples on
    min_count: int
    n_samples: int
    radius: float

    def to_dict(self) -> dict:
        return asdict(self) | {"counts": list(self.counts), "nearest_counts": list(self.nearest_counts)}


def mode_coverage(
    samples: torch.Tensor,
    modes: torch.Tensor,
    std: float | torch.Tensor,
    *,
    radius: float = 3.0,
    min_count: int | None = None,
    min_fraction: float | None = None,
) -> ModeResult:
    """Modes covered and high-quality fraction of ``samples`` ([n, d]) for a mixture with these ``modes`` ([K, d]).

    ``std`` is the mixture's component standard deviation (a number, or one per
    mode).  Without ``min_count``/``min_fraction`` a mode needs 1% of the
    samples (at least one); when both are given the larger threshold applies.
    """
    x = torch.as_tensor(samples).detach().to(torch.float64)
    mu = torch.as_tensor(modes).detach().to(torch.float64)
    if x.dim() != 2 or mu.dim() != 2 or x.shape[1] != mu.shape[1]:
        raise SpecError(
            f"mode coverage needs samples [n, d] and modes [K, d] of the same d; "
            f"got {tuple(x.shape)} and {tuple(mu.shape)}"
        )
    if x.shape[0] == 0 or mu.shape[0] == 0:
        raise SpecError("mode coverage needs at least one sample and one mode")
    sd = torch.as_tensor(std, dtype=torch.float64).reshape(-1)
    if sd.numel() not in (1, mu.shape[0]) or bool((sd <= 0).any()):
        raise SpecError(f"mixture std must be positive, one number or one per mode; got {sd.tolist()}")
    n, k = x.shape[0], mu.shape[0]
    if min_count is None and min_fraction is None:
        min_fraction = 0.01
    threshold = max(1, min_count or 0, math.ceil((min_fraction or 0.0) * n - 1e-9))
    dist = torch.cdist(x, mu)  # [n, K]
    nearest_d, nearest = dist.min(dim=1)
    limit = radius * (sd.expand(k)[nearest])
    good = nearest_d <= limit
    counts = torch.bincount(nearest[good], minlength=k)
    reached = torch.bincount(nearest, minlength=k)
    return ModeResult(
        modes_covered=int((counts >= threshold).sum()),
        n_modes=k,
        high_quality_fraction=float(good.double().mean()),
        counts=tuple(int(c) for c in counts),
        modes_reached=int((reached >= threshold).sum()),
        nearest_counts=tuple(int(c) for c in reached),
        min_count=threshold,
        n_samples=n,
        radius=radius,
    )
