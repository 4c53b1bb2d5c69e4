"""What every transformation shares: finding an edge, saying why it does not apply,
and checking the graph it produced.

A transformation is a pure function ``SchematicGraph -> SchematicGraph``: it
returns a new graph and never mutates its argument.  When it does not apply it
raises :class:`~schemagm.errors.SpecError` naming the transformation, the model
and the reason, with the position of the offending node or edge where the graph
was parsed from text.
"""

from __future__ import annotations

from typing import Any

from ..errors import Diagnostic, Span, SpecError
from ..graph.model import Edge, SchematicGraph
from ..suggest import did_you_mean

__all__ = ["describe_edge", "adversary_kind", "not_applicable", "find_edge", "rebuild", "finish"]


def describe_edge(edge: Edge) -> str:
    """The edge as it is written: ``x, y --> z``."""
    return f"{', '.join(edge.sources)} {edge.glyph} {edge.target}"


def not_applicable(
    graph: SchematicGraph,
    transformation: str,
    reason: str,
    span: Span | None = None,
    hint: str | None = None,
) -> SpecError:
    """The error a transformation raises when its precondition fails."""
    return SpecError(
        Diagnostic(f"{transformation} does not apply to model '{graph.name}': {reason}", span, hint),
        source=graph.source,
        file=graph.file,
    )


def find_edge(graph: SchematicGraph, key: str | int | Edge, transformation: str) -> int:
    """The index of the edge named by ``key``: its label (``D``), ``label_group`` (``D_phi``),
    ``sources -> target`` as written (``x, y -> z``), an index, or the edge itself."""
    if isinstance(key, Edge):
        for i, e in enumerate(graph.edges):
            if e == key:
                return i
        raise not_applicable(graph, transformation, f"the edge {describe_edge(key)} is not in the model")
    if isinstance(key, int) and not isinstance(key, bool):
        if 0 <= key < len(graph.edges):
            return key
        raise not_applicable(graph, transformation, f"there is no edge number {key} (the model has {len(graph.edges)})")
    wanted = str(key).replace(" ", "")
    for glyph in ("<-->", "<->", "==>", "-->", "=>"):  # accept any arrow as written in the spec
        wanted = wanted.replace(glyph, "->")
    try:
        edge = graph.edge(wanted)
    except KeyError:
        known = ", ".join(f"'{_edge_name(e)}'" for e in graph.edges) or "none"
        raise not_applicable(
            graph,
            transformation,
            f"there is no edge '{key}'",
            hint=did_you_mean(str(key), [_edge_name(e) for e in graph.edges])
            + f"name an edge by its network (e.g. D_phi) or as 'sources -> target'; the edges are {known}",
        ) from None
    return next(i for i, e in enumerate(graph.edges) if e is edge)


def _edge_name(edge: Edge) -> str:
    if edge.label and edge.group:
        return f"{edge.label}_{edge.group}"
    return f"{','.join(edge.sources)}->{edge.target}"


def rebuild(graph: SchematicGraph, **changes: Any) -> SchematicGraph:
    """A new graph with some parts replaced; keeps the text it came from for error carets."""
    out = graph.replace(**changes)
    out.source = graph.source
    out.file = graph.file
    return out


def finish(before: SchematicGraph, after: SchematicGraph, transformation: str, check: bool = True) -> SchematicGraph:
    """Check the result of a transformation; raise with the checker's reasons if it is not a valid model."""
    if not check:
        return after
    from ..graph.check import check as check_graph

    errors = [d for d in check_graph(after) if d.severity == "error"]
    if errors:
        head = Diagnostic(
            f"{transformation} does not apply to model '{before.name}': the result is not a valid model",
            hint="pass check=False (--no-check) to get the graph anyway",
        )
        reasons = [Diagnostic(f"in the result: {d.message}", d.span, d.hint) for d in errors]
        raise SpecError([head, *reasons], source=before.source, file=before.file)
    return after


def adversary_kind(edge: Edge) -> str | None:
    """What plays the adversary on a red edge: ``learned`` (a discriminator network), ``perfect``
    (q_*, no network), ``kernel`` (a fixed two-sample test); None on an edge that is not red."""
    if not edge.adversarial:
        return None
    if edge.kernel is not None:
        return "kernel"
    if edge.perfect or edge.network is None:
        return "perfect"
    return "learned"
