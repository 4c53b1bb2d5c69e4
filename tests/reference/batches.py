"""Small real batches for the tests and benchmarks: scikit-learn digits, two Gaussian domains."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import torch
from torch import Tensor


@lru_cache(maxsize=1)
def _digits() -> tuple[Tensor, Tensor]:
    from sklearn.datasets import load_digits

    d = load_digits()
    return torch.tensor(d.data / 16.0, dtype=torch.float32), torch.tensor(d.target, dtype=torch.long)


def digits(n: int = 16, start: int = 0, image: bool = False) -> Tensor:
    """``n`` digits scaled to [0, 1]: ``[n, 64]`` (or ``[n, 1, 8, 8]``)."""
    x = _digits()[0][start : start + n].clone()
    return x.reshape(n, 1, 8, 8) if image else x


def digit_labels(n: int = 16, start: int = 0) -> Tensor:
    return _digits()[1][start : start + n].clone()


def domains(n: int = 16, dim: int = 2, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Two Gaussian domains: rows with y = 1 (source, centred at +1) then y = 0 (target, at -1)."""
    g = torch.Generator().manual_seed(seed)
    half = n // 2
    src = torch.randn(half, dim, generator=g) * 0.5 + 1.0
    tgt = torch.randn(n - half, dim, generator=g) * 0.5 - 1.0
    y = torch.cat([torch.ones(half, dtype=torch.long), torch.zeros(n - half, dtype=torch.long)])
    return torch.cat([src, tgt]), y


def batch_for(graph: Any, n: int = 16) -> dict[str, Tensor]:
    """A real batch for every data node of ``graph`` (digits pixels or labels, or two domains)."""
    batch: dict[str, Tensor] = {}
    for node in graph.nodes.values():
        if node.role.value != "data":
            continue
        if node.given is not None:
            z, y = domains(n, node.size)
            batch[node.name] = z.reshape(n, *node.shape)
            batch[node.given] = y
        elif node.value == "categorical":
            batch[node.name] = digit_labels(n)
            if node.partial:  # observed on every other row
                batch[f"{node.name}.observed"] = torch.arange(n) % 2 == 0
        elif node.size == 64:
            batch[node.name] = digits(n, image=node.is_image)
        else:  # a small real vector: standard normal rows with a fixed seed
            g = torch.Generator().manual_seed(1)
            batch[node.name] = torch.randn(n, *node.shape, generator=g)
    return batch
