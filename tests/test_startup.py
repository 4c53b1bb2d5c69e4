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
    from schemagm.compiler import sampling

    first = sampling._compiled_base()
    assert first is sampling._compiled_base()
    assert "torch._dynamo" in sys.modules  # made on demand, only here
