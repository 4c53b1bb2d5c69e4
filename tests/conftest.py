"""Shared test set-up: hypothesis profiles and paths.

Profiles (choose with HYPOTHESIS_PROFILE; CI=true selects ``ci``):
  * ``ci``: bounded, so the whole suite stays inside CI's budget, still real;
  * ``dev`` (default): the everyday local run;
  * ``thorough``: many more examples, for a long local run before a release.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
CATALOG = sorted(p.stem for p in SPECS.glob("*.sgm"))


@pytest.fixture
def specs_dir() -> Path:
    return SPECS
