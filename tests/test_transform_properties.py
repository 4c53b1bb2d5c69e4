"""Properties of the transformations on random valid graphs (tests/strategies.py).

Both swaps are involutions and commute; every transformation either gives a
valid model or says why not (SpecError naming it, never another exception);
transformed graphs print and parse back to themselves; a single step is found
again by explain."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from strategies import graphs

from schemagm.errors import SpecError
from schemagm.graph.build import parse, to_sgm
from schemagm.graph.check import check
from schemagm.graph.model import Role, SchematicGraph
from schemagm.transform import (
    activate_adversary,
    degenerate_adversary,
    equivalent,
    explain,
    importance_weight,
    remove_edge,
    swap_nodes,
    swap_processes,
)
from schemagm.transform.common import adversary_kind


def node_pair(g: SchematicGraph, data: st.DataObject) -> tuple[str, str]:
    """Two distinct nodes that swap_nodes accepts (both variables, or both indicators)."""
    variables = [n for n, x in g.nodes.items() if x.role is not Role.indicator]
    a, b = data.draw(st.lists(st.sampled_from(variables), min_size=2, max_size=2, unique=True), label="pair")
    return a, b


def valid_or_reason(g: SchematicGraph, name: str, fn, *args, **kwargs) -> SchematicGraph | None:
    """Apply; the result passes the checker, or the SpecError names the transformation and the model."""
    try:
        out = fn(g, *args, **kwargs)
    except SpecError as err:
        assert err.message.startswith(name) and f"does not apply to model '{g.name}'" in err.message, err.message
        if "the result is not a valid model" in err.message:
            reasons = err.diagnostics[1:]
            assert reasons and all(d.message.startswith("in the result: ") for d in reasons)
            unchecked = fn(g, *args, check=False, **kwargs)
            assert [d.message for d in check(unchecked) if d.severity == "error"] == [
                d.message[len("in the result: ") :] for d in reasons
            ]
        return None
    assert [d for d in check(out) if d.severity == "error"] == []
    return out


@given(graphs(), st.data())
def test_swaps_are_involutions_and_commute(g: SchematicGraph, data: st.DataObject) -> None:
    before = g.to_dict()
    s = swap_processes(g, check=False)
    assert swap_processes(s, check=False) == g
    a, b = node_pair(g, data)
    n = swap_nodes(g, a, b, check=False)
    assert swap_nodes(n, a, b, check=False) == g
    assert swap_nodes(n, b, a, check=False) == g
    assert swap_processes(n, check=False) == swap_nodes(s, a, b, check=False)
    assert g.to_dict() == before  # nothing was mutated


@given(graphs(), st.data())
def test_swaps_keep_validity_or_say_why_and_round_trip(g: SchematicGraph, data: st.DataObject) -> None:
    s = valid_or_reason(g, "swap_processes", swap_processes)
    if s is not None:
        assert swap_processes(s) == g  # the way back is valid: it is g
        assert parse(to_sgm(s)) == s
    a, b = node_pair(g, data)
    n = valid_or_reason(g, f"swap_nodes({a}, {b})", swap_nodes, a, b)
    if n is not None:
        assert swap_nodes(n, a, b) == g
        assert parse(to_sgm(n)) == n


@given(graphs(indicator=True), st.data())
def test_adversary_edits_keep_validity_or_say_why(g: SchematicGraph, data: st.DataObject) -> None:
    red = [i for i, e in enumerate(g.edges) if e.adversarial]
    if not red:  # the indicator only chooses a data domain (`given y`)
        for fn in (activate_adversary, degenerate_adversary):
            try:
                fn(g)
            except SpecError as err:
                assert "the model has no red (adversarial) edge" in err.message
            else:
                raise AssertionError("an adversary edit applied to a model without red edges")
        return
    i = data.draw(st.sampled_from(red), label="red edge")
    kind = adversary_kind(g.edges[i])
    if kind == "learned":
        d = valid_or_reason(g, "degenerate_adversary", degenerate_adversary, i)
        if d is not None:
            assert adversary_kind(d.edges[i]) == "perfect"
            assert parse(to_sgm(d)) == d
            back = activate_adversary(
                d, i, network=g.edges[i].network, group=g.edges[i].group, label=g.edges[i].label, check=False
            )
            assert back.edges[i] == g.edges[i]  # activate undoes degenerate (same network back)
    elif kind == "perfect":
        act = valid_or_reason(g, "activate_adversary", activate_adversary, i, label="Dnew")
        if act is not None:
            assert adversary_kind(act.edges[i]) == "learned" and act.edges[i].label == "Dnew"
            assert parse(to_sgm(act)) == act
            assert degenerate_adversary(act, i) == g
    else:
        for fn, name in ((activate_adversary, "activate_adversary"), (degenerate_adversary, "degenerate_adversary")):
            try:
                fn(g, i)
            except SpecError as err:
                assert err.message.startswith(name) and "kernel test" in err.message
            else:
                raise AssertionError(f"{name} applied to a kernel test")


@given(graphs(), st.data())
def test_remove_edge_and_importance_weight_keep_validity_or_say_why(g: SchematicGraph, data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(g.edges) - 1), label="edge")
    r = valid_or_reason(g, "remove_edge", remove_edge, i)
    if r is not None:
        assert len(r.edges) == len(g.edges) - 1 and parse(to_sgm(r)) == r
    k = data.draw(st.integers(1, 16), label="k")
    w = valid_or_reason(g, f"importance_weight({k})", importance_weight, k)
    if w is not None:
        assert w.options.importance_samples == k and w.edges == g.edges
        assert parse(to_sgm(w)) == w


@given(graphs(), st.data())
def test_explain_finds_one_step_again(g: SchematicGraph, data: st.DataObject) -> None:
    a, b = node_pair(g, data)
    steps = [lambda h: swap_processes(h), lambda h: swap_nodes(h, a, b), lambda h: remove_edge(h, 0)]
    step = data.draw(st.sampled_from(steps), label="step")
    try:
        target = step(g)
    except SpecError:
        return
    chain = explain(g, target, max_depth=1)
    assert chain is not None and len(chain) <= 1
    assert equivalent(chain.apply(g), target)
    assert (len(chain) == 0) == equivalent(g, target)
