"""metrics.jsonl: held open while a run trains (one write per line), every line whole."""

from __future__ import annotations

import json
import os

import pytest
from conftest import SPECS

from schemagm.errors import SpecError
from schemagm.train import rundir
from schemagm.train.config import load_config
from schemagm.train.launch import train
from schemagm.train.rundir import MetricsFile


def test_lines_are_appended_through_one_open_file(tmp_path, monkeypatch):
    opened = []
    real_open = os.open
    monkeypatch.setattr(rundir.os, "open", lambda *a, **k: opened.append(a[0]) or real_open(*a, **k))
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 0}\n')  # a line already there (a resumed run) stays first
    log = MetricsFile(path)
    for step in range(1, 6):
        log.append({"step": step, "loss": 1.0 / step})
    log.close()
    log.close()  # a second close does nothing
    assert opened == [path]
    assert [json.loads(line)["step"] for line in path.read_text().splitlines()] == [0, 1, 2, 3, 4, 5]


def test_a_short_write_is_taken_back_and_reported(tmp_path, monkeypatch):
    path = tmp_path / "metrics.jsonl"
    log = MetricsFile(path)
    log.append({"step": 1})
    real_write = os.write
    monkeypatch.setattr(rundir.os, "write", lambda fd, data: real_write(fd, data[:5]))
    with pytest.raises(SpecError, match=r"cannot write '.*metrics.jsonl': no space left on device"):
        log.append({"step": 2, "loss": 3.0})
    log.close()
    assert path.read_text() == '{"step": 1}\n'  # whole lines only


def test_a_run_closes_its_metrics_file(tmp_path):
    def open_files() -> set[str]:
        out = set()
        for fd in os.listdir("/proc/self/fd"):
            try:
                out.add(os.readlink(f"/proc/self/fd/{fd}"))
            except OSError:
                pass
        return out

    before = open_files()
    config = load_config(
        None,
        {"spec": str(SPECS / "vae.sgm"), "out": str(tmp_path / "run"), "steps": 6, "log_every": 2, "samples": 0}
        | {"progress": False, "threads": 1, "batch_size": 16},
    )
    launched = train(config)
    lines = (launched.run.path / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [2, 4, 6]
    assert not {f for f in open_files() - before if f.endswith("metrics.jsonl")}
