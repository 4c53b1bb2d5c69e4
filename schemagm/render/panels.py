"""A figure of several panels drawn from each panel's own layout, so a panel looks as its spec alone.

Graphviz lays a cluster out differently from the same graph on its own (in a
cluster the indicator y lands above x rather than under it, against the
placement of docs/rendering.md).  So an image of a ``--compare`` drawing is made
in two passes: ``dot`` lays out each panel as a figure of its own (and the legend
and the caption as blocks of their own); the blocks are then set side by side
(panels in a row, their tops aligned, the legend after them, the caption under
them) with every position fixed, and ``neato -n2`` draws the whole at those
positions.  Each panel gets a rounded box with its title, as before.  The DOT
text of the drawing (``to_dot``) is unchanged: it stays a pure function of the
graphs, and only the image is made this way.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import graphviz

from ..errors import SpecError
from .graphviz_backend import FONT, SMALL_FONT, to_dot

__all__ = ["panel_layout_dot", "panel_image"]

GAP = 18.0  # points between blocks
PAD = 8.0  # points between a panel's drawing and its box
TITLE = 20.0  # points above a panel's drawing for its title
_SKIP = {
    "_draw_",
    "_ldraw_",
    "_hdraw_",
    "_tdraw_",
    "_hldraw_",
    "_tldraw_",
    "_gvid",
    "tail",
    "head",
    "name",
    "nodes",
    "edges",
    "subgraphs",
}
_POINT_LISTS = ("lp", "xlp", "head_lp", "tail_lp")


def _run(program: str, args: list[str], source: str) -> bytes:
    path = shutil.which(program)
    if path is None:
        raise SpecError(
            f"cannot draw an image: the Graphviz program '{program}' was not found on PATH",
            hint="install Graphviz (Debian/Ubuntu: `apt-get install graphviz`; macOS: `brew install graphviz`)",
        )
    done = subprocess.run([path, *args], input=source.encode("utf-8"), capture_output=True, check=False)
    if done.returncode != 0:
        retry = subprocess.run(
            [path, *args, "-Gsplines=line"], input=source.encode("utf-8"), capture_output=True, check=False
        )
        if retry.returncode != 0:
            message = done.stderr.decode("utf-8", "replace").strip() or f"exit status {done.returncode}"
            raise SpecError(f"Graphviz could not draw this graph: {message}")
        done = retry
    return done.stdout


def _layout(dot_source: str) -> dict[str, Any]:
    return json.loads(_run("dot", ["-Tjson0"], dot_source))


def _shift_points(text: str, dx: float, dy: float) -> str:
    out = []
    for part in text.split():
        bits = part.split(",")
        if bits[0] in ("e", "s"):
            out.append(f"{bits[0]},{float(bits[1]) + dx:.3f},{float(bits[2]) + dy:.3f}")
        else:
            out.append(f"{float(bits[0]) + dx:.3f},{float(bits[1]) + dy:.3f}")
    return " ".join(out)


def _bb(layout: dict[str, Any]) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = (float(v) for v in layout["bb"].split(","))
    return x0, y0, x1, y1


def _emit(g: graphviz.Digraph, layout: dict[str, Any], dx: float, dy: float) -> None:
    """Every node and visible edge of a laid-out block, moved by (dx, dy), with its positions fixed."""
    names: dict[int, str] = {}
    clusters = []
    for obj in layout.get("objects", []):
        names[obj["_gvid"]] = obj["name"]
        if "nodes" in obj or "pos" not in obj:
            if obj["name"].startswith("cluster") and "bb" in obj:
                clusters.append(obj)
            continue
        attrs = {k: str(v) for k, v in obj.items() if k not in _SKIP}
        attrs["pos"] = _shift_points(obj["pos"], dx, dy)
        if "label" in attrs and attrs["label"].startswith("<"):
            attrs["label"] = f"<{attrs['label']}>"  # HTML-like labels come back without their brackets
        g.node(obj["name"], **attrs)
    for obj in clusters:  # the legend's frame
        x0, y0, x1, y1 = (float(v) for v in obj["bb"].split(","))
        attrs = {k: str(v) for k, v in obj.items() if k not in _SKIP and k != "bb"}
        with g.subgraph(name=obj["name"]) as c:
            c.attr(**attrs, bb=f"{x0 + dx:.3f},{y0 + dy:.3f},{x1 + dx:.3f},{y1 + dy:.3f}")
            if "lp" in obj:
                c.attr(lp=_shift_points(obj["lp"], dx, dy))
            for gvid in obj.get("nodes", []):
                c.node(names[gvid])
    for e in layout.get("edges", []):
        if e.get("style") == "invis" or "pos" not in e:
            continue
        attrs = {k: str(v) for k, v in e.items() if k not in _SKIP}
        attrs["pos"] = _shift_points(e["pos"], dx, dy)
        for key in _POINT_LISTS:
            if key in attrs:
                attrs[key] = _shift_points(attrs[key], dx, dy)
        for key in ("label", "xlabel", "headlabel", "taillabel"):
            if key in attrs and attrs[key].startswith("<"):
                attrs[key] = f"<{attrs[key]}>"
        g.edge(names[e["tail"]], names[e["head"]], **attrs)


def panel_layout_dot(d: dict[str, Any]) -> str:
    """The DOT, every position fixed, of a drawing of several panels laid out one by one (for ``neato -n2``)."""
    panels = d["panels"]
    blocks = []
    for panel in panels:
        single = dict(d, panels=[dict(panel, title=None)], legend=[], caption=None)
        blocks.append((panel, _layout(to_dot(single))))
    legend = _layout(to_dot(dict(d, panels=[], caption=None))) if d.get("legend") else None
    caption = _layout(to_dot(dict(d, panels=[], legend=[]))) if d.get("caption") else None

    height = max(_bb(lay)[3] - _bb(lay)[1] for _, lay in blocks) + 2 * PAD + TITLE
    g = graphviz.Digraph(
        name=d["name"], graph_attr={"fontname": FONT}, node_attr={"fontname": FONT}, edge_attr={"fontname": FONT}
    )
    x = 0.0
    base = (caption and (_bb(caption)[3] - _bb(caption)[1]) + GAP) or 0.0
    top = base + height
    for panel, lay in blocks:
        x0, y0, x1, y1 = _bb(lay)
        title = panel.get("title") or ""
        width = max(x1 - x0 + 2 * PAD, 7.0 * len(title) + 2 * PAD)
        left = x + (width - (x1 - x0)) / 2
        dx, dy = left - x0, top - PAD - TITLE - y1
        with g.subgraph(name=f"cluster_{panel['id']}") as c:
            c.attr(
                label=title,
                fontname=SMALL_FONT,
                fontsize="12",
                color="#bbbbbb",
                style="rounded",
                bb=f"{x:.3f},{top - height:.3f},{x + width:.3f},{top:.3f}",
                lp=f"{x + width / 2:.3f},{top - TITLE / 2 - 2:.3f}",
            )
            _emit(c, lay, dx, dy)
        x += width + GAP
    if legend is not None:
        x0, y0, x1, y1 = _bb(legend)
        _emit(g, legend, x - x0, top - y1)
        x += x1 - x0 + GAP
    total_w = x - GAP
    if caption is not None:
        x0, y0, x1, y1 = _bb(caption)
        lp = caption.get("lp")
        if lp:
            cx, cy = (float(v) for v in lp.split(","))
            width = x1 - x0
            g.attr(label=caption["label"], labeljust="l", labelloc="b", fontname=SMALL_FONT, fontsize="10")
            g.attr(lp=f"{cx - x0:.3f},{cy - y0:.3f}")
            total_w = max(total_w, width)
    g.attr(bb=f"0,0,{total_w:.3f},{top:.3f}")
    return g.source


def panel_image(d: dict[str, Any], fmt: str, dpi: int, size: tuple[float, float] | None = None) -> bytes:
    """An image (svg, png, pdf) of a drawing of several panels, each as it looks on its own."""
    args = ["-n2", f"-T{fmt}"] + ([f"-Gdpi={dpi}"] if fmt == "png" else [])
    if size is not None:
        args.append(f"-Gsize={size[0]:g},{size[1]:g}!")
    return _run("neato", args, panel_layout_dot(d))
