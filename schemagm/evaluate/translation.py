"""The metrics of a translation model (CycleGAN): each direction's two-sample MMD and cycle error.

A translation model's generative process starts from given data rows (CycleGAN's x_a, making
x_b = G(x_a)); the reverse direction gives the target's rows in place of its producer (x_a =
F(x_b)). The directions are found from the graph by :func:`schemagm.train.sampling.translate`,
the same as ``schemagm sample --compare`` draws. For each direction source -> target, on the
first ``n`` test rows:

* ``mmd``: the unbiased MMD² (with its permutation p-value, :mod:`.two_sample`) between the
  translation of the source's test rows and the target domain's test rows;
* ``cycle``: the mean L1 cycle error (1/n) Σ_i ‖back(forth(a_i)) − a_i‖₁, where the graph also
  has the reverse direction (back), e.g. ‖F(G(a)) − a‖₁ for x_a -> x_b.

Every direction's draws start from ``torch.manual_seed(seed)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ..train.sampling import given_data, translate, translate_back
from .two_sample import MMDResult, mmd_test

__all__ = ["Translation", "is_translation_model", "translations", "translation_mmd", "cycle_errors"]


@dataclass(frozen=True)
class Translation:
    source: str
    target: str
    rows: torch.Tensor  # the source's test rows
    translated: torch.Tensor  # what the generative process makes of them (the target domain)

    @property
    def name(self) -> str:
        return f"{self.source}->{self.target}"


def is_translation_model(model: Any) -> bool:
    """True where the model's generative process starts from given data rows and makes another data node."""
    return bool(given_data(model))


def translations(model: Any, test: dict[str, torch.Tensor], n: int, seed: int) -> list[Translation]:
    """Each direction of a translation model on the first ``n`` test rows (CPU)."""
    rows = {k: v[:n].detach().cpu() for k, v in test.items()}
    with torch.random.fork_rng():
        found = translate(model, rows, seed)
    return [Translation(s, t, rows[s], made.float()) for s, t, made in found]


def translation_mmd(
    found: Sequence[Translation],
    test: dict[str, torch.Tensor],
    n: int,
    bandwidths: Sequence[float] | None,
    permutations: int,
    seed: int,
) -> dict[str, MMDResult]:
    """Per direction: MMD²(translation of the source's test rows, the target's first ``n`` test rows);
    a direction whose target the data do not hold is left out."""
    return {
        d.name: mmd_test(d.translated, test[d.target][:n].cpu(), bandwidths, permutations=permutations, seed=seed)
        for d in found
        if d.target in test
    }


def cycle_errors(
    model: Any, found: Sequence[Translation], test: dict[str, torch.Tensor], n: int, seed: int
) -> dict[str, float]:
    """Per direction with a reverse direction in ``found``: the mean L1 error ‖back(forth(a)) − a‖₁."""
    ways = {(d.source, d.target) for d in found}
    rows = {k: v[:n].detach().cpu() for k, v in test.items()}
    out: dict[str, float] = {}
    for d in found:
        if (d.target, d.source) not in ways:
            continue
        with torch.random.fork_rng():
            back = translate_back(model, rows, d.target, d.translated, d.source, seed)
        if back is None:
            continue
        diff = (back.float() - d.rows.float()).reshape(len(d.rows), -1)
        out[d.name] = float(diff.abs().sum(1).mean())
    return out
