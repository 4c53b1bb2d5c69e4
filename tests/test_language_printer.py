"""Canonical printing: to_sgm(graph) and format_text(text) (what `schemagm fmt` prints)."""

from __future__ import annotations

import pytest
from conftest import CATALOG, SPECS

from schemagm.graph.build import format_text, parse, parse_file, to_sgm
from schemagm.graph.model import Call, Edge, Node, Process, Role, SchematicGraph
from schemagm.graph.options import Options

VAE_CANONICAL = """model vae "Variational autoencoder"

data      x : real[64] in [0, 1] from digits
latent    z : normal[8]
indicator y

x, y --> z : q_eta   = mlp(256) normal
z, y -> x  : p_theta = mlp(256) bernoulli
x --> y    : perfect adversarial
"""


def test_vae_canonical_text():
    assert to_sgm(parse_file(SPECS / "vae.sgm")) == VAE_CANONICAL


def test_options_written_or_non_default_in_declaration_order():
    text = to_sgm(parse_file(SPECS / "iwgan.sgm"))  # writes adversarial = non_saturating, the default
    assert text.endswith("options {\n  adversarial        = non_saturating\n  importance_samples = 8\n}\n")
    g = parse(VAE_CANONICAL + "\noptions {\n  walkback = 2\n  beta = 0.5\n  adversarial = hinge\n}\n")
    assert to_sgm(g).endswith("options {\n  adversarial = hinge\n  beta        = 0.5\n  walkback    = 2\n}\n")
    assert "options" not in to_sgm(parse(VAE_CANONICAL))  # defaults nobody wrote are not printed
    # a graph built in Python prints its non-default options only
    assert "options" not in to_sgm(parse(VAE_CANONICAL).replace(options=Options()))


def test_mmd_net_keeps_the_written_uniform_range_and_float_arguments():
    g = parse_file(SPECS / "mmd_net.sgm")
    assert g.nodes["z"].range == (-1.0, 1.0)  # written; an unwritten range is None (the default [-1, 1])
    text = to_sgm(g)
    assert "latent    z : uniform[16] in [-1, 1]\n" in text
    assert "x -> y     : mmd(0.5, 1.0, 2.0, 4.0) adversarial\n" in text


@pytest.mark.parametrize("name", CATALOG)
def test_catalog_round_trip_and_fixed_point(name):
    g = parse_file(SPECS / f"{name}.sgm")
    text = to_sgm(g)
    again = parse(text)
    assert again == g
    assert to_sgm(again) == text
    formatted = format_text((SPECS / f"{name}.sgm").read_text())
    assert parse(formatted) == g
    assert format_text(formatted) == formatted


@pytest.mark.parametrize("name", CATALOG)
def test_catalog_syntax_tree_built_in_code_builds_the_same_graph(name):
    # to_syntax writes flags without source spans: building it must keep them (adversarial, perfect, ...)
    from schemagm.graph.build import build, to_syntax

    g = parse_file(SPECS / f"{name}.sgm")
    again, problems, _ = build(to_syntax(g))
    assert problems == []
    assert again == g


def test_format_keeps_comments_in_place():
    text = (SPECS / "dae.sgm").read_text()
    out = format_text(text)
    assert out.startswith("# dae.sgm: a denoising autoencoder trained with walkback.\n")
    # end-of-line comments of nodes and edges share one column, two spaces after the longest line
    assert "latent xn : real[64]                     # the corrupted copy x~\n" in out
    assert "x --> xn : gaussian_noise(0.3)           # dashed: fixed corruption, no parameters\n" in out
    assert out.endswith("options {\n  walkback = 3\n}\n")


def test_format_keeps_a_written_default_option_with_its_comments():
    text = (
        "model m\ndata x : real[4]\nlatent z : normal[2]\nz -> x : p_theta = mlp(8) normal\noptions {\n"
        "  # the usual\n  beta = 1.0  # default\n}\n"
    )
    out = format_text(text)
    assert out.endswith("z -> x : p_theta = mlp(8) normal\n\noptions {\n  # the usual\n  beta = 1.0  # default\n}\n")
    assert format_text(out) == out


def test_format_normalises_spacing_numbers_and_order():
    messy = (
        "model   m\noptions { beta=2 }\nz->x:p_theta=mlp( 8 ,activation = tanh )normal( std = 1e-1 )\n"
        "data x:real[ 4 ]in[0.0,1]\nlatent z:normal[2]\n"
    )
    assert format_text(messy) == (
        "model m\n\ndata   x : real[4] in [0, 1]\nlatent z : normal[2]\n\n"
        "z -> x : p_theta = mlp(8, activation=tanh) normal(std=0.1)\n\noptions {\n  beta = 2.0\n}\n"
    )


def test_title_with_quotes_and_unicode_and_string_arguments():
    nodes = [Node(name="x", role=Role.data, shape=(4,)), Node(name="z", role=Role.latent, value="normal", shape=(2,))]
    edge = Edge(
        sources=("z",),
        target="x",
        process=Process.generative,
        label="p",
        group="theta",
        network=Call(name="mine", args=("two words", "true", "relu"), kwargs=(("flag", False),)),
    )
    g = SchematicGraph("m", nodes, [edge], title='say "hi" \\ é')
    text = to_sgm(g)
    assert text.splitlines()[0] == 'model m "say \\"hi\\" \\\\ é"'
    assert 'p_theta = mine("two words", "true", relu, flag=false)' in text
    from schemagm.graph.build import build
    from schemagm.language.parser import parse_spec

    again, _, _ = build(parse_spec(text))
    assert again == g


def test_indicator_branch_one_and_zero_print():
    text = (
        "model ali\ndata x : real[4]\nlatent z : normal[2]\nindicator y\n"
        "x, y=1 ==> z : E_eta = mlp(8)\nz, y=0 ==> x : G_theta = mlp(8)\nx, z -> y : D_phi = mlp(8) adversarial\n"
    )
    out = to_sgm(parse(text))
    assert "x, y=1 ==> z : E_eta   = mlp(8)\n" in out
    assert "z, y ==> x   : G_theta = mlp(8)\n" in out


def test_format_keeps_comments_of_options_and_before_edges():
    text = (
        "model m  # the model\n"
        "data x : real[4]\n"
        "latent z : normal[2]\n"
        "# the decoder\n"
        "z -> x : p_theta = mlp(8) normal\n"
        "options {  # knobs\n"
        "  # heavier KL\n"
        "  beta = 2  # beta-VAE\n"
        "  # nothing else\n"
        "}\n"
        "# the end\n"
    )
    assert format_text(text) == (
        "model m  # the model\n\n"
        "data   x : real[4]\n"
        "latent z : normal[2]\n\n"
        "# the decoder\n"
        "z -> x : p_theta = mlp(8) normal\n\n"
        "options {     # knobs\n"
        "  # heavier KL\n"
        "  beta = 2.0  # beta-VAE\n"
        "  # nothing else\n"
        "}\n\n"
        "# the end\n"
    )


@pytest.mark.parametrize(
    "path", sorted(SPECS.glob("*.sgm")) + sorted((SPECS / "extra").glob("*.sgm")), ids=lambda p: p.stem
)
def test_shipped_specs_are_in_canonical_form(path):
    """`schemagm fmt --check specs/ specs/extra/` passes: the catalog is written as fmt prints it."""
    text = path.read_text()
    assert format_text(text, file=str(path)) == text
