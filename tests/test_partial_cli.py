"""Every command works through the command line for every spec, also where a branch covers only
some rows (a node `given y` splits the batch) or a node is observed on some rows only (M2): train
with its pictures, `sample --reconstruct`, eval; and M2's eval reports the inferred label's
accuracy on the test rows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from schemagm.cli.app import _register_all, app

_register_all()
ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.sgm")) + sorted((ROOT / "specs" / "extra").glob("*.sgm"))


def cli(*args: object):
    res = CliRunner().invoke(app, [str(a) for a in args])
    assert "Traceback" not in res.output, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    return res


@pytest.mark.parametrize("spec", SPECS, ids=[p.stem for p in SPECS])
def test_train_pictures_reconstruct_and_eval(spec: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = cli("train", spec, "--out", out, "--steps", "2", "--batch-size", "64", "--no-progress")
    assert res.exit_code == 0, res.output
    pictures = list((out / "samples").glob("*.png"))
    assert pictures or "no pictures: the model can neither sample nor reconstruct" in res.output.lower(), res.output
    res = cli("sample", out, "--reconstruct", "-n", "64", "-o", tmp_path / "r.png", "--npy", tmp_path / "r.npy")
    assert res.exit_code in (0, 1), res.output  # 1: a clear 'nothing to reconstruct with'
    if res.exit_code == 0:
        arr = np.load(tmp_path / "r.npy")
        assert np.isfinite(arr).all()
    report = tmp_path / "r.json"
    res = cli("eval", out, "--metrics", "elbo,accuracy", "--json", report)
    assert res.exit_code in (0, 1), res.output
    if spec.stem in ("m2", "ssaae"):  # the inferred label's accuracy on the 180 test rows
        m = json.loads(report.read_text())["metrics"]
        if spec.stem == "m2":
            assert m["elbo"]["status"] == "ok", m
        else:  # the semi-supervised AAE's encoders are deterministic: no density, no ELBO
            assert m["elbo"]["status"] == "not applicable" and "hollow" in m["elbo"]["reason"], m
        acc = m["accuracy"]["value"]["c"]
        assert m["accuracy"]["status"] == "ok" and 0.0 <= acc["accuracy"] <= 1.0 and acc["n"] == 180, m
