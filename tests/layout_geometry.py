"""Graphviz's own layout of a DOT text, read back as geometry: node circles, arc polylines, label boxes.

``layout(dot_source)`` runs ``dot -Tjson`` (the ``-Tjson0`` attributes plus the
xdot drawing operations, which give each label's text runs with their widths)
and returns the positions Graphviz computed, in points.  The tests use it to
check a drawing the way a reader sees it: no label box is crossed by an arc,
and an indicator's input arcs do not cross its red arc.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field

Point = tuple[float, float]
Box = tuple[float, float, float, float]  # x0, y0, x1, y1

RED = "#d62728"


@dataclass
class Arc:
    tail: str
    head: str
    color: str
    points: list[Point]  # the spline sampled densely, arrow heads included
    labels: list[Box] = field(default_factory=list)
    label_texts: list[str] = field(default_factory=list)


@dataclass
class Layout:
    nodes: dict[str, tuple[float, float, float]]  # name -> centre x, y, radius (points)
    arcs: list[Arc]
    size: tuple[float, float]


def _bezier(p0: Point, p1: Point, p2: Point, p3: Point, steps: int = 24) -> list[Point]:
    out = []
    for k in range(steps + 1):
        t = k / steps
        u = 1 - t
        out.append(
            (
                u**3 * p0[0] + 3 * u * u * t * p1[0] + 3 * u * t * t * p2[0] + t**3 * p3[0],
                u**3 * p0[1] + 3 * u * u * t * p1[1] + 3 * u * t * t * p2[1] + t**3 * p3[1],
            )
        )
    return out


def spline_points(pos: str) -> list[Point]:
    """A Graphviz edge ``pos`` (``e,x,y s,x,y p0 p1 p2 p3 ...``) as a dense polyline, arrow heads included."""
    start = end = None
    controls: list[Point] = []
    for part in pos.split():
        bits = part.split(",")
        if bits[0] == "e":
            end = (float(bits[1]), float(bits[2]))
        elif bits[0] == "s":
            start = (float(bits[1]), float(bits[2]))
        else:
            controls.append((float(bits[0]), float(bits[1])))
    points: list[Point] = []
    if start is not None:
        points.append(start)
    for i in range(0, len(controls) - 3, 3):
        points.extend(_bezier(*controls[i : i + 4]))  # type: ignore[arg-type]
    if end is not None:
        points.append(end)
    return points


def _label_boxes(ops: list[dict]) -> tuple[Box | None, str]:
    """The box around the text runs of one xdot label (each run: baseline point, alignment, width, font size)."""
    size = 14.0
    xs: list[float] = []
    ys: list[float] = []
    text = ""
    for op in ops:
        if op["op"] == "F":
            size = float(op["size"])
        elif op["op"] == "T":
            x, y = op["pt"]
            w = float(op["width"])
            x0 = {"l": x, "c": x - w / 2, "r": x - w}[op["align"]]
            xs += [x0, x0 + w]
            ys += [y - 0.5 * size, y + 0.75 * size]  # subscripts and descenders to cap height
            text += op["text"]
    if not xs:
        return None, text
    return (min(xs), min(ys), max(xs), max(ys)), text


def layout(dot_source: str, program: tuple[str, ...] = ("dot",)) -> Layout:
    """The layout by ``dot``, or by ``("neato", "-n2")`` for a DOT text whose positions are all fixed."""
    done = subprocess.run([*program, "-Tjson"], input=dot_source.encode("utf-8"), capture_output=True, check=True)
    data = json.loads(done.stdout)
    names: dict[int, str] = {}
    nodes: dict[str, tuple[float, float, float]] = {}
    for obj in data.get("objects", []):
        if "pos" in obj and "width" in obj:
            x, y = (float(v) for v in obj["pos"].split(","))
            nodes[obj["name"]] = (x, y, float(obj["width"]) * 72 / 2)
        names[obj["_gvid"]] = obj["name"]
    arcs = []
    for e in data.get("edges", []):
        if e.get("style") == "invis" or "pos" not in e:
            continue
        arc = Arc(names[e["tail"]], names[e["head"]], e.get("color", "#000000"), spline_points(e["pos"]))
        for key in ("_ldraw_", "_hldraw_", "_tldraw_"):
            if key in e:
                box, text = _label_boxes(e[key])
                if box is not None:
                    arc.labels.append(box)
                    arc.label_texts.append(text)
        arcs.append(arc)
    x0, y0, x1, y1 = (float(v) for v in data["bb"].split(","))
    return Layout(nodes, arcs, (x1 - x0, y1 - y0))


# -- geometry -------------------------------------------------------------------------------------
def _segments(points: list[Point]) -> list[tuple[Point, Point]]:
    return list(zip(points, points[1:], strict=False))


def segment_hits_box(a: Point, b: Point, box: Box) -> bool:
    """Whether the segment a-b meets the box (Liang-Barsky clipping)."""
    x0, y0, x1, y1 = box
    t0, t1 = 0.0, 1.0
    dx, dy = b[0] - a[0], b[1] - a[1]
    for p, q in ((-dx, a[0] - x0), (dx, x1 - a[0]), (-dy, a[1] - y0), (dy, y1 - a[1])):
        if p == 0:
            if q < 0:
                return False
        else:
            t = q / p
            if p < 0:
                t0 = max(t0, t)
            else:
                t1 = min(t1, t)
            if t0 > t1:
                return False
    return True


def polyline_hits_box(points: list[Point], box: Box) -> bool:
    return any(segment_hits_box(a, b, box) for a, b in _segments(points))


def _cross(o: Point, a: Point, b: Point) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def segments_cross(a: Point, b: Point, c: Point, d: Point) -> bool:
    d1, d2, d3, d4 = _cross(c, d, a), _cross(c, d, b), _cross(a, b, c), _cross(a, b, d)
    return (d1 > 0) != (d2 > 0) and (d3 > 0) != (d4 > 0) and 0 not in (d1, d2, d3, d4)


def outside(points: list[Point], circles: list[tuple[float, float, float]], margin: float) -> list[Point]:
    """The points of a polyline farther than radius + margin from every circle (the part between the nodes)."""
    return [p for p in points if all((p[0] - x) ** 2 + (p[1] - y) ** 2 > (r + margin) ** 2 for x, y, r in circles)]


def polylines_cross(p: list[Point], q: list[Point]) -> bool:
    return any(segments_cross(a, b, c, d) for a, b in _segments(p) for c, d in _segments(q))


def shrink(box: Box, by: float) -> Box:
    return (box[0] + by, box[1] + by, box[2] - by, box[3] - by)


def label_collisions(lay: Layout, slack: float = 0.5) -> list[str]:
    """Every (label, arc) pair where an arc's spline runs through a label's box, in words."""
    out = []
    for owner in lay.arcs:
        for box, text in zip(owner.labels, owner.label_texts, strict=True):
            for arc in lay.arcs:
                if polyline_hits_box(arc.points, shrink(box, slack)):
                    whose = "its own arc" if arc is owner else f"the arc {arc.tail} -> {arc.head}"
                    out.append(f"label {text!r} of {owner.tail} -> {owner.head} is crossed by {whose}")
    return out


def _distance(p: Point, a: Point, b: Point) -> float:
    dx, dy = b[0] - a[0], b[1] - a[1]
    n = dx * dx + dy * dy
    t = 0.0 if n == 0 else max(0.0, min(1.0, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / n))
    return ((p[0] - a[0] - t * dx) ** 2 + (p[1] - a[1] - t * dy) ** 2) ** 0.5


def gap(p: list[Point], q: list[Point]) -> float:
    """The least distance between two polylines (infinite when one is empty)."""
    best = float("inf")
    for pt in p:
        for a, b in _segments(q):
            best = min(best, _distance(pt, a, b))
    return best


def indicator_crossings(lay: Layout, indicator: str, margin: float = 3.0, clearance: float = 5.0) -> list[str]:
    """Each arc out of ``indicator`` (not red) that crosses a red arc of the same indicator, or runs along it
    closer than ``clearance`` points, away from the nodes (``margin`` points around each node are left out)."""
    red = [a for a in lay.arcs if a.color == RED and indicator in (a.tail, a.head)]
    inputs = [a for a in lay.arcs if a.color != RED and indicator in (a.tail, a.head)]
    circles = list(lay.nodes.values())
    out = []
    for r in red:
        rp = outside(r.points, circles, margin)
        for a in inputs:
            ap = outside(a.points, circles, margin)
            if polylines_cross(ap, rp):
                out.append(f"the arc {a.tail} -> {a.head} crosses the red arc {r.tail} -> {r.head}")
            elif (apart := gap(ap, rp)) < clearance:
                out.append(
                    f"the arc {a.tail} -> {a.head} runs along the red arc {r.tail} -> {r.head} ({apart:.1f} pt apart)"
                )
    return out


def indicator_arc_crossings(lay: Layout, indicators: set[str], margin: float = 3.0) -> list[str]:
    """Each arc into or out of one of the ``indicators`` (not red) that crosses another arc of the
    drawing: a red arc of any indicator, another indicator's arc or an arc between two other nodes
    (CycleGAN's cycle arcs), away from the nodes (``margin`` points around each node are left out)."""
    circles = list(lay.nodes.values())
    out = []
    for a in lay.arcs:
        if a.color == RED or not indicators & {a.tail, a.head}:
            continue
        ap = outside(a.points, circles, margin)
        for b in lay.arcs:
            if b is not a and polylines_cross(ap, outside(b.points, circles, margin)):
                out.append(f"the arc {a.tail} -> {a.head} crosses the arc {b.tail} -> {b.head}")
    return out
