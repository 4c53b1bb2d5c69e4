"""The new extra specs (hierarchical VAE, Gaussian mixture, sigmoid belief net, categorical VAE)
train, sample and evaluate through the command line."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from schemagm.cli.app import _register_all, app

_register_all()
ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str):
    res = CliRunner().invoke(app, [str(a) for a in args])
    assert "Traceback" not in res.output
    return res


@pytest.mark.parametrize("name", ["hvae", "gmm", "sbn", "cat_vae"])
def test_new_spec_trains_samples_and_evaluates(name: str, tmp_path: Path) -> None:
    out = tmp_path / name
    res = cli(
        "train",
        ROOT / "specs" / "extra" / f"{name}.sgm",
        "--out",
        out,
        "--steps",
        "20",
        "--batch-size",
        "32",
        "--no-progress",
        "--samples",
        "0",
    )
    assert res.exit_code == 0, res.output
    res = cli("sample", out, "-n", "7", "--npy", tmp_path / "s.npy", "-o", tmp_path / "s.png", "--seed", "1")
    assert res.exit_code == 0, res.output
    arr = np.load(tmp_path / "s.npy")
    assert arr.shape[0] == 7 and np.isfinite(arr).all()
    report = tmp_path / "r.json"
    res = cli("eval", out, "--metrics", "elbo,iw", "--k", "4", "--json", report)
    assert res.exit_code == 0, res.output
    m = json.loads(report.read_text())["metrics"]
    assert m["elbo"]["status"] == "ok" and m["iw"]["status"] == "ok", m
    elbo, iw = m["elbo"]["value"]["mean"], m["iw"]["value"]["mean"]
    assert math.isfinite(elbo) and math.isfinite(iw)
    if name != "gmm":  # a density on [0, 1]^64 of binary pixels (the ring's density may exceed 1)
        assert elbo < 0
    assert iw > elbo - 3 * m["elbo"]["value"]["stderr"] - 0.5
