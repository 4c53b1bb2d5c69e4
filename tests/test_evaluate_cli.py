"""End to end: train tiny runs with the trainer, then ``schemagm eval RUN --json``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from schemagm.cli.app import _register_all, app
from schemagm.evaluate.report import METRICS

_register_all()
ROOT = Path(__file__).resolve().parent.parent


def _train(spec: str, out: Path, steps: int = 30) -> Path:
    from schemagm.train.config import TrainConfig
    from schemagm.train.launch import train

    train(
        TrainConfig(spec=str(ROOT / spec), out=str(out), steps=steps, samples=0, progress=False, checkpoint_every=1000)
    )
    return out


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _train("specs/vae.sgm", tmp_path_factory.mktemp("runs") / "vae")


@pytest.fixture(scope="module")
def gan2d_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _train("specs/extra/gan2d.sgm", tmp_path_factory.mktemp("runs") / "gan2d", steps=20)


def invoke(*args: str):
    return CliRunner().invoke(app, ["eval", *args])


def test_eval_vae_writes_json_with_every_metric(vae_run: Path, tmp_path: Path, schemagm_cache: Path) -> None:
    out = tmp_path / "report" / "vae.json"
    res = invoke(str(vae_run), "--json", str(out), "--k", "10", "--n-samples", "200")
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert data["model"] == "vae" and data["data"] == "digits" and data["step"] == 30
    assert data["settings"]["k"] == 10 and data["settings"]["n_samples"] == 200
    m = data["metrics"]
    assert list(m) == list(METRICS)
    status = {k: v["status"] for k, v in m.items()}
    assert status == {
        "elbo": "ok",
        "iw": "ok",
        "mmd": "ok",
        "modes": "not applicable",
        "inception": "ok",
        "fid": "ok",
        "surgery": "ok",
    }
    assert "mixture" in m["modes"]["reason"]
    elbo, iw = m["elbo"]["value"], m["iw"]["value"]
    assert elbo["n"] == iw["n"] == 180  # the run's test split (10% of 1797 digits)
    assert iw["mean"] > elbo["mean"] - 3 * elbo["stderr"]
    assert -64 * 0.7 < elbo["mean"] < 0  # nats per 64-pixel digit, better than a coin per pixel
    assert 1.0 <= m["inception"]["value"]["inception_score"] <= 10.0
    assert m["inception"]["value"]["test_data_inception_score"] > 8.0  # the classifier is confident on real digits
    assert m["fid"]["value"]["fid"] > m["fid"]["value"]["train_vs_test_fid"] >= 0
    assert m["surgery"]["value"]["adds_up"] is True
    assert 0 <= m["mmd"]["value"]["p_value"] <= 1
    assert Path(data["classifier"]["path"]).parent == schemagm_cache
    assert "not applicable" in res.output and "elbo" in res.output
    assert not list(out.parent.glob("*.tmp"))


def test_existing_json_is_not_overwritten_without_force(vae_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    out.write_text("keep me")
    res = invoke(str(vae_run), "--json", str(out), "--metrics", "elbo")
    assert res.exit_code == 1
    assert (
        "already exists; it is not overwritten" in res.output
        and "--force" in res.output
        and "Traceback" not in res.output
    )
    assert out.read_text() == "keep me"
    res = invoke(str(vae_run), "--json", str(out), "--metrics", "elbo", "--force")
    assert res.exit_code == 0, res.output
    assert list(json.loads(out.read_text())["metrics"]) == ["elbo"]


def test_same_seed_same_report(vae_run: Path, tmp_path: Path) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    for f in (a, b):
        assert (
            invoke(str(vae_run), "--json", str(f), "--metrics", "elbo,mmd,surgery", "--n-samples", "100").exit_code == 0
        )
    assert json.loads(a.read_text()) == json.loads(b.read_text())


def test_gan_on_the_ring(gan2d_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "g.json"
    res = invoke(str(gan2d_run), "--json", str(out), "--metrics", "modes,elbo,fid", "--n-samples", "300")
    assert res.exit_code == 0, res.output
    m = json.loads(out.read_text())["metrics"]
    assert m["modes"]["status"] == "ok"
    modes = m["modes"]["value"]
    assert modes["n_modes"] == 8 and modes["n_samples"] == 300 and len(modes["counts"]) == 8
    assert sum(modes["counts"]) == round(modes["high_quality_fraction"] * 300)
    assert m["elbo"]["status"] == "not applicable" and "inference edge" in m["elbo"]["reason"]
    assert m["fid"]["status"] == "not applicable" and "digits" in m["fid"]["reason"]


def test_corrupt_checkpoint_exits_1(vae_run: Path, tmp_path: Path) -> None:
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(vae_run, bad)
    ckpt = bad / "checkpoints" / "last.pt"
    ckpt.write_bytes(ckpt.read_bytes()[:200])
    res = invoke(str(bad), "--json", str(tmp_path / "x.json"))
    assert res.exit_code == 1 and "could not be read" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "x.json").exists()


def test_bad_run_directories_exit_1(tmp_path: Path) -> None:
    res = invoke(str(tmp_path / "missing"))
    assert res.exit_code == 1 and "does not exist" in res.output and "Traceback" not in res.output
    (tmp_path / "empty").mkdir()
    res = invoke(str(tmp_path / "empty"))
    assert res.exit_code == 1 and "not a schemagm run directory" in res.output


def test_unknown_metric_is_a_usage_error(vae_run: Path) -> None:
    res = invoke(str(vae_run), "--metrics", "elbo,bogus")
    assert res.exit_code == 2
    assert "bogus" in res.output
    res = invoke(str(vae_run), "--bandwidths", "1,-2")
    assert res.exit_code == 2 and "positive numbers" in res.output


def test_given_bandwidths_reach_the_mmd_test(vae_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.json"
    res = invoke(
        str(vae_run),
        "--json",
        str(out),
        "--metrics",
        "mmd",
        "--bandwidths",
        "0.5, 2",
        "--permutations",
        "30",
        "--n-samples",
        "60",
    )
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    mmd = data["metrics"]["mmd"]["value"]
    assert (
        mmd["bandwidths"] == [0.5, 2.0] and mmd["permutations"] == 30 and data["settings"]["bandwidths"] == [0.5, 2.0]
    )
