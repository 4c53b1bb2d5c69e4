"""The kernel two-sample test: MMD² between generated samples and held-out data.

For samples X = (x_1..x_m) ~ P and Y = (y_1..y_n) ~ Q and a kernel k,

    MMD²_u = 1/(m(m-1)) Σ_{i≠j} k(x_i, x_j) + 1/(n(n-1)) Σ_{i≠j} k(y_i, y_j) - 2/(mn) Σ_{i,j} k(x_i, y_j)

is the unbiased estimate of MMD²(P, Q) (Gretton et al., JMLR 2012); it is 0 in
expectation when P = Q.  The kernel is a sum of Gaussian kernels
exp(-‖a - b‖² / (2 σ²)), one per bandwidth σ; without bandwidths the median
heuristic picks σ = the median pairwise distance of the pooled sample.

The p-value is a permutation test: the pooled sample is relabelled at random
``permutations`` times and the statistic recomputed;
p = (1 + #{permuted ≥ observed}) / (1 + permutations).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch

from ..errors import SpecError

__all__ = ["MMDResult", "gaussian_kernel", "median_bandwidth", "mmd2", "mmd_test"]


@dataclass(frozen=True)
class MMDResult:
    mmd2: float
    p_value: float
    bandwidths: tuple[float, ...]
    permutations: int
    n_x: int
    n_y: int

    def to_dict(self) -> dict:
        return asdict(self) | {"bandwidths": list(self.bandwidths)}


def _flat(a: torch.Tensor, name: str) -> torch.Tensor:
    a = torch.as_tensor(a)
    if a.dim() == 0:
        raise SpecError(f"{name}: expected a batch of samples, got a scalar")
    return a.detach().reshape(a.shape[0], -1).to(torch.float64)


def _check_pair(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = _flat(x, "first sample"), _flat(y, "second sample")
    if x.shape[1] != y.shape[1]:
        raise SpecError(
            f"two-sample test: samples of different sizes ({x.shape[1]} vs {y.shape[1]} numbers per sample)"
        )
    if x.shape[0] < 2 or y.shape[0] < 2:
        raise SpecError(f"two-sample test needs at least 2 samples on each side, got {x.shape[0]} and {y.shape[0]}")
    return x, y


def _sq_dists(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.cdist(a, b).pow(2)


def gaussian_kernel(sq_dists: torch.Tensor, bandwidths: Sequence[float]) -> torch.Tensor:
    """Σ_σ exp(-d² / (2σ²)) on a matrix of squared distances."""
    return sum(torch.exp(-sq_dists / (2.0 * s * s)) for s in bandwidths)  # type: ignore[return-value]


def median_bandwidth(x: torch.Tensor, y: torch.Tensor) -> float:
    """The median heuristic: the median of the pairwise distances of the pooled sample (i < j)."""
    z = torch.cat(_check_pair(x, y))
    d = torch.pdist(z)
    positive = d[d > 0]
    if positive.numel() == 0:
        return 1.0  # every point identical: any bandwidth gives MMD² = 0
    return float(positive.median())


def _bandwidths(x: torch.Tensor, y: torch.Tensor, bandwidths: Sequence[float] | None) -> tuple[float, ...]:
    if bandwidths is None:
        return (median_bandwidth(x, y),)
    bw = tuple(float(b) for b in bandwidths)
    if not bw or any(not b > 0 for b in bw):
        raise SpecError(f"MMD bandwidths must be positive numbers, got {list(bw)}")
    return bw


def _mmd2_from_gram(k: torch.Tensor, m: int, unbiased: bool) -> torch.Tensor:
    kxx, kyy, kxy = k[:m, :m], k[m:, m:], k[:m, m:]
    n = k.shape[0] - m
    if unbiased:
        sxx = (kxx.sum() - kxx.diagonal().sum()) / (m * (m - 1))
        syy = (kyy.sum() - kyy.diagonal().sum()) / (n * (n - 1))
    else:
        sxx, syy = kxx.mean(), kyy.mean()
    return sxx + syy - 2.0 * kxy.mean()


def _mmd2_relabelled(k: torch.Tensor, in_x: torch.Tensor, chunk: int = 256) -> torch.Tensor:
    """The unbiased MMD² for many relabellings at once; ``in_x`` [P, N] is 1 where a point is on the x side.

    With u = 1[x side], v = 1[y side] and K₀ the Gram matrix without its diagonal:
    MMD²_u = uᵀK₀u / (m(m-1)) + vᵀK₀v / (n(n-1)) - 2 uᵀKv / (mn).
    """
    k0 = k - torch.diag_embed(k.diagonal())
    m = in_x[0].sum()
    n = in_x.shape[1] - m
    out = []
    for start in range(0, in_x.shape[0], chunk):
        u = in_x[start : start + chunk]
        v = 1.0 - u
        ku, kv = u @ k0, v @ k0  # [P, N]
        sxx = (ku * u).sum(1) / (m * (m - 1))
        syy = (kv * v).sum(1) / (n * (n - 1))
        sxy = (ku * v).sum(1) / (m * n)  # the diagonal never pairs x with y
        out.append(sxx + syy - 2.0 * sxy)
    return torch.cat(out)


def mmd2(
    x: torch.Tensor, y: torch.Tensor, bandwidths: Sequence[float] | None = None, *, unbiased: bool = True
) -> float:
    """MMD² between two samples (rows), unbiased unless ``unbiased=False`` (the V-statistic)."""
    x, y = _check_pair(x, y)
    bw = _bandwidths(x, y, bandwidths)
    z = torch.cat([x, y])
    return float(_mmd2_from_gram(gaussian_kernel(_sq_dists(z, z), bw), x.shape[0], unbiased))


def mmd_test(
    x: torch.Tensor,
    y: torch.Tensor,
    bandwidths: Sequence[float] | None = None,
    *,
    permutations: int = 200,
    seed: int = 0,
) -> MMDResult:
    """Unbiased MMD² of x against y with a permutation p-value (fixed ``seed``)."""
    if permutations < 1:
        raise SpecError(f"permutations must be at least 1, got {permutations}")
    x, y = _check_pair(x, y)
    bw = _bandwidths(x, y, bandwidths)
    m = x.shape[0]
    z = torch.cat([x, y])
    k = gaussian_kernel(_sq_dists(z, z), bw)
    observed = _mmd2_from_gram(k, m, True)
    gen = torch.Generator().manual_seed(seed)
    labels = torch.stack([torch.randperm(z.shape[0], generator=gen) < m for _ in range(permutations)]).double()
    exceed = int((_mmd2_relabelled(k, labels) >= observed - 1e-12 * abs(float(observed))).sum())
    return MMDResult(
        mmd2=float(observed),
        p_value=(1 + exceed) / (1 + permutations),
        bandwidths=bw,
        permutations=permutations,
        n_x=m,
        n_y=y.shape[0],
    )
