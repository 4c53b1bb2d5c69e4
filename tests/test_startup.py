"""Start-up: the commands that need no tensors never import torch, and the compiler never
imports torch._dynamo (``torch.compiler.disable`` at import time did: seconds per command).

Each command runs in a fresh interpreter, exactly as ``schemagm ...`` does, and reports the
modules it imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT, SPECS

PROBE = """
import json, sys
from schemagm.cli.app import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
else:
    code = 0
heavy = sorted(m for m in sys.modules if m == "torch" or m.startswith("torch._dynamo"))
print("\\n@@" + json.dumps({"code": code, "heavy": heavy}), file=sys.stderr)
"""


def probe(*args: str, cwd) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return json.loads(proc.stderr.rsplit("@@", 1)[1])


LIGHT = [
    ("check", str(SPECS / "vae.sgm")),
    ("fmt", str(SPECS / "vae.sgm")),
    ("render", str(SPECS / "infogan.sgm"), "-o", "infogan.svg"),
    ("render", str(SPECS / "infogan.sgm"), "--compare", "swap-processes", "-f", "dot"),
    ("transform", "swap-processes", str(SPECS / "infogan.sgm")),
    ("equiv", str(SPECS / "vae.sgm"), str(SPECS / "vae.sgm")),
    ("explain", str(SPECS / "infogan.sgm"), str(SPECS / "vae.sgm")),
    ("--help",),
    ("--version",),
]


@pytest.mark.parametrize("args", LIGHT, ids=[" ".join(a[:1]) + str(i) for i, a in enumerate(LIGHT)])
def test_light_commands_never_import_torch(args, tmp_path):
    result = probe(*args, cwd=tmp_path)
    assert result["code"] in (0, None), result
    assert result["heavy"] == [], f"schemagm {' '.join(args)} imported {result['heavy']}"


def test_a_light_command_that_fails_does_not_import_torch_either(tmp_path):
    bad = tmp_path / "bad.sgm"
    bad.write_text("model m\nlatent z : normal[8]\nz -> q : p_theta = mlp(8) normal\n")
    result = probe("check", str(bad), cwd=tmp_path)
    assert result["code"] == 1
    assert result["heavy"] == []


def test_the_compiler_does_not_import_torch_dynamo(tmp_path):
    code = (
        "import sys, schemagm\n"
        "model = schemagm.load(sys.argv[1])\n"
        "import torch\n"
        "model.losses({'x': torch.rand(4, 64)})\n"
        "print(sorted(m for m in sys.modules if m.startswith('torch._dynamo')))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", code, str(SPECS / "vae.sgm")], capture_output=True, text=True, env=env, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_compile_still_works_under_torch_compile_after_the_deferral():
    """The draw kept out of torch.compile's graph is made on first use, and is one function."""
    from schemagm.compiler import run

    first = run._compiled_base()
    assert first is run._compiled_base()
    assert "torch._dynamo" in sys.modules  # made on demand, only here


FREEZE_PROBE = """
import gc, json, sys
from schemagm.cli import cmd_compile
from schemagm.cli.entry import main
sys.argv = ["schemagm", *sys.argv[1:]]
seen, alive = {}, []
load_torch = cmd_compile.load_torch
def spy():
    load_torch()
    import torch
    seen["torch frozen"] = not any(o is torch.nn.Module for o in gc.get_objects())
    alive.append(type("Witness", (), {})())  # made after that freeze, alive at the end: main's own freeze
cmd_compile.load_torch = spy
try:
    main()
except SystemExit as exc:
    seen["code"] = exc.code
seen["witness frozen"] = not any(o is alive[0] for o in gc.get_objects())
print("\\n@@" + json.dumps(seen), file=sys.stderr)
"""


def test_a_command_freezes_torch_after_loading_it_and_everything_alive_when_it_ends(tmp_path):
    """The final collections of the interpreter skip frozen objects (0.2-0.3 s with torch loaded),
    and the collections the command sets off skip torch's (benchmarks/startup.py)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", FREEZE_PROBE, "compile", str(SPECS / "vae.sgm")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    seen = json.loads(proc.stderr.rsplit("@@", 1)[1])
    assert seen == {"torch frozen": True, "code": 0, "witness frozen": True}, seen
    assert "loss(" in proc.stdout  # the command still printed its objective


PNG_PROBE = """
import json, sys
from schemagm.train import trainer
from schemagm.train.config import load_config
from schemagm.train.launch import train
seen = {}
fit = trainer.Trainer.fit
def spy(self):
    seen["loaded at the start of fit"] = "PIL.PngImagePlugin" in sys.modules
    return fit(self)
trainer.Trainer.fit = spy
samples = int(sys.argv[3])
config = load_config(None, {"spec": sys.argv[1], "out": sys.argv[2], "steps": 2, "samples": samples,
                            "progress": False, "threads": 1, "batch_size": 16})
train(config)
print(json.dumps(seen))
"""


@pytest.mark.parametrize("samples", [0, 16])
def test_a_run_with_pictures_loads_the_png_writer_before_its_training_clock_starts(samples, tmp_path):
    """Pillow's first save loads its file-format drivers (10-20 ms): at start-up, not in epoch 1."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", PNG_PROBE, str(SPECS / "vae.sgm"), str(tmp_path / "run"), str(samples)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"loaded at the start of fit": samples > 0}
