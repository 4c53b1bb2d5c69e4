"""An ejected script trains in a process where schemagm cannot be imported, and follows
``schemagm train`` with the same seed and budget: same initial weights (networks built in the
compiler's order), same batches (the stream's epoch permutations), same noise (keyed streams)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import SPECS

# a launcher that makes `import schemagm` fail, proves it, then runs the script as __main__
BLOCKED = """
import importlib.abc
import runpy
import sys


class Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "schemagm" or name.startswith("schemagm."):
            raise ModuleNotFoundError(f"blocked: {name}")
        return None


sys.meta_path.insert(0, Blocked())
try:
    import schemagm  # noqa: F401
except ModuleNotFoundError:
    print("schemagm is not importable")
else:
    raise SystemExit("schemagm was importable")
script = sys.argv[1]
sys.argv = sys.argv[1:]
runpy.run_path(script, run_name="__main__")
assert not any(m == "schemagm" or m.startswith("schemagm.") for m in sys.modules), "schemagm was imported"
"""


def _eject(name: str, folder: Path) -> Path:
    from schemagm.eject import eject

    out = folder / f"{Path(name).name}.py"
    out.write_text(eject(SPECS / f"{name}.sgm"), encoding="utf-8")
    return out


def _run_script(script: Path, folder: Path, *args: str) -> subprocess.CompletedProcess:
    launcher = folder / "launch_blocked.py"
    launcher.write_text(BLOCKED, encoding="utf-8")
    # -I: no PYTHONPATH, no user site, the script's folder not on the path
    return subprocess.run(
        [sys.executable, "-I", str(launcher), str(script), *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
        env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
    )


def _schemagm_objective(spec: Path, out: Path, epochs: int, seed: int) -> float:
    """``schemagm train`` with the same seed and budget, then the whole objective on the test split
    with seeded noise (what the script's evaluate() reports)."""
    from schemagm.cli.app import _register_all, app

    _register_all()
    from typer.testing import CliRunner

    res = CliRunner().invoke(
        app,
        ["train", str(spec), "--epochs", str(epochs), "--seed", str(seed), "--out", str(out), "--no-progress"],
        catch_exceptions=False,
    )
    assert res.exit_code == 0, res.output
    from schemagm.train.run import load_run

    run = load_run(out)
    torch.manual_seed(seed)
    return float(sum(run.model.terms(run.data.test).values()).detach())


@pytest.mark.parametrize("name", ["vae", "gan", "extra/flow2d", "extra/vae_iaf", "extra/ssaae"])
def test_the_script_trains_without_schemagm_and_follows_schemagm_train(name: str, tmp_path: Path) -> None:
    script = _eject(name, tmp_path)
    res = _run_script(script, tmp_path, "--epochs", "2", "--seed", "0", "--out", str(tmp_path / "run"))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "schemagm is not importable" in res.stdout
    assert "Traceback" not in res.stderr
    state = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    assert state["epoch"] == 2 and state["step"] > 0
    mine = json.loads((tmp_path / "run" / "test.json").read_text())["objective"]
    theirs = _schemagm_objective(SPECS / f"{name}.sgm", tmp_path / "schemagm_run", 2, 0)
    assert abs(mine - theirs) <= 0.01 * abs(theirs), (mine, theirs)
    assert abs(mine - theirs) <= 1e-3 * abs(theirs), f"the runs drifted apart: {mine} vs {theirs}"


def test_help_data_files_checkpoints_and_resume(tmp_path: Path) -> None:
    """--help; an .npz and a .csv file for --data; last.pt written with torch.save and read back
    with weights_only=True; --resume continues to exactly the weights of an uninterrupted run."""
    import numpy as np

    script = _eject("extra/vae2d", tmp_path)
    res = _run_script(script, tmp_path, "--help")
    assert res.returncode == 0, res.stderr
    for flag in ("--epochs", "--seed", "--batch-size", "--lr", "--data", "--out", "--resume"):
        assert flag in res.stdout
    rng = np.random.default_rng(0)
    points = rng.standard_normal((300, 2)).astype(np.float32)
    np.savez(tmp_path / "points.npz", x=points)
    np.savetxt(tmp_path / "points.csv", points, delimiter=",", header="a,b", comments="")

    def train(data: str, epochs: int, out: str, *more: str) -> dict:
        res = _run_script(
            script, tmp_path, "--epochs", str(epochs), "--data", data, "--batch-size", "32", "--out", out, *more
        )
        assert res.returncode == 0, res.stdout + res.stderr
        result = json.loads((tmp_path / out / "test.json").read_text())
        assert set(result) == {"objective", "L_eta", "L_theta"} and all(map(math.isfinite, result.values()))
        return torch.load(tmp_path / out / "last.pt", weights_only=True)

    per_epoch = (300 - 30) // 32  # full batches of the training rows (a tenth are test rows)
    first = train("points.npz", 1, "one")
    assert first["step"] == per_epoch and first["epoch"] == 1
    from_csv = train("points.csv", 1, "csv")
    for k, v in first["networks"].items():  # the same rows, from either file
        torch.testing.assert_close(from_csv["networks"][k], v)
    resumed = train("points.npz", 2, "two", "--resume", "one/last.pt")
    straight = train("points.npz", 2, "straight")
    assert resumed["step"] == straight["step"] == 2 * per_epoch
    for k, v in straight["networks"].items():
        torch.testing.assert_close(resumed["networks"][k], v, rtol=1e-5, atol=1e-6)


def test_m2_trains_without_schemagm_and_reports_the_inferred_labels_accuracy(tmp_path: Path) -> None:
    """The semi-supervised VAE on digits with 10% labels (the same labelled rows as schemagm's):
    the same test objective as `schemagm train`, and the accuracy of the inferred label on the test
    rows, as `schemagm eval` computes it (model.infer's argmax where the label is observed)."""
    script = _eject("extra/m2", tmp_path)
    res = _run_script(script, tmp_path, "--epochs", "2", "--seed", "0", "--out", str(tmp_path / "run"))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "schemagm is not importable" in res.stdout and "accuracy_c=" in res.stdout
    mine = json.loads((tmp_path / "run" / "test.json").read_text())
    theirs = _schemagm_objective(SPECS / "extra" / "m2.sgm", tmp_path / "schemagm_run", 2, 0)
    assert abs(mine["objective"] - theirs) <= 0.01 * abs(theirs), (mine, theirs)
    from schemagm.train.run import load_run

    run = load_run(tmp_path / "schemagm_run")
    run.model.eval()
    with torch.no_grad():
        guess = run.model.infer("c", run.data.test).argmax(-1)
    seen = run.data.test["c.observed"]
    accuracy = float((guess == run.data.test["c"])[seen].float().mean())
    assert abs(mine["accuracy_c"] - accuracy) <= 0.01, (mine["accuracy_c"], accuracy)
    assert mine["accuracy_c"] > 0.3  # two epochs with 10% labels already beat chance (0.1) by far


def test_the_kernel_density_memorises_its_points_without_schemagm(tmp_path: Path) -> None:
    """kde: no parameters, no step; the script memorises the training points (the buffer in
    last.pt), reports the exact test log-likelihood of `schemagm train`'s model, and resumes from
    its checkpoint with the same points."""
    script = _eject("extra/kde", tmp_path)
    res = _run_script(script, tmp_path, "--epochs", "2", "--seed", "0", "--out", str(tmp_path / "run"))
    assert res.returncode == 0, res.stdout + res.stderr
    state = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    assert state["step"] == 0 and state["networks"]["support_m"].shape == (9000, 2)
    mine = json.loads((tmp_path / "run" / "test.json").read_text())
    from schemagm.cli.app import _register_all, app

    _register_all()
    from typer.testing import CliRunner

    out = tmp_path / "schemagm_run"
    args = ["train", str(SPECS / "extra" / "kde.sgm"), "--epochs", "2", "--out", str(out), "--no-progress"]
    done = CliRunner().invoke(app, args, catch_exceptions=False)
    assert done.exit_code == 0, done.output
    from schemagm.train.run import load_run

    run = load_run(out)
    torch.testing.assert_close(state["networks"]["support_m"], run.model.support_m, rtol=0, atol=0)
    theirs = float(run.model.log_likelihood(run.data.test).mean())
    assert mine == {"log_likelihood": pytest.approx(theirs, rel=1e-6)}
    res = _run_script(script, tmp_path, "--resume", str(tmp_path / "run" / "last.pt"), "--out", str(tmp_path / "again"))
    assert res.returncode == 0, res.stdout + res.stderr
    assert json.loads((tmp_path / "again" / "test.json").read_text()) == mine
