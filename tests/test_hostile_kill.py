"""Kill -9 at random points, a checkpoint write included, then resume: the resumed run ends bit-for-bit
where an uninterrupted run ends, with the same metrics lines and no temporary file left behind.

The training runs in a subprocess killed with SIGKILL: once at a random moment after a random number
of logged steps, once from inside a checkpoint write (the process kills itself half-way through
writing the file).  Resuming is in-process.  See docs/security.md.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from hostile_support import cli

from schemagm.train.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "vae.sgm"
STEPS = 24
FLAGS = [
    "--steps",
    str(STEPS),
    "--batch-size",
    "16",
    "--checkpoint-every",
    "3",
    "--log-every",
    "2",
    "--samples",
    "0",
    "--no-progress",
    "--seed",
    "5",
]

#: run in the subprocess: train, but SIGKILL this process in the middle of checkpoint write number N
KILL_IN_WRITE = """
import os, signal, sys
from schemagm import fileio
from schemagm.cli.app import main
n = int(os.environ["KILL_AT_WRITE"])
real = fileio.prepare
count = [0]
def prepare(path, write, **kw):
    if str(path).endswith(".pt"):
        count[0] += 1
        if count[0] == n:
            def half(f):
                f.write(b"PK half a checkpoint")
                f.flush()
                os.kill(os.getpid(), signal.SIGKILL)
            return real(path, half, **kw)
    return real(path, write, **kw)
fileio.prepare = prepare
main(sys.argv[1:])
"""


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def full_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("full") / "run"
    code, output, _ = cli("train", SPEC, "--out", out, *FLAGS)
    assert code == 0, output
    return out


def _metrics(run: Path) -> list[dict]:
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k != "time"} for r in lines]


def _same_end(run: Path, full: Path) -> None:
    a = load_checkpoint(full / "checkpoints" / "last.pt")
    b = load_checkpoint(run / "checkpoints" / "last.pt")
    assert b["step"] == a["step"] == STEPS
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    assert torch.equal(a["rng"]["torch"], b["rng"]["torch"])
    for g in a["optimizers"]:
        for i, s in a["optimizers"][g]["state"].items():
            assert torch.equal(s["exp_avg_sq"], b["optimizers"][g]["state"][i]["exp_avg_sq"])
    assert _metrics(run) == _metrics(full)
    assert not [p for p in run.rglob("*.tmp")]


def _resume(run: Path) -> None:
    assert (run / "checkpoints" / "last.pt").is_file(), "killed before the first checkpoint"
    code, output, _ = cli("train", "--resume", run, "--steps", str(STEPS), "--no-progress")
    assert code == 0, output


def test_sigkill_inside_a_checkpoint_write_then_resume(full_run, tmp_path):
    out = tmp_path / "run"
    at = random.Random(13).randint(3, 6)  # the initial checkpoint is write 1
    done = subprocess.run(
        [sys.executable, "-c", KILL_IN_WRITE, "train", str(SPEC), "--out", str(out), *FLAGS],
        env={**_env(), "KILL_AT_WRITE": str(at)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert [p for p in out.rglob(".*.tmp")], "the kill did not land inside a write"
    load_checkpoint(out / "checkpoints" / "last.pt")  # what is in place is whole
    _resume(out)
    _same_end(out, full_run)


def test_sigkill_at_a_random_moment_then_resume(full_run, tmp_path):
    rng = random.Random(int(os.environ.get("KILL_SEED", "7")))
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "schemagm", "train", str(SPEC), "--out", str(out), *FLAGS],
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        lines = rng.randint(1, STEPS // 2 - 2)
        deadline = time.monotonic() + 240
        metrics = out / "metrics.jsonl"
        while time.monotonic() < deadline and proc.poll() is None:
            if metrics.exists() and len(metrics.read_bytes().splitlines()) >= lines:
                break
            time.sleep(0.005)
        time.sleep(rng.random() * 0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the run finished before the kill (machine too fast for this seed)")
    _resume(out)
    _same_end(out, full_run)
