"""The language server's answers on plain text (schemagm.lsp.analysis), without a client."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemagm.errors import Span
from schemagm.graph.build import format_text, parse
from schemagm.lsp import analysis
from schemagm.lsp.analysis import Range, completions, definition, diagnostics, edge_terms, formatted, hover

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.sgm")) + sorted((ROOT / "specs" / "extra").glob("*.sgm"))


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines()) if needle in line)


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_a_catalog_spec_has_no_diagnostics_and_every_term_belongs_to_an_edge(path):
    text = path.read_text()
    assert diagnostics(text) == []
    assert formatted(text) == format_text(text)
    graph = parse(text)
    terms = analysis._terms(text)
    # a model without parameters (the kernel density of specs/extra/kde.sgm) has no terms to train
    assert terms or all(n.value == "empirical" or n.role.value == "data" for n in graph.nodes.values())
    covered = set()
    for i in range(len(graph.edges)):
        mine, shared = edge_terms(graph, i, terms)
        covered |= {t.name for t in mine + shared}
    assert covered == {t.name for t in terms}


def test_hover_on_an_arrow_describes_the_edge():
    text = (ROOT / "specs" / "vae.sgm").read_text()
    line = _line_of(text, "x --> y")
    found = hover(text, line, 3)  # on `-->`
    assert found is not None
    markdown, where = found
    assert "density: `q_*(y | x)`" in markdown and "red (adversarial): the perfect discriminator" in markdown
    assert where == Range(line, 2, line, 5)


def test_hover_on_a_discriminator_lists_its_two_terms():
    text = (ROOT / "specs" / "gan.sgm").read_text()
    line = _line_of(text, "D_phi")
    markdown, _ = hover(text, line, text.splitlines()[line].index("D_phi"))  # type: ignore[misc]
    assert "`adversary:D_phi` [phi]" in markdown and "`reversed:D_phi` [theta]" in markdown
    assert "solid (generative process p)" in markdown and "parameter group: phi" in markdown


def test_hover_on_a_shared_term_and_on_names():
    text = (ROOT / "specs" / "iwae.sgm").read_text()
    line = _line_of(text, "p_theta")
    markdown, _ = hover(text, line, 0)  # type: ignore[misc]  # on the node z: a node
    assert markdown.startswith("**latent z**")
    markdown, _ = hover(text, line, text.splitlines()[line].index("p_theta"))  # type: ignore[misc]
    assert "`iw_bound`" in markdown and "(with the group's other edges)" in markdown
    markdown, _ = hover(text, line, text.splitlines()[line].index("mlp"))  # type: ignore[misc]
    assert markdown.startswith("**network mlp**")
    options = _line_of(text, "importance_samples")
    markdown, _ = hover(text, options, 4)  # type: ignore[misc]
    assert markdown.startswith("**option importance_samples** (default `1`)")


def test_hover_on_a_spec_that_does_not_check():
    text = "model m\ndata x : real[4]\nlatent z : normal[2]\nz -> w : G_theta = mlp(8)\n"
    node, _ = hover(text, 1, 5)  # type: ignore[misc]
    assert node.startswith("**data x**")
    edge, _ = hover(text, 3, 2)  # type: ignore[misc]
    assert "the spec has errors" in edge


def test_completion_by_context():
    text = "model m\ndata x : real[4] in [0, 1]\nlatent z : \nindicator y\n"
    assert {c.label for c in completions(text, 2, len("latent z : "))} == {
        "real",
        "normal",
        "uniform",
        "categorical",
        "bernoulli",
        "empirical",
    }
    typing = (
        "model m\ndata x : real[4] in [0, 1]\nlatent z : normal[2]\nindicator y\nz, y ==> x : G_theta = mlp(8) -> \n"
    )
    assert {c.label for c in completions(typing, 4, len("z, y ==> x : G_theta = mlp(8) -> "))} == {
        "sigmoid",
        "tanh",
        "relu",
        "softplus",
        "softmax",
    }
    assert {c.label for c in completions(typing, 4, len("z, "))} == {"x", "z", "y"}
    start = {c.label for c in completions(typing, 3, 0)}
    assert {"data", "latent", "indicator", "options", "model"} <= start
    options = "model m\ndata x : real[4]\noptions {\n  reconstruction = \n}\n"
    assert [c.label for c in completions(options, 3, len("  reconstruction = "))] == ["auto", "bce", "mse"]


def test_definition_and_ranges():
    text = (ROOT / "specs" / "gan.sgm").read_text()
    line = _line_of(text, "x -> y")
    assert definition(text, line, 0) == Range(_line_of(text, "data"), 10, _line_of(text, "data"), 11)
    assert definition(text, line, text.splitlines()[line].index("mlp")) is None
    assert analysis.span_range(Span(2, 4), "a\nbb word\n") == Range(1, 3, 1, 7)  # the word at the start
    assert analysis.span_range(Span(2, 4, 2, 6), "a\nbb word\n") == Range(1, 3, 1, 5)
    assert formatted("model m\nnot a spec\n") is None


def test_the_trunk_of_a_head_leads_to_its_network():
    text = (ROOT / "specs" / "extra" / "infogan_shared.sgm").read_text()
    line = _line_of(text, "x, y -> z")
    column = text.splitlines()[line].index("head(D_phi)") + len("head(")
    d_line = _line_of(text, "x -> y")
    start = text.splitlines()[d_line].index("D_phi")
    assert definition(text, line, column) == Range(d_line, start, d_line, start + len("D_phi"))
    about = hover(text, line, text.splitlines()[line].index("head"))
    assert about is not None and "**network head**(trunk)" in about[0]
