"""Ctrl-C at awkward moments: during start-up, twice during a checkpoint write, off a log step.
No traceback, every file whole, and a resumed run logs exactly the lines of an uninterrupted one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from hostile_support import cli
from test_trainer import TinyAdversarialDouble, _run, spec_file  # noqa: F401 -- the trainer's test double and its spec

from schemagm import fileio
from schemagm.train.checkpoint import load_checkpoint
from schemagm.train.config import load_config
from schemagm.train.launch import train

ROOT = Path(__file__).resolve().parent.parent


def test_ctrl_c_half_a_second_after_start(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    for delay in (0.5, 1.5):  # (before ~0.1 s Python itself is still starting: no program can catch that)
        for attempt in range(3):
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "schemagm",
                    "train",
                    str(ROOT / "specs" / "ae.sgm"),
                    "--out",
                    str(tmp_path / f"r{delay}-{attempt}"),
                    "--steps",
                    "5000",
                    "--no-progress",
                ],  # noqa: E501
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as from a terminal
            )
            time.sleep(delay)
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=120)
            if "init_import_site" not in err:  # a loaded machine: the signal came while Python itself started
                break
        assert proc.returncode == 130, err
        assert "Traceback" not in out + err and "interrupted" in err


def _steps(run: Path) -> list[int]:
    return [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_interrupting_off_a_log_step_adds_no_metrics_line(spec_file, tmp_path):  # noqa: F811
    class Interrupted(TinyAdversarialDouble):
        def phase_loss(self, phase, batch):
            if len(self.calls) == 7:  # inside step 3; log_every 2
                os.kill(os.getpid(), signal.SIGINT)
            return super().phase_loss(phase, batch)

    base = {
        "spec": str(spec_file),
        "out": str(tmp_path / "cut"),
        "batch_size": 16,
        "progress": False,
        "samples": 16,
        "steps": 6,
        "log_every": 2,
    }
    launched = train(load_config(None, base), compile_fn=lambda g: Interrupted(g))
    assert launched.result.status == "interrupted" and launched.result.step == 3
    assert _steps(tmp_path / "cut") == [2]  # no line for the off-step 3
    _run(spec_file, tmp_path / "full", [], steps=6, log_every=2)
    _run(spec_file, tmp_path / "x", [], steps=6, log_every=2, resume=tmp_path / "cut")
    assert _steps(tmp_path / "cut") == _steps(tmp_path / "full") == [2, 4, 6]


def test_a_second_ctrl_c_during_a_checkpoint_write_waits_for_the_file(tmp_path, monkeypatch):
    real = fileio.prepare
    writes = []

    def prepare(path, write, **kw):
        if str(path).endswith(".pt"):
            writes.append(path)
            if len(writes) == 3:  # a checkpoint inside the loop: Ctrl-C twice while it is being written

                def twice(f):
                    os.kill(os.getpid(), signal.SIGINT)
                    os.kill(os.getpid(), signal.SIGINT)
                    write(f)

                return real(path, twice, **kw)
        return real(path, write, **kw)

    import schemagm.train.checkpoint as checkpoint

    monkeypatch.setattr(checkpoint, "prepare", prepare)
    out = tmp_path / "r"
    code, output, _ = cli(
        "train",
        ROOT / "specs" / "ae.sgm",
        "--out",
        out,
        "--steps",
        "50",
        "--checkpoint-every",
        "2",
        "--no-progress",
        "--samples",
        "0",
        "--batch-size",
        "16",
    )
    assert code == 130 and "Traceback" not in output and "interrupted" in output, output
    assert not list(out.rglob("*.tmp"))
    ckpt = load_checkpoint(out / "checkpoints" / "last.pt")  # whole, and loads
    monkeypatch.undo()
    code, output, _ = cli("train", "--resume", out, "--steps", str(ckpt["step"] + 2), "--no-progress")
    assert code == 0, output
