"""Per-edge settings (``weight=10 distance=l1 form=hinge``): syntax, graph fields, errors, fmt round trip."""

from __future__ import annotations

import pytest

from schemagm.errors import SpecError
from schemagm.graph.build import format_text, parse, to_sgm
from schemagm.graph.model import SchematicGraph
from schemagm.graph.options import EdgeSettings
from schemagm.language.printer import EDGE_SETTING_ORDER

SPEC = """model ae "Autoencoder"
data   x : real[64] in [0, 1] from digits
latent z : real[8]
x ==> z : F_eta   = mlp(64)
z => x  : G_theta = mlp(64) -> sigmoid {settings}
"""


def graph(settings: str) -> SchematicGraph:
    return parse(SPEC.format(settings=settings))


def test_settings_reach_the_edge_and_print_in_canonical_order() -> None:
    g = graph("distance=l1   weight=10")
    edge = g.edges[1]
    assert (edge.weight, edge.distance, edge.form) == (10, "l1", None)
    assert edge.settings == {"weight": 10, "distance": "l1"}
    text = to_sgm(g)
    assert "G_theta = mlp(64) -> sigmoid weight=10 distance=l1" in text
    assert parse(text) == g
    assert "weight=10 distance=l1" in format_text(SPEC.format(settings="distance=l1 weight=10"))


def test_settings_are_part_of_the_data_form() -> None:
    g = graph("weight=2.5")
    assert g.to_dict()["edges"][1]["weight"] == 2.5
    assert SchematicGraph.from_dict(g.to_dict()) == g
    assert g != graph("")


def test_printer_order_is_the_settings_model_order() -> None:
    assert tuple(EdgeSettings.names()) == EDGE_SETTING_ORDER


@pytest.mark.parametrize(
    ("written", "message", "at"),
    [
        ("weight=-1", "setting 'weight' must be at least 0", "-1"),
        ("distance=l3", "setting 'distance' must be one of l1, l2, bce; got 'l3'", "l3"),
        ("form=sideways", "setting 'form' must be one of minimax, non_saturating", "sideways"),
        ("wieght=2", "unknown setting 'wieght'", "wieght"),
        ("weight=1 weight=2", "the setting 'weight' is written twice", "weight=2"),
        ("weight=two", "setting 'weight' must be a number; got 'two'", "two"),
    ],
)
def test_bad_settings_are_errors_at_their_position(written: str, message: str, at: str) -> None:
    line = SPEC.format(settings=written).splitlines()[4]
    with pytest.raises(SpecError) as err:
        graph(written)
    diags = [d for d in err.value.diagnostics if message in d.message]
    assert diags, str(err.value)
    assert diags[0].span is not None
    assert (diags[0].span.line, diags[0].span.column) == (5, line.rindex(at) + 1)


def test_unknown_setting_suggests_the_name() -> None:
    with pytest.raises(SpecError) as err:
        graph("wieght=2")
    assert "did you mean 'weight'" in str(err.value)
