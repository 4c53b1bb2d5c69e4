"""What the language server knows about one document, without any LSP types.

Every function takes the document's text and a 0-based (line, character)
position, as an editor sends them, and returns plain data:

* :func:`diagnostics` -- the parser's and checker's problems with 0-based ranges and hints;
* :func:`hover` -- markdown for a node (its role and prior), an edge (its density and
  the objective terms it contributes) or a name (an option, a network, a head);
* :func:`completions` -- the names that fit where the cursor is;
* :func:`definition` -- the range of a node's declaration;
* :func:`formatted` -- the canonical text (``schemagm fmt``), or None.

The objective terms come from the compiler (torch is imported on the first hover
of an edge) and are kept per text, so that one version of a document is compiled once.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from .. import registry
from ..errors import Diagnostic, Span, SpecError
from ..graph.build import format_text, parse
from ..graph.model import VALUE_TYPES, Role, SchematicGraph
from ..graph.options import Options
from ..language.parser import parse_spec
from ..language.syntax import EdgeDecl, NodeDecl, Spec

__all__ = ["Range", "Problem", "Completion", "diagnostics", "hover", "completions", "definition", "formatted"]

WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
KEYWORDS = ("model", "data", "latent", "indicator", "options", "given", "from", "partial", "in")
FLAGS = ("adversarial", "perfect", "no_reparam")
GREEK = {"theta": "θ", "eta": "η", "phi": "φ", "lambda": "λ", "psi": "ψ", "omega": "ω", "gamma": "γ", "alpha": "α"}
ROLE_WORDS = {
    "data": "observed: sampled from the data distribution p_data",
    "latent": "latent: not observed",
    "indicator": "the indicator y, the switch between the real (y = 1) and the generated (y = 0) branch; p(y) uniform",
}


@dataclass(frozen=True)
class Range:
    """0-based, end exclusive, as in LSP."""

    start_line: int
    start_character: int
    end_line: int
    end_character: int


@dataclass(frozen=True)
class Problem:
    range: Range
    message: str
    severity: str  # "error" | "warning"


@dataclass(frozen=True)
class Completion:
    label: str
    kind: str  # "node" | "network" | "head" | "option" | "value" | "keyword" | "type" | "flag"
    detail: str = ""


# -- positions --------------------------------------------------------------------------------------
def _word_at(text: str, line: int, character: int) -> tuple[str, int, int] | None:
    """The identifier under (or just before) the position: (word, start, end) on that line."""
    lines = text.splitlines()
    if not 0 <= line < len(lines):
        return None
    for m in WORD.finditer(lines[line]):
        if m.start() <= character <= m.end():
            return m.group(), m.start(), m.end()
    return None


def span_range(span: Span | None, text: str) -> Range:
    """A Span (1-based, end exclusive) as a Range; without an end, the word at the start (at least one character)."""
    if span is None:
        return Range(0, 0, 0, 1)
    line, col = span.line - 1, span.column - 1
    if (
        span.end_line is not None
        and span.end_column is not None
        and (span.end_line, span.end_column) > (span.line, span.column)
    ):
        return Range(line, col, span.end_line - 1, span.end_column - 1)
    word = _word_at(text, line, col)
    end = word[2] if word is not None and word[1] == col else col + 1
    return Range(line, col, line, end)


# -- diagnostics ---------------------------------------------------------------------------------------
def _problem(d: Diagnostic, text: str) -> Problem:
    message = d.message + (f"\nhint: {d.hint}" if d.hint else "")
    return Problem(span_range(d.span, text), message, "warning" if d.severity == "warning" else "error")


def diagnostics(text: str) -> list[Problem]:
    """Every problem the parser and the checker find (an empty list for a valid spec)."""
    try:
        graph = parse(text)
    except SpecError as err:
        return [_problem(d, text) for d in err.diagnostics]
    return [_problem(d, text) for d in graph.warnings]


# -- the document's structure ------------------------------------------------------------------------------
@functools.lru_cache(maxsize=32)
def _syntax(text: str) -> Spec | None:
    try:
        return parse_spec(text)
    except SpecError:
        return None


@functools.lru_cache(maxsize=32)
def _graph(text: str) -> SchematicGraph | None:
    try:
        return parse(text)
    except SpecError:
        return None


@functools.lru_cache(maxsize=8)
def _terms(text: str) -> tuple[Any, ...]:
    """The compiled objective's terms (imports torch and builds the networks once per text)."""
    graph = _graph(text)
    if graph is None:
        return ()
    try:
        from ..compiler import compile as compile_graph

        return tuple(compile_graph(graph).objective.terms)
    except SpecError:
        return ()


def _node_decls(spec: Spec) -> dict[str, NodeDecl]:
    out: dict[str, NodeDecl] = {}
    for d in spec.nodes:
        out.setdefault(d.name, d)
    return out


def _edge_on_line(spec: Spec, line: int) -> tuple[int, EdgeDecl] | None:
    for i, e in enumerate(spec.edges):
        if e.span is not None and e.span.line - 1 <= line <= (e.span.end_line or e.span.line) - 1:
            return i, e
    return None


def _in_options(spec: Spec, line: int) -> bool:
    return any(
        b.span is not None and b.span.line - 1 <= line <= (b.span.end_line or b.span.line) - 1 for b in spec.options
    )


# -- hover -------------------------------------------------------------------------------------------------
def _node_markdown(d: NodeDecl, graph: SchematicGraph | None) -> str:
    head = f"**{d.role} {d.name}**"
    if d.type is not None:
        dims = f"[{', '.join(f'{x:g}' for x in d.dims)}]" if d.dims else ""
        head += f" : `{d.type}{dims}`"
    lines = [head, "", f"role: {ROLE_WORDS[d.role]}"]
    if d.role == "latent":
        if d.type == "empirical":
            lines.append(f"prior: p({d.name}) = (1/N) Σ_j δ({d.name} − x_j), the training points, summed over exactly")
        elif d.type in ("normal", "uniform", "categorical", "bernoulli"):
            lines.append(
                f"prior: p({d.name}) = {d.type}" + (f" on [{d.range[0]:g}, {d.range[1]:g}]" if d.range else "")
            )
        else:
            lines.append("prior: none (a `real` latent is produced by an edge)")
    if d.role == "data":
        if d.range is not None:
            lines.append(f"range: [{d.range[0]:g}, {d.range[1]:g}]")
        if d.dataset:
            lines.append(f"data: from `{d.dataset}`")
        if d.given:
            lines.append(f"two domains chosen by `{d.given}`")
        if d.partial:
            kept = "" if d.observed is None else f" (kept on a fraction {d.observed:g} of the rows)"
            lines.append(f"partially observed{kept}: inferred by its dashed edge where missing")
    if graph is not None and d.name in graph.nodes:
        made = [e for e in graph.edges if e.target == d.name]
        if made:
            lines.append("produced by: " + ", ".join(f"`{', '.join(e.sources)} {e.glyph} {e.target}`" for e in made))
    return "\n".join(lines)


def _edge_markdown(decl: EdgeDecl, index: int, text: str) -> str:
    graph = _graph(text)
    arrow = f"{', '.join(s.name for s in decl.sources)} {decl.arrow} {decl.target}"
    if graph is None:
        return f"**{arrow}**\n\n(the spec has errors: fix them to see the edge's density and terms)"
    e = graph.edges[index]
    process = "solid (generative process p)" if e.process.value == "generative" else "dashed (inference process q)"
    head = "hollow head: deterministic" if e.deterministic else "filled head: stochastic"
    given = ", ".join(s for s in e.sources if graph.nodes[s].role is not Role.indicator)
    branch = f"; serves the branch y = {e.branch}" if e.branch is not None else ""
    if e.label and e.group:
        name = f"{e.label}_{GREEK.get(e.group, e.group)}"
    elif e.perfect:
        name = "q_*"
    else:
        name = "p" if e.process.value == "generative" else "q"
    density = f"{name}({e.target} | {given})" if given else f"{name}({e.target})"
    lines = [f"**{arrow}**", "", f"density: `{density}`", f"{process}; {head}{branch}"]
    if e.adversarial:
        lines.append(
            "red (adversarial): "
            + ("the perfect discriminator q_*" if e.perfect else "a discriminator of the branches")
        )
    if e.network is not None:
        lines.append(f"network: `{e.network}`" + (f", head `{e.output}`" if e.output else ""))
    if e.kernel is not None:
        lines.append(f"kernel: `{e.kernel}`")
    if e.group:
        lines.append(f"parameter group: {e.group}")
    mine, shared = edge_terms(graph, index, _terms(text))
    lines.append("")
    if mine or shared:
        lines.append("objective terms it contributes:")
        lines += [f"- `{t.name}` [{', '.join(sorted(t.groups))}]: {t.formula}" for t in mine]
        lines += [
            f"- `{t.name}` [{', '.join(sorted(t.groups))}] (with the group's other edges): {t.formula}" for t in shared
        ]
    else:
        lines.append("objective terms it contributes: none of its own")
    return "\n".join(lines)


def _term_edge(name: str) -> str:
    """The edge a term is named after: ``kl:q_eta`` -> ``q_eta``, ``mmd:x->y`` -> ``x->y``; ``iw_bound`` -> ''."""
    return name.split(":", 1)[1] if ":" in name else ""


def edge_terms(graph: SchematicGraph, index: int, terms: tuple[Any, ...]) -> tuple[list[Any], list[Any]]:
    """The terms named after edge ``index``, and the terms named after no edge that update its group."""
    keys = {f"{e.label}_{e.group}" if e.label and e.group else e.key for e in graph.edges}
    e = graph.edges[index]
    key = f"{e.label}_{e.group}" if e.label and e.group else e.key
    mine = [t for t in terms if _term_edge(t.name) == key]
    shared = [t for t in terms if _term_edge(t.name) not in keys and e.group is not None and e.group in t.groups]
    return mine, shared


def _name_markdown(word: str) -> str | None:
    if word in Options.model_fields:
        field = Options.model_fields[word]
        return f"**option {word}** (default `{field.default}`)\n\n{field.description or ''}"
    for kind in ("network", "corruption", "kernel", "distribution", "activation"):
        entry = registry.lookup(kind, word)  # type: ignore[arg-type]
        if entry is not None:
            args = ", ".join(a.name + ("..." if a.variadic else "") for a in entry.args)
            return f"**{kind} {word}**({args})\n\n{entry.doc}"
    return None


def hover(text: str, line: int, character: int) -> tuple[str, Range] | None:
    """Markdown about what is under the cursor, and the range it covers."""
    spec = _syntax(text)
    if spec is None:
        return None
    found = _word_at(text, line, character)
    edge = _edge_on_line(spec, line)
    if found is None:  # on the arrow, a comma, a space of an edge: the edge
        if edge is None:
            return None
        return _edge_markdown(edge[1], edge[0], text), span_range(edge[1].arrow_span or edge[1].span, text)
    word, start, end = found
    where = Range(line, start, line, end)
    nodes = _node_decls(spec)
    if word in nodes and not _in_options(spec, line):
        return _node_markdown(nodes[word], _graph(text)), where
    if edge is not None:
        about = _name_markdown(word)
        if about is not None and word not in FLAGS:
            return about, where
        return _edge_markdown(edge[1], edge[0], text), where
    about = _name_markdown(word)
    return (about, where) if about is not None else None


# -- completion ------------------------------------------------------------------------------------------
def _entries(kind: str) -> list[Completion]:
    table = registry.network_names() if kind == "network" else sorted(registry._TABLES[kind])
    label = {"network": "network", "corruption": "network", "kernel": "network"}.get(kind, "head")
    out = []
    for name in table:
        entry = registry.lookup(kind, name)  # type: ignore[arg-type]
        out.append(Completion(name, label, f"{kind}: {entry.doc if entry else ''}"))
    return out


def _option_values(key: str) -> list[Completion]:
    field = Options.model_fields.get(key)
    choices = getattr(field.annotation, "__args__", ()) if field is not None else ()
    return [Completion(str(c), "value", f"{key} = {c}") for c in choices if isinstance(c, str)]


def completions(text: str, line: int, character: int) -> list[Completion]:
    """The names that fit at the position: node, network, head, option and value names, keywords."""
    lines = text.splitlines()
    current = lines[line] if 0 <= line < len(lines) else ""
    prefix = current[:character].split("#", 1)[0]
    spec = _syntax(text) or _syntax_without_line(text, line)
    node_names = list(_node_decls(spec)) if spec is not None else _declared_names(text)
    nodes = [Completion(n, "node", "node") for n in node_names]
    inside_options = spec is not None and _in_options(spec, line) or _opened_options(lines, line)
    if inside_options:
        m = re.match(r"\s*([A-Za-z_]\w*)\s*=\s*\w*$", prefix)
        if m:
            return _option_values(m.group(1))
        return [Completion(k, "option", f.description or "") for k, f in Options.model_fields.items()]
    stripped = prefix.lstrip()
    if re.match(r"(data|latent|indicator)\s+\w+\s*:\s*\w*$", stripped):
        return [Completion(t, "type", "value type") for t in VALUE_TYPES]
    if re.match(r"(data|latent)\b.*\bgiven\s+\w*$", stripped):
        return [n for n in nodes]
    if re.search(r"(<-->|<->|-->|==>|->|=>)", prefix) and ":" in prefix:  # in an edge's body
        body = prefix.split(":", 1)[1]
        if re.search(r"=\s*\w*$", body) and not re.search(r"\)\s", body):
            return _entries("network") + _entries("corruption") + _entries("kernel")
        if re.search(r"(->|=>)\s*\w*$", body):
            return _entries("activation")
        if re.search(r"(\w|\))\s+\w*$", body):
            return _entries("distribution") + [Completion(f, "flag", "edge flag") for f in FLAGS]
        return [Completion(f, "flag", "edge flag") for f in FLAGS]
    if re.search(r"(<-->|<->|-->|==>|->|=>)\s*\w*$", prefix) or re.match(r"\s*[\w=, ]*$", prefix) and "," in prefix:
        return nodes
    if re.match(r"\s*\w*$", prefix):
        return [Completion(k, "keyword", "keyword") for k in KEYWORDS] + nodes
    return nodes


def _declared_names(text: str) -> list[str]:
    """Node names by a line-wise look, for a document that does not parse."""
    return [m.group(2) for m in re.finditer(r"^\s*(data|latent|indicator)\s+([A-Za-z_]\w*)", text, re.M)]


def _syntax_without_line(text: str, line: int) -> Spec | None:
    lines = text.splitlines()
    if 0 <= line < len(lines):
        lines[line] = ""
    return _syntax("\n".join(lines) + "\n")


def _opened_options(lines: list[str], line: int) -> bool:
    depth = 0
    for text in lines[:line]:
        code = text.split("#", 1)[0]
        depth += code.count("{") - code.count("}")
    return depth > 0


# -- definition, formatting ------------------------------------------------------------------------------
def definition(text: str, line: int, character: int) -> Range | None:
    """Where the node under the cursor is declared; for the network named in ``head(D_phi)``, the
    label of the first edge that has it."""
    spec = _syntax(text)
    found = _word_at(text, line, character)
    if spec is None or found is None:
        return None
    decl = _node_decls(spec).get(found[0])
    if decl is None or decl.name_span is None:
        for e in spec.edges:
            body = e.body
            if body is not None and body.label == found[0] and body.label_span is not None:
                return span_range(body.label_span, text)
        return None
    return span_range(decl.name_span, text)


def formatted(text: str) -> str | None:
    """The canonical text (what ``schemagm fmt`` prints), or None when the spec has errors."""
    try:
        return format_text(text)
    except SpecError:
        return None
