"""The checker: every kind of problem, with its message AND its line and column.

Each case is a small spec that is valid except for the problem named; the
test asserts the exact list of (line, column) and a part of each message.
"""

from __future__ import annotations

import pytest
from strategies import spec_errors

from schemagm.errors import Diagnostic, SpecError
from schemagm.graph.build import parse
from schemagm.graph.check import check
from schemagm.graph.model import Call, Edge, Node, Process, Role, SchematicGraph

VAE_NODES = """model m
data      x : real[4] in [0, 1]
latent    z : normal[2]
indicator y
"""


def vae(*edges: str, nodes: str = VAE_NODES) -> str:
    """A spec: the VAE's nodes (lines 1-4), a blank line 5, then the given edges from line 6."""
    return nodes + "\n" + "\n".join(edges) + "\n"


Q = "x, y --> z : q_eta = mlp(8) normal"
P = "z, y -> x : p_theta = mlp(8) bernoulli"
R = "x --> y : perfect adversarial"


def expect(text: str, *expected: tuple[int, int, str]) -> list[tuple[int, int, str]]:
    got = spec_errors(text)
    assert [(line, col) for line, col, _ in got] == [(line, col) for line, col, _ in expected], got
    for (_, _, message), (_, _, part) in zip(got, expected, strict=True):
        assert part in message, (part, message)
    return got


def test_the_base_spec_is_valid():
    assert spec_errors(vae(Q, P, R)) == []


# -- names and nodes ---------------------------------------------------------------------
def test_duplicate_node_name():
    text = "model m\ndata x : real[4]\nlatent x : normal[2]\nlatent z : normal[2]\nz -> x : p_theta = mlp(8) normal\n"
    expect(text, (3, 8, "node 'x' is declared twice (first on line 2)"))


def test_unknown_node_in_sources_and_target():
    expect(vae("x, w --> z : q_eta = mlp(8) normal", P, R), (6, 4, "unknown node 'w'"))
    expect(
        vae(Q, "z, y -> v : p_theta = mlp(8) bernoulli", "z -> x : G_theta = mlp(8) normal", R),
        (7, 9, "unknown node 'v'"),
    )


def test_unknown_node_suggests_the_closest_name():
    text = (
        "model m\ndata xx : real[4]\nlatent zz : normal[2]\nzz -> xy : p_theta = mlp(8) normal\n"
        "zz -> xx : F_theta = mlp(8) normal\n"
    )
    [(line, col, msg)] = spec_errors(text)
    assert (line, col, msg) == (4, 7, "unknown node 'xy'")
    with pytest.raises(SpecError) as info:
        parse(text)
    assert "did you mean 'xx'?" in info.value.diagnostics[0].hint


def test_unknown_type_suggests_the_closest():
    text = "model m\ndata x : reel[4]\nlatent z : normal[2]\nz -> x : p_theta = mlp(8) normal\n"
    expect(text, (2, 10, "unknown type 'reel'"))
    with pytest.raises(SpecError) as info:
        parse(text)
    assert "did you mean 'real'?" in info.value.diagnostics[0].hint


def test_unused_node():
    text = vae(Q, P, R, nodes=VAE_NODES + "latent    c : categorical[3]\n")
    expect(text, (5, 11, "node 'c' is not used by any edge"))


def test_zero_negative_and_fractional_sizes():
    text = (
        "model m\ndata x : real[0]\nlatent z : normal[-2]\nlatent h : normal[2.5]\n"
        "z, h -> x : p_theta = mlp(8) normal\n"
    )
    expect(
        text,
        (2, 14, "size 0 of 'x' must be a positive whole number"),
        (3, 18, "size -2 of 'z' must be a positive whole number"),
        (4, 18, "size 2.5 of 'h' must be a whole number"),
    )


def test_missing_size_and_bad_rank():
    text = "model m\ndata x : real\nlatent z : normal[2, 3]\nz -> x : p_theta = mlp(8) normal\n"
    expect(
        text, (2, 10, "node 'x' has no size"), (3, 18, "'z' has 2 sizes; a node is a vector [n] or an image [C, H, W]")
    )


def test_empty_range():
    text = "model m\ndata x : real[4] in [1, 0]\nlatent z : normal[2]\nz -> x : p_theta = mlp(8) normal\n"
    expect(text, (2, 18, "the range [1, 0] of 'x' is empty"))


def test_range_on_a_categorical_node():
    text = "model m\ndata x : categorical[4] in [0, 1]\nlatent z : normal[2]\nz -> x : p_theta = mlp(8) categorical\n"
    expect(text, (2, 25, "a categorical node has no range"))


def test_given_must_name_an_indicator():
    text = "model m\ndata x : real[4] given z\nlatent z : normal[2]\nz -> x : p_theta = mlp(8) normal\n"
    expect(text, (2, 24, "`given z` must name an indicator, but 'z' is a latent node"))


def test_given_unknown_and_given_on_latent():
    text = "model m\ndata x : real[4] given w\nlatent z : normal[2] given x\nz -> x : p_theta = mlp(8) normal\n"
    expect(text, (2, 24, "unknown node 'w' after `given`"), (3, 28, "only a data node can be `given` an indicator"))


def test_from_on_a_latent_node():
    text = "model m\ndata x : real[4]\nlatent z : normal[2] from digits\nz -> x : p_theta = mlp(8) normal\n"
    expect(text, (3, 27, "a latent node has no data set"))


def test_indicator_with_a_type():
    text = VAE_NODES.replace("indicator y", "indicator y : real[2]")
    expect(vae(Q, P, R, nodes=text), (4, 15, "an indicator has no type or size"))


# -- edges -------------------------------------------------------------------------------
def test_target_among_its_sources():
    expect(vae(Q, P, R, "x, z -> x : F_theta = mlp(8) normal"), (9, 9, "the edge into 'x' has 'x' among its sources"))


def test_adversarial_edge_into_a_non_indicator():
    expect(
        vae(Q, P, R, "x -> z : D_phi = mlp(8) adversarial"),
        (9, 6, "adversarial edge into 'z', which is not an indicator"),
    )


def test_indicator_target_without_adversarial():
    expect(vae(Q, P, R, "z -> y : D_phi = mlp(8)"), (9, 6, "an edge into the indicator 'y' must be adversarial"))


def test_more_than_one_indicator_on_an_edge():
    nodes = VAE_NODES + "indicator u\n"
    # line 6 is blank; edges from line 7
    text = (
        nodes
        + "\n"
        + "\n".join([Q, P, R, "z, y, u -> x : F_theta = mlp(8) normal", "x -> u : D_phi = mlp(8) adversarial"])
        + "\n"
    )
    expect(text, (10, 7, "an edge carries at most one indicator; this one has y, u"))


def test_an_indicator_alone_is_no_input():
    expect(
        vae(Q, P, R, "y -> x : F_theta = mlp(8) bernoulli"),
        (9, 1, "the edge into 'x' has no input besides the indicator 'y'"),
    )


def test_indicator_value_must_be_0_or_1_and_only_on_an_indicator():
    expect(vae("x, y=2 --> z : q_eta = mlp(8) normal", P, R), (6, 4, "an indicator takes the value 0 or 1, not 2"))
    expect(
        vae(Q, "z=1, y -> x : p_theta = mlp(8) bernoulli", R),
        (7, 1, "only an indicator takes a value; 'z' is a latent node"),
    )


def test_perfect_and_kernel_must_be_adversarial():
    expect(vae(Q, P, "x --> y : perfect"), (8, 11, "`perfect` names the perfect adversary"))
    expect(vae(Q, P, R, "x -> y : mmd(1.0)"), (9, 10, "the kernel test 'mmd' is a red edge; add `adversarial`"))


def test_perfect_adversary_with_a_network():
    expect(vae(Q, P, "x --> y : mlp(8) perfect adversarial"), (8, 11, "a perfect adversary has no network"))


def test_adversarial_edge_with_nothing_and_with_a_head():
    expect(vae(Q, P, "x --> y : adversarial"), (8, 11, "an adversarial edge needs a discriminator network"))
    expect(vae(Q, P, "x --> y : D_phi = mlp(8) -> sigmoid adversarial"), (8, 26, "a discriminator outputs a logit"))


def test_edge_without_network():
    expect(vae(Q, P, R, "z => x"), (9, 6, "the edge into 'x' has no network"))


def test_no_reparam_on_a_solid_edge():
    expect(
        vae(Q, "z, y -> x : p_theta = mlp(8) bernoulli no_reparam", R),
        (7, 40, "`no_reparam` is for dashed (inference) edges"),
    )


def test_network_with_parameters_but_no_group():
    [(line, col, msg)] = expect(
        vae(Q, "z, y -> x : mlp(8) bernoulli", R), (7, 13, "the network 'mlp(8)' has parameters but no group")
    )
    with pytest.raises(SpecError) as info:
        parse(vae(Q, "z, y -> x : G = mlp(8) bernoulli", R))
    assert info.value.diagnostics[0].hint.startswith("name its parameter group, e.g. `G_theta = mlp(8)`")


def test_parameter_free_network_with_a_group():
    text = (
        "model m\ndata x : real[4]\nlatent n : real[4]\nx --> n : N_theta = gaussian_noise(0.3)\n"
        "n -> x : p_theta = mlp(8) normal\n"
    )
    expect(text, (4, 11, "'gaussian_noise' has no parameters, so it belongs to no group"))


def test_unknown_network_suggests_and_lists_known_names():
    with pytest.raises(SpecError) as info:
        parse(vae(Q, "z, y -> x : p_theta = mpl(8) bernoulli", R))
    [d] = info.value.diagnostics
    assert (d.span.line, d.span.column, d.message) == (7, 23, "unknown network 'mpl'")
    assert "did you mean 'mlp'?" in d.hint and "conv_encoder" in d.hint and "gaussian_noise" in d.hint


def test_bad_arguments():
    expect(
        vae("x, y --> z : q_eta = mlp(0) normal", "z, y -> x : p_theta = mlp(8, activation=sigmoidd) bernoulli", R),
        (6, 22, "argument 'hidden' must be at least 1, got 0"),
        (7, 23, "argument 'activation' must be one of relu"),
    )
    expect(vae(Q, "z, y -> x : p_theta = mlp(8) normal(sd=2)", R), (7, 30, "'normal' has no argument 'sd'"))
    expect(vae(Q, P, "x --> y : mmd(-1) adversarial"), (8, 11, "argument 'bandwidth' must be greater than 0"))


def test_unknown_head_and_kernel_arguments():
    with pytest.raises(SpecError) as info:
        parse(vae("x, y --> z : q_eta = mlp(8) nromal", P, R))
    [d] = info.value.diagnostics
    assert (d.span.line, d.span.column, d.message) == (6, 29, "unknown output head 'nromal'")
    assert "did you mean 'normal'?" in d.hint and "sigmoid" in d.hint


def test_head_incompatible_with_the_target():
    expect(
        vae("x, y --> z : q_eta = mlp(8) categorical", P, R),
        (6, 29, "the distribution 'categorical' cannot describe 'z', a normal node"),
    )


def test_distribution_on_a_hollow_arrow_and_activation_on_a_filled_one():
    text = (
        "model m\ndata x : real[4]\nlatent z : real[2]\nx ==> z : E_eta = mlp(8) normal\n"
        "z -> x : G_theta = mlp(8) -> sigmoid\n"
    )
    expect(
        text,
        (4, 26, "a hollow arrow (==>) is deterministic; it has no distribution 'normal'"),
        (5, 27, "a filled arrow (->) is stochastic; give it a distribution, not the activation 'sigmoid'"),
    )


def test_activation_written_without_arrow_and_distribution_with_one():
    text = (
        "model m\ndata x : real[4]\nlatent z : real[2]\nx ==> z : E_eta = mlp(8) sigmoid\n"
        "z -> x : G_theta = mlp(8) -> normal\n"
    )
    got = spec_errors(text)
    assert (4, 26, "'sigmoid' is an activation; write it after an arrow: `-> sigmoid`") in got
    assert (5, 27, "'normal' is a distribution; write it without the arrow: `normal`") in got


def test_a_label_on_two_edges_is_one_network_that_must_agree():
    # issue 10: the same label on several edges is one (tied) network; its edges must agree
    assert spec_errors(vae(Q, P, R, "z -> x : p_theta = mlp(8) bernoulli")) == []
    expect(
        vae(Q, P, R, "z -> x : p_theta = mlp(16) bernoulli"),
        (
            9,
            20,
            "p_theta is one network on several edges (line 7 and line 9), but the edges write different "
            "networks ('mlp(8)' and 'mlp(16)')",
        ),
    )


def test_label_without_group_part():
    expect(
        vae(Q, "z, y -> x : p_ = mlp(8) bernoulli", R),
        (7, 13, "the label 'p_' should be a letter and a parameter group"),
        (7, 18, "the network 'mlp(8)' has parameters but no group"),
    )


# -- branches ----------------------------------------------------------------------------
def test_cycle_in_the_dashed_process():
    text = (
        "model m\ndata x : real[4]\nlatent a : real[2]\nlatent b : real[2]\n"
        "x, b --> a : F_eta = mlp(8) normal\na --> b : G_eta = mlp(8) normal\na, b -> x : p_theta = mlp(8) normal\n"
    )
    expect(text, (6, 3, "cycle in the dashed (inference) process in every branch: a -> b -> a"))


def test_ali_branches_are_not_a_cycle():
    text = (
        "model ali\ndata x : real[4]\nlatent z : normal[2]\nindicator y\n"
        "x, y=1 ==> z : E_eta = mlp(8)\nz, y ==> x : G_theta = mlp(8)\nx, z -> y : D_phi = mlp(8) adversarial\n"
    )
    assert spec_errors(text) == []
    graph = parse(text)
    assert [e.branch for e in graph.edges] == [1, 0, None]


def test_cycle_in_one_branch_only():
    text = (
        "model m\ndata x : real[4]\nlatent z : normal[2]\nindicator y\n"
        "x, y ==> z : E_eta = mlp(8)\nz, y ==> x : G_theta = mlp(8)\nx, z -> y : D_phi = mlp(8) adversarial\n"
    )
    expect(text, (6, 6, "cycle in the dashed (inference) process in branch y = 0: x -> z -> x"))


def test_cycle_in_the_solid_process():
    text = (
        "model m\ndata x : real[4]\nlatent z : normal[2]\nz -> x : p_theta = mlp(8) normal\n"
        "x -> z : q_theta = mlp(8) normal\n"
    )
    expect(text, (5, 3, "cycle in the solid (generative) process in every branch"))


def test_two_dashed_producers_for_the_same_branch():
    text = vae(Q, P, R, "x, y --> z : r_eta = mlp(8) normal")
    expect(text, (9, 6, "'z' has two dashed producers for branch y = 0 (line 6 and line 9)"))


def test_dashed_producers_for_different_branches_are_fine():
    text = vae("x, y --> z : q_eta = mlp(8) normal", "x, y=1 --> z : r_eta = mlp(8) normal", P, R)
    assert spec_errors(text) == []


def test_latent_without_prior_or_producer():
    text = "model m\ndata x : real[4]\nlatent h : real[2]\nx -> h : p_theta = mlp(8) normal\n"
    expect(
        text,
        (
            3,
            12,
            "latent node 'h' has no value in the model: it has no prior and no dashed (inference) edge produces it",
        ),
    )
    text = "model m\ndata x : real[4]\nlatent h : real[2]\nx -> y : p_theta = mlp(8) normal\n"
    got = spec_errors(text)
    assert (3, 8, "node 'h' is not used by any edge") in got
    assert (3, 12, "latent node 'h' has neither a prior nor a producer") in got


def test_dashed_hollow_edge_into_a_prior_node_without_red_edge():
    expect(
        vae("x, y ==> z : E_eta = mlp(8)", P, R),
        (6, 6, "a dashed hollow edge (==>) into 'z', which has the prior normal"),
    )


def test_dashed_hollow_edge_into_a_tested_prior_node_is_the_aae():
    assert spec_errors(vae("x, y ==> z : E_eta = mlp(8)", P, "z -> y : D_phi = mlp(8) adversarial")) == []


def test_dashed_producer_of_data_must_name_the_branch():
    text = (
        "model m\ndata x : real[4]\nlatent z : normal[2]\nindicator y\nz ==> x : G_theta = mlp(8)\n"
        "x -> y : D_phi = mlp(8) adversarial\n"
    )
    expect(text, (5, 3, "the dashed edge into the data node 'x' serves both branches"))
    with pytest.raises(SpecError) as info:
        parse(text)
    assert "write `z, y ==> x`" in info.value.diagnostics[0].hint


# -- sizes knowable from the spec ----------------------------------------------------------
def test_identity_between_nodes_of_different_sizes():
    text = "model m\ndata x : real[4]\nlatent z : real[2]\nx ==> z : identity\nz => x : G_theta = mlp(8)\n"
    expect(text, (4, 11, "'identity' keeps the size of its input, but 'x' (4) has size 4 and 'z' has size 2"))


def test_corruption_between_nodes_of_different_sizes():
    text = (
        "model m\ndata x : real[4]\nlatent n : real[3]\nx --> n : gaussian_noise(0.3)\n"
        "n -> x : p_theta = mlp(8) normal\n"
    )
    expect(text, (4, 11, "'gaussian_noise' keeps the size of its input"))


def test_conv_encoder_needs_an_image_and_conv_decoder_makes_one():
    text = (
        "model m\ndata x : real[64]\nlatent z : real[2]\nx ==> z : E_eta = conv_encoder(8)\n"
        "z => x : G_theta = conv_decoder(8)\n"
    )
    expect(
        text,
        (4, 19, "'conv_encoder' needs one image input [C, H, W]; 'x' is a vector [64]"),
        (5, 20, "'conv_decoder' produces an image, but 'x' is a vector [64]"),
    )
    ok = (
        "model m\ndata x : real[1, 8, 8]\nlatent z : real[2]\nx ==> z : E_eta = conv_encoder(8)\n"
        "z => x : G_theta = conv_decoder(8)\n"
    )
    assert spec_errors(ok) == []


def test_embedding_needs_a_categorical_input():
    text = (
        "model m\ndata x : real[4]\nlatent c : categorical[3]\nc -> x : p_theta = embedding(4) normal\n"
        "x --> c : q_eta = embedding(4) categorical\n"
    )
    expect(text, (5, 19, "'embedding' needs categorical inputs; 'x' is real"))


# -- options -------------------------------------------------------------------------------
def test_unknown_option_and_bad_values():
    text = (
        vae(Q, P, R)
        + '\noptions {\n  betta = 2\n  adversarial = minmax\n  importance_samples = 0\n  beta = "a lot"\n}\n'
    )
    expect(
        text,
        (11, 3, "unknown option 'betta'"),
        (
            12,
            17,
            "option 'adversarial' must be one of minimax, non_saturating, least_squares, hinge, wasserstein; "
            "got 'minmax'",
        ),
        (13, 24, "option 'importance_samples' must be at least 1; got 0"),
        (14, 10, "option 'beta' must be a number; got 'a lot'"),
    )
    with pytest.raises(SpecError) as info:
        parse(text)
    assert "did you mean 'beta'?" in info.value.diagnostics[0].hint


def test_option_twice_two_blocks_and_one_per_line():
    text = vae(Q, P, R) + "\noptions {\n  beta = 2\n  beta = 3\n}\noptions { walkback = 2 }\n"
    expect(
        text, (12, 3, "option 'beta' is set twice"), (14, 1, "a spec has one options block (the first is on line 10)")
    )
    expect(vae(Q, P, R) + "options { beta = 2 walkback = 3 }\n", (9, 20, "write one option per line"))


# -- many errors at once; graphs built in Python ------------------------------------------------
def test_every_error_is_reported_sorted_by_position():
    text = (
        "model m\ndata x : real[0]\nlatent z : normal[2]\nlatent u : normal[2]\nz -> w : mpl(8)\n"
        "x -> z : D_phi = mlp(8) adversarial\n"
    )
    got = spec_errors(text)
    assert [(line, col) for line, col, _ in got] == sorted((line, col) for line, col, _ in got)
    messages = [m for _, _, m in got]
    assert "size 0 of 'x' must be a positive whole number" in messages
    assert "node 'u' is not used by any edge" in messages
    assert "unknown node 'w'" in messages
    assert "adversarial edge into 'z', which is not an indicator" in messages


def test_rendered_error_has_file_line_caret_and_hint():
    with pytest.raises(SpecError) as info:
        parse(vae("x, y --> w : q_eta = mlp(8) normal", P, R), file="vae.sgm")
    text = str(info.value)
    assert text.splitlines()[:4] == [
        "vae.sgm:6:10: error: unknown node 'w'",
        "  6 | x, y --> w : q_eta = mlp(8) normal",
        "    |          ^",
        "  hint: declare it first, e.g. `latent w : normal[8]`",
    ]


def test_a_model_without_nodes():
    expect("model empty\n", (1, 7, "the model 'empty' declares no nodes"))


def test_check_works_on_graphs_built_in_python():
    nodes = [Node(name="x", role=Role.data, shape=(4,)), Node(name="z", role=Role.latent, value="normal", shape=(2,))]
    good = SchematicGraph(
        "m",
        nodes,
        [
            Edge(
                sources=("z",),
                target="x",
                process=Process.generative,
                network=Call(name="mlp", args=(8,)),
                label="p",
                group="theta",
            )
        ],
    )
    assert check(good) == []
    bad = good.replace(
        edges=[
            Edge(
                sources=("z",),
                target="x",
                process=Process.generative,
                network=Call(name="mlp", args=(8,)),
                adversarial=True,
            )
        ]
    )
    diags = check(bad)
    assert all(isinstance(d, Diagnostic) and d.span is None for d in diags)
    assert [d.message for d in diags] == [
        "adversarial edge into 'x', which is not an indicator",
        "the network 'mlp(8)' has parameters but no group",
    ]
    branchy = good.replace(edges=[good.edges[0].model_copy(update={"branch": 1})])
    assert [d.message for d in check(branchy)] == [
        "the edge serves branch y = 1 but none of its sources is an indicator"
    ]
