"""Experiment tracking: a trained run read back from TensorBoard, an MLflow file store and a W&B offline run.

Every tracker must hold the values of metrics.jsonl (same keys, same steps),
the pictures of each epoch, the derived objective as text and the hyper-parameters.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from schemagm.compiler import compile as compile_spec
from schemagm.errors import SpecError
from schemagm.render import dot_available
from schemagm.train.config import load_config
from schemagm.train.launch import train
from schemagm.train.loggers import flat_params, open_logger, scalars_of
from schemagm.train.rundir import RunDir

ROOT = Path(__file__).resolve().parent.parent
EPOCHS = 2
BATCH = 256  # digits: 1617 training rows -> 6 steps per epoch


def _train(tmp_path: Path, logger: str, spec: str = "vae", **extra) -> tuple[RunDir, list[dict]]:
    overrides = {
        "spec": str(ROOT / "specs" / f"{spec}.sgm"),
        "out": str(tmp_path / spec),
        "epochs": EPOCHS,
        "batch_size": BATCH,
        "log_every": 2,
        "samples": 16,
        "progress": False,
        "logger": logger,
    }
    overrides.update(extra)
    launched = train(load_config(None, overrides))
    assert launched.result.status == "finished"
    assert launched.run is not None
    return launched.run, launched.run.read_metrics()


def _expected(records: list[dict]) -> dict[str, dict[int, float]]:
    """key -> {step: value}, as metrics.jsonl says."""
    out: dict[str, dict[int, float]] = {}
    for record in records:
        for key, value in scalars_of(record).items():
            out.setdefault(key, {})[record["step"]] = value
    return out


def _objective(spec: str) -> str:
    return compile_spec(ROOT / "specs" / f"{spec}.sgm").objective.text()


# -- the record -----------------------------------------------------------------------------------
def test_scalars_of_flattens_a_metrics_record():
    record = {
        "step": 4,
        "epoch": 1,
        "phase_losses": {"model": 1.5},
        "losses": {"theta": 2.0},
        "terms": {"nll:p_theta": 3.0},
    }
    assert scalars_of(record) == {"phase/model": 1.5, "loss/theta": 2.0, "term/nll:p_theta": 3.0, "epoch": 1.0}


def test_flat_params_makes_tables_and_lists_flat():
    assert flat_params({"lr": 0.1, "group_lr": {"phi": 0.2}, "betas": [0.5, 0.9], "data": None}) == {
        "lr": 0.1,
        "group_lr.phi": 0.2,
        "betas": "[0.5, 0.9]",
        "data": "none",
    }


def test_an_unknown_logger_is_a_clear_error(tmp_path):
    with pytest.raises(SpecError, match="unknown logger 'neptune'"):
        open_logger("neptune", RunDir(tmp_path))


def test_the_cli_rejects_an_unknown_logger(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemagm",
            "train",
            str(ROOT / "specs/vae.sgm"),
            "--logger",
            "neptune",
            "--out",
            str(tmp_path / "r"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert out.returncode == 2
    assert "'neptune' is not one of tensorboard, mlflow, wandb, none" in " ".join(out.stderr.split())
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("kind", ["tensorboard", "mlflow", "wandb"])
def test_a_tracker_that_is_not_installed_stops_the_run_before_anything_is_written(tmp_path, monkeypatch, kind):
    monkeypatch.setitem(sys.modules, kind, None)  # import fails as if the package were not installed
    with pytest.raises(SpecError) as err:
        _train(tmp_path, kind)
    assert f"--logger {kind} needs the {kind} package" in err.value.message
    assert f"pip install 'schemagm[{kind}]'" in str(err.value)
    assert not (tmp_path / "vae").exists()


def test_no_logger_writes_metrics_jsonl_only(tmp_path):
    run, records = _train(tmp_path, "none", steps=4)
    assert len(records) == 2
    assert sorted(p.name for p in run.path.iterdir()) == [
        "checkpoints",
        "config.toml",
        "metrics.jsonl",
        "samples",
        "spec.sgm",
    ]


# -- TensorBoard -----------------------------------------------------------------------------------
def _accumulator(path: Path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing import event_accumulator as ea

    acc = ea.EventAccumulator(str(path), size_guidance={ea.SCALARS: 0, ea.IMAGES: 0, ea.TENSORS: 0})
    acc.Reload()
    return acc


def _tb_text(acc, tag: str) -> str:
    from tensorboard.util import tensor_util

    events = acc.Tensors(f"{tag}/text_summary")
    assert len(events) == 1
    return tensor_util.make_ndarray(events[0].tensor_proto).item().decode()


def test_tensorboard_holds_the_scalars_pictures_objective_and_hyperparameters(tmp_path):
    pytest.importorskip("tensorboard")
    run, records = _train(tmp_path, "tensorboard")
    acc = _accumulator(run.path / "tensorboard")
    expected = _expected(records)
    assert {"phase/model", "loss/theta", "loss/eta", "term/nll:p_theta", "term/kl:q_eta", "epoch"} <= set(expected)
    assert set(acc.Tags()["scalars"]) == set(expected)
    for key, by_step in expected.items():
        logged = {e.step: e.value for e in acc.Scalars(key)}
        assert logged.keys() == by_step.keys(), key
        for step, value in by_step.items():
            assert logged[step] == pytest.approx(value, rel=1e-6), (key, step)
    # a picture of samples at the end of each epoch and one at the end of the run, as PNGs
    steps_per_epoch = 1617 // BATCH
    samples = acc.Images("samples")
    assert [e.step for e in samples] == [steps_per_epoch * (k + 1) for k in range(EPOCHS)] + [records[-1]["step"]]
    picture = Image.open(io.BytesIO(samples[0].encoded_image_string))
    assert picture.size == Image.open(run.samples / "epoch-0001.png").size
    # the derived objective (unicode and LaTeX), the spec and the hyper-parameters as text
    assert _objective("vae") in _tb_text(acc, "objective")
    assert r"\mathbb{E}" in _tb_text(acc, "objective_latex")
    assert "x, y --> z" in _tb_text(acc, "spec")
    hparams_table = _tb_text(acc, "hparams")
    assert "| lr | 0.001 |" in hparams_table and f"| batch_size | {BATCH} |" in hparams_table
    assert set(acc.PluginTagToContent("hparams")) == {
        "_hparams_/experiment",
        "_hparams_/session_start_info",
        "_hparams_/session_end_info",
    }
    if dot_available():
        (diagram,) = acc.Images("diagram")
        assert diagram.step == 0 and diagram.width > 100
    else:
        assert "diagram" not in acc.Tags()["images"]


def test_the_cli_passes_the_logger_on(tmp_path):
    pytest.importorskip("tensorboard")
    out = tmp_path / "cli"
    done = subprocess.run(
        [sys.executable, "-m", "schemagm", "train", str(ROOT / "specs/ae.sgm"), "--steps", "3", "--log-every", "1"]
        + ["--samples", "0", "--no-progress", "--threads", "1", "--logger", "tensorboard", "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert 'logger = "tensorboard"' in (out / "config.toml").read_text()
    acc = _accumulator(out / "tensorboard")
    assert [e.step for e in acc.Scalars("loss/theta")] == [1, 2, 3]


def test_tensorboard_logs_reconstructions_where_the_model_cannot_sample(tmp_path):
    pytest.importorskip("tensorboard")
    run, records = _train(tmp_path, "tensorboard", spec="ae", epochs=1)
    acc = _accumulator(run.path / "tensorboard")
    assert "samples" not in acc.Tags()["images"]
    assert [e.step for e in acc.Images("reconstructions")] == [1617 // BATCH, records[-1]["step"]]
    assert _objective("ae") in _tb_text(acc, "objective")


def test_a_resumed_tensorboard_run_drops_the_steps_it_repeats(tmp_path):
    pytest.importorskip("tensorboard")
    run, _ = _train(tmp_path, "tensorboard", steps=4, samples=0)
    launched = train(_resume_config(run, steps=8), resume=run.path)
    assert launched.result.step == 8
    acc = _accumulator(run.path / "tensorboard")
    assert [e.step for e in acc.Scalars("loss/theta")] == [2, 4, 6, 8]
    assert len(acc.Tensors("objective/text_summary")) == 1  # logged once, not again on resuming
    if dot_available():
        assert len(acc.Images("diagram")) == 1


def _resume_config(run: RunDir, **changes):
    from schemagm.train.launch import resume_config

    return resume_config(run.path, changes)


# -- MLflow ------------------------------------------------------------------------------------------
def test_mlflow_records_the_same_keys_in_a_local_file_store(tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    store = tmp_path / "mlruns"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store.as_uri())
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "tracking-test")
    run, records = _train(tmp_path, "mlflow")
    expected = _expected(records)

    client = MlflowClient(tracking_uri=store.as_uri())
    experiment = client.get_experiment_by_name("tracking-test")
    (found,) = client.search_runs([experiment.experiment_id])
    assert found.info.run_name == run.path.name and found.info.status == "FINISHED"
    assert set(found.data.metrics) == set(expected)
    for key, by_step in expected.items():
        history = {m.step: m.value for m in client.get_metric_history(found.info.run_id, key)}
        assert history == pytest.approx(by_step, rel=1e-9), key
    assert found.data.params["lr"] == "0.001" and found.data.params["batch_size"] == str(BATCH)
    assert found.data.params["logger"] == "mlflow"
    artifacts = Path(client.download_artifacts(found.info.run_id, "", str(tmp_path / "artifacts")))
    assert (artifacts / "text" / "objective.txt").read_text() == _objective("vae")
    assert "x, y --> z" in (artifacts / "text" / "spec.txt").read_text()
    steps_per_epoch = 1617 // BATCH
    pngs = sorted(p.name for p in (artifacts / "samples").iterdir())
    assert pngs == sorted({f"step-{s:07d}.png" for s in (steps_per_epoch, 2 * steps_per_epoch, records[-1]["step"])})
    if dot_available():
        assert (artifacts / "diagram" / "step-0000000.png").stat().st_size > 1000


def test_mlflow_without_a_usable_store_is_a_clear_error(tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "mlruns").as_uri())
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    with pytest.raises(SpecError) as err:
        open_logger("mlflow", RunDir(tmp_path))
    assert "--logger mlflow could not start a run" in err.value.message
    assert "MLFLOW_TRACKING_URI" in str(err.value)


# -- Weights & Biases -------------------------------------------------------------------------------
def test_wandb_offline_records_the_same_keys(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    from wandb_records import read_run, wait_for_exit

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wandb-home"))
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_PROJECT", "tracking-test")
    run, records = _train(tmp_path, "wandb")
    expected = _expected(records)

    import wandb

    wandb.teardown()  # W&B's service writes the run file in the background: stop it, then wait for the exit record
    (run_file,) = (tmp_path / "wandb-home").glob("wandb/offline-run-*/run-*.wandb")
    wait_for_exit(run_file)
    logged = read_run(run_file)
    rows = {}
    for row in logged["history"]:
        rows.setdefault(row["_step"], {}).update(row)
    scalar_keys = {
        k for row in rows.values() for k, v in row.items() if not k.startswith("_") and isinstance(v, (int, float))
    }
    assert scalar_keys == set(expected)
    for key, by_step in expected.items():
        assert {s: rows[s][key] for s in by_step} == pytest.approx(by_step, rel=1e-9), key
    steps_per_epoch = 1617 // BATCH
    picture_steps = sorted(s for s, row in rows.items() if isinstance(row.get("samples"), dict))
    # the run's last picture falls on the last epoch's step here: one row per step holds it
    assert picture_steps == sorted({steps_per_epoch, 2 * steps_per_epoch, records[-1]["step"]})
    assert rows[steps_per_epoch]["samples"]["_type"] == "image-file"
    assert logged["config"]["lr"] == 0.001 and logged["config"]["batch_size"] == BATCH
    assert logged["config"]["logger"] == "wandb"
    assert logged["summary"]["objective"] == _objective("vae")
    if dot_available():
        assert rows[0]["diagram"]["_type"] == "image-file"
