"""The diagrams as Graphviz lays them out (``dot -Tjson``): labels clear of the arcs, the indicator's
inputs clear of its red arc, for every catalog spec and every comparison figure."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from layout_geometry import (
    indicator_arc_crossings,
    indicator_crossings,
    label_collisions,
    layout,
    polyline_hits_box,
    segments_cross,
)

from schemagm.graph.build import parse_file
from schemagm.graph.model import Role
from schemagm.render import dot_available, drawing, to_dot
from schemagm.render.panels import panel_layout_dot

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "docs"))
import gen_catalog  # noqa: E402

pytestmark = pytest.mark.skipif(not dot_available(), reason="needs Graphviz's dot")
SPECS = sorted((ROOT / "specs").glob("*.sgm")) + sorted((ROOT / "specs" / "extra").glob("*.sgm"))


def figures():
    for path in SPECS:
        yield pytest.param(path, None, id=path.stem)
    for name, spec, steps, _ in gen_catalog.COMPARISONS:
        yield pytest.param(ROOT / "specs" / f"{spec}.sgm", steps, id=name)


def laid_out(path: Path, steps):
    """The layout as the image is drawn: one dot run for a spec; for a comparison, each panel laid
    out on its own and the whole drawn at those positions (schemagm.render.panels)."""
    g = parse_file(path)
    if steps is None:
        return layout(to_dot(drawing(g, legend=True)))
    return layout(panel_layout_dot(gen_catalog.comparison_drawing(g, steps)), ("neato", "-n2"))


def test_the_geometry_helpers_see_a_crossing():
    assert segments_cross((0, 0), (2, 2), (0, 2), (2, 0)) and not segments_cross((0, 0), (1, 0), (0, 1), (1, 1))
    assert polyline_hits_box([(0, 0), (10, 10)], (4, 4, 6, 6)) and not polyline_hits_box(
        [(0, 0), (10, 0)], (4, 4, 6, 6)
    )
    # a label set on its arc, as Graphviz draws an unpadded label over a flat arc, is caught
    bad = "digraph { rankdir=LR; {rank=same; a; b} a -> b [label=<MMD>]; b -> a [label=<MMD>] }"
    assert label_collisions(layout(bad))


@pytest.mark.parametrize("path, steps", list(figures()))
def test_labels_are_clear_of_every_arc(path, steps):
    assert label_collisions(laid_out(path, steps)) == []


@pytest.mark.parametrize("path, steps", list(figures()))
def test_indicator_inputs_do_not_cross_its_red_arc(path, steps):
    lay = laid_out(path, steps)
    problems = [p for y in lay.nodes if y == "y" or y.endswith("__y") for p in indicator_crossings(lay, y)]
    assert problems == []


@pytest.mark.parametrize("name, spec, steps", [(n, s, st) for n, s, st, _ in gen_catalog.COMPARISONS])
def test_compare_panels_place_y_under_x_as_a_single_figure_does(name, spec, steps):
    """In each panel the indicator sits under the node it is drawn with, as in the figure of that graph alone."""
    lay = laid_out(ROOT / "specs" / f"{spec}.sgm", steps)
    panels = {n.split("__")[0] for n in lay.nodes if "__" in n}
    assert len(panels) == len(steps) + 1
    for p in panels:
        y = lay.nodes[f"{p}__y"]
        # the host: the node of y's column (same x), which y is under (smaller y: Graphviz's y axis points up)
        host = [v for n, v in lay.nodes.items() if n.startswith(p + "__") and n != f"{p}__y" and abs(v[0] - y[0]) < 1]
        assert len(host) == 1 and host[0][1] > y[1], (name, p)


def _indicators(path: Path) -> set[str]:
    return {v for v, n in parse_file(path).nodes.items() if n.role is Role.indicator}


SEVERAL_GAMES = [p for p in SPECS if len(_indicators(p)) > 1]


def test_cyclegan_is_among_the_specs_with_several_indicators():
    assert ROOT / "specs" / "extra" / "cyclegan.sgm" in SEVERAL_GAMES


@pytest.mark.parametrize("legend", [True, False], ids=["legend", "no-legend"])
@pytest.mark.parametrize("path", SEVERAL_GAMES, ids=[p.stem for p in SEVERAL_GAMES])
def test_with_several_indicators_no_indicator_arc_crosses_a_red_or_cycle_arc(path, legend):
    """Each indicator's arcs stay on its side of the arcs between the domains (drawing.layout_columns):
    none crosses a red arc, another indicator's arc or a cycle arc, none runs along its own red arc,
    and every label stays clear of every arc."""
    ys = _indicators(path)
    lay = layout(to_dot(drawing(parse_file(path), legend=legend)))
    assert indicator_arc_crossings(lay, ys) == []
    assert [p for y in sorted(ys) for p in indicator_crossings(lay, y)] == []
    assert label_collisions(lay) == []


def test_the_crossing_check_sees_cyclegan_with_each_indicator_under_its_node():
    """The layout before: u under x_b and v under x_a, so u -> x_a and v -> x_b cross (an X) and cross
    the cycle arcs; the check above would fail on it."""
    path = ROOT / "specs" / "extra" / "cyclegan.sgm"
    d = drawing(parse_file(path), legend=True)
    d["panels"][0]["columns"] = [["x_b", "u"], ["x_a", "v"]]
    problems = indicator_arc_crossings(layout(to_dot(d)), {"u", "v"})
    assert "the arc u -> x_a crosses the arc v -> x_b" in problems
    assert any(p.startswith("the arc u -> x_a crosses the arc x_a -> x_b") for p in problems)
