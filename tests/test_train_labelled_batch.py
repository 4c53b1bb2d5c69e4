"""``labelled_batch`` (``schemagm train --labelled-batch N``): for a spec with a partially observed
node, each step's batch is ``batch_size`` unlabelled rows plus N labelled rows cycling through the
labelled rows (Kingma et al. 2014's balanced batches); resumable exactly; refused clearly where it
cannot apply; off by default."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from schemagm.cli.app import _register_all, app
from schemagm.errors import SpecError
from schemagm.graph.model import observed_key
from schemagm.train.checkpoint import load_checkpoint
from schemagm.train.config import load_config
from schemagm.train.data import BatchStream
from schemagm.train.data.labelled import LabelledBatchStream, NoPartialNode
from schemagm.train.launch import train

_register_all()
ROOT = Path(__file__).resolve().parent.parent
MASK = observed_key("c")

# M2 with small networks: 10% of the digits' labels (159 to 162 of the 1617 training rows)
M2 = """model m2small
data   x : real[64] in [0, 1] from digits
data   c : categorical[10] from digits.label partial(0.1)
latent z : normal[2]
x --> c    : q_eta   = mlp(16) categorical weight=10
x, c --> z : r_eta   = mlp(16) normal
z, c -> x  : p_theta = mlp(16) bernoulli
"""


def cli(*args: object):
    res = CliRunner().invoke(app, [str(a) for a in args])
    assert "Traceback" not in res.output, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    return res


def rows(n: int, labelled: list[int]) -> dict[str, torch.Tensor]:
    """``n`` rows whose ``id`` is their index, observed on ``labelled``."""
    mask = torch.zeros(n, dtype=torch.bool)
    mask[labelled] = True
    return {"id": torch.arange(n), MASK: mask}


def test_each_batch_holds_batch_size_unlabelled_rows_then_n_labelled_rows() -> None:
    labelled = list(range(0, 100, 10))  # 10 of 100 rows
    stream = LabelledBatchStream(rows(100, labelled), [MASK], batch_size=16, labelled_batch=4, seed=3)
    assert stream.per_epoch == 90 // 16
    seen_unlabelled: list[int] = []
    for _ in range(stream.per_epoch):
        b = stream.next()
        assert b["id"].shape == (20,) and b[MASK].shape == (20,)
        assert not b[MASK][:16].any() and b[MASK][16:].all()
        assert set(b["id"][16:].tolist()) <= set(labelled)
        assert not set(b["id"][:16].tolist()) & set(labelled)
        seen_unlabelled += b["id"][:16].tolist()
    assert stream.epoch == 1  # an epoch is a pass over the unlabelled rows
    assert len(seen_unlabelled) == len(set(seen_unlabelled)) == 5 * 16  # each unlabelled row at most once


@pytest.mark.parametrize("n_labelled_batch", [3, 4, 10, 25])
def test_the_labelled_rows_cycle_each_pass_visiting_every_labelled_row_once(n_labelled_batch: int) -> None:
    labelled = [1, 7, 8, 20, 33, 41, 50, 62, 77, 95]
    stream = LabelledBatchStream(rows(100, labelled), [MASK], 16, n_labelled_batch, seed=0)
    drawn = torch.cat([stream.next()["id"][16:] for _ in range(30)]).tolist()
    passes = [drawn[i : i + 10] for i in range(0, len(drawn) - 9, 10)]
    assert len(passes) >= 9
    for p in passes:
        assert sorted(p) == labelled  # once per pass, batches running on into the next pass
    assert passes[0] != passes[1]  # reshuffled each pass
    again = LabelledBatchStream(rows(100, labelled), [MASK], 16, n_labelled_batch, seed=0)
    assert torch.cat([again.next()["id"][16:] for _ in range(30)]).tolist() == drawn  # a function of the seed
    other = LabelledBatchStream(rows(100, labelled), [MASK], 16, n_labelled_batch, seed=1)
    assert torch.cat([other.next()["id"][16:] for _ in range(30)]).tolist() != drawn


def test_the_stream_state_restores_the_position_in_both_parts() -> None:
    data = rows(100, [2, 4, 6, 8, 10, 12, 14])
    a = LabelledBatchStream(data, [MASK], 8, 5, seed=9)
    for _ in range(13):
        a.next()
    state = a.state_dict()
    assert state["labelled"] == {"passes": 9, "offset": 2, "n": 7, "batch": 5}  # 65 rows = 9 passes of 7, + 2
    b = LabelledBatchStream(data, [MASK], 8, 5, seed=9)
    b.load_state_dict(state)
    for _ in range(20):
        assert torch.equal(a.next()["id"], b.next()["id"])
    with pytest.raises(SpecError, match="labelled-batch of the original run"):
        LabelledBatchStream(data, [MASK], 8, 6, seed=9).load_state_dict(state)
    with pytest.raises(SpecError, match="had no labelled batches"):
        b.load_state_dict(BatchStream(data, 8, 9).state_dict())


def test_refusals_of_the_stream() -> None:
    with pytest.raises(NoPartialNode, match="no partially observed node"):
        LabelledBatchStream({"id": torch.arange(10)}, [], 4, 2, seed=0)
    with pytest.raises(SpecError, match="no training row is observed on c"):
        LabelledBatchStream(rows(10, []), [MASK], 4, 2, seed=0)
    with pytest.raises(SpecError, match=r"larger than the unlabelled training rows \(5 of 10"):
        LabelledBatchStream(rows(10, [0, 1, 2, 3, 4]), [MASK], 6, 2, seed=0)
    with pytest.raises(SpecError, match="does not split evenly over 2 processes"):
        LabelledBatchStream(rows(10, [0, 1]), [MASK], 4, 3, seed=0, rank=0, world_size=2)


def _train(tmp_path: Path, out: str, **kw):
    spec = tmp_path / "m2small.sgm"
    spec.write_text(M2)
    base = {"spec": str(spec), "out": str(tmp_path / out), "progress": False, "samples": 0, "log_every": 1}
    base.update(kw)
    resume = base.pop("resume", None)
    return train(load_config(None, base), resume=resume)


def _losses(run: Path) -> list[tuple[int, dict]]:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [(r["step"], r["phase_losses"]) for r in map(json.loads, lines)]


def test_the_trainer_draws_balanced_batches_of_a_compiled_m2(tmp_path: Path) -> None:
    spec = tmp_path / "m2small.sgm"
    spec.write_text(M2)
    from schemagm.train import launch

    seen: list[dict[str, torch.Tensor]] = []
    real = launch.Trainer.train_step

    def spy(self):  # noqa: ANN001, ANN202 - records the batch every step trains on
        batch = real(self)
        seen.append(batch)
        return batch

    launch.Trainer.train_step = spy  # type: ignore[method-assign]
    try:
        launched = _train(tmp_path, "run", steps=4, batch_size=32, labelled_batch=48)
    finally:
        launch.Trainer.train_step = real  # type: ignore[method-assign]
    assert launched.result.status == "finished" and len(seen) == 4
    for batch in seen:
        assert batch["x"].shape == (80, 64) and batch[MASK].shape == (80,)
        assert int(batch[MASK][:32].sum()) == 0 and bool(batch[MASK][32:].all())
    # the run's config.toml records the setting, so `train --config` repeats it
    assert load_config(tmp_path / "run" / "config.toml").labelled_batch == 48
    assert "labelled_batch = 48" in (tmp_path / "run" / "config.toml").read_text()


def test_resume_mid_run_gives_exactly_the_uninterrupted_runs_losses(tmp_path: Path) -> None:
    # about 160 labelled rows in batches of 64: step 3 stops in the second pass over them
    _train(tmp_path, "full", steps=7, batch_size=32, labelled_batch=64)
    _train(tmp_path, "part", steps=3, batch_size=32, labelled_batch=64)
    ckpt = load_checkpoint(tmp_path / "part" / "checkpoints" / "last.pt")
    lab = ckpt["stream"]["labelled"]
    assert lab["passes"] == 1 and 0 < lab["offset"] < lab["n"] and lab["batch"] == 64
    launched = _train(tmp_path, "ignored", steps=7, batch_size=32, labelled_batch=64, resume=tmp_path / "part")
    assert launched.resumed_from == 3 and launched.result.step == 7
    assert _losses(tmp_path / "part") == _losses(tmp_path / "full")
    a = load_checkpoint(tmp_path / "full" / "checkpoints" / "last.pt")
    b = load_checkpoint(tmp_path / "part" / "checkpoints" / "last.pt")
    assert a["stream"] == b["stream"]
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k


def test_balanced_batches_change_the_training_and_the_default_does_not(tmp_path: Path) -> None:
    _train(tmp_path, "plain", steps=3, batch_size=32)
    _train(tmp_path, "zero", steps=3, batch_size=32, labelled_batch=0)
    _train(tmp_path, "balanced", steps=3, batch_size=32, labelled_batch=32)
    assert _losses(tmp_path / "zero") == _losses(tmp_path / "plain")
    assert _losses(tmp_path / "balanced") != _losses(tmp_path / "plain")
    ckpt = load_checkpoint(tmp_path / "plain" / "checkpoints" / "last.pt")
    assert "labelled" not in ckpt["stream"]  # plain batches: the stream of before


def test_cli_refuses_labelled_batch_on_a_spec_without_a_partial_node(tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = cli("train", ROOT / "specs" / "vae.sgm", "--labelled-batch", 8, "--steps", 1, "--no-progress", "--out", out)
    assert res.exit_code == 2, res.output
    assert "--labelled-batch" in res.output and "no partially observed node" in res.output
    assert not out.exists()  # nothing written


def test_cli_refuses_labelled_batch_with_no_labelled_training_row(tmp_path: Path) -> None:
    n = 40
    # the split of get_dataset (data_seed 0, test_fraction 0.25): the one labelled row is a test row
    test_rows = np.random.default_rng(0).permutation(n)[:10]
    mask = np.zeros(n, dtype=np.int64)
    mask[test_rows[0]] = 1
    data = tmp_path / "d.npz"
    rng = np.random.default_rng(1)
    np.savez(data, x=rng.random((n, 64)).astype(np.float32), label=np.arange(n) % 10, label_mask=mask)
    spec = tmp_path / "m2small.sgm"
    spec.write_text(M2.replace("partial(0.1)", "partial"))
    out = tmp_path / "run"
    args = ("--data", data, "--test-fraction", 0.25, "--steps", 1, "--batch-size", 8, "--no-progress")
    res = cli("train", spec, "--labelled-batch", 4, *args, "--out", out)
    assert res.exit_code == 1, res.output
    assert "no training row is observed on c" in res.output
    assert not out.exists()
    res = cli("train", spec, *args, "--out", out)  # without it: trains (the row is labelled in the test split)
    assert res.exit_code == 0, res.output


def test_the_flag_is_in_the_help_with_its_default() -> None:
    res = CliRunner().invoke(app, ["train", "--help"], terminal_width=80, env={"COLUMNS": "80"})
    assert res.exit_code == 0
    text = " ".join(res.output.split())
    assert "--labelled-batch" in text and "[default: 0]" in text.split("--labelled-batch", 1)[1].split("--lr")[0]
    assert max(len(line) for line in res.output.splitlines()) <= 80
