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

# Tiny tensors on a loaded machine: one intra-op thread is up to 100x faster than two
# (OpenMP threads spin and wait on each small op), and it makes CPU results reproducible.
import torch  # noqa: E402
from hypothesis import HealthCheck, settings

torch.set_num_threads(1)

settings.register_profile("ci", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
CATALOG = sorted(p.stem for p in SPECS.glob("*.sgm"))


@pytest.fixture
def specs_dir() -> Path:
    return SPECS


@pytest.fixture(scope="session")
def schemagm_cache(tmp_path_factory: pytest.TempPathFactory):
    """A cache directory for this test session ($SCHEMAGM_CACHE): the digits classifier trains once per session."""
    path = tmp_path_factory.mktemp("schemagm-cache")
    before = os.environ.get("SCHEMAGM_CACHE")
    os.environ["SCHEMAGM_CACHE"] = str(path)
    yield path
    if before is None:
        os.environ.pop("SCHEMAGM_CACHE", None)
    else:
        os.environ["SCHEMAGM_CACHE"] = before


def catalog_graph(name: str):
    """The checked graph of ``specs/<name>.sgm``."""
    from schemagm.graph.build import parse_file

    return parse_file(SPECS / f"{name}.sgm")
