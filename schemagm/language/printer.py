"""Syntax tree to canonical text: ``print_spec(spec) -> str``.

The canonical form: the ``model`` line, a blank line, the node declarations,
a blank line, the edges, a blank line, the options block (one option per
line).  Within a section the columns are aligned (role words, node names, the
``:`` of edges, the ``=`` of labels and options); comments are kept, whole-line
comments above their statement and end-of-line comments aligned in one column.
Numbers print as Python's ``repr`` (``0.3``, ``1.0``, ``256``), names bare,
strings quoted.  Printing is a pure function of the tree, so printing a parsed
canonical text gives the same text.
"""

from __future__ import annotations

import json
import math
import re

from .syntax import Argument, CallSyntax, EdgeDecl, NodeDecl, OptionDecl, OptionsBlock, Spec, Value

#: the order in which per-edge settings print (the graph stage validates them)
EDGE_SETTING_ORDER = ("weight", "distance", "form")

__all__ = ["print_spec", "format_value", "format_number", "format_call", "KEYWORDS"]

#: words the lexer reads as keywords (a bare name equal to one of them must be quoted)
KEYWORDS = frozenset(
    {
        "model",
        "data",
        "latent",
        "indicator",
        "in",
        "given",
        "from",
        "partial",
        "options",
        "adversarial",
        "perfect",
        "no_reparam",
        "true",
        "false",
    }
)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def format_number(value: int | float) -> str:
    """``256``, ``0.3``, ``1.0``, ``1e-05``: the text that parses back to the same number."""
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value} cannot be written in a spec")
        return repr(value)
    return str(value)


def format_bound(value: int | float) -> str:
    """A range bound: whole numbers without a fraction (``0``, ``1``), others as written."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return format_number(value)


def format_value(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return format_number(value)
    if _IDENT.match(value) and value not in KEYWORDS:
        return value
    return json.dumps(value, ensure_ascii=False)


def _format_argument(arg: Argument) -> str:
    text = format_value(arg.value)
    return text if arg.key is None else f"{arg.key}={text}"


def format_call(call: CallSyntax) -> str:
    if not call.args:
        return call.name
    return f"{call.name}({', '.join(_format_argument(a) for a in call.args)})"


def _node_type(node: NodeDecl) -> str:
    text = node.type or ""
    if node.dims is not None:
        text += "[" + ", ".join(format_number(d) for d in node.dims) + "]"
    if node.range is not None:
        text += f" in [{format_bound(node.range[0])}, {format_bound(node.range[1])}]"
    if node.given is not None:
        text += f" given {node.given}"
    if node.dataset is not None:
        text += f" from {node.dataset}"
    if node.partial:
        text += " partial" if node.observed is None else f" partial({format_number(node.observed)})"
    return text


def _source(src) -> str:
    if src.value is None:
        return src.name
    return f"{src.name}={format_number(src.value)}"


def _edge_left(edge: EdgeDecl) -> str:
    return f"{', '.join(_source(s) for s in edge.sources)} {edge.arrow} {edge.target}"


def _edge_body(edge: EdgeDecl, label_width: int) -> str:
    body = edge.body
    assert body is not None
    parts: list[str] = []
    if body.call is not None:
        call = format_call(body.call)
        parts.append(f"{body.label:<{label_width}} = {call}" if body.label is not None else call)
    elif body.label is not None:
        parts.append(f"{body.label} =")
    if body.head is not None:
        head = format_call(body.head)
        parts.append(f"{body.head_arrow} {head}" if body.head_arrow else head)
    flags = list(body.flags)
    # canonical order of the flags: perfect adversarial no_reparam (each once)
    for flag in ("perfect", "adversarial", "no_reparam"):
        if flag in flags:
            parts.append(flag)
    # per-edge settings in the canonical order of EDGE_SETTINGS, unknown ones (an error later) as written
    order = {key: i for i, key in enumerate(EDGE_SETTING_ORDER)}
    for setting in sorted(body.settings, key=lambda st: order.get(st.key, len(order))):
        parts.append(f"{setting.key}={format_value(setting.value)}")
    return " ".join(parts)


Row = tuple[str, list[str], "str | None"]


def _comment_width(*sections: list[Row]) -> int:
    return max((len(text) for rows in sections for text, _, trailing in rows if trailing), default=0)


def _with_comments(lines: list[Row], width: int | None = None) -> list[str]:
    """Lines of one section: (text, leading comments, trailing comment) -> text lines, comments aligned."""
    if width is None:
        width = _comment_width(lines)
    out: list[str] = []
    for text, leading, trailing in lines:
        out.extend(leading)
        out.append(f"{text:<{width}}  {trailing}" if trailing else text)
    return out


def print_spec(spec: Spec) -> str:
    """The canonical text of a syntax tree (ends with a newline)."""
    sections: list[list[str]] = []

    header = f"model {spec.name}"
    if spec.title is not None:
        header += " " + json.dumps(spec.title, ensure_ascii=False)
    sections.append(_with_comments([(header, spec.comments, spec.comment)]))

    node_rows: list[Row] = []
    edge_rows: list[Row] = []
    if spec.nodes:
        role_w = max(len(n.role) for n in spec.nodes)
        typed = [n for n in spec.nodes if n.type is not None]
        name_w = max((len(n.name) for n in typed), default=0)
        rows = []
        for n in spec.nodes:
            if n.type is None:
                text = f"{n.role:<{role_w}} {n.name}"
            else:
                text = f"{n.role:<{role_w}} {n.name:<{name_w}} : {_node_type(n)}"
            rows.append((text.rstrip(), n.comments, n.comment))
        node_rows = rows

    if spec.edges:
        with_body = [e for e in spec.edges if e.body is not None]
        left_w = max((len(_edge_left(e)) for e in with_body), default=0)
        label_w = max((len(b.label) for e in with_body if (b := e.body) and b.label and b.call), default=0)
        rows = []
        for e in spec.edges:
            text = _edge_left(e)
            if e.body is not None:
                text = f"{text:<{left_w}} : {_edge_body(e, label_w)}"
            rows.append((text, e.comments, e.comment))
        edge_rows = rows
    # end-of-line comments of nodes and edges share one column
    width = _comment_width(node_rows, edge_rows)
    for rows in (node_rows, edge_rows):
        if rows:
            sections.append(_with_comments(rows, width))

    for block in spec.options:
        sections.append(_options(block))

    lines: list[str] = []
    for section in sections:
        if lines:
            lines.append("")
        lines.extend(section)
    if spec.trailing_comments:
        lines.append("")
        lines.extend(spec.trailing_comments)
    return "\n".join(lines) + "\n"


def _options(block: OptionsBlock) -> list[str]:
    key_w = max((len(o.key) for o in block.options), default=0)
    rows: list[tuple[str, list[str], str | None]] = [("options {", block.comments, block.comment)]
    for o in block.options:
        rows.append((f"  {o.key:<{key_w}} = {_option_value(o)}", [f"  {c}" for c in o.comments], o.comment))
    rows.append(("}", [f"  {c}" for c in block.closing_comments], None))
    return _with_comments(rows)


def _option_value(option: OptionDecl) -> str:
    return format_value(option.value)
