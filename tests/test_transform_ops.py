"""Each transformation on the shipped specs: what it produces, that it never mutates its input,
and that where it does not apply it says why (message and position)."""

from __future__ import annotations

import pytest
from conftest import catalog_graph as spec

from schemagm.errors import SpecError
from schemagm.graph.build import parse, to_sgm
from schemagm.graph.check import check
from schemagm.graph.model import Call, Process
from schemagm.transform import (
    activate_adversary,
    degenerate_adversary,
    importance_weight,
    parse_network,
    remove_edge,
    swap_nodes,
    swap_processes,
)


def raises(fn, *args, **kwargs) -> SpecError:
    with pytest.raises(SpecError) as info:
        fn(*args, **kwargs)
    return info.value


def test_swap_processes_flips_every_edge_and_keeps_everything_else() -> None:
    g = spec("infogan")
    before = g.to_dict()
    s = swap_processes(g)
    assert g.to_dict() == before  # pure
    assert [e.process for e in s.edges] == [Process.generative, Process.inference, Process.inference]
    for old, new in zip(g.edges, s.edges, strict=True):
        assert (
            new.sources,
            new.target,
            new.label,
            new.group,
            new.network,
            new.output,
            new.deterministic,
            new.adversarial,
        ) == (
            old.sources,
            old.target,
            old.label,
            old.group,
            old.network,
            old.output,
            old.deterministic,
            old.adversarial,
        )
    assert s.nodes == g.nodes and s.options == g.options
    assert "z, y => x  : G_theta" in to_sgm(s) and "x --> y    : D_phi" in to_sgm(s)


def test_swap_nodes_rewrites_edges_and_keeps_declarations() -> None:
    g = spec("infogan")
    s = swap_nodes(g, "x", "z", check=False)
    assert s.nodes == g.nodes  # x stays data real[64], z stays latent normal[16]
    assert [(e.sources, e.target) for e in s.edges] == [(("x", "y"), "z"), (("z",), "y"), (("z", "y"), "x")]
    assert [e.label for e in s.edges] == ["G", "D", "Q"]
    assert g.edges[0].sources == ("z", "y")  # pure


def test_degenerate_and_activate_adversary() -> None:
    aavae, vae = spec("aavae"), spec("vae")
    d = degenerate_adversary(aavae)
    red = d.edges[2]
    assert red.adversarial and red.perfect and red.network is None and red.group is None and red.label is None
    assert "phi" not in d.groups
    assert to_sgm(d).splitlines()[-1].startswith("x --> y") and "perfect adversarial" in to_sgm(d)
    a = activate_adversary(vae, network="mlp(128, 128)", group="phi", label="D")
    red = a.edges[2]
    assert (
        red.adversarial
        and not red.perfect
        and red.network == Call(name="mlp", args=(128, 128))
        and (red.label, red.group) == ("D", "phi")
    )
    assert "x --> y    : D_phi   = mlp(128, 128) adversarial" in to_sgm(a)
    # by name, as the command line gives it
    assert degenerate_adversary(aavae, "D_phi") == d == degenerate_adversary(aavae, "x -> y")
    assert vae.edges[2].perfect and aavae.edges[2].network is not None  # inputs untouched
    # degenerating the AAVAE's adversary gives vae.sgm exactly, name and title aside
    assert d.replace(name="vae", title=vae.title) == vae


def test_importance_weight_sets_the_option_only() -> None:
    gan = spec("gan")
    w = importance_weight(gan, 8)
    assert w.options.importance_samples == 8 and gan.options.importance_samples == 1
    assert w.edges == gan.edges and w.nodes == gan.nodes
    assert importance_weight(spec("vae"), 5).options.importance_samples == 5
    assert importance_weight(spec("ada"), 3).options.importance_samples == 3  # a discriminator on generated features


def test_remove_edge_by_network_or_endpoints() -> None:
    ig = spec("infogan")
    r = remove_edge(ig, "Q_eta")
    assert [e.label for e in r.edges] == ["G", "D"]
    assert remove_edge(ig, "x, y -> z") == r == remove_edge(ig, 2)
    assert len(ig.edges) == 3


# -- where a transformation does not apply: message and position ------------------------------


def test_degenerate_a_perfect_adversary_points_at_its_edge() -> None:
    err = raises(degenerate_adversary, spec("vae"))
    assert (
        err.message == "degenerate_adversary does not apply to model 'vae': the red edge x --> y is already a perfect "
        "adversary (q_*)"
    )
    assert (err.span.line, err.span.column) == (12, 1)
    assert "12 | x --> y    : perfect adversarial" in str(err) and "^^^" in str(err)


def test_activate_a_learned_adversary_or_a_kernel() -> None:
    err = raises(activate_adversary, spec("gan"))
    assert "the red edge x -> y already has a discriminator D_phi" in err.message and err.span.line == 11
    err = raises(degenerate_adversary, spec("mmd_net"))
    assert "is a kernel test (mmd(0.5, 1.0, 2.0, 4.0)); it has no discriminator" in err.message and err.span.line == 12
    err = raises(activate_adversary, spec("vae"), "x, y -> z")
    assert "the edge x, y --> z is not red (adversarial)" in err.message and err.span.line == 10


def test_activate_checks_the_network_and_its_name() -> None:
    vae = spec("vae")
    assert "there is no network named 'nonet'" in raises(activate_adversary, vae, network="nonet(3)").message
    assert (
        "bad network mlp(-3): argument 'hidden' must be at least 1, got -3"
        in raises(activate_adversary, vae, network="mlp(-3)").message
    )
    assert "has no parameters" in raises(activate_adversary, vae, network="identity").message
    err = raises(activate_adversary, vae, label="q", group="eta")
    assert "the network name q_eta is already used by x, y --> z" in err.message and err.span.line == 10
    assert "is not a network call" in raises(activate_adversary, vae, network="mlp(256").message
    assert "without underscores" in raises(activate_adversary, vae, group="my_phi").message


def test_parse_network_reads_calls_as_written_in_a_spec() -> None:
    assert parse_network("mlp(256, 128, activation=tanh, batchnorm=true)") == Call(
        name="mlp", args=(256, 128), kwargs=(("activation", "tanh"), ("batchnorm", True))
    )
    assert parse_network("linear") == Call(name="linear")
    with pytest.raises(SpecError, match="arguments must be numbers"):
        parse_network("mlp([1, 2])")


def test_swap_nodes_preconditions() -> None:
    ig = spec("infogan")
    err = raises(swap_nodes, ig, "x", "w")
    assert (
        err.message == "swap_nodes(x, w) does not apply to model 'infogan': there is no node 'w'"
        and err.diagnostics[0].hint == "the nodes are x, z, y"
    )
    err = raises(swap_nodes, ig, "x", "y")
    assert "'y' is the indicator and 'x' is a data node" in err.message and err.span.line == 7
    assert "cannot be swapped with itself" in raises(swap_nodes, ig, "z", "z").message


def test_several_red_edges_need_a_name() -> None:
    text = """model two
data x : real[4]
latent z : normal[2]
indicator y
z, y ==> x : G_theta = mlp(8)
x -> y : D_phi = mlp(8) adversarial
x -> y : E_phi = mlp(8) adversarial
"""
    g = parse(text)
    err = raises(degenerate_adversary, g)
    assert "the model has 2 red edges (x -> y, x -> y)" in err.message and "edge=" in err.diagnostics[0].hint
    # (a perfect adversary on a solid red edge is no model the rule can play: the choice of edge, unchecked)
    chosen = degenerate_adversary(g, "E_phi", check=False)
    assert chosen.edges[2].perfect and not chosen.edges[1].perfect
    err = raises(degenerate_adversary, g, "E_phi")
    assert "a perfect adversary on a solid red edge would give the generator log 0" in str(err)


def test_importance_weight_preconditions() -> None:
    err = raises(importance_weight, spec("ae"), 4)
    assert "there is nothing to weight" in err.message
    assert "at least 1; got 0" in raises(importance_weight, spec("gan"), 0).message
    assert "got True" in raises(importance_weight, spec("gan"), True).message
    # a kernel test is not a discriminator, and the MMD net's hollow generator has no density
    err = raises(importance_weight, spec("mmd_net"), 2)
    assert "nothing to weight" in err.message


def test_remove_an_unknown_edge_lists_the_edges() -> None:
    err = raises(remove_edge, spec("infogan"), "Z_eta")
    assert "there is no edge 'Z_eta'" in err.message
    assert "'G_theta', 'D_phi', 'Q_eta'" in err.diagnostics[0].hint
    assert "there is no edge number 7" in raises(remove_edge, spec("infogan"), 7).message


def test_an_invalid_result_is_refused_with_the_checkers_reasons() -> None:
    err = raises(swap_processes, spec("ae"))
    assert err.message == "swap_processes does not apply to model 'ae': the result is not a valid model"
    reasons = [d.message for d in err.diagnostics[1:]]
    assert any("in the result: latent node 'z' has no value" in r for r in reasons), reasons
    assert all(r.startswith("in the result: ") for r in reasons)
    # the same reasons as the checker gives for the unchecked result
    unchecked = swap_processes(spec("ae"), check=False)
    assert [f"in the result: {d.message}" for d in check(unchecked) if d.severity == "error"] == reasons
    err = raises(swap_processes, spec("wake_sleep"))
    assert any("no_reparam" in d.message for d in err.diagnostics)
