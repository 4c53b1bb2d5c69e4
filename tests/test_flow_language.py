"""The invertible edge (<-> solid, <--> dashed) and dequantization through the stages that need
no tensors: parse, check (errors with line and column), fmt, transformations, equivalence and
rendering (a head at each end)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import SPECS

from schemagm.errors import SpecError
from schemagm.graph.build import parse, parse_file
from schemagm.graph.model import Process, SchematicGraph
from schemagm.language.parser import parse_spec
from schemagm.language.printer import print_spec
from schemagm.transform import swap_processes
from schemagm.transform.equivalence import differences, equivalent

FLOWS = ["flow2d", "dequant_flow", "vdequant_flow", "vae_flow_prior", "vae_iaf"]

HEAD = "model m\n\ndata x : real[2] from moons\nlatent z : normal[2]\n"


def _error(text: str) -> SpecError:
    with pytest.raises(SpecError) as info:
        parse(text)
    return info.value


def test_the_two_arrows_parse_to_invertible_edges() -> None:
    g = parse(HEAD + "z <-> x : f_theta = realnvp(32)\n")
    (e,) = g.edges
    assert e.invertible and e.process is Process.generative and not e.deterministic
    assert e.glyph == "<->" and e.head == "invertible"
    g2 = parse_file(SPECS / "extra" / "vae_iaf.sgm")
    flow = next(e for e in g2.edges if e.invertible)
    assert flow.process is Process.inference and flow.glyph == "<-->" and flow.sources == ("z0", "x")
    assert SchematicGraph.from_json(g2.to_json()) == g2


@pytest.mark.parametrize("name", FLOWS)
def test_flow_specs_print_back_to_themselves(name: str) -> None:
    path = SPECS / "extra" / f"{name}.sgm"
    text = path.read_text()
    assert print_spec(parse_spec(text)) == text  # canonical form, comments kept
    g = parse_file(path)
    from schemagm.graph.build import to_sgm

    assert parse(to_sgm(g)) == g


def test_swap_processes_keeps_a_flow_a_flow_and_is_an_involution() -> None:
    g = parse_file(SPECS / "extra" / "vae_flow_prior.sgm")
    s = swap_processes(g, check=False)
    flow = next(e for e in s.edges if e.invertible)
    assert flow.glyph == "<-->" and flow.network == next(e for e in g.edges if e.invertible).network
    assert swap_processes(s, check=False) == g


def test_a_flow_is_structure_for_equivalence() -> None:
    text = (SPECS / "extra" / "vae_flow_prior.sgm").read_text()
    a = parse(text)
    assert "z0 <-> z : f_theta = maf(64, 64, transforms=4)" in text
    b = parse(text.replace("z0 <-> z : f_theta = maf(64, 64, transforms=4)", "z0 -> z : f_theta = mlp(64) normal"))
    assert not equivalent(a, b)
    assert any("invertible (a flow) in A, not in B" in line for line in differences(a, b))
    assert equivalent(a, parse(text.replace("maf(64, 64, transforms=4)", "nsf(16)").replace("mlp(256)", "mlp(32)")))


@pytest.mark.parametrize(
    "edge, message, column",
    [
        ("z <-> x : f_theta = mlp(64)", "an invertible arrow (<->) carries a flow, not 'mlp'", 21),
        ("z -> x : f_theta = realnvp(64)", "'realnvp' is a flow: it belongs on an invertible edge", 3),
        ("z <-> x : f_theta = realnvp(64) normal", "a flow has no output head; remove 'normal'", 33),
        ("z <-> x : f_theta = realnvp(64) adversarial", "an invertible edge is not an adversary", 3),
    ],
)
def test_bad_flow_edges_say_where(edge: str, message: str, column: int) -> None:
    err = _error(HEAD + edge + "\n")
    d = next(d for d in err.diagnostics if message in d.message)
    assert d.span is not None and d.span.line == 5 and d.span.column == column


def test_flow_sizes_priors_and_dequantization_are_checked() -> None:
    err = _error("model m\ndata x : real[2] from moons\nlatent z : normal[3]\nz <-> x : f_theta = maf(8)\n")
    assert any(
        "a flow keeps the size: its base 'z' has size 3 and 'x' has size 2" in d.message for d in err.diagnostics
    )
    err = _error(
        "model m\ndata x : real[2] from moons\nlatent z : normal[2]\nlatent w : normal[2]\nz <-> w : f_theta = "
        "maf(8)\nw -> x : p_theta = mlp(8) normal\n"
    )
    assert any("'w' has the prior normal, but the flow gives it its density" in d.message for d in err.diagnostics)
    err = _error("model m\ndata x : real[1] from moons\nlatent z : normal[1]\nz <-> x : f_theta = realnvp(8)\n")
    assert any("needs at least 2 numbers" in d.message for d in err.diagnostics)
    err = _error(
        "model m\ndata x : real[4]\nlatent v : real[4]\nlatent z : normal[4]\nx --> v : q_eta = mlp(8) "
        "dequantize(16)\nz <-> v : f_theta = maf(8)\n"
    )
    assert any(
        "variational dequantization draws its noise from a conditional flow" in d.message for d in err.diagnostics
    )
    err = _error(
        "model m\ndata x : real[4]\nlatent v : real[4]\nlatent z : normal[4]\nx --> v : dequantize(0)\nz <-> v : "
        "f_theta = maf(8)\n"
    )
    assert any("scale" in d.message for d in err.diagnostics)


def test_the_base_of_a_flow_needs_no_dashed_producer() -> None:
    # h has no prior and no dashed edge: the flow's inverse gives it its value from x
    g = parse(
        "model m\ndata x : real[2] from moons\nlatent z : normal[2]\nlatent h : real[2]\nz <-> h : f_theta = "
        "maf(8)\nh <-> x : g_theta = realnvp(8)\n"
    )
    assert [e.glyph for e in g.edges] == ["<->", "<->"]


def test_render_draws_a_head_at_each_end() -> None:
    from schemagm.render import drawing, to_dot, to_mermaid

    g = parse_file(SPECS / "extra" / "vae_flow_prior.sgm")
    d = drawing(g, legend=True)
    dot = to_dot(d)
    flow_lines = [line for line in dot.splitlines() if "dir=both" in line]
    assert len(flow_lines) == 2  # the z0 <-> z arc, and its sample in the legend
    assert all("arrowtail=normal" in line for line in flow_lines)
    assert "invertible (flow: change of variables)" in dot
    assert "n_z0 <-->" in to_mermaid(d)


def test_check_fmt_render_of_a_flow_never_import_torch() -> None:
    code = (
        "import sys\n"
        "from schemagm.graph.build import parse_file\n"
        "from schemagm.render import drawing, to_dot\n"
        f"g = parse_file({str(SPECS / 'extra' / 'vdequant_flow.sgm')!r})\n"
        "to_dot(drawing(g))\n"
        "assert 'torch' not in sys.modules and 'zuko' not in sys.modules, sorted(m for m in sys.modules if 'torch' "
        "in m)[:3]\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
