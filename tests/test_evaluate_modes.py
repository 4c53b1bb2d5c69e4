"""Mode coverage on constructed samples: exact counts."""

from __future__ import annotations

import math

import pytest
import torch

from schemagm.errors import SpecError
from schemagm.evaluate.modes import mode_coverage

STD = 0.02
ANGLES = torch.arange(8) * 2 * math.pi / 8
MODES = 2.0 * torch.stack([torch.cos(ANGLES), torch.sin(ANGLES)], dim=1)


def _around(mode: int, n: int, offset: float) -> torch.Tensor:
    """n points at distance ``offset`` from a mode, in varying directions."""
    theta = torch.linspace(0, 2 * math.pi, n + 1)[:-1]
    return MODES[mode] + offset * torch.stack([torch.cos(theta), torch.sin(theta)], dim=1)


def test_all_eight_modes_covered() -> None:
    samples = torch.cat([_around(i, 30, 2.5 * STD) for i in range(8)])
    res = mode_coverage(samples, MODES, STD)
    assert res.modes_covered == 8
    assert res.high_quality_fraction == 1.0
    assert res.counts == (30,) * 8


def test_three_modes_and_low_quality_samples() -> None:
    good = torch.cat([_around(i, 40, 1.0 * STD) for i in (0, 3, 5)])  # 120 sharp samples on 3 modes
    blurred = torch.cat([_around(i, 10, 3.5 * STD) for i in range(8)])  # 80 just outside 3 std
    origin = torch.tensor([[1.0, 0.0]]).repeat(40, 1)  # 40 inside the ring, nearest to mode 0 but 50 std away
    res = mode_coverage(torch.cat([good, blurred, origin]), MODES, STD)
    assert res.n_samples == 240
    assert res.modes_covered == 3
    assert res.counts == (40, 0, 0, 40, 0, 40, 0, 0)
    # every mode is the nearest of 10 blurred samples; mode 0 also of the 40 far ones
    assert res.nearest_counts == (90, 10, 10, 50, 10, 50, 10, 10)
    assert res.modes_reached == 8
    assert res.high_quality_fraction == pytest.approx(120 / 240)


def test_threshold_count_and_fraction() -> None:
    samples = torch.cat([_around(0, 50, STD), _around(1, 5, STD), _around(2, 2, STD)])  # 57 samples
    assert mode_coverage(samples, MODES, STD).min_count == 1  # 1% of 57 rounds up to 1
    assert mode_coverage(samples, MODES, STD).modes_covered == 3
    assert mode_coverage(samples, MODES, STD, min_count=5).modes_covered == 2
    assert mode_coverage(samples, MODES, STD, min_count=6).modes_covered == 1
    res = mode_coverage(samples, MODES, STD, min_fraction=0.05)  # ceil(2.85) = 3
    assert (res.min_count, res.modes_covered) == (3, 2)
    # a larger radius turns samples at 4 std into high-quality ones
    far = _around(4, 10, 4 * STD)
    assert mode_coverage(far, MODES, STD).high_quality_fraction == 0.0
    assert mode_coverage(far, MODES, STD, radius=4.5).counts[4] == 10


def test_bad_shapes_are_spec_errors() -> None:
    with pytest.raises(SpecError, match="same d"):
        mode_coverage(torch.zeros(4, 3), MODES, STD)
    with pytest.raises(SpecError, match="positive"):
        mode_coverage(torch.zeros(4, 2), MODES, 0.0)
