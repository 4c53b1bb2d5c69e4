"""A schematic graph as a drawing description: plain data that any backend can draw.

The description separates *what* is drawn from *how* (Pyro's graph-spec dict,
PyMC's node-kind formatters): :func:`drawing` reads the graph and returns a
dict of panels, nodes, arcs, legend entries and an optional caption, each with
a backend-neutral style looked up in two tables:

* :data:`NODE_STYLES`: role -> node style (data: shaded circle; latent: plain
  circle; indicator: small circle; a data node ``given y`` gets a double ring, a
  partially observed one is half shaded: ``style["partial"]``);
* :func:`edge_style`: (line, head, kind) -> arc style, where ``kind`` is
  ``plain``, ``adversarial`` (a red edge with a network), ``perfect`` (the
  perfect adversary q_*, red, drawn thin with the label q_*) or ``kernel``
  (a fixed kernel test, red, labelled MMD).

A schematic edge ``z, y ==> x`` becomes one arc per source (``z -> x``,
``y -> x``), all in the edge's style; the network's label (G_θ) sits on the
first arc whose source feeds the network (not the indicator).  An edge that
serves the branch y = 1 (written ``x, y=1 ==> z``) says ``y=1`` at the tail of
its indicator arc.  Everything is
ordered as declared, so the same graph always gives the same description.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ..graph.model import Edge, Node, Role, SchematicGraph
from .labels import KERNEL, PERFECT, Label, edge_label, greek, node_label

__all__ = [
    "NODE_STYLES",
    "RED",
    "INK",
    "EDGE_KIND_STYLES",
    "edge_kind",
    "edge_style",
    "drawing",
    "compare_drawing",
    "arcs",
    "layout_columns",
    "LEGEND_ENTRIES",
]

#: colours of the drawing (the adversary is red, as in the paper)
RED = "#d62728"
INK = "#000000"
DATA_FILL = "#d9d9d9"

#: role -> node style (sizes in inches)
NODE_STYLES: dict[Role, dict[str, Any]] = {
    Role.data: {"shape": "circle", "fill": DATA_FILL, "size": 0.45, "peripheries": 1},
    Role.latent: {"shape": "circle", "fill": None, "size": 0.45, "peripheries": 1},
    Role.indicator: {"shape": "circle", "fill": None, "size": 0.3, "peripheries": 1},
}

#: edge kind -> colour and pen width (a red edge is the adversary; the perfect adversary
#: q_* is no network and is drawn thinner than a learned discriminator)
EDGE_KIND_STYLES: dict[str, dict[str, Any]] = {
    "plain": {"color": INK, "fontcolor": INK, "penwidth": 1.2},
    "adversarial": {"color": RED, "fontcolor": RED, "penwidth": 1.6},
    "perfect": {"color": RED, "fontcolor": RED, "penwidth": 1.0},
    "kernel": {"color": RED, "fontcolor": RED, "penwidth": 1.6},
}
EDGE_KINDS = tuple(EDGE_KIND_STYLES)


def edge_kind(edge: Edge) -> str:
    """``plain``, ``adversarial`` (red, with a network), ``perfect`` (q_*) or ``kernel`` (MMD test)."""
    if not edge.adversarial:
        return "plain"
    if edge.kernel is not None:
        return "kernel"
    if edge.perfect or edge.network is None:
        return "perfect"
    return "adversarial"


def edge_style(line: str, head: str, kind: str) -> dict[str, Any]:
    """The style of an arc: its line (solid: generative, dashed: inference), its head
    (filled: stochastic, hollow: deterministic, invertible: a flow, heads at both ends), and its
    kind's colour and weight."""
    if (
        line not in ("solid", "dashed")
        or head not in ("filled", "hollow", "invertible")
        or kind not in EDGE_KIND_STYLES
    ):
        raise ValueError(f"no edge style for {(line, head, kind)}")
    return {"line": line, "head": head, **EDGE_KIND_STYLES[kind]}


def _node(node: Node, prefix: str) -> dict[str, Any]:
    style = dict(NODE_STYLES[node.role])
    if node.given is not None:
        style["peripheries"] = 2
    if node.partial:  # observed on some rows only: half shaded
        style["partial"] = True
    label = node_label(node.name)
    return {
        "id": prefix + node.name,
        "name": node.name,
        "role": node.role.value,
        "label": label.to_dict(),
        "given": node.given,
        "tooltip": _describe_node(node),
        "style": style,
    }


def _describe_node(node: Node) -> str:
    if node.role is Role.indicator:
        return f"indicator {node.name}"
    text = f"{node.role.value} {node.name} : {node.value}"
    if node.shape:
        text += "[" + ", ".join(map(str, node.shape)) + "]"
    if node.range is not None:
        text += f" in [{node.range[0]:g}, {node.range[1]:g}]"
    if node.given:
        text += f" given {node.given}"
    if node.partial:
        text += " partial" if node.observed is None else f" partial({node.observed:g})"
    return text


def _describe_edge(edge: Edge) -> str:
    text = f"{', '.join(edge.sources)} {edge.glyph} {edge.target}"
    parts: list[str] = []
    if edge.label:
        parts.append(f"{edge.label}_{edge.group}" if edge.group else edge.label)
    if edge.perfect:
        parts.append("perfect")
    for call in (edge.network, edge.kernel):
        if call is not None:
            parts.append(("= " if edge.label and call is edge.network else "") + str(call))
    if edge.output is not None:
        parts.append(str(edge.output))
    if edge.adversarial:
        parts.append("adversarial")
    if not edge.reparameterize:
        parts.append("no_reparam")
    return text + (" : " + " ".join(parts) if parts else "")


def _edge_label(edge: Edge) -> Label | None:
    kind = edge_kind(edge)
    if kind == "perfect":
        return PERFECT
    if kind == "kernel":
        return KERNEL
    label = edge_label(edge.label, edge.group, edge.trunk)
    if label is None and edge.network is not None:  # a fixed corruption: name it
        return Label(str(edge.network), None, italic=False)
    return label


def _label_source(graph: SchematicGraph, edge: Edge) -> str:
    """The source whose arc carries the edge's label: the first one that feeds the network."""
    for s in edge.sources:
        node = graph.nodes.get(s)
        if node is not None and node.role is not Role.indicator:
            return s
    return edge.sources[0]


def tied_networks(graph: SchematicGraph) -> dict[str, list[int]]:
    """The networks on several edges (one label: one set of parameters): ``label_group`` -> edge indices."""
    on: dict[str, list[int]] = {}
    for i, e in enumerate(graph.edges):
        if e.label and e.group:
            on.setdefault(f"{e.label}_{e.group}", []).append(i)
    return {k: v for k, v in on.items() if len(v) > 1}


def tied_note(graph: SchematicGraph) -> str | None:
    """A line saying which labels are one network on several edges (drawn under the figure)."""
    tied = tied_networks(graph)
    if not tied:
        return None
    names = ", ".join(
        f"{key.rsplit('_', 1)[0]}_{greek(key.rsplit('_', 1)[1])} on {len(v)} edges" for key, v in tied.items()
    )
    return f"tied networks: {names} (a label drawn twice is one network, the same parameters)"


def trunk_note(graph: SchematicGraph) -> str | None:
    """A line saying which networks share another's trunk (``Q_eta = head(D_phi)``), under the figure."""
    parts: dict[str, None] = {}
    for e in graph.edges:
        label = edge_label(e.label, e.group, e.trunk) if e.trunk is not None else None
        if label is not None and label.trunk is not None:
            own, trunk = label.own_text, label.trunk.text
            parts[
                f"{label.text}: {own}'s last layer on every layer of {trunk} but its last (one module, {trunk}'s "
                "parameters)"
            ] = None
    return "shared trunk: " + "; ".join(parts) if parts else None


def figure_note(graph: SchematicGraph) -> str | None:
    """The notes under a figure: tied networks and shared trunks."""
    notes = [n for n in (tied_note(graph), trunk_note(graph)) if n is not None]
    return "\n".join(notes) or None


def _trunk_words(e: Edge) -> str:
    if e.trunk is None:
        return ""
    return f" (shares the trunk of {e.trunk}: every layer of {e.trunk}'s network but its last, its parameters)"


def _panel(graph: SchematicGraph, title: str | None, prefix: str) -> dict[str, Any]:
    nodes = [_node(n, prefix) for n in graph.nodes.values()]
    edges = []
    tied = {i: key for key, idx in tied_networks(graph).items() for i in idx}
    for i, e in enumerate(graph.edges):
        kind = edge_kind(e)
        label = _edge_label(e)
        carrier = _label_source(graph, e)
        for j, s in enumerate(e.sources):
            from_indicator = s in graph.nodes and graph.nodes[s].role is Role.indicator
            # the branch an edge serves shows on its indicator arc, where it is not the default
            branch = Label(f"{s}={e.branch}", None, italic=False) if (from_indicator and e.branch == 1) else None
            edges.append(
                {
                    "id": f"{prefix}e{i}.{j}",
                    "edge": i,
                    "source": prefix + s,
                    "target": prefix + e.target,
                    "line": e.line,
                    "head": e.head,
                    "kind": kind,
                    "adversarial": e.adversarial,
                    "group": e.group,
                    "label": label.to_dict() if (label is not None and s == carrier) else None,
                    "branch": branch.to_dict() if branch else None,
                    "tooltip": _describe_edge(e)
                    + (f" (tied: {tied[i]} is one network on several edges)" if i in tied else "")
                    + _trunk_words(e),
                    "tied": tied.get(i),
                    "trunk": e.trunk,
                    "style": edge_style(e.line, e.head, kind),
                }
            )
    columns = [[prefix + name for name in col] for col in layout_columns(graph)]
    return {"id": prefix.rstrip("_") or graph.name, "title": title, "nodes": nodes, "edges": edges, "columns": columns}


def layout_columns(graph: SchematicGraph) -> list[list[str]]:
    """Node names in columns, left to right, the same way for every model (the paper's Fig. 1).

    The nodes that are not indicators go one per column in declaration order,
    except that a node tested by a red edge (x in a GAN, z in an AAE) goes last,
    nearest the indicator; an indicator y is drawn under the node its first red
    edge tests (or under the last column when no red edge reaches it).  So
    InfoGAN and its swap_processes (the VAE) put every node in the same place,
    and swap_nodes (the AAE) trades the places of x and z.

    With several indicators (one game each, CycleGAN) every indicator reaches nodes of
    several columns: the indicators then share one column of their own, in declaration
    order, right after the column of the node the first red edge tests (between the two
    domains), so that each indicator's arcs stay on its side of the arcs between the
    domains and cross none of them (tests/test_render_geometry.py).
    """
    tested: list[str] = []
    under: dict[str, str] = {}
    for e in graph.edges:
        if e.adversarial and e.target in graph.nodes:
            inputs = [s for s in e.sources if s in graph.nodes and graph.nodes[s].role is not Role.indicator]
            if inputs:
                if inputs[0] not in tested:
                    tested.append(inputs[0])
                under.setdefault(e.target, inputs[0])
    order = [n.name for n in graph.nodes.values() if n.role is not Role.indicator and n.name not in tested]
    order += [t for t in tested if graph.nodes[t].role is not Role.indicator]
    columns: list[list[str]] = [[name] for name in order]
    indicators = [n.name for n in graph.nodes.values() if n.role is Role.indicator]
    if len(indicators) > 1:
        host = under.get(indicators[0])
        at = next((i + 1 for i, c in enumerate(columns) if host in c), len(columns))
        return [*columns[:at], indicators, *columns[at:]]
    for n in graph.nodes.values():
        if n.role is Role.indicator:
            host = under.get(n.name)
            column = next((c for c in columns if host in c), None) if host else None
            if column is None:
                if not columns:
                    columns.append([])
                column = columns[-1]
            column.append(n.name)
    return columns


#: legend entries: (key, sample arc line, head, kind, explanation)
LEGEND_ENTRIES: tuple[tuple[str, str, str, str, str], ...] = (
    ("solid", "solid", "filled", "plain", "generative process"),
    ("dashed", "dashed", "filled", "plain", "inference process"),
    ("hollow", "solid", "hollow", "plain", "deterministic (implicit)"),
    ("invertible", "solid", "invertible", "plain", "invertible (flow: change of variables)"),
    ("adversarial", "solid", "filled", "adversarial", "adversary q(y | ·)"),
    ("perfect", "dashed", "filled", "perfect", "perfect adversary"),
    ("kernel", "solid", "filled", "kernel", "kernel two-sample test"),
)


def _legend(graphs: Sequence[SchematicGraph]) -> list[dict[str, Any]]:
    """The legend entries for the styles that occur in these graphs, in a fixed order."""
    used: set[str] = set()
    data = partial = False
    for g in graphs:
        data = data or any(n.role is Role.data for n in g.nodes.values())
        partial = partial or any(n.partial for n in g.nodes.values())
        for e in g.edges:
            used.add(e.line)
            if e.deterministic:
                used.add("hollow")
            if e.invertible:
                used.add("invertible")
            used.add(edge_kind(e))
    entries = []
    for key, line, head, kind, text in LEGEND_ENTRIES:
        if key in used:
            sample_label = {"perfect": PERFECT, "kernel": KERNEL}.get(kind)
            entries.append(
                {
                    "key": key,
                    "text": text,
                    "label": sample_label.to_dict() if sample_label else None,
                    "style": edge_style(line, head, kind),
                }
            )
    if data:
        entries.append({"key": "data", "text": "data ~ p_data", "node_style": dict(NODE_STYLES[Role.data])})
    if partial:
        style = dict(NODE_STYLES[Role.data], partial=True)
        entries.append({"key": "partial", "text": "partially observed", "node_style": style})
    return entries


def _caption(graph: SchematicGraph, caption: bool | str | None) -> str | None:
    if caption is None or caption is False:
        return None
    if isinstance(caption, str):
        return caption
    return objective_text(graph)


def objective_text(graph: SchematicGraph) -> str:
    """The derived objective of a graph as typeset formulas, one line per parameter group (and phase):
    ``loss(η) = −𝔼 log p_θ(x|z) + β·KL(q_η(z|x) ‖ p(z))``.  Read from the compiler's terms (their
    public ``formula``), which is imported only when a caption is asked for."""
    from ..errors import SpecError

    try:
        from ..compiler import compile as compile_graph
    except ImportError as err:  # the compiler stage (or torch) is missing
        raise SpecError(f"a caption needs the compiler, which cannot be imported: {err}") from None
    terms = list(compile_graph(graph).objective.terms)
    phases: list[str | None] = []
    for t in terms:
        if getattr(t, "phase", None) not in phases:
            phases.append(getattr(t, "phase", None))
    groups = [g for g in graph.groups if any(g in t.groups for t in terms)]
    lines = []
    for phase in phases:
        for group in groups:
            mine = [t for t in terms if group in t.groups and getattr(t, "phase", None) == phase]
            if not mine:
                continue
            head = f"{phase}: " if len(phases) > 1 and phase else ""
            lines.append(f"{head}loss({greek(group)}) = {_sum_of(t.formula for t in mine)}")
    return "\n".join(lines)


def _sum_of(formulas: Iterable[str]) -> str:
    """Formulas joined into one sum: ``a + b``, ``a − b`` where b is written with its minus sign."""
    out = ""
    for f in formulas:
        f = f.strip()
        if not out:
            out = f
        elif f.startswith(("−", "-")):
            out += " − " + f[1:].lstrip()
        else:
            out += " + " + f
    return out


def drawing(
    graph: SchematicGraph,
    *,
    legend: bool = False,
    caption: bool | str | None = None,
    title: str | None = None,
    direction: str = "LR",
) -> dict[str, Any]:
    """The drawing description of one graph.

    ``caption=True`` puts the compiled objective under the figure (this imports
    the compiler); a string is used as the caption itself.
    """
    return {
        "kind": "schemagm.drawing",
        "version": 1,
        "name": graph.name,
        "direction": direction,
        "panels": [_panel(graph, title, "")],
        "legend": _legend([graph]) if legend else [],
        "caption": _with_note(_caption(graph, caption), figure_note(graph)),
    }


def _with_note(caption: str | None, note: str | None) -> str | None:
    if note is None:
        return caption
    return note if not caption else f"{caption}\n{note}"


def compare_drawing(
    graphs: Sequence[SchematicGraph],
    titles: Sequence[str],
    *,
    legend: bool = False,
    caption: bool | str | None = None,
    direction: str = "LR",
) -> dict[str, Any]:
    """Several graphs side by side in one figure, each in a titled panel.

    Node ids get a per-panel prefix (``p0__x``) so the panels do not share nodes.
    ``caption=True`` captions with each graph's objective, one after the other.
    """
    if len(graphs) != len(titles):
        raise ValueError("one title per graph")
    if caption is True:
        text: str | None = "\n\n".join(f"{t}:\n{objective_text(g)}" for g, t in zip(graphs, titles, strict=True))
    else:
        text = caption or None
    notes = [f"{t}: {n}" for g, t in zip(graphs, titles, strict=True) if (n := figure_note(g)) is not None]
    text = _with_note(text, "\n".join(notes) or None)
    return {
        "kind": "schemagm.drawing",
        "version": 1,
        "name": "_vs_".join(g.name for g in graphs),
        "direction": direction,
        "panels": [_panel(g, t, f"p{i}__") for i, (g, t) in enumerate(zip(graphs, titles, strict=True))],
        "legend": _legend(graphs) if legend else [],
        "caption": text,
    }


def arcs(d: dict[str, Any]) -> list[dict[str, Any]]:
    """Every arc of every panel of a drawing, in order."""
    return [a for p in d["panels"] for a in p["edges"]]
