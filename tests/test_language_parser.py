"""The .sgm language: every construct parses into the graph it means; syntax errors say
what was expected, in words of the language, at the right line and column."""

from __future__ import annotations

import pytest
from conftest import CATALOG, SPECS

from schemagm.errors import SpecError
from schemagm.graph.build import parse, parse_file, read_spec_text
from schemagm.graph.model import Call, Process, Role
from schemagm.language.parser import parse_spec

FULL = """# a comment line
model full "A spec with \\"every\\" construct"   # the title is a string

data      x : real[1, 8, 8] in [-0.5, 2.5e1] given y from mnist.train   # an image C, H, W
data      l : categorical[10] from mnist.labels
latent    z : uniform[3] in [-2, 2]
latent    w : uniform[3] in [-1, 1]
latent    u : uniform[3]
latent    h : real[16]
indicator y

z, w, y=1 --> x : G_q_theta = mlp(16, 8, activation=tanh, dropout=0.5, batchnorm=true) normal(std=0.1)
x, y ==> h      : E_eta = conv_encoder(8, 16) -> softplus
h => l          : C_eta = linear
x -> y          : D_phi = linear adversarial
h -> y          : mmd(1, 2.0, 0.5e-1) adversarial
l --> y         : perfect adversarial   # a dashed red edge tests data (its generated branch)
h, u, y=0 -> z  : Q_eta = mlp(4) normal
l, y=1 --> h    : P_eta = embedding(4) normal no_reparam  # not into w: no normal q fits a uniform prior
options {
  kl          = monte_carlo   # a name
  beta        = 4
  temperature = 0.25
}
"""


def test_every_catalog_spec_parses():
    assert len(CATALOG) >= 13
    for name in CATALOG:
        graph = parse_file(SPECS / f"{name}.sgm")
        assert graph.name == name
        assert graph.file == str(SPECS / f"{name}.sgm")


def test_full_spec_nodes():
    g = parse(
        FULL.replace("h -> y          : mmd(1, 2.0, -0.5e-1)", "h -> y          : mmd(1, 2.0, 0.5e-1)").replace(
            "l, y=1 --> h    : P_eta = embedding(4) normal no_reparam",
            "l, y=1 --> h    : P_eta = embedding(4) normal no_reparam",
        )
    )
    assert g.title == 'A spec with "every" construct'
    x, label, z, w, u, h, y = g.nodes.values()
    assert u.range is None  # not written: the default [-1, 1] of a uniform prior
    assert (x.role, x.value, x.shape, x.range, x.given, x.dataset) == (
        Role.data,
        "real",
        (1, 8, 8),
        (-0.5, 25.0),
        "y",
        "mnist.train",
    )
    assert x.is_image
    assert (label.value, label.shape, label.dataset) == ("categorical", (10,), "mnist.labels")
    assert (z.value, z.range, z.prior) == ("uniform", (-2.0, 2.0), "uniform")
    assert w.range == (-1.0, 1.0)  # kept as written
    assert (h.value, h.prior) == ("real", None)
    assert (y.role, y.shape) == (Role.indicator, ())


def test_full_spec_edges():
    e = parse(FULL).edges
    g0 = e[0]
    assert g0.sources == ("z", "w", "y") and g0.target == "x" and g0.branch == 1
    assert (g0.process, g0.deterministic, g0.adversarial) == (Process.inference, False, False)
    assert (g0.label, g0.group) == ("G_q", "theta")  # split at the last underscore
    assert g0.network == Call(
        name="mlp", args=(16, 8), kwargs=(("activation", "tanh"), ("dropout", 0.5), ("batchnorm", True))
    )
    assert g0.output == Call(name="normal", kwargs=(("std", 0.1),))
    enc = e[1]
    assert (enc.process, enc.deterministic, enc.branch) == (Process.inference, True, 0)
    assert enc.network == Call(name="conv_encoder", args=(8, 16)) and enc.output == Call(name="softplus")
    assert (e[2].process, e[2].deterministic, e[2].label, e[2].group, e[2].branch) == (
        Process.generative,
        True,
        "C",
        "eta",
        None,
    )
    assert (e[3].adversarial, e[3].perfect, e[3].network, e[3].group) == (True, False, Call(name="linear"), "phi")
    assert e[4].kernel == Call(name="mmd", args=(1, 2.0, 0.05)) and e[4].network is None and e[4].group is None
    assert isinstance(e[4].kernel.args[0], int) and isinstance(e[4].kernel.args[1], float)
    assert (e[5].perfect, e[5].adversarial, e[5].process, e[5].network) == (True, True, Process.inference, None)
    assert e[6].branch == 0  # y=0 is the same as y
    assert (e[7].reparameterize, e[7].process) == (False, Process.inference)


def test_full_spec_options():
    opts = parse(FULL).options
    assert (opts.kl, opts.beta, opts.temperature, opts.adversarial) == ("monte_carlo", 4.0, 0.25, "non_saturating")


def test_arguments_of_every_kind():
    spec = parse_spec('model m\nx -> y : F_theta = f(1, -2, 3.5, -4e-2, "a b", name, true, false, k=-1, s="q")\n')
    args = spec.edges[0].body.call.args
    assert [a.value for a in args] == [1, -2, 3.5, -0.04, "a b", "name", True, False, -1, "q"]
    assert [a.key for a in args][-2:] == ["k", "s"]
    assert [a.bare for a in args][4:6] == [False, True]


def test_corruption_without_label_has_no_parameters():
    [corrupt, _] = parse_file(SPECS / "dae.sgm").edges
    assert (corrupt.label, corrupt.group, corrupt.has_parameters) == (None, None, False)
    assert corrupt.network == Call(name="gaussian_noise", args=(0.3,))


def test_no_title_no_trailing_newline_crlf_tabs_and_comments_everywhere():
    text = (
        "# head\r\nmodel m\r\n\r\n\tdata x : real[4]   # x\r\nlatent\tz : normal[2]\r\n# before the edge\r\n"
        "z -> x : p_theta = mlp(8) normal # end"
    )
    g = parse(text)
    assert g.title is None and list(g.nodes) == ["x", "z"] and len(g.edges) == 1


def test_a_keyword_may_name_a_node_where_only_a_name_can_stand():
    g = parse(
        "model options\ndata x : real[4]\nlatent z : normal[2]\nz -> x : p_theta = mlp(8, activation=elu) normal\n"
    )
    assert g.name == "options"


def test_spans_point_at_the_declaration():
    g = parse_file(SPECS / "vae.sgm")
    assert (g.nodes["z"].span.line, g.nodes["z"].span.column) == (7, 1)
    assert (g.edges[2].span.line, g.edges[2].span.column) == (12, 1)


# -- syntax errors --------------------------------------------------------------------------
SYNTAX_ERRORS = [
    ("model m\nx y -> z\n", 2, 3, "expected an arrow (->, =>, -->, ==>) after the sources; found 'y'"),
    ("model m\nx - > y\n", 2, 3, "unexpected character '-'; expected an arrow (->, =>, -->, ==>) after the sources"),
    ("data x : real[4]\n", 1, 1, "expected `model` and the model's name at the start of the spec; found 'data'"),
    ("model m\ndata x real[4]\n", 2, 8, "expected ':' or the end of the line; found 'real'"),
    ("model m\ndata x : real[4\n", 2, 16, "expected ',' or ']'; found the end of the line"),
    (
        "model m\nx -> y :\n",
        2,
        9,
        "expected a network (like mlp(256)), a label (like G_theta = ...) or perfect adversarial after ':'; "
        "found the end of the line",
    ),
    (
        "model m\nx -> y : G_theta = mlp(\n",
        2,
        24,
        "expected a value (a number, a name, a quoted string, true or false) or ')'; found the end of the line",
    ),
    (
        "model m\nx -> y : mlp(2) normal foo\n",
        2,
        24,
        "expected a flag (adversarial, perfect, no_reparam), a setting (weight=..., distance=..., form=...) "
        "or the end of the line; found 'foo'",
    ),
    ("model m\nx -> y -> z\n", 2, 8, "expected ':' or the end of the line; found the arrow '->'"),
    (
        "model m\noptions {\n  beta = 1\n",
        3,
        11,
        "expected a name, '}' or the end of the line; found the end of the file",
    ),
    ('model m "no end\n', 1, 9, "unexpected character '\"'"),
    ("model m\nx -> y : mlp(256) @\n", 2, 19, "unexpected character '@'"),
]


@pytest.mark.parametrize("text,line,column,message", SYNTAX_ERRORS)
def test_syntax_error_message_and_position(text, line, column, message):
    with pytest.raises(SpecError) as info:
        parse(text, file="t.sgm")
    [d] = info.value.diagnostics
    assert (d.span.line, d.span.column) == (line, column)
    assert d.message.startswith(message), d.message
    rendered = str(info.value)
    assert rendered.startswith(f"t.sgm:{line}:{column}: error: ")
    assert "^" in rendered
    for internal in ("__ANON", "RULE", "NAME", "_NL", "$END", "LPAR", "RSQB", "Token("):
        assert internal not in d.message


def test_syntax_error_hints():
    with pytest.raises(SpecError) as info:
        parse("model m\nx -> y -> z\n")
    assert info.value.diagnostics[0].hint == "an edge has one target; write one line per arrow"
    with pytest.raises(SpecError) as info:
        parse('model m "abc\n')
    assert "closing quote" in info.value.diagnostics[0].hint


def test_several_syntax_errors_are_reported_line_by_line():
    text = "model m\ndata x real[4]\nlatent z : normal[2\nz -> x : p_theta = mlp(8) normal\nx y -> z\n"
    with pytest.raises(SpecError) as info:
        parse(text, file="t.sgm")
    got = [(d.span.line, d.span.column, d.message) for d in info.value.diagnostics]
    assert got == [
        (2, 8, "expected ':' or the end of the line; found 'real'"),
        (3, 20, "expected ',' or ']'; found the end of the line"),
        (5, 3, "expected an arrow (->, =>, -->, ==>) after the sources; found 'y'"),
    ]
    assert info.value.diagnostics[0].hint.startswith("write ':' before a node's type")
    assert all(d.span.file == "t.sgm" for d in info.value.diagnostics)


def test_recovery_stops_where_it_would_only_echo_the_first_error():
    with pytest.raises(SpecError) as info:
        parse("data x\nlatent z\n")  # no model line: one error, not one per line
    assert len(info.value.diagnostics) == 1
    with pytest.raises(SpecError) as info:
        parse("model m\noptions {\n  beta = 1\n")
    [d] = info.value.diagnostics
    assert d.hint == "close the options block with '}'"


def test_missing_unreadable_and_binary_files(tmp_path):
    with pytest.raises(SpecError, match="spec file '.*nope.sgm' does not exist"):
        parse_file(tmp_path / "nope.sgm")
    with pytest.raises(SpecError, match="is a folder, not a file"):
        parse_file(tmp_path)
    bad = tmp_path / "bin.sgm"
    bad.write_bytes(b"model m\n\xff\xfe\n")
    with pytest.raises(SpecError, match="not UTF-8") as info:
        read_spec_text(bad)
    assert str(info.value).startswith(f"{bad}:2:1: error:")


def test_error_in_a_file_names_the_file(tmp_path):
    p = tmp_path / "broken.sgm"
    p.write_text("model m\ndata x : real[4]\nx -> q : p_theta = mlp(8) normal\n")
    with pytest.raises(SpecError) as info:
        parse_file(p)
    assert str(info.value).startswith(f"{p}:3:6: error: unknown node 'q'")


def test_the_reference_page_shows_the_grammar_in_full():
    from conftest import ROOT

    from schemagm.language.parser import grammar_text

    assert grammar_text() in (ROOT / "docs" / "language.md").read_text()
