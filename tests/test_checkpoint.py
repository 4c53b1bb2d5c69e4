"""Checkpoints: atomic writes, safe loading, and a clear error for every kind of bad file."""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from schemagm.errors import SpecError
from schemagm.train.checkpoint import (
    FORMAT,
    check_compatible,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    save_checkpoints,
    set_rng_state,
)


def payload(model: torch.nn.Module | None = None) -> dict:
    model = model or torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters())
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    return {
        "model_name": "m",
        "spec": "model m\n",
        "config": {"spec": "m.sgm", "lr": 1e-3},
        "step": 7,
        "epoch": 1,
        "stream": {"epoch": 1, "index": 2, "seed": 0, "batch_size": 4, "n": 10},
        "model": model.state_dict(),
        "optimizers": {"theta": opt.state_dict()},
        "rng": rng_state(),
    }


def test_round_trip_with_weights_only(tmp_path):
    p = tmp_path / "c" / "last.pt"
    data = payload()
    save_checkpoint(p, data)
    back = load_checkpoint(p)
    assert back["format"] == FORMAT and back["step"] == 7 and back["config"]["lr"] == 1e-3
    for k, v in data["model"].items():
        assert torch.equal(back["model"][k], v)
    assert back["optimizers"]["theta"]["state"][0]["exp_avg"].shape == (2, 3)
    # it really loads with the safe unpickler
    assert torch.load(p, weights_only=True)["format"] == FORMAT
    assert [f.name for f in p.parent.iterdir()] == ["last.pt"]  # no temporary file left behind


def test_rng_states_restore_torch_numpy_and_python():
    state = rng_state()
    a = (torch.rand(5), np.random.rand(3), random.random(), torch.randn(2))
    set_rng_state(state)
    b = (torch.rand(5), np.random.rand(3), random.random(), torch.randn(2))
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2] == b[2] and torch.equal(a[3], b[3])


def test_a_failed_write_leaves_the_old_checkpoint_intact(tmp_path, monkeypatch):
    p = tmp_path / "last.pt"
    save_checkpoint(p, payload())
    before = p.read_bytes()

    def broken(obj, f, *a, **k):
        f.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken)
    with pytest.raises(SpecError, match="cannot write '.*last.pt': disk full"):  # a message, not a traceback
        save_checkpoint(p, payload())
    assert p.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["last.pt"]


def test_one_state_to_two_files_is_serialised_once_and_both_are_the_same_checkpoint(tmp_path, monkeypatch):
    data = payload()
    single = tmp_path / "single.pt"
    save_checkpoint(single, data)
    calls = []
    real_save = torch.save
    monkeypatch.setattr(torch, "save", lambda *a, **k: calls.append(1) or real_save(*a, **k))
    step, last = tmp_path / "ck" / "step-0000007.pt", tmp_path / "ck" / "last.pt"
    assert save_checkpoints([step, last], data) == []
    assert len(calls) == 1
    assert step.read_bytes() == last.read_bytes()
    assert load_checkpoint(last)["checksum"] == load_checkpoint(single)["checksum"]
    assert sorted(f.name for f in step.parent.iterdir()) == ["last.pt", "step-0000007.pt"]  # no temporaries


def test_pending_checkpoints_are_complete_temporaries_and_a_failure_leaves_none(tmp_path):
    data = payload()
    step, last = tmp_path / "step-0000007.pt", tmp_path / "last.pt"
    tmps = save_checkpoints([step, last], data, pending=True)
    assert [t.parent for t in tmps] == [tmp_path, tmp_path] and not step.exists() and not last.exists()
    assert tmps[0].read_bytes() == tmps[1].read_bytes()
    for t in tmps:
        t.unlink()
    # the second file's folder is missing: the first file's temporary is removed too
    with pytest.raises(SpecError, match="cannot write"):
        save_checkpoints([step, tmp_path / "gone" / "last.pt"], data, pending=True)
    assert os.listdir(tmp_path) == []


def test_truncated_file(tmp_path):
    p = tmp_path / "last.pt"
    save_checkpoint(p, payload())
    p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2])
    with pytest.raises(
        SpecError, match=r"last.pt' could not be read: the file is truncated, corrupt or not a torch file"
    ):
        load_checkpoint(p)


def test_random_bytes(tmp_path):
    p = tmp_path / "noise.pt"
    p.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(SpecError, match="could not be read"):
        load_checkpoint(p)


def test_a_foreign_torch_file(tmp_path):
    p = tmp_path / "model.pt"
    torch.save({"state_dict": torch.nn.Linear(2, 2).state_dict()}, p)
    with pytest.raises(SpecError, match="is not a schemagm checkpoint"):
        load_checkpoint(p)
    q = tmp_path / "tensor.pt"
    torch.save(torch.zeros(3), q)
    with pytest.raises(SpecError, match="is not a schemagm checkpoint"):
        load_checkpoint(q)


def test_a_pickled_object_is_refused_by_the_safe_loader(tmp_path):
    p = tmp_path / "evil.pt"
    from fractions import Fraction  # any class outside torch's allow-list: weights_only refuses to build it

    torch.save({"format": FORMAT, "obj": Fraction(1, 3)}, p)
    with pytest.raises(SpecError, match="could not be read"):
        load_checkpoint(p)


def test_missing_keys_and_wrong_types(tmp_path):
    p = tmp_path / "last.pt"
    data = {"format": FORMAT, "version": 1, **payload()}
    del data["optimizers"]
    data["step"] = "seven"
    torch.save(data, p)
    with pytest.raises(SpecError, match=r"is damaged: missing 'optimizers'|'step' is a str"):
        load_checkpoint(p)
    with pytest.raises(SpecError) as e:
        load_checkpoint(p)
    assert "missing 'optimizers'" in str(e.value) and "'step' is a str" in str(e.value)
    with pytest.raises(SpecError, match="does not exist"):
        load_checkpoint(tmp_path / "nothing.pt")


def test_a_checkpoint_of_another_spec_names_the_differences():
    ckpt = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2)).state_dict()
    other = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Linear(5, 2), torch.nn.ReLU(), torch.nn.Linear(2, 1))
    with pytest.raises(SpecError) as e:
        check_compatible(ckpt, other, Path("runs/a/checkpoints/last.pt"))
    msg = str(e.value)
    assert "different spec" in msg and "missing 3.weight, 3.bias" in msg
    assert "0.weight [4, 3] vs [5, 3]" in msg
    check_compatible(ckpt, torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2)), "x")  # no error
