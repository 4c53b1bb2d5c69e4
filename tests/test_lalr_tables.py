"""The parser tables shipped in the package (schemagm/language/_lalr_tables.py) are current,
load without building the grammar, and parse exactly as the parser built from grammar.lark."""

from __future__ import annotations

from pathlib import Path

import lark
import pytest

from schemagm.language import _lalr_tables as tables
from schemagm.language import lalr_tables, parser
from schemagm.language.parser import build_parser, grammar_text, parse_spec

ROOT = Path(__file__).resolve().parent.parent
REGENERATE = "run `python -m schemagm.language.lalr_tables` after changing grammar.lark or lark"


def test_the_shipped_tables_are_those_of_the_grammar_and_of_this_lark():
    assert tables.GRAMMAR_SHA256 == lalr_tables.grammar_digest(grammar_text()), REGENERATE
    assert tables.LARK_VERSION == lark.__version__, REGENERATE
    # (the numbering of lark's states varies from process to process with the string hash seed, so
    # the tables are compared by what they parse, below, not entry by entry)


def test_the_process_parser_comes_from_the_tables_not_from_the_grammar(monkeypatch):
    def no_build():
        raise AssertionError("the grammar was built although current tables are shipped")

    parser._parser.cache_clear()
    monkeypatch.setattr(parser, "build_parser", no_build)
    try:
        loaded = parser._parser()
        assert loaded.source_path == "<deserialized>"
        assert loaded.options.propagate_positions and loaded.options.maybe_placeholders
    finally:
        parser._parser.cache_clear()


def test_stale_tables_are_not_used(monkeypatch):
    monkeypatch.setattr(tables, "GRAMMAR_SHA256", "0" * 64)
    assert lalr_tables.load(grammar_text(), {}) is None
    monkeypatch.undo()
    monkeypatch.setattr(tables, "LARK_VERSION", "0.0.1")
    assert lalr_tables.load(grammar_text(), {}) is None


SPECS = sorted((ROOT / "specs").glob("*.sgm")) + sorted((ROOT / "examples").glob("**/*.sgm"))


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_tables_and_grammar_give_the_same_tree_tokens_positions_and_comments(path):
    text = path.read_text()
    built = build_parser()
    loaded = lalr_tables.load(grammar_text(), {"COMMENT": parser._collect_comment})
    assert loaded is not None
    a, b = built.parse(text), loaded.parse(text)
    assert a == b
    tokens_a = [
        (t.type, t.value, t.line, t.column, t.end_line, t.end_column)
        for t in a.scan_values(lambda v: isinstance(v, lark.Token))
    ]
    tokens_b = [
        (t.type, t.value, t.line, t.column, t.end_line, t.end_column)
        for t in b.scan_values(lambda v: isinstance(v, lark.Token))
    ]
    assert tokens_a == tokens_b
    assert parse_spec(text) == parse_spec(text)  # (through the process parser, comments included)


BAD = [
    "model m\ndata x : real[2] from ring8\nz -> : G_theta = mlp(8)\n",
    "model m\ndata x real[2]\n",
    "data x : real[2]\n",
    "model m\nlatent z : normal[4\n",
    "model m\noptions { beta = 2\n",
    "model m\nx, -> z : q_eta = mlp(8) normal\n",
    "model m\nz ==> x : G_theta = mlp(8, \n",
    "model m\ndata x : real[2] in [0, 1 from ring8\n",
]


@pytest.mark.parametrize("text", BAD)
def test_a_syntax_error_reads_the_same_through_the_tables_and_the_grammar(text, monkeypatch):
    from schemagm.errors import SpecError

    def message(p):
        monkeypatch.setattr(parser, "_parser", lambda: p)
        with pytest.raises(SpecError) as err:
            parse_spec(text)
        return str(err.value), [(d.message, d.span, d.hint) for d in err.value.diagnostics]

    loaded = lalr_tables.load(grammar_text(), {"COMMENT": parser._collect_comment})
    assert message(loaded) == message(build_parser())
