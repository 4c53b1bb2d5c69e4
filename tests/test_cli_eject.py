"""``schemagm eject SPEC -o FILE [--force]`` and ``schemagm compile SPEC --emit python``: files
really written (atomically), never overwritten without --force, errors with positions and no
traceback."""

from __future__ import annotations

import ast
from pathlib import Path

import torch
from conftest import SPECS
from eject_support import load_script
from reference.batches import batch_for
from reference.compare import TOL
from typer.testing import CliRunner

from schemagm.cli.app import _register_all, app

_register_all()
runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_eject_writes_the_script(tmp_path: Path) -> None:
    out = tmp_path / "vae.py"
    res = invoke("eject", str(SPECS / "vae.sgm"), "-o", str(out))
    assert res.exit_code == 0, res.output
    assert f"wrote {out}" in res.stdout
    text = out.read_text(encoding="utf-8")
    ast.parse(text)
    assert "class q_eta(nn.Sequential):" in text and "def main(" in text
    assert not list(tmp_path.glob("*.tmp*")) and [p.name for p in tmp_path.iterdir()] == ["vae.py"]


def test_eject_keeps_an_existing_file_without_force(tmp_path: Path) -> None:
    out = tmp_path / "model.py"
    out.write_text("# my own work\n")
    res = invoke("eject", str(SPECS / "gan.sgm"), "-o", str(out))
    assert res.exit_code == 1
    assert "already exists; it is not overwritten" in res.stderr and "--force" in res.stderr
    assert "Traceback" not in res.output
    assert out.read_text() == "# my own work\n"
    res = invoke("eject", str(SPECS / "gan.sgm"), "-o", str(out), "--force")
    assert res.exit_code == 0, res.output
    assert "class D_phi(nn.Sequential):" in out.read_text()


def test_eject_never_writes_over_its_spec(tmp_path: Path) -> None:
    spec = tmp_path / "vae.sgm"
    spec.write_text((SPECS / "vae.sgm").read_text())
    res = invoke("eject", str(spec), "-o", str(spec), "--force")
    assert res.exit_code == 1 and "never written over" in res.stderr
    assert spec.read_text() == (SPECS / "vae.sgm").read_text()


def test_a_refused_spec_is_an_error_with_its_position_and_no_file(tmp_path: Path) -> None:
    """A flow graph's importance-weighted bound: the one construct eject cannot print."""
    spec = tmp_path / "iw_iaf.sgm"
    spec.write_text((SPECS / "extra" / "vae_iaf.sgm").read_text() + "options {\n  importance_samples = 4\n}\n")
    line = len((SPECS / "extra" / "vae_iaf.sgm").read_text().splitlines()) + 2
    out = tmp_path / "iw.py"
    res = invoke("eject", str(spec), "-o", str(out))
    assert res.exit_code == 1
    assert f"{spec}:{line}:3: error: eject cannot print 'vae_iaf' yet: its importance-weighted bound" in res.stderr
    assert "^^^" in res.stderr and "Traceback" not in res.output
    assert not out.exists()


def test_the_partial_and_kernel_density_specs_eject_to_files(tmp_path: Path) -> None:
    for name, expect in (("m2", 'batch["c.observed"]'), ("kde", "def fit(nets, data):")):
        out = tmp_path / f"{name}.py"
        res = invoke("eject", str(SPECS / "extra" / f"{name}.sgm"), "-o", str(out))
        assert res.exit_code == 0, res.output
        text = out.read_text()
        ast.parse(text)
        assert expect in text and "Traceback" not in res.output


def test_a_flow_spec_ejects_to_a_file(tmp_path: Path) -> None:
    out = tmp_path / "flow.py"
    res = invoke("eject", str(SPECS / "extra" / "flow2d.sgm"), "-o", str(out))
    assert res.exit_code == 0, res.output
    text = out.read_text()
    assert "import zuko" in text and "zuko.flows.RealNVP(2, 0, transforms=6" in text
    assert "nets.f_theta.inverse(x)" in text


def test_a_spec_error_and_a_missing_spec(tmp_path: Path) -> None:
    bad = tmp_path / "bad.sgm"
    bad.write_text("model m\ndata x : real[2]\nlatent z : normal[2]\nz -> x : G_theta = nosuchnet(3)\n")
    res = invoke("eject", str(bad), "-o", str(tmp_path / "m.py"))
    assert res.exit_code == 1 and "bad.sgm:4:" in res.stderr and "nosuchnet" in res.stderr
    assert "Traceback" not in res.output and not (tmp_path / "m.py").exists()
    res = invoke("eject", str(tmp_path / "none.sgm"), "-o", str(tmp_path / "m.py"))
    assert res.exit_code == 1 and "does not exist" in res.stderr


def test_eject_needs_an_output() -> None:
    res = invoke("eject", str(SPECS / "vae.sgm"))
    assert res.exit_code == 2 and "--output" in res.output


def test_compile_emit_python_prints_the_loss_functions(tmp_path: Path) -> None:
    from schemagm.compiler import compile as compile_spec

    res = invoke("compile", str(SPECS / "aae.sgm"), "--emit", "python")
    assert res.exit_code == 0, res.output
    module = load_script(res.stdout, tmp_path, "aae_loss")
    torch.manual_seed(0)
    model = compile_spec(SPECS / "aae.sgm")
    batch = batch_for(model.graph, n=8)
    torch.manual_seed(1)
    got = model.losses(batch)
    mine = module.losses(model.networks, batch, module.Noise(dict(model.last_draws)))
    assert set(mine) == set(got)
    for g in got:
        torch.testing.assert_close(mine[g], got[g], **TOL)


def test_the_help_fits_80_columns() -> None:
    res = runner.invoke(app, ["eject", "--help"], terminal_width=80)
    assert res.exit_code == 0
    assert all(len(line) <= 80 for line in res.stdout.splitlines())
    assert "-o, --output FILE" in res.stdout and "--force" in res.stdout
    top = runner.invoke(app, ["--help"], terminal_width=80)
    assert "eject" in top.stdout and "standalone PyTorch script" in top.stdout
