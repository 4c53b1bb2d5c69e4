"""`schemagm train` and `schemagm sample` end to end, on the real compiled catalog.

Every catalog spec trains for a few steps on small batches (ADA on `domains`,
the rest on `digits`), writes its run directory (metrics that parse, a
checkpoint that loads, a picture that opens), and bad input of every kind
fails with a clear message and the right exit status.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import CATALOG, ROOT, SPECS
from PIL import Image
from typer.testing import CliRunner

from schemagm.cli.app import _register_all, app
from schemagm.train.checkpoint import load_checkpoint
from schemagm.train.run import load_run

if not app.registered_commands:
    _register_all()


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def train(spec: Path | str, out: Path, *extra: str) -> tuple[int, str, str]:
    return run("train", spec, "--out", out, "--batch-size", "16", "--no-progress", "--samples", "16", *extra)


@pytest.mark.parametrize("name", CATALOG)
def test_every_catalog_model_trains_and_writes_its_run(name, tmp_path):
    out = tmp_path / name
    code, stdout, stderr = train(SPECS / f"{name}.sgm", out, "--steps", "3", "--log-every", "1")
    assert code == 0, stderr
    assert "for 3 steps" in stdout and str(out) in stdout
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3]
    for r in records:
        assert r["losses"] and r["terms"] and r["phase_losses"]
        assert all(math.isfinite(v) for part in ("losses", "terms", "phase_losses") for v in r[part].values())
    ckpt = load_checkpoint(out / "checkpoints" / "last.pt")
    assert ckpt["step"] == 3 and ckpt["spec"] == (SPECS / f"{name}.sgm").read_text()
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values() if v.is_floating_point())
    loaded = load_run(out)
    for k, v in loaded.model.state_dict().items():
        assert torch.equal(v, ckpt["model"][k])
    if name == "ada":  # the feature extractor does not generate the data node: no picture
        assert not (out / "samples" / "last.png").exists()
        assert set(loaded.data.train) == {"z", "y"}
    else:
        with Image.open(out / "samples" / "last.png") as im:
            im.verify()


def test_a_digits_epoch_ends_with_its_picture_and_sample_draws_from_the_run(tmp_path):
    out = tmp_path / "vae"
    # 1617 training rows / 128 = 12 batches per epoch
    code, _, err = run(
        "train",
        SPECS / "vae.sgm",
        "--out",
        out,
        "--batch-size",
        "128",
        "--epochs",
        "1",
        "--no-progress",
        "--samples",
        "16",
    )
    assert code == 0, err
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["epoch-0001.png", "last.png"]
    with Image.open(out / "samples" / "epoch-0001.png") as im:
        assert im.mode == "L" and im.size == ((4 * 9 + 1) * 4, (4 * 9 + 1) * 4)  # 16 samples: 4x4 tiles of 8+1 px, x4
    assert load_checkpoint(out / "checkpoints" / "last.pt")["step"] == 12
    grid = tmp_path / "grid.png"
    code, stdout, _ = run("sample", out, "-n", "9", "-o", grid, "--npy", tmp_path / "s.npy", "--seed", "1")
    assert code == 0 and "9 samples of 'x'" in stdout
    arr = np.load(tmp_path / "s.npy")
    assert arr.shape == (9, 64) and 0 <= arr.min() and arr.max() <= 1
    with Image.open(grid) as im:
        assert im.size == ((3 * 9 + 1) * 4, (3 * 9 + 1) * 4)  # 3x3 tiles of 8+1 pixels, enlarged 4 times
    code, _, _ = run("sample", out, "-n", "9", "--npy", tmp_path / "t.npy", "--seed", "1")
    assert np.array_equal(np.load(tmp_path / "t.npy"), arr)  # same seed, same samples
    code, _, err = run("sample", out, "-n", "9", "-o", grid)
    assert code == 1 and "already exists; it is not overwritten" in err
    code, _, _ = run("sample", out, "-n", "9", "-o", grid, "--force")
    assert code == 0
    code, stdout, _ = run(
        "sample", out, "-n", "5", "--reconstruct", "-o", tmp_path / "rec.png", "--npy", tmp_path / "rec.npy"
    )
    assert code == 0
    rec = np.load(tmp_path / "rec.npy")
    run_ = load_run(out)
    test_rows = run_.data.take(5, "test")["x"].numpy()
    assert rec.shape == (2, 5, 64) and np.array_equal(rec[0], test_rows)
    with torch.no_grad():
        assert np.allclose(rec[1], run_.model.reconstruct(torch.from_numpy(test_rows)).numpy(), atol=1e-6)


def test_sample_scatter_for_2d_data(tmp_path):
    out = tmp_path / "gan2d"
    code, _, err = train(ROOT / "specs" / "extra" / "gan2d.sgm", out, "--steps", "2")
    assert code == 0, err
    code, _, _ = run("sample", out, "-n", "100", "-o", tmp_path / "s.png", "--npy", tmp_path / "s.npy")
    assert code == 0 and np.load(tmp_path / "s.npy").shape == (100, 2)
    with Image.open(tmp_path / "s.png") as im:
        assert im.size == (480, 480) and im.mode == "RGB"
        colours = {c for _, c in im.getcolors(100000)}
    assert (214, 39, 40) in colours and (170, 170, 170) in colours  # samples in red over the data in grey


def test_resume_of_a_real_adversarial_run_matches_the_uninterrupted_run(tmp_path):
    code, _, err = train(SPECS / "gan.sgm", tmp_path / "full", "--steps", "6")
    assert code == 0, err
    assert train(SPECS / "gan.sgm", tmp_path / "part", "--steps", "2")[0] == 0
    code, _, err = run("train", "--resume", tmp_path / "part", "--steps", "6", "--no-progress")
    assert code == 0, err
    a = load_checkpoint(tmp_path / "full" / "checkpoints" / "last.pt")
    b = load_checkpoint(tmp_path / "part" / "checkpoints" / "last.pt")
    assert b["step"] == 6
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    for g in a["optimizers"]:
        for i, s in a["optimizers"][g]["state"].items():
            assert torch.equal(s["exp_avg_sq"], b["optimizers"][g]["state"][i]["exp_avg_sq"])


def test_resume_refuses_changes_and_a_foreign_spec(tmp_path):
    assert train(SPECS / "ae.sgm", tmp_path / "r", "--steps", "1")[0] == 0
    code, _, err = run("train", "--resume", tmp_path / "r", "--batch-size", "32", "--no-progress")
    assert code == 1 and "cannot change batch_size" in err
    code, _, err = run("train", SPECS / "vae.sgm", "--resume", tmp_path / "r", "--no-progress")
    assert code == 1 and "is not the spec run" in err
    (tmp_path / "r" / "checkpoints" / "last.pt").unlink()
    code, _, err = run("train", "--resume", tmp_path / "r", "--no-progress")
    assert code == 1 and "has no checkpoints/last.pt to resume from" in err


def test_corrupt_checkpoints_give_clear_errors_without_traceback(tmp_path):
    out = tmp_path / "r"
    assert train(SPECS / "ae.sgm", out, "--steps", "1")[0] == 0
    last = out / "checkpoints" / "last.pt"
    good = last.read_bytes()
    cases = {
        "truncated": good[: len(good) // 3],
        "random": np.random.default_rng(1).integers(0, 256, 2048, dtype=np.uint8).tobytes(),
    }
    for what, data in cases.items():
        last.write_bytes(data)
        code, _, err = run("sample", out, "-n", "4", "-o", tmp_path / f"{what}.png")
        assert code == 1 and "could not be read" in err and "Traceback" not in err, what
        code, _, err = run("train", "--resume", out, "--steps", "2", "--no-progress")
        assert code == 1 and "could not be read" in err
    torch.save({"weights": torch.zeros(2)}, last)
    code, _, err = run("sample", out, "-n", "4", "-o", tmp_path / "foreign.png")
    assert code == 1 and "is not a schemagm checkpoint" in err
    # a real checkpoint of another spec
    assert train(SPECS / "vae.sgm", tmp_path / "v", "--steps", "1")[0] == 0
    last.write_bytes((tmp_path / "v" / "checkpoints" / "last.pt").read_bytes())
    code, _, err = run("sample", out, "-n", "4", "-o", tmp_path / "other.png")
    assert code == 1 and "was written for a different spec" in err and "missing" in err


def test_misshaped_and_textual_data_files(tmp_path):
    bad = tmp_path / "wrong.npy"
    np.save(bad, np.zeros((40, 10), dtype=np.float32))
    code, _, err = train(SPECS / "ae.sgm", tmp_path / "r1", "--steps", "1", "--data", bad)
    assert code == 1 and "Traceback" not in err
    assert str(bad) in err and "expects samples of shape [64]" in err and "found [10]" in err
    assert "ae.sgm:6:" in err  # the data node's line in the spec, with its caret
    csv = tmp_path / "text.csv"
    csv.write_text("0.1,0.2\n0.3,hello\n")
    code, _, err = train(ROOT / "specs" / "extra" / "gan2d.sgm", tmp_path / "r2", "--steps", "1", "--data", csv)
    assert code == 1 and f"{csv}:2: column 2 is 'hello', not a number" in err
    assert not (tmp_path / "r1").exists() and not (tmp_path / "r2").exists()  # nothing written on bad data


def test_training_on_a_user_file(tmp_path):
    pts = tmp_path / "pts.npy"
    np.save(pts, np.random.default_rng(0).normal(size=(64, 2)).astype(np.float32))
    code, _, err = train(ROOT / "specs" / "extra" / "vae2d.sgm", tmp_path / "r", "--steps", "2", "--data", pts)
    assert code == 0, err
    assert load_run(tmp_path / "r").data.sources == {"x": str(pts.resolve())}
    assert f'data = "{pts.resolve()}"' in (tmp_path / "r" / "config.toml").read_text()  # usable from any directory


def test_an_existing_run_is_refused_and_force_says_so(tmp_path):
    out = tmp_path / "r"
    assert train(SPECS / "ae.sgm", out, "--steps", "1")[0] == 0
    stamp = (out / "checkpoints" / "last.pt").read_bytes()
    code, _, err = train(SPECS / "ae.sgm", out, "--steps", "2")
    assert code == 1 and "already exists; it is not overwritten" in err and "--force" in err
    assert (out / "checkpoints" / "last.pt").read_bytes() == stamp
    code, _, err = train(SPECS / "ae.sgm", out, "--steps", "2", "--force")
    assert code == 0 and "replacing the existing run directory" in err
    assert load_checkpoint(out / "checkpoints" / "last.pt")["step"] == 2


@pytest.mark.parametrize("every", [1, 10**6])
def test_a_diverging_run_stops_with_a_message_and_keeps_the_last_good_checkpoint(every, tmp_path):
    out = tmp_path / "r"
    # a Gaussian decoder with a huge learning rate: the weights, then the loss, are infinite within a few steps
    code, _, err = train(
        ROOT / "specs" / "extra" / "vae2d.sgm", out, "--steps", "50", "--lr", "1e3", "--checkpoint-every", str(every)
    )
    assert code == 1 and "Traceback" not in err
    shown = " ".join(err.split())
    if every == 1:  # a checkpoint after every step: its check of the weights stops the run first
        assert "training stopped after step" in shown and "are no longer finite numbers" in shown
    else:  # no checkpoint inside the run: the next step's loss does
        assert "training stopped at step" in shown and "the loss of phase 'model'" in shown
    assert "lower the learning rate" in err
    ckpt = load_checkpoint(out / "checkpoints" / "last.pt")
    assert f"(step {ckpt['step']}, the last good state)" in shown
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values())
    assert ckpt["step"] < 50
    assert (ckpt["step"] > 0) == (every == 1)  # the initial state where no later one was written


def test_config_file_with_flags_on_top(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        f'spec = "{SPECS / "gan.sgm"}"\nsteps = 2\nbatch_size = 8\nprogress = false\nsamples = 0\n[group_lr]\n'
        "phi = 2e-4\n"
    )
    out = tmp_path / "r"
    code, _, err = run("train", "--config", cfg, "--steps", "3", "--lr", "theta=5e-4", "--out", out)
    assert code == 0, err
    ckpt = load_checkpoint(out / "checkpoints" / "last.pt")
    assert ckpt["step"] == 3 and ckpt["config"]["batch_size"] == 8
    lrs = {g: s["param_groups"][0]["lr"] for g, s in ckpt["optimizers"].items()}
    assert lrs == {"theta": 5e-4, "phi": 2e-4}
    assert "steps = 3" in (out / "config.toml").read_text()
    bad = tmp_path / "bad.toml"
    bad.write_text(f'spec = "{SPECS / "gan.sgm"}"\nbatchsize = 8\n')
    code, _, err = run("train", "--config", bad, "--out", tmp_path / "x")
    assert code == 1 and "unknown key 'batchsize'" in err
    bad.write_text("spec = [")
    code, _, err = run("train", "--config", bad)
    assert code == 1 and "is not valid TOML" in err


def test_usage_errors_exit_2_and_spec_errors_exit_1(tmp_path):
    assert run("train")[0] == 2
    code, _, err = run("train", SPECS / "ae.sgm", "--lr", "fast")
    assert code == 2 and "--lr" in err
    assert run("train", SPECS / "ae.sgm", "--steps", "0")[0] == 2
    assert run("train", SPECS / "ae.sgm", "--optimizer", "lbfgs")[0] == 2
    assert run("sample", tmp_path, "--reconstruct", "--interpolate")[0] == 2
    code, _, err = run("train", tmp_path / "missing.sgm", "--out", tmp_path / "r")
    assert code == 1 and f"spec file '{tmp_path / 'missing.sgm'}' does not exist" in err
    code, _, err = run("train", SPECS / "ae.sgm", "--out", tmp_path / "r", "--lr", "phi=1e-3", "--no-progress")
    assert code == 1 and "group(s) phi" in err and "eta, theta" in " ".join(err.split())
    code, _, err = run("sample", tmp_path / "nowhere")
    assert code == 1 and "does not exist" in err
    if not torch.cuda.is_available():
        code, _, err = train(SPECS / "ae.sgm", tmp_path / "g", "--device", "cuda", "--steps", "1")
        assert code == 1 and "no CUDA GPU is available" in err


def test_train_help_has_an_example():
    code, out, _ = run("train", "--help")
    assert code == 0 and "schemagm train specs/vae.sgm" in out
    code, out, _ = run("sample", "--help")
    assert code == 0 and "schemagm sample runs/vae" in out


class LinearCodecDouble(torch.nn.Module):
    """Test double (not a compiled spec): encode(x) = 2x, decode(z) = z / 2, for the interpolation layout."""

    def __init__(self, graph):
        super().__init__()
        self.graph = graph
        self.scale = torch.nn.Parameter(torch.tensor(2.0))

    def encode(self, batch):
        return batch["x"] * self.scale

    def decode(self, z):
        return z / self.scale


def test_interpolation_rows_run_from_one_test_point_to_the_next():
    from schemagm.graph.build import parse
    from schemagm.train.data import get_dataset
    from schemagm.train.sampling import draw_interpolations

    g = parse((ROOT / "specs" / "extra" / "vae2d.sgm").read_text())
    data = get_dataset(None, g)
    array, picture = draw_interpolations(LinearCodecDouble(g), data, pairs=3, steps=5)
    assert array.shape == (3, 5, 2) and picture is not None and picture.size == (480, 480)
    x = data.test["x"][:6]
    for i in range(3):
        a, b = x[2 * i], x[2 * i + 1]
        for j, t in enumerate(torch.linspace(0, 1, 5)):
            assert torch.allclose(array[i, j], a + t * (b - a), atol=1e-6)


def test_interpolate_on_a_trained_vae(tmp_path):
    out = tmp_path / "vae"
    assert train(SPECS / "vae.sgm", out, "--steps", "1")[0] == 0
    code, stdout, err = run(
        "sample",
        out,
        "--interpolate",
        "--pairs",
        "2",
        "--steps",
        "4",
        "-o",
        tmp_path / "i.png",
        "--npy",
        tmp_path / "i.npy",
    )
    assert code == 0, err
    array = torch.from_numpy(np.load(tmp_path / "i.npy"))
    assert array.shape == (2, 4, 64)
    with Image.open(tmp_path / "i.png") as picture:  # a row per pair of 4 8x8 digits, 1 px apart, scaled 4x
        assert picture.size == (4 * (4 * 9 + 1), 4 * (2 * 9 + 1))
    loaded = load_run(out)
    rows = loaded.data.take(4, "test")
    with torch.no_grad():  # each row decodes the line between the codes of two test rows
        codes = loaded.model.encode(rows)
        for i in range(2):
            a, b = codes[2 * i], codes[2 * i + 1]
            line = torch.stack([a + t * (b - a) for t in torch.linspace(0, 1, 4)])
            expected = torch.sigmoid(loaded.model.networks["p_theta"](line))  # the mean of the Bernoulli decoder
            torch.testing.assert_close(array[i], expected, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(array[0, 0], array[0, -1])


def _write_idx(path: Path, arr: np.ndarray) -> None:
    import struct

    path.write_bytes(
        bytes([0, 0, 0x08, arr.ndim])
        + b"".join(struct.pack(">I", d) for d in arr.shape)
        + arr.astype(np.uint8).tobytes()
    )


def test_mnist_style_images_and_labels_feed_two_data_nodes(tmp_path):
    rng = np.random.default_rng(0)
    images, labels = tmp_path / "train-images-idx3-ubyte", tmp_path / "train-labels-idx1-ubyte"
    _write_idx(images, rng.integers(0, 256, size=(40, 8, 8)))
    _write_idx(labels, np.arange(40) % 10)
    out = tmp_path / "cvae"
    code, _, err = train(
        ROOT / "specs" / "extra" / "cvae.sgm", out, "--steps", "2", "--data", f"x={images}", "--data", f"c={labels}"
    )
    assert code == 0, err
    loaded = load_run(out)
    assert loaded.data.sources == {"x": str(images.resolve()), "c": str(labels.resolve())}
    assert loaded.data.train["x"].shape == (36, 64) and loaded.data.train["c"].dtype == torch.int64
    assert "[data]" in (out / "config.toml").read_text()
    code, _, err = train(
        ROOT / "specs" / "extra" / "cvae.sgm",
        tmp_path / "r2",
        "--steps",
        "1",
        "--data",
        f"x={images}",
        "--data",
        "digits",
    )
    assert code == 2 and "NODE=SOURCE" in err
    code, _, err = train(
        ROOT / "specs" / "extra" / "cvae.sgm", tmp_path / "r3", "--steps", "1", "--data", f"w={images}"
    )
    assert code == 1 and "w, which is not a data node" in err


def test_training_really_lowers_the_loss(tmp_path):
    out = tmp_path / "vae"
    code, _, err = train(
        SPECS / "vae.sgm",
        out,
        "--steps",
        "80",
        "--batch-size",
        "64",
        "--log-every",
        "1",
        "--samples",
        "0",
        "--threads",
        "1",
    )
    assert code == 0, err
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    first, last = records[0]["phase_losses"]["model"], records[-1]["phase_losses"]["model"]
    assert last < 0.8 * first, (first, last)  # the negative ELBO of digits falls from ~44 to ~27 nats
