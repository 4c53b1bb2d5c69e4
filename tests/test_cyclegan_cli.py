"""specs/extra/cyclegan.sgm through the command line: check, train, sample, eval, render, no traceback."""

from __future__ import annotations

import json

import numpy as np
from conftest import SPECS
from PIL import Image
from typer.testing import CliRunner

from schemagm.cli.app import _register_all, app

if not app.registered_commands:
    _register_all()

SPEC = SPECS / "extra" / "cyclegan.sgm"


def run(*args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_cyclegan_trains_samples_evaluates_and_draws(tmp_path) -> None:
    code, out, err = run("check", SPEC)
    assert code == 0 and "ok (4 nodes, 6 edges, groups theta, phi, psi)" in out and "warning" not in err
    run_dir = tmp_path / "run"
    code, out, err = run("train", SPEC, "--out", run_dir, "--steps", "30", "--batch-size", "32", "--no-progress")
    assert code == 0, err
    assert "Traceback" not in out + err
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    assert metrics and set(metrics[-1]["losses"]) == {"theta", "phi", "psi"}
    assert set(metrics[-1]["phase_losses"]) == {"adversary:u", "adversary:v", "model"}
    assert all(np.isfinite(v) for v in metrics[-1]["losses"].values())
    # sample: the translation G(x_a) of test rows, a picture over domain B and the raw array
    code, out, err = run("sample", run_dir, "-n", "40", "--output", tmp_path / "s.png", "--npy", tmp_path / "s.npy")
    assert code == 0, err
    assert "40 samples of 'x_b'" in out
    assert Image.open(tmp_path / "s.png").size[0] > 100
    array = np.load(tmp_path / "s.npy")
    assert array.shape == (40, 2) and np.isfinite(array).all()
    # eval: what does not apply says so, nothing crashes
    code, out, err = run("eval", run_dir)
    assert code == 0, err
    assert "Traceback" not in out + err
    # the diagram names the tied networks
    code, out, err = run("render", SPEC, "-o", tmp_path / "c.svg")
    assert code == 0, err
    assert "tied networks: G_θ on 2 edges, F_θ on 2 edges" in (tmp_path / "c.svg").read_text()
