"""Drawing description -> DOT source (via the ``graphviz`` package) -> svg/png/pdf (via ``dot``).

The DOT text is a pure function of the drawing description: nodes and arcs are
written in the description's order, attributes in a fixed order, and no id comes
from memory, so the same spec always gives byte-identical DOT.  Only turning
DOT into an image needs the Graphviz program ``dot``; without it
:func:`to_image` raises a :class:`~schemagm.errors.SpecError` saying how to
install it (the DOT text itself, and Mermaid, still work).
"""

from __future__ import annotations

import html
import shutil
import subprocess
from typing import Any

import graphviz

from ..errors import SpecError

__all__ = ["HEADS", "LINES", "IMAGE_FORMATS", "DEFAULT_DPI", "to_dot", "to_image", "dot_available", "MISSING_DOT_HINT"]

#: drawing head -> Graphviz arrowhead
HEADS = {"filled": "normal", "hollow": "onormal", "invertible": "normal"}
#: drawing line -> Graphviz edge style
LINES = {"solid": "solid", "dashed": "dashed"}
#: formats rendered by the ``dot`` program
IMAGE_FORMATS = ("svg", "png", "pdf")

FONT = "Times"
SMALL_FONT = "Helvetica"
MISSING_DOT_HINT = (
    "install Graphviz (Debian/Ubuntu: `apt-get install graphviz`; macOS: `brew install graphviz`), "
    "or write DOT (--format dot) or Mermaid (--format mermaid), which need no program"
)


def _html(fragment: str) -> str:
    """An HTML-like Graphviz label (the graphviz package passes ``<...>`` through unquoted)."""
    return f"<{fragment}>"


def _node_attrs(node: dict[str, Any]) -> dict[str, str]:
    style = node["style"]
    size = f"{style['size']:.2f}"
    attrs = {
        "label": _html(node["label"]["html"]),
        "shape": style["shape"],
        "width": size,
        "height": size,
        "fixedsize": "true",
        "tooltip": node["tooltip"],
    }
    if style.get("fill"):
        attrs["style"] = "filled"
        attrs["fillcolor"] = style["fill"]
    if style.get("partial"):  # half shaded: observed on some rows, inferred on the others
        attrs["style"] = "wedged"
        attrs["fillcolor"] = f"{style['fill']};0.5:#ffffff"
    if style.get("peripheries", 1) != 1:
        attrs["peripheries"] = str(style["peripheries"])
    if node["role"] == "indicator":
        attrs["fontsize"] = "11"
    return attrs


#: padding (points) around an arc's label: Graphviz sets the label's box against its arc, so the
#: padding is what keeps the text itself clear of the line (tests/test_render_geometry.py)
LABEL_PAD = 4


def _edge_label_html(label: dict[str, str], pad: int = LABEL_PAD) -> str:
    return (
        f'<table border="0" cellborder="0" cellspacing="0" cellpadding="{pad}">'
        f"<tr><td>{label['html']}</td></tr></table>"
    )


#: an empty label on an unlabelled arc between an indicator and the node it is drawn under: Graphviz
#: then routes that arc like the labelled red arc beside it, in a slot of its own, 6 to 8 points
#: away (without it the two flat arcs run 2 points apart); a kernel test's arc gets one too, its
#: MMD being an external label
SPACER = (
    '<table border="0" cellborder="0" cellspacing="0" cellpadding="0" fixedsize="true" width="{w}" '
    'height="6"><tr><td></td></tr></table>'
)
SPACER_WIDTH = 20


def _edge_attrs(style: dict[str, Any], label: dict[str, str] | None, tooltip: str | None = None) -> dict[str, str]:
    attrs = {
        "style": LINES[style["line"]],
        "arrowhead": HEADS[style["head"]],
        "color": style["color"],
        "penwidth": f"{style['penwidth']:.1f}",
    }
    if style["head"] == "invertible":  # a flow runs both ways: a head at each end
        attrs["dir"] = "both"
        attrs["arrowtail"] = attrs["arrowhead"]
    if label is not None:
        attrs["label"] = _html(_edge_label_html(label))
        attrs["fontcolor"] = style["fontcolor"]
    if tooltip:
        attrs["tooltip"] = tooltip
    return attrs


def _panel(g: graphviz.Digraph, panel: dict[str, Any]) -> None:
    for node in panel["nodes"]:
        g.node(node["id"], **_node_attrs(node))
    # the columns fix the layout: invisible links between them, real arcs do not rank
    columns = panel["columns"]
    for column in columns:
        if len(column) > 1:
            with g.subgraph() as same:
                same.attr(rank="same")
                for node_id in column:
                    same.node(node_id)
    for left, right in zip(columns, columns[1:], strict=False):
        g.edge(left[0], right[0], style="invis", weight="10")
    drawn: set[tuple[str, str]] = set()
    indicators = {n["id"] for n in panel["nodes"] if n["role"] == "indicator"}
    beside = {frozenset((c[0], node_id)) for c in columns for node_id in c[1:] if node_id in indicators}
    for arc in panel["edges"]:
        attrs = _edge_attrs(arc["style"], arc["label"], arc["tooltip"])
        attrs["constraint"] = "false"
        if arc["label"] is None and frozenset((arc["source"], arc["target"])) in beside:
            attrs["label"] = _html(SPACER.format(w=SPACER_WIDTH))
        if arc["kind"] == "kernel" and arc["label"] is not None:
            # the wide MMD on the bend between a node and the indicator under it: Graphviz sets a
            # plain label across the arc there, an external label (xlabel) beside it
            attrs["label"] = _html(SPACER.format(w=SPACER_WIDTH))  # routed in a slot of its own, like a labelled arc
            attrs["xlabel"] = _html(_edge_label_html(arc["label"], 2 * LABEL_PAD))
        end = "taillabel"
        tail, head = arc["source"], arc["target"]
        if (head, tail) in drawn and tail != head:
            # an arc against one already drawn (x -> y and y -> x): written the other way
            # round with dir=back, so that Graphviz draws the two side by side, not on top
            if attrs.get("dir") != "both":
                attrs["dir"] = "back"
                attrs["arrowtail"] = attrs.pop("arrowhead")
            tail, head = head, tail
            end = "headlabel"
        if arc.get("branch"):
            attrs[end] = _html(arc["branch"]["html"])
            attrs["labelfontsize"] = "10"
        drawn.add((tail, head))
        g.edge(tail, head, **attrs)


def _legend(g: graphviz.Digraph, entries: list[dict[str, Any]], after: str | None, across: bool) -> None:
    """A key of the line styles used, in a cluster after the figure (after node ``after``).

    Each entry is a sample arc pointing at its text; the entries stack one under
    the other.  With ranks across the page (LR) the marks share one rank and the
    texts the next; with ranks down the page (TB) each mark shares a rank with its
    text and the marks are chained downwards.  The node ids contain a dot, which
    no node name of a spec can, so they never clash.
    """
    with g.subgraph(name="cluster_legend") as c:
        c.attr(label="legend", fontname=SMALL_FONT, fontsize="10", style="rounded", color="#999999")
        c.attr("node", fontname=SMALL_FONT, fontsize="10")
        # text in boxes of one width, left-aligned, so that the entries line up
        width = max(len(e["text"]) for e in entries) * 6
        for i, entry in enumerate(entries):
            text = f"legend.text{i}"
            cell = html.escape(entry["text"], quote=False)
            table = (
                f'<table border="0" cellpadding="0" cellspacing="0" fixedsize="true" width="{width}" height="14">'
                f'<tr><td align="left" width="{width}" height="14" cellpadding="3">{cell}</td></tr></table>'
            )
            c.node(text, label=_html(table), shape="plaintext", margin="0", width="0.1", height="0.22")
            if "node_style" in entry:
                st = entry["node_style"]
                c.node(
                    f"legend.mark{i}",
                    label="",
                    shape=st["shape"],
                    style="wedged" if st.get("partial") else "filled",
                    fillcolor=f"{st['fill']};0.5:#ffffff" if st.get("partial") else st["fill"],
                    width="0.2",
                    height="0.2",
                    fixedsize="true",
                )
                c.edge(f"legend.mark{i}", text, style="invis")
            else:
                c.node(f"legend.mark{i}", label="", shape="point", width="0.02", color="#ffffff")
                c.edge(f"legend.mark{i}", text, **_edge_attrs(entry["style"], entry.get("label")))
        if across:
            with c.subgraph() as same:
                same.attr(rank="same")
                for i in range(len(entries)):
                    same.node(f"legend.mark{i}")
        else:
            for i in range(len(entries)):
                with c.subgraph() as same:
                    same.attr(rank="same")
                    same.node(f"legend.mark{i}")
                    same.node(f"legend.text{i}")
            for i in range(len(entries) - 1):
                c.edge(f"legend.mark{i}", f"legend.mark{i + 1}", style="invis")
    if after is not None and entries:
        g.edge(after, "legend.mark0", style="invis")


def _caption_label(text: str) -> str:
    """A left-justified multi-line Graphviz label (escString: ``\\l`` ends a left-justified line)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return "".join(line + "\\l" for line in escaped.split("\n"))


def to_dot(d: dict[str, Any]) -> str:
    """DOT source of a drawing description (deterministic)."""
    # with several indicators (one game each) the indicators' column sits between the domains, and
    # the arcs between the domains span two gaps: wider gaps keep their labels clear of the arcs
    games = max(sum(n["role"] == "indicator" for n in p["nodes"]) for p in d["panels"]) if d["panels"] else 0
    g = graphviz.Digraph(
        name=d["name"],
        graph_attr={
            "rankdir": d.get("direction", "LR"),
            "fontname": FONT,
            "nodesep": "0.25",
            "ranksep": "1.2" if games > 1 else "0.8",
            "newrank": "true",
        },
        node_attr={"fontname": FONT, "fontsize": "14"},
        edge_attr={"fontname": FONT, "fontsize": "13", "arrowsize": "0.8"},
    )
    panels = d["panels"]
    if len(panels) == 1 and not panels[0].get("title"):
        _panel(g, panels[0])
    else:
        for panel in panels:
            with g.subgraph(name=f"cluster_{panel['id']}") as c:
                c.attr(
                    label=panel.get("title") or "", fontname=SMALL_FONT, fontsize="12", color="#bbbbbb", style="rounded"
                )
                _panel(c, panel)
        # panels side by side, in order
        for left, right in zip(panels, panels[1:], strict=False):
            if left["columns"] and right["columns"]:
                g.edge(left["columns"][-1][0], right["columns"][0][0], style="invis")
    if d.get("legend"):
        last = next((p["columns"][-1][0] for p in reversed(panels) if p["columns"]), None)
        _legend(g, d["legend"], last, across=d.get("direction", "LR") in ("LR", "RL"))
    if d.get("caption"):
        # set last, so the clusters above do not inherit it
        g.attr(label=_caption_label(d["caption"]), labelloc="b", labeljust="l", fontname=SMALL_FONT, fontsize="10")
    return g.source


def dot_available() -> bool:
    return shutil.which("dot") is not None


def _missing_dot() -> SpecError:
    return SpecError("cannot draw an image: the Graphviz program 'dot' was not found on PATH", hint=MISSING_DOT_HINT)


#: the resolution of a PNG: a catalog figure is about 2 by 1.7 inches, so 300 dots per inch give
#: about 650 by 520 pixels (144 gave 288 by 232, too small to read)
DEFAULT_DPI = 300


def to_image(dot_source: str, fmt: str, dpi: int = DEFAULT_DPI, size: tuple[float, float] | None = None) -> bytes:
    """Run ``dot`` on DOT source and return the image bytes (svg, png or pdf; png at ``dpi``).

    ``size`` (inches, width and height) scales the drawing to fill that box, keeping its proportions."""
    if fmt not in IMAGE_FORMATS:
        raise ValueError(f"not an image format: {fmt}")
    program = shutil.which("dot")
    if program is None:
        raise _missing_dot()
    base = [program, f"-T{fmt}"] + ([f"-Gdpi={dpi}"] if fmt == "png" else [])
    if size is not None:
        base.append(f"-Gsize={size[0]:g},{size[1]:g}!")
    # Graphviz's spline router fails on some layouts with several arcs between nodes of one rank
    # ("in routesplines, illegal values ..."); straight arcs always route, so they are the fallback.
    for extra in ([], ["-Gsplines=line"]):
        try:
            done = subprocess.run(base + extra, input=dot_source.encode("utf-8"), capture_output=True, check=False)
        except FileNotFoundError:
            raise _missing_dot() from None
        if done.returncode == 0:
            break
    else:
        message = done.stderr.decode("utf-8", "replace").strip() or f"exit status {done.returncode}"
        raise SpecError(
            f"Graphviz could not draw this graph: {message}",
            hint="`--format dot` or `--format mermaid` still write the diagram's source",
        )
    return done.stdout
