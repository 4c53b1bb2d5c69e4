"""Test helpers for the render tests: random graphs, and reading DOT back through Graphviz itself.

``graphs()`` is the shared strategy of ``tests/strategies.py`` when it exists
(random valid graphs); ``drawable_graphs()`` adds this module's own graphs, which
also exercise names a drawing must survive (Greek names, digits, Mermaid
keywords such as ``end``) and every kind of red edge.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections import Counter
from typing import Any

from hypothesis import strategies as st

from schemagm.graph.model import Call, Edge, Node, Process, Role, SchematicGraph

NAMES = ["x", "z", "h", "c", "x1", "z2", "eta", "xn", "z_a", "end", "o", "graph", "v"]
LETTERS = ["G", "D", "Q", "q", "p", "E"]
GROUPS = ["theta", "eta", "phi", "lambda", "psi"]


@st.composite
def own_graphs(draw: Any) -> SchematicGraph:
    """Random graphs with every node role and edge kind (drawable; not necessarily trainable)."""
    names = draw(st.lists(st.sampled_from(NAMES), min_size=2, max_size=5, unique=True))
    has_y = draw(st.booleans())
    nodes = []
    for i, name in enumerate(names):
        role = Role.data if i == 0 else draw(st.sampled_from([Role.data, Role.latent]))
        value = "real" if role is Role.data else draw(st.sampled_from(["real", "normal", "bernoulli"]))
        given = "y" if (has_y and role is Role.data and draw(st.booleans())) else None
        nodes.append(Node(name=name, role=role, value=value, shape=(draw(st.integers(1, 8)),), given=given))
    if has_y:
        nodes.append(Node(name="y", role=Role.indicator))
    plain = [n.name for n in nodes if n.role is not Role.indicator]
    edges = []
    for _ in range(draw(st.integers(1, 6))):
        process = draw(st.sampled_from(list(Process)))
        adversarial = has_y and draw(st.booleans())
        if adversarial:
            sources = tuple(draw(st.lists(st.sampled_from(plain), min_size=1, max_size=2, unique=True)))
            kind = draw(st.sampled_from(["network", "perfect", "kernel"]))
            edges.append(
                Edge(
                    sources=sources,
                    target="y",
                    process=process,
                    adversarial=True,
                    perfect=kind == "perfect",
                    label="D" if kind == "network" else None,
                    group="phi" if kind == "network" else None,
                    network=Call(name="mlp", args=(16,)) if kind == "network" else None,
                    kernel=Call(name="mmd", args=(1.0, 2.0)) if kind == "kernel" else None,
                )
            )
            continue
        target = draw(st.sampled_from(plain))
        others = [n for n in plain if n != target]
        if not others:
            continue
        sources = draw(st.lists(st.sampled_from(others), min_size=1, max_size=len(others), unique=True))
        if has_y and draw(st.booleans()):
            sources.insert(draw(st.integers(0, len(sources))), "y")
        parametric = draw(st.booleans())
        edges.append(
            Edge(
                sources=tuple(sources),
                target=target,
                process=process,
                deterministic=draw(st.booleans()),
                label=draw(st.sampled_from(LETTERS)) if parametric else None,
                group=draw(st.sampled_from(GROUPS)) if parametric else None,
                network=Call(name="mlp", args=(16,)) if parametric else Call(name="gaussian_noise", args=(0.3,)),
            )
        )
    return SchematicGraph("random", nodes, edges)


def drawable_graphs() -> st.SearchStrategy[SchematicGraph]:
    try:
        from strategies import graphs  # the shared strategy (tests/strategies.py)
    except ImportError:
        return own_graphs()
    return st.one_of(graphs(), own_graphs())


# -- what a graph must look like, read off the graph (independently of schemagm.render) ------------

LINE = {Process.generative: "solid", Process.inference: "dashed"}
RED = "#d62728"


def expected_arcs(graph: SchematicGraph, prefix: str = "") -> Counter:
    """One arc per (source, target) of each edge: (source, target, line, arrowhead, red)."""
    arcs: Counter = Counter()
    for e in graph.edges:
        for s in e.sources:
            arcs[
                (
                    prefix + s,
                    prefix + e.target,
                    LINE[e.process],
                    "onormal" if e.deterministic else "normal",
                    e.adversarial,
                )
            ] += 1
    return arcs


def graphviz_json(dot_source: str) -> dict[str, Any]:
    """Graphviz's own reading of DOT text (``dot -Tjson0``): nodes, edges and their attributes."""
    # as schemagm.render.to_image does: straight arcs where the spline router fails on a layout
    for extra in ([], ["-Gsplines=line"]):
        out = subprocess.run(["dot", "-Tjson0", *extra], input=dot_source.encode("utf-8"), capture_output=True)
        if out.returncode == 0:
            break
    assert out.returncode == 0, f"dot failed: {out.stderr.decode()}\n{dot_source}"
    return json.loads(out.stdout)


def _text(label: str | None) -> str | None:
    """A label's text, out of the padding table around it."""
    if not label:
        return None
    m = re.fullmatch(r"<table[^>]*><tr><td>(.*)</td></tr></table>", label)
    return (m.group(1) if m else label) or None


def drawn_arcs(layout: dict[str, Any]) -> tuple[Counter, list[dict[str, Any]]]:
    """The visible arcs Graphviz read, as (source, target, style, arrowhead, red), direction restored."""
    names = {o["_gvid"]: o["name"] for o in layout["objects"] if "nodes" not in o}
    arcs: Counter = Counter()
    visible = []
    for e in layout.get("edges", []):
        if e.get("style") == "invis":
            continue
        tail, head, arrow = names[e["tail"]], names[e["head"]], e.get("arrowhead", "normal")
        if e.get("dir") == "back":
            tail, head, arrow = head, tail, e.get("arrowtail", "normal")
        arcs[(tail, head, e.get("style", "solid"), arrow, e.get("color") == RED)] += 1
        label = _text(e.get("label")) or _text(e.get("xlabel"))  # an empty spacer label is no label
        visible.append(dict(e, tail_name=tail, head_name=head, label=label))
    return arcs, visible


def drawn_nodes(layout: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {o["name"]: o for o in layout["objects"] if "nodes" not in o}
