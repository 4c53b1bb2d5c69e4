"""`schemagm check` reports what the rule cannot honour (schemagm/graph/rule_check.py), with the
position of the culprit and a hint, before anything is compiled (and without importing torch)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT
from typer.testing import CliRunner

from schemagm.cli.app import _register_all, app

_register_all()

X = "data x : real[16] in [0, 1]\n"
TWO_LAYER = (
    "model hvae\n" + X + "latent z1 : real[4]\nlatent z2 : normal[3]\n"
    "x --> z1 : q_eta = mlp(16) normal\nz1 --> z2 : r_eta = mlp(16) normal\n"
    "z2 -> z1 : p_theta = mlp(16) normal\nz1 -> x : g_theta = mlp(16) bernoulli\n"
)
SBN = (
    "model sbn\n"
    + X
    + "latent h : bernoulli[12]\nx --> h : q_eta = mlp(16) bernoulli\nh -> x : p_theta = mlp(16) bernoulli\n"
)
CAT_VAE = (
    "model catvae\n"
    + X
    + "latent c : categorical[5]\nx --> c : q_eta = mlp(16) categorical\nc -> x : p_theta = mlp(16) bernoulli\n"
)

# name: (spec, line, column, words of the message, words of the hint)
CASES = {
    "prior_and_solid_producer": (
        TWO_LAYER.replace("latent z1 : real[4]", "latent z1 : normal[4]"),
        7,
        4,
        "'z1' has a prior and a solid producer, so its p-side would be counted twice: p(z1) and p_theta",
        "remove the prior of 'z1' (write `latent z1 : real[...]`)",
    ),
    "hollow_dashed_with_solid_p_side": (
        TWO_LAYER.replace("x --> z1 : q_eta = mlp(16) normal", "x ==> z1 : E_eta = mlp(16)"),
        5,
        3,
        "'z1' has a solid producer but its dashed producer is deterministic (hollow)",
        "test 'z1' against its generative side with a red edge",
    ),
    "stochastic_dashed_without_p_side": (
        "model m\n" + X + "latent z : real[2]\nx --> z : q_eta = mlp(8) normal\nz -> x : p_theta = mlp(8) bernoulli\n",
        4,
        3,
        "'z' is inferred by the stochastic edge q_eta, but the generative process has no factor for it",
        "give 'z' a prior (`latent z : normal[...]`) or a solid producer",
    ),
    "discrete_sample_tested": (
        "model m\ndata x : real[3] in [0, 1]\nlatent z : normal[2]\nindicator y\n"
        "z, y --> x : G_theta = mlp(8) bernoulli\nx -> y : D_phi = mlp(8) adversarial\n",
        5,
        31,
        "'x' is a discrete sample without a reparameterisation, and a red edge tests it: "
        "the adversary's gradient cannot reach G_theta",
        "relaxed head (`relaxed_categorical`, `relaxed_bernoulli`)",
    ),
    "enumerate_too_large": (
        SBN + "options {\n  discrete = enumerate\n}\n",
        7,
        14,
        "discrete = enumerate: 'h' takes 4096 values, more than the 64 this compiler sums over",
        "use `discrete = score`",
    ),
    "importance_weighting_discrete": (
        CAT_VAE + "options {\n  importance_samples = 5\n}\n",
        4,
        27,
        "importance weighting of the bound (importance_samples = 5) needs reparameterised samples, but 'c' is discrete",
        "remove importance_samples",
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_check_reports_what_the_rule_cannot_honour(name: str, tmp_path: Path) -> None:
    text, line, col, message, hint = CASES[name]
    spec = tmp_path / f"{name}.sgm"
    spec.write_text(text)
    result = CliRunner().invoke(app, ["check", str(spec)])
    err = result.stderr
    assert result.exit_code == 1, result.stdout + err
    assert f"{spec}:{line}:{col}: error: {message}" in err
    source_line = text.splitlines()[line - 1]
    assert f"  {line} | {source_line}\n" in err
    caret = err.split(f"  {line} | {source_line}\n", 1)[1].splitlines()[0]
    assert caret.index("^") - len(f"  {line} | ") == col - 1
    assert "hint: " in err and hint in err
    assert "Traceback" not in err


def test_each_error_once_and_the_fixed_spec_checks(tmp_path: Path) -> None:
    text = CASES["prior_and_solid_producer"][0]
    spec = tmp_path / "m.sgm"
    spec.write_text(text)
    err = CliRunner().invoke(app, ["check", str(spec)]).stderr
    assert err.count("error:") == 1
    spec.write_text(TWO_LAYER)
    result = CliRunner().invoke(app, ["check", str(spec)])
    assert result.exit_code == 0 and "ok" in result.stdout


def test_check_finds_them_without_torch(tmp_path: Path) -> None:
    spec = tmp_path / "m.sgm"
    spec.write_text(CASES["enumerate_too_large"][0])
    code = (
        "import sys\nfrom schemagm.cli.app import main\n"
        "try:\n    main(['check', sys.argv[1]])\nexcept SystemExit as e:\n    code = e.code\n"
        "assert 'torch' not in sys.modules, 'check imported torch'\nsys.exit(code)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", code, str(spec)], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "takes 4096 values" in proc.stderr and "Traceback" not in proc.stderr
