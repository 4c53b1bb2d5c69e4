"""``schemagm compile``: tables for a person, JSON for machines, errors without tracebacks."""

from __future__ import annotations

import json
import re

import pytest
import torch
from conftest import SPECS
from typer.testing import CliRunner

from schemagm.cli.app import _register_all, app
from schemagm.graph.model import SchematicGraph

_register_all()
runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def compiled(name: str):
    from schemagm.compiler import compile as compile_spec

    return compile_spec(SPECS / f"{name}.sgm")


def plain(text: str) -> str:
    """The output with runs of whitespace folded (rich may wrap long table cells)."""
    return re.sub(r"\s+", " ", text)


@pytest.mark.parametrize("name", ["gan", "infogan", "vae", "wake_sleep"])
def test_text_lists_networks_counts_phases_and_formulas(name: str) -> None:
    res = invoke("compile", str(SPECS / f"{name}.sgm"))
    assert res.exit_code == 0, res.output
    out = res.stdout
    model = compiled(name)
    for group in model.groups:
        total = sum(p.numel() for p in model.parameters_of(group))
        assert total > 0
        assert f"{total:,}" in out, (group, total)
    for key, net in model.networks.items():
        assert key in out
        assert f"{sum(p.numel() for p in net.parameters()):,}" in out
    for phase in model.objective.phases:
        assert re.search(rf"{re.escape(phase.name)}\s*│[^\n]*│\s*{phase.steps}\b", out), phase
    folded = plain(out)
    from schemagm.compiler.terms import greek

    for group in model.groups:
        line = f"loss({greek(group).u}) = {model.objective.loss_formula(group)}"
        assert plain(line) in folded, line
    for term in model.objective.terms:
        line = f"{term.name} [{', '.join(sorted(term.groups))}]: {term.formula}"
        assert plain(line) in folded, line


def test_discriminator_steps_are_shown(tmp_path) -> None:
    text = (
        (SPECS / "gan.sgm")
        .read_text()
        .replace("adversarial = non_saturating", "adversarial = non_saturating\n  discriminator_steps = 5")
    )
    spec = tmp_path / "gan5.sgm"
    spec.write_text(text)
    res = invoke("compile", str(spec))
    assert res.exit_code == 0, res.output
    from schemagm.compiler import compile as compile_spec

    model = compile_spec(spec)
    (adversary,) = [p for p in model.objective.phases if "phi" in p.groups]
    assert adversary.steps == 5
    assert re.search(rf"{re.escape(adversary.name)}\s*│\s*phi\s*│\s*5\b", res.stdout)


def test_latex_formulas() -> None:
    res = invoke("compile", str(SPECS / "vae.sgm"), "--latex")
    assert res.exit_code == 0, res.output
    model = compiled("vae")
    folded = plain(res.stdout)
    for group in model.groups:
        assert plain(f"loss({group}) = {model.objective.loss_formula(group, latex=True)}") in folded
    for term in model.objective.terms:
        assert plain(term.latex) in folded
        assert term.latex != term.formula
    assert "\\" in res.stdout  # LaTeX commands, not unicode
    unicode_out = invoke("compile", str(SPECS / "vae.sgm")).stdout
    assert unicode_out != res.stdout


@pytest.mark.parametrize("name", ["gan", "ada", "wake_sleep", "mmd_net"])
def test_emit_json_round_trips(name: str) -> None:
    from schemagm.graph.build import parse_file

    res = invoke("compile", str(SPECS / f"{name}.sgm"), "--emit", "json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["model"] == name
    back = SchematicGraph.from_json(res.stdout)
    assert back == parse_file(SPECS / f"{name}.sgm")


def test_spec_error_has_position_and_caret_and_no_traceback(tmp_path) -> None:
    spec = tmp_path / "bad.sgm"
    spec.write_text(
        "model bad\n\ndata x : real[4] in [0, 1]\nlatent z : normal[2]\n\nx --> w : q_eta = mlp(8) normal\n"
    )
    res = invoke("compile", str(spec))
    assert res.exit_code == 1
    err = res.stderr
    assert "Traceback" not in res.output
    assert re.search(r"bad\.sgm:6:\d+", err), err
    assert "'w'" in err or "w" in err.split("error:")[1]
    assert "^" in err


def test_unknown_network_is_a_spec_error(tmp_path) -> None:
    spec = tmp_path / "net.sgm"
    spec.write_text(
        "model m\ndata x : real[4] in [0, 1]\nlatent z : real[2]\nx ==> z : E_eta = nosuchnet(3)\n"
        "z => x : G_theta = mlp(8) -> sigmoid\n"
    )
    res = invoke("compile", str(spec))
    assert res.exit_code == 1
    assert "nosuchnet" in res.stderr
    assert re.search(r"net\.sgm:4:\d+", res.stderr)
    assert "Traceback" not in res.output


def test_missing_file_is_a_clear_error(tmp_path) -> None:
    res = invoke("compile", str(tmp_path / "nope.sgm"))
    assert res.exit_code == 1
    assert f"spec file '{tmp_path / 'nope.sgm'}' does not exist" in res.stderr
    assert "Traceback" not in res.output


def test_usage_errors_exit_2() -> None:
    assert invoke("compile").exit_code == 2
    assert invoke("compile", str(SPECS / "gan.sgm"), "--emit", "yaml").exit_code == 2


def test_help_has_an_example() -> None:
    res = invoke("compile", "--help")
    assert res.exit_code == 0
    assert "Example" in res.stdout
    assert "schemagm compile specs/" in res.stdout
    assert "--latex" in res.stdout and "--emit" in res.stdout


def test_counts_are_independent_of_rendering() -> None:
    """The printed total of a group equals the count of the networks on its edges."""
    model = compiled("aae")
    edges = {f"{e.label}_{e.group}": e for e in model.graph.edges if e.group}
    for group in model.groups:
        by_edge = sum(
            sum(p.numel() for p in model.networks[k].parameters()) for k, e in edges.items() if e.group == group
        )
        assert by_edge == sum(p.numel() for p in model.parameters_of(group))
    # and a tensor count, computed here from the layer sizes of mlp(256) on 64 -> 8 (encoder)
    enc = model.networks["E_eta"]
    assert sum(p.numel() for p in enc.parameters()) == 64 * 256 + 256 + 256 * 8 + 8
    assert isinstance(next(enc.parameters()), torch.nn.Parameter)


def test_emit_json_refuses_a_spec_that_does_not_compile(tmp_path) -> None:
    """JSON is only printed for a spec that compiles: here a hollow dashed edge into a prior node."""
    spec = tmp_path / "hollow.sgm"
    spec.write_text(
        "model m\ndata x : real[4] in [0, 1]\nlatent z : normal[2]\nindicator y\n"
        "x, y ==> z : E_eta = mlp(8)\nz, y -> x : p_theta = mlp(8) bernoulli\nx --> y : perfect adversarial\n"
    )
    res = invoke("compile", str(spec), "--emit", "json")
    assert res.exit_code == 1
    assert res.stdout == ""
    assert re.search(r"hollow\.sgm:5:\d+", res.stderr), res.stderr
    assert "Traceback" not in res.output


def test_markup_in_a_title_is_printed_as_text(tmp_path) -> None:
    spec = tmp_path / "t.sgm"
    spec.write_text((SPECS / "ae.sgm").read_text().replace('"Autoencoder"', '"Autoencoder [bold]x[/bold]"'))
    res = invoke("compile", str(spec))
    assert res.exit_code == 0, res.output
    assert "Autoencoder [bold]x[/bold]" in res.stdout


def test_a_directory_or_binary_file_is_a_clear_error(tmp_path) -> None:
    res = invoke("compile", str(tmp_path))
    assert res.exit_code == 1
    assert "is a folder, not a file" in res.stderr
    binary = tmp_path / "bin.sgm"
    binary.write_bytes(b"\xff\xfe\x00model")
    res = invoke("compile", str(binary))
    assert res.exit_code == 1
    assert "UTF-8" in res.stderr
    assert "Traceback" not in res.output
