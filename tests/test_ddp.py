"""Data-parallel training: 2 CPU processes (torchrun, gloo) take the steps one process takes, also across a resume.

Each rank takes its half of every global batch and the gradients are averaged
with an all_reduce, so 2 processes follow one process on the same global batch.
Noise is the catch: each rank draws its own noise (a VAE's epsilon, a GAN's z),
so a noisy model follows the single process only in distribution.  The
comparison therefore uses the deterministic autoencoder (specs/ae.sgm: encoder
and decoder, no draws at all), where the two runs must agree to float
round-off -- the only difference is the order of the sums.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import torch
from conftest import ROOT, SPECS
from typer.testing import CliRunner

from schemagm.cli.app import _register_all, app
from schemagm.compiler import compile as compile_spec
from schemagm.train.checkpoint import load_checkpoint
from schemagm.train.launch import seed_everything

if not app.registered_commands:
    _register_all()

# the last step is also a periodic checkpoint: every rank must agree to save once (no hang)
ARGS = [
    "--steps",
    "4",
    "--batch-size",
    "16",
    "--no-progress",
    "--samples",
    "0",
    "--log-every",
    "1",
    "--lr",
    "3e-3",
    "--checkpoint-every",
    "2",
]


def torchrun(*args: str, cwd) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "schemagm",
        "train",
        *args,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, cwd=cwd)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("trained") == 1  # only rank 0 reports (and writes)
    return proc


def test_two_processes_match_one_process_on_the_same_global_batch(tmp_path):
    # 2 processes train 2 steps, stop, and are resumed for 2 more: resuming a distributed run
    # and the data-parallel steps themselves must both be exact for the comparison to hold
    first = [a if a != "4" else "2" for a in ARGS]
    torchrun(str(SPECS / "ae.sgm"), "--out", str(tmp_path / "ddp"), *first, cwd=tmp_path)
    proc = torchrun("--resume", str(tmp_path / "ddp"), "--steps", "4", "--no-progress", cwd=tmp_path)
    assert "resuming run" in proc.stderr and "at step 2" in proc.stderr
    result = CliRunner().invoke(app, ["train", str(SPECS / "ae.sgm"), "--out", str(tmp_path / "one"), *ARGS])
    assert result.exit_code == 0, result.stderr
    two = load_checkpoint(tmp_path / "ddp" / "checkpoints" / "last.pt")
    one = load_checkpoint(tmp_path / "one" / "checkpoints" / "last.pt")
    assert two["step"] == one["step"] == 4
    for k, v in one["model"].items():
        assert torch.allclose(two["model"][k], v, atol=1e-6, rtol=1e-5), k
    # the weights moved from their initialisation (same seed, same init), so the match means something
    seed_everything(0)
    init = compile_spec(SPECS / "ae.sgm").state_dict()
    assert max(float((one["model"][k] - v).abs().max()) for k, v in init.items()) > 1e-3
    lines_two = [json.loads(x) for x in (tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines()]
    lines_one = [json.loads(x) for x in (tmp_path / "one" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines_two] == [1, 2, 3, 4]  # one writer: no duplicated lines
    # the logged phase loss is the mean over ranks = the global batch's loss
    for a, b in zip(lines_two, lines_one, strict=True):
        assert abs(a["phase_losses"]["model"] - b["phase_losses"]["model"]) < 1e-4 * abs(b["phase_losses"]["model"])
    assert "ranks" in two["rng"] and len(two["rng"]["ranks"]) == 2
    assert sorted(p.name for p in (tmp_path / "ddp" / "checkpoints").iterdir()) == [
        "last.pt",
        "step-0000002.pt",
        "step-0000004.pt",
    ]
