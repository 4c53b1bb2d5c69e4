"""`schemagm check` and `schemagm fmt` through the real command-line application."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import CATALOG, ROOT, SPECS
from typer.testing import CliRunner

from schemagm.cli.app import _register_all, app

_register_all()

BROKEN = "model m\ndata x : real[4]\nlatent z : normal[2]\nz -> w : p_theta = mlp(8) normal\n"


def run(*args: str):
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_check_the_catalog_exit_0():
    code, out, _ = run("check", *[str(SPECS / f"{n}.sgm") for n in CATALOG])
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == len(CATALOG)
    assert f"{SPECS / 'vae.sgm'}: ok (3 nodes, 3 edges, groups eta, theta)" in lines
    assert f"{SPECS / 'dae.sgm'}: ok (2 nodes, 2 edges, groups theta)" in lines


def test_check_a_directory():
    code, out, _ = run("check", str(SPECS))
    assert code == 0 and len(out.splitlines()) == len(CATALOG)


def test_check_broken_spec_caret_exit_1_and_every_file_checked(tmp_path):
    bad = tmp_path / "bad.sgm"
    bad.write_text(BROKEN)
    code, out, err = run("check", str(bad), str(SPECS / "gan.sgm"))
    assert code == 1
    assert f"{bad}:4:6: error: unknown node 'w'" in err
    assert "  4 | z -> w : p_theta = mlp(8) normal\n    |      ^" in err
    assert f"{SPECS / 'gan.sgm'}: ok" in out
    assert "Traceback" not in out + err


def test_check_missing_file_is_an_input_error(tmp_path):
    code, out, err = run("check", str(tmp_path / "nope.sgm"), str(SPECS / "vae.sgm"))
    assert code == 1
    assert f"spec file '{tmp_path / 'nope.sgm'}' does not exist" in err
    assert "vae.sgm: ok" in out  # the other files are still checked


def test_check_help_has_an_example():
    code, out, _ = run("check", "--help")
    assert code == 0 and "schemagm check specs/*.sgm" in out


def test_check_subprocess_no_traceback(tmp_path):
    bad = tmp_path / "bad.sgm"
    bad.write_text(BROKEN)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-m", "schemagm", "check", str(bad)], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 1
    assert "unknown node 'w'" in proc.stderr and "^" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_fmt_prints_canonical_text():
    code, out, _ = run("fmt", str(SPECS / "gan.sgm"))
    assert code == 0
    assert "z, y ==> x : G_theta = mlp(256) -> sigmoid" in out
    # gan.sgm writes out the default adversarial = non_saturating: the formatter keeps what a user wrote
    assert out.endswith("options {\n  adversarial = non_saturating\n}\n")


def test_fmt_check_and_write(tmp_path):
    messy = tmp_path / "m.sgm"
    messy.write_text("model m  # mine\nlatent z:normal[2]\ndata x:real[4]\nz->x:p_theta=mlp(8) normal\n")
    os.chmod(messy, 0o640)
    code, out, err = run("fmt", "--check", str(messy))
    assert code == 1 and f"{messy}: would change" in err
    assert messy.read_text().startswith("model m  # mine\nlatent z:normal[2]")  # --check writes nothing

    code, out, _ = run("fmt", "--write", str(messy))
    assert code == 0 and f"{messy}: reformatted" in out
    assert (
        messy.read_text()
        == "model m  # mine\n\nlatent z : normal[2]\ndata   x : real[4]\n\nz -> x : p_theta = mlp(8) normal\n"
    )
    assert oct(messy.stat().st_mode & 0o777) == oct(0o640)
    assert [p.name for p in tmp_path.iterdir()] == ["m.sgm"]  # no temporary file left

    before = messy.stat().st_mtime_ns
    code, out, _ = run("fmt", "--write", str(messy))
    assert code == 0 and f"{messy}: unchanged" in out and messy.stat().st_mtime_ns == before
    code, _, _ = run("fmt", "--check", str(messy))
    assert code == 0


def test_fmt_broken_spec_is_not_rewritten(tmp_path):
    bad = tmp_path / "bad.sgm"
    bad.write_text(BROKEN)
    code, _, err = run("fmt", "--write", str(bad))
    assert code == 1 and "unknown node 'w'" in err and "Traceback" not in err
    assert bad.read_text() == BROKEN


def test_fmt_usage_errors_exit_2(tmp_path):
    (tmp_path / "x.sgm").write_text("model m\n")
    code, _, _ = run("fmt", "--check", "--write", str(tmp_path / "x.sgm"))
    assert code == 2


def test_fmt_missing_file_exits_1_like_every_command(tmp_path):
    code, _, err = run("fmt", str(tmp_path / "missing.sgm"))
    assert code == 1 and f"spec file '{tmp_path / 'missing.sgm'}' does not exist" in err


def test_check_quiet_prints_only_problems(tmp_path):
    bad = tmp_path / "bad.sgm"
    bad.write_text(BROKEN)
    code, out, err = run("check", "-q", str(SPECS / "vae.sgm"), str(bad))
    assert code == 1 and out == "" and "unknown node 'w'" in err
