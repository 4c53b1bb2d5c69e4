"""The LALR parser of ``grammar.lark``, built once at development time and shipped as Python data.

Building the parser from the grammar (lark's LALR analysis) costs about a third of a second
at every start of every command that parses a spec.  ``python -m schemagm.language.lalr_tables``
writes the built parser's tables, as lark serialises them, into ``_lalr_tables.py`` as plain
Python literals, with the SHA-256 of the grammar and the lark version they were made from;
:func:`load` rebuilds the parser from them in milliseconds.  Nothing is unpickled and nothing
is written at run time (a cache file in a shared directory is a file another user could
plant).  Where the grammar or lark has changed since the tables were written, :func:`load`
returns None and the parser is built from the grammar as before, so stale tables are slow,
never wrong; tests/test_lalr_tables.py checks that the shipped tables are current.
"""

from __future__ import annotations

import hashlib
import pprint
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lark
from lark import Lark

__all__ = ["grammar_digest", "load", "serialise", "write"]

#: the options that hold functions: given again when loading, never written
CALLABLE_OPTIONS = ("lexer_callbacks", "_plugins")


def grammar_digest(grammar: str) -> str:
    return hashlib.sha256(grammar.encode("utf-8")).hexdigest()


def serialise(parser: Lark) -> tuple[dict[str, Any], dict[Any, Any]]:
    """lark's own serialisation of a built LALR parser (``Lark.save`` without the pickle)."""
    from lark.grammar import Rule
    from lark.lexer import TerminalDef

    data, memo = parser.memo_serialize([TerminalDef, Rule])
    data["options"] = {k: v for k, v in data["options"].items() if k not in CALLABLE_OPTIONS}
    return data, memo


def load(grammar: str, lexer_callbacks: dict[str, Callable[[Any], Any]]) -> Lark | None:
    """The parser from the shipped tables, or None where they were made from another grammar or lark."""
    try:
        from . import _lalr_tables as tables
    except ImportError:
        return None
    if tables.GRAMMAR_SHA256 != grammar_digest(grammar) or tables.LARK_VERSION != lark.__version__:
        return None
    return Lark._load_from_dict(tables.DATA, tables.MEMO, lexer_callbacks=lexer_callbacks)


def module_text(parser: Lark, grammar: str) -> str:
    data, memo = serialise(parser)
    return (
        '"""The LALR tables of grammar.lark, written by ``python -m schemagm.language.lalr_tables``; '
        'do not edit."""\n\n'
        "# ruff: noqa\n"
        "# fmt: off\n"
        f"GRAMMAR_SHA256 = {grammar_digest(grammar)!r}\n"
        f"LARK_VERSION = {lark.__version__!r}\n"
        f"DATA = {pprint.pformat(data, width=120, sort_dicts=False)}\n"
        f"MEMO = {pprint.pformat(memo, width=120, sort_dicts=False)}\n"
    )


def write() -> Path:
    """Build the parser from the grammar and write its tables next to this file."""
    from .parser import build_parser, grammar_text

    grammar = grammar_text()
    target = Path(__file__).with_name("_lalr_tables.py")
    target.write_text(module_text(build_parser(), grammar), encoding="utf-8")
    return target


if __name__ == "__main__":
    # (lark numbers its states in an order that varies between runs: regenerating renumbers them)
    print(f"wrote {write()}")
