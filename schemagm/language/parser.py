"""Text to syntax tree: ``parse_spec(text) -> Spec``.

The grammar (``grammar.lark``) is read once and compiled into a lark LALR
parser with a contextual lexer (fast, and a node may be called ``options`` or
``perfect`` where only a name can stand).  A syntax error becomes a
:class:`~schemagm.errors.SpecError` whose message says, in words of the
language, what was found and what was expected there -- never a parser-internal
token name.  Comments are collected through a lexer callback and attached to
the statement on their line (or to the next one) so that the formatter keeps
them.
"""

from __future__ import annotations

import json
import math
import re
import threading
from functools import lru_cache
from importlib import resources
from typing import Any, TypeVar, cast

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from ..errors import Diagnostic, Span, SpecError, printable
from ..limits import MAX_INT_DIGITS
from .syntax import (
    Argument,
    CallSyntax,
    EdgeBody,
    EdgeDecl,
    NodeDecl,
    OptionDecl,
    OptionsBlock,
    SettingDecl,
    SourceRef,
    Spec,
)

__all__ = ["parse_spec", "grammar_text", "describe_expected"]

_ARROWS = "an arrow (->, =>, -->, ==>)"

#: what each terminal of the grammar is, in words of the language
_WORDS: dict[str, str] = {
    "ARROW": _ARROWS,
    "NAME": "a name",
    "DOTTED_NAME": "a data set name (like digits or digits.label)",
    "NUMBER": "a number",
    "STRING": 'a quoted string ("...")',
    "_NL": "the end of the line",
    "$END": "the end of the file",
    "COLON": "':'",
    "COMMA": "','",
    "LSQB": "'['",
    "RSQB": "']'",
    "LPAR": "'('",
    "RPAR": "')'",
    "LBRACE": "'{'",
    "RBRACE": "'}'",
    "EQUAL": "'='",
}

_local = threading.local()


def grammar_text() -> str:
    """The grammar of the language (the contents of ``grammar.lark``)."""
    return resources.files(__package__).joinpath("grammar.lark").read_text(encoding="utf-8")


def _collect_comment(token: Token) -> Token:
    sink = getattr(_local, "comments", None)
    if sink is not None:
        sink.append(token)
    return token


@lru_cache(maxsize=1)
def _parser() -> Lark:
    # Never cached on disk: lark's ``cache=True`` unpickles a file with a predictable name in the
    # shared temp directory, which another local user could plant.  The tables shipped in the
    # package (lalr_tables.py) load in milliseconds; without current ones it is built from the grammar.
    from .lalr_tables import load

    return load(grammar_text(), {"COMMENT": _collect_comment}) or build_parser()


def build_parser() -> Lark:
    """The LALR parser built from ``grammar.lark`` (a third of a second)."""
    return Lark(
        grammar_text(),
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        maybe_placeholders=True,
        lexer_callbacks={"COMMENT": _collect_comment},
        cache=False,
    )


# -- errors --------------------------------------------------------------------------------
def _terminal_words(name: str) -> str:
    if name in _WORDS:
        return _WORDS[name]
    for t in _parser().terminals:
        if t.name == name and t.pattern.type == "str":
            return f"'{t.pattern.value}'"
    return "something else"  # not reached for this grammar; never show an internal name


def _join(words: list[str]) -> str:
    words = list(dict.fromkeys(words))
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " or " + words[-1]


def describe_expected(expected: set[str]) -> str:
    """A phrase saying what the parser would have accepted, in words of the language."""
    exp = set(expected)
    if "ARROW" in exp and "COMMA" in exp:
        return f"expected {_ARROWS} after the sources"
    if {"DATA", "LATENT", "INDICATOR", "OPTIONS"} <= exp:
        return (
            "expected a declaration (data, latent, indicator), an edge (sources, an arrow and a target) or "
            "an options block"
        )
    if exp == {"MODEL"} or exp == {"MODEL", "_NL"}:
        return "expected `model` and the model's name at the start of the spec"
    if exp >= {"ADVERSARIAL", "PERFECT", "NO_REPARAM"} and "NAME" in exp and "_NL" not in exp:
        return "expected a network (like mlp(256)), a label (like G_theta = ...) or perfect adversarial after ':'"
    if {"ADVERSARIAL", "NAME", "ARROW", "_NL"} <= exp:
        return (
            "expected an output head (a distribution like normal, or -> sigmoid), "
            "adversarial, no_reparam or the end of the line"
        )
    if "NUMBER" in exp and "STRING" in exp:
        rest = [_terminal_words(t) for t in sorted(exp - {"NUMBER", "STRING", "NAME", "TRUE", "FALSE"})]
        return "expected " + _join(["a value (a number, a name, a quoted string, true or false)", *rest])
    order = sorted(exp, key=lambda t: (t in ("_NL", "$END"), t))
    return "expected " + _join([_terminal_words(t) for t in order])


def _found(token: Token | None) -> str:
    if token is None or token.type == "$END":
        return "the end of the file"
    if token.type == "_NL":
        return "the end of the line"
    if token.type == "ARROW":
        return f"the arrow '{token}'"
    if token.type == "NUMBER":
        return f"the number {token}"
    return f"'{token}'"


def _error_span(err: UnexpectedInput, text: str, file: str | None) -> Span:
    line = getattr(err, "line", None)
    column = getattr(err, "column", None)
    token = getattr(err, "token", None)
    if token is not None and getattr(token, "line", None) is not None and token.type != "$END":
        line, column = token.line, token.column
        if token.type == "_NL":  # point just after the line's last character
            width = None
        else:
            width = len(str(token))
        if width:
            return Span(line, column, line, column + width, file)
        return Span(line, column, None, None, file)
    if line is None or line < 1 or column is None or column < 1:
        lines = text.rstrip("\n").splitlines() or [""]
        line, column = len(lines), len(lines[-1]) + 1
    return Span(line, column, None, None, file)


def _dangling_name(err: UnexpectedToken) -> Token | None:
    """The name before the parser's failure when only '=' could follow it (a setting without its value)."""
    expected = set(err.accepts or err.expected or ())
    history = getattr(err, "token_history", None) or []
    if expected == {"EQUAL"} and history and history[-1].type == "NAME":
        return history[-1]
    return None


def _syntax_error(err: UnexpectedInput, text: str, file: str | None) -> SpecError:
    span = _error_span(err, text, file)
    hint = None
    if isinstance(err, UnexpectedCharacters):
        pos = err.pos_in_stream
        char = text[pos] if pos is not None and 0 <= pos < len(text) else "?"
        expected = set(err.allowed or ())
        expected.discard("COMMENT")
        shown = repr(char) if char.strip() else "a blank"
        message = f"unexpected character {shown}"
        if expected:
            message += f"; {describe_expected(expected)}"
        if char == '"':
            hint = 'a string needs its closing quote on the same line: "..."'
        elif char in "-=":
            hint = "the arrows are ->, =>, -->, ==>, <-> and <--> (written without spaces inside)"
    elif isinstance(err, UnexpectedToken) and _dangling_name(err) is not None:
        # `... normal foo`: a name after an edge's head is a flag or a setting (`weight=10`) that lacks its '='
        name = _dangling_name(err)
        assert name is not None
        span = _span(name, file) or span
        message = (
            "expected a flag (adversarial, perfect, no_reparam), a setting (weight=..., distance=..., form=...) "
            f"or the end of the line; found {_found(name)}"
        )
        hint = f"a setting is written `name=value`, e.g. `weight=10`; '{name}' is not a flag"
    elif isinstance(err, UnexpectedToken):
        expected = set(err.accepts or err.expected or ())
        message = f"{describe_expected(expected)}; found {_found(err.token)}"
        if err.token is not None and err.token.type == "ARROW" and "COLON" in expected:
            hint = "an edge has one target; write one line per arrow"
        elif err.token is not None and err.token.type == "$END" and "RBRACE" in expected:
            hint = "close the options block with '}'"
        elif err.token is not None and err.token.type in ("NAME", "DOTTED_NAME") and "COLON" in expected:
            hint = (
                "write ':' before a node's type (`data x : real[64]`) or an edge's network (`z -> x : "
                "G_theta = mlp(256)`)"
            )
    elif isinstance(err, UnexpectedEOF):
        message = f"{describe_expected(set(err.expected or ()))}; found the end of the file"
        if "RBRACE" in (err.expected or ()):
            hint = "close the options block with '}'"
    else:  # pragma: no cover - lark raises only the three above
        message = "syntax error"
    return SpecError([Diagnostic(message, span, hint)], source=text, file=file)


# -- tree to syntax ---------------------------------------------------------------------------
def _span(item: Any, file: str | None) -> Span | None:
    if item is None:
        return None
    if isinstance(item, Token):
        return Span(item.line or 1, item.column or 1, item.end_line, item.end_column, file)
    meta = item.meta
    if getattr(meta, "empty", True):
        return None
    return Span(meta.line, meta.column, meta.end_line, meta.end_column, file)


#: a ``key = value`` declaration (an option or a per-edge setting)
_Keyed = TypeVar("_Keyed", OptionDecl, SettingDecl)

_INT = re.compile(r"[+-]?\d+$")


def _number(token: Token) -> int | float:
    """The value of a number literal; one too long or too large to be a size or a weight is an error."""
    text = str(token)
    span = Span(token.line or 1, token.column or 1, token.end_line, token.end_column)
    if _INT.match(text):
        digits = len(text.lstrip("+-").lstrip("0"))
        if digits > MAX_INT_DIGITS:
            raise SpecError(
                f"the number {_cut(text)} is too large ({digits} digits; at most {MAX_INT_DIGITS})",
                span=span,
                hint="sizes, widths and counts are far smaller",
            )
        return int(text)
    value = float(text)
    if not math.isfinite(value):
        raise SpecError(
            f"the number {_cut(text)} is too large to be represented (it overflows to infinity)",
            span=span,
            hint="use a finite number",
        )
    return value


def _string(token: Token) -> str:
    """The value of a quoted string (JSON escapes; a tab inside is kept); a bad escape is an error at its place."""
    try:
        return str(json.loads(str(token), strict=False))
    except json.JSONDecodeError as err:
        column = (token.column or 1) + err.pos
        raise SpecError(
            f"the string {_cut(str(token))} has a bad escape: {err.msg}",
            span=Span(token.line or 1, column, token.line, column + 1),
            hint='write \\\\ for a backslash and \\" for a quote',
        ) from None


def _cut(text: str, limit: int = 24) -> str:
    return text if len(text) <= limit else f"{text[:10]}...{text[-10:]} ({len(text)} characters)"


def _value(tree: Tree) -> tuple[Any, bool]:
    """(value, written bare) of a value subtree."""
    kind = tree.data
    if kind == "number":
        return _number(cast(Token, tree.children[0])), False
    if kind == "string":
        return _string(cast(Token, tree.children[0])), False
    if kind == "true":
        return True, False
    if kind == "false":
        return False, False
    return str(tree.children[0]), True  # a bare name


class _Builder:
    def __init__(self, file: str | None) -> None:
        self.file = file

    def span(self, item: Any) -> Span | None:
        return _span(item, self.file)

    def spec(self, tree: Tree) -> Spec:
        model = tree.children[0]
        name_tok, title_tok = model.children
        spec = Spec(
            name=str(name_tok),
            title=_string(cast(Token, title_tok)) if title_tok is not None else None,
            span=self.span(model),
            name_span=self.span(name_tok),
        )
        for child in tree.children[1:]:
            if child.data == "node_decl":
                spec.nodes.append(self.node(child))
            elif child.data == "edge_decl":
                spec.edges.append(self.edge(child))
            elif child.data == "options_block":
                spec.options.append(self.options(child))
        return spec

    def node(self, tree: Tree) -> NodeDecl:
        role_tree, name_tok, *rest = tree.children
        parts = {t.data: t for t in rest if isinstance(t, Tree)}
        type_tree, range_tree = parts.get("type_expr"), parts.get("range_expr")
        given_tree, from_tree = parts.get("given_expr"), parts.get("from_expr")
        node = NodeDecl(
            role=str(role_tree.children[0]),
            name=str(name_tok),
            span=self.span(tree),
            name_span=self.span(name_tok),
        )
        if type_tree is not None:
            type_tok, dims_tree = type_tree.children
            node.type = str(type_tok)
            node.type_span = self.span(type_tok)
            if dims_tree is not None:
                node.dims = [_number(cast(Token, t)) for t in dims_tree.children if t is not None]
                node.dims_span = self.span(dims_tree)
        if range_tree is not None:
            lo, hi = cast(list[Token], range_tree.children)
            node.range = (_number(lo), _number(hi))
            node.range_span = self.span(range_tree)
        if given_tree is not None:
            node.given = str(given_tree.children[0])
            node.given_span = self.span(given_tree.children[0])
        if from_tree is not None:
            node.dataset = str(from_tree.children[0])
            node.dataset_span = self.span(from_tree.children[0])
        partial_tree = parts.get("partial_expr")
        if partial_tree is not None:
            node.partial = True
            node.partial_span = self.span(partial_tree)
            fraction = partial_tree.children[0] if partial_tree.children else None
            if isinstance(fraction, Token):
                node.observed = _number(fraction)
        return node

    def edge(self, tree: Tree) -> EdgeDecl:
        sources_tree, arrow_tok, target_tok, body_tree = tree.children
        sources = []
        for src in sources_tree.children:
            name_tok, value_tok = src.children
            sources.append(
                SourceRef(
                    name=str(name_tok),
                    value=_number(cast(Token, value_tok)) if value_tok is not None else None,
                    span=self.span(src),
                )
            )
        return EdgeDecl(
            sources=sources,
            arrow=str(arrow_tok),
            target=str(target_tok),
            body=self.body(body_tree) if body_tree is not None else None,
            span=self.span(tree),
            arrow_span=self.span(arrow_tok),
            target_span=self.span(target_tok),
        )

    def body(self, tree: Tree) -> EdgeBody:
        inner = tree.children[0] if tree.data == "body" else tree
        body = EdgeBody(span=self.span(tree))
        if inner.data == "flags_only":
            parts = list(inner.children)
        elif inner.data == "labelled":
            label_tok, *parts = inner.children
            body.label = str(label_tok)
            body.label_span = self.span(label_tok)
        else:  # unlabelled
            parts = list(inner.children)
        for part in parts:
            if not isinstance(part, Tree):
                continue
            if part.data == "call":
                body.call = self.call(part)
            elif part.data == "distribution_head":
                body.head = self.call(part)
            elif part.data == "activation_head":
                arrow_tok, name_tok = part.children
                body.head_arrow = str(arrow_tok)
                body.head = CallSyntax(name=str(name_tok), span=self.span(part), name_span=self.span(name_tok))
            elif part.data == "flag":
                tok = part.children[0]
                body.flags.append(str(tok))
                body.flag_spans.append(self.span(tok))
            elif part.data == "setting":
                body.settings.append(self.keyed(SettingDecl, part))
        return body

    def call(self, tree: Tree) -> CallSyntax:
        name_tok, args_tree = tree.children
        call = CallSyntax(name=str(name_tok), span=self.span(tree), name_span=self.span(name_tok))
        if args_tree is not None:
            call.parens = True
            for arg in args_tree.children:
                if arg is None:
                    continue
                if arg.data == "keyword":
                    key_tok, value_tree = arg.children
                    value, bare = _value(value_tree)
                    call.args.append(Argument(key=str(key_tok), value=value, bare=bare, span=self.span(arg)))
                else:
                    value, bare = _value(arg.children[0])
                    call.args.append(Argument(value=value, bare=bare, span=self.span(arg)))
        return call

    def options(self, tree: Tree) -> OptionsBlock:
        block = OptionsBlock(span=self.span(tree))
        for opt in tree.children:
            if isinstance(opt, Tree) and opt.data == "option":
                block.options.append(self.keyed(OptionDecl, opt))
        return block

    def keyed(self, cls: type[_Keyed], tree: Tree) -> _Keyed:
        """``key = value``: an option of the options block, or a per-edge setting."""
        key_tok, value_tree = tree.children
        value, bare = _value(value_tree)
        return cls(
            key=str(key_tok),
            value=value,
            bare=bare,
            span=self.span(tree),
            key_span=self.span(key_tok),
            value_span=self.span(value_tree),
        )


# -- comments -----------------------------------------------------------------------------------
def _attach_comments(spec: Spec, comments: list[Token]) -> None:
    """Give every comment to the statement on its line (trailing) or to the next one (leading)."""
    anchors: list[tuple[int, int, int, str, Any]] = []  # (line, column, order, kind, obj)
    if spec.span is not None:
        anchors.append((spec.span.line, spec.span.column, 0, "stmt", spec))
    for n in spec.nodes:
        if n.span is not None:
            anchors.append((n.span.line, n.span.column, 0, "stmt", n))
    for e in spec.edges:
        if e.span is not None:
            anchors.append((e.span.line, e.span.column, 0, "stmt", e))
    for b in spec.options:
        if b.span is None:
            continue
        anchors.append((b.span.line, b.span.column, 0, "stmt", b))
        for o in b.options:
            if o.span is not None:
                anchors.append((o.span.line, o.span.column, 1, "stmt", o))
        anchors.append((b.span.end_line or b.span.line, b.span.end_column or 0, 2, "close", b))
    anchors.sort(key=lambda a: (a[0], a[1], a[2]))
    for tok in comments:
        text = str(tok).rstrip()
        same_line = [a for a in anchors if a[0] == tok.line and a[1] < (tok.column or 0) and a[3] == "stmt"]
        if same_line:
            obj = same_line[0][4]
            obj.comment = text if obj.comment is None else f"{obj.comment} {text}"
            continue
        later = [a for a in anchors if (a[0], a[1]) > (tok.line, tok.column)]
        if not later:
            spec.trailing_comments.append(text)
        elif later[0][3] == "close":
            later[0][4].closing_comments.append(text)
        else:
            later[0][4].comments.append(text)


# -- entry point ----------------------------------------------------------------------------------
#: at most this many syntax errors are reported for one text
MAX_SYNTAX_ERRORS = 20


def _more_syntax_errors(lines: list[str], first: UnexpectedInput, first_line: int) -> list[Diagnostic]:
    """Recover line by line: blank the line of each error and parse again, collecting further errors.

    A statement is one line, so the rest of the spec is usually still readable.
    Recovery stops where it would only produce echoes of the first error: an
    error before the model line, a line that opens or closes the options block,
    or an error at the end of the file.
    """
    found: list[Diagnostic] = []
    if "MODEL" in (getattr(first, "expected", None) or ()) or first_line < 1 or first_line > len(lines):
        return found
    line = first_line
    while len(found) + 1 < MAX_SYNTAX_ERRORS:
        if "{" in lines[line - 1] or "}" in lines[line - 1]:
            return found
        lines[line - 1] = ""
        try:
            _parser().parse("\n".join(lines))
            return found
        except UnexpectedInput as err:
            diag = _syntax_error(err, "\n".join(lines), None).diagnostics[0]
            token = getattr(err, "token", None)
            if isinstance(err, UnexpectedEOF) or (token is not None and token.type == "$END") or diag.span is None:
                return found
            if diag.span.line == line or not 1 <= diag.span.line <= len(lines):
                return found
            found.append(diag)
            line = diag.span.line
    return found


def parse_spec(text: str, file: str | None = None) -> Spec:
    """Parse the text of a spec into its syntax tree (no meaning checked yet).

    Raises :class:`SpecError` (with the source attached, so the caret renders)
    with the syntax errors found: the first one, and those on later lines that
    line-by-line recovery can still tell apart.
    """
    _refuse_control_characters(text, file)
    source = text if text.endswith("\n") else text + "\n"
    comments: list[Token] = []
    _local.comments = comments
    try:
        tree = _parser().parse(source)
    except UnexpectedInput as err:
        first = _syntax_error(err, text, file)
        span = first.diagnostics[0].span
        _local.comments = None
        more = _more_syntax_errors(source.split("\n"), err, span.line if span else 0)
        more = [Diagnostic(d.message, d.span.with_file(file) if d.span else None, d.hint) for d in more]
        raise SpecError(first.diagnostics + more, source=text, file=file) from None
    finally:
        _local.comments = None
    try:
        spec = _Builder(file).spec(tree)
    except SpecError as err:
        raise err.with_source(text, file) from None
    _attach_comments(spec, comments)
    return spec


#: characters a spec may not hold anywhere (not even in a comment or a string): they could drive a
#: terminal when a line is echoed, or hide text (bidirectional overrides)
_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _refuse_control_characters(text: str, file: str | None) -> None:
    m = _FORBIDDEN.search(text)
    if m is None:
        return
    line = text.count("\n", 0, m.start()) + 1
    column = m.start() - (text.rfind("\n", 0, m.start()) + 1) + 1
    raise SpecError(
        f"control character {printable(m.group(0))} in the spec",
        span=Span(line, column, line, column + 1, file),
        hint="a spec is plain text: remove it (terminal escape sequences and bidirectional marks are refused)",
        source=text,
        file=file,
    )
