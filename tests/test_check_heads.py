"""A head must fit the values of the node it produces or scores (schemagm.graph.heads), with position and hint."""

from __future__ import annotations

from check_support import one

from schemagm.graph.build import parse

HEADER = """model h
data      x : real[4] in [0, 1]
latent    z : normal[2]
indicator y
"""


def test_an_activation_into_a_normal_latent_can_never_match_its_prior() -> None:
    d = one(
        HEADER
        + (
            "x, y ==> z : E_eta = mlp(8) -> sigmoid\n"
            "z -> y : D_phi = mlp(8) adversarial\n"
            "z, y -> x : p_theta = mlp(8) bernoulli\n"
        )
    )
    assert d.message == (
        "'sigmoid' gives values in (0, 1), but the prior p(z) (normal) has support (−∞, ∞): "
        "the produced values can never match p(z)"
    )
    assert (d.span.line, d.span.column) == (5, 29) and d.hint == "drop the activation (a linear output)"
    # the same encoder without an activation is the AAE, and valid
    parse(
        HEADER
        + "x, y ==> z : E_eta = mlp(8)\nz -> y : D_phi = mlp(8) adversarial\nz, y -> x : p_theta = mlp(8) bernoulli\n"
    )


def test_an_activation_must_stay_in_and_cover_the_declared_range() -> None:
    gan = (
        "model g\n"
        "data x : real[4] in [{lo}, 1]\n"
        "latent z : normal[2]\n"
        "indicator y\n"
        "z, y ==> x : G_theta = mlp(8) -> {act}\n"
        "x -> y : D_phi = mlp(8) adversarial\n"
    )
    d = one(gan.format(lo=0, act="tanh"))
    assert d.message == "'tanh' gives values in (-1, 1), outside the data node 'x''s range [0, 1]" and d.span.line == 5
    d = one(gan.format(lo=-1, act="sigmoid"))
    assert "can never cover the data" in d.message and d.hint == "use `-> tanh`"
    parse(gan.format(lo=-1, act="tanh"))
    parse(gan.format(lo=0, act="sigmoid"))  # the catalog's GAN
    # a uniform prior in [-1, 1] fits tanh, not relu
    mmd = (
        "model m\n"
        "data x : real[4] in [0, 1]\n"
        "latent z : uniform[2] in [-1, 1]\n"
        "indicator y\n"
        "x, y ==> z : E_eta = mlp(8) -> {act}\n"
        "z -> y : D_phi = mlp(8) adversarial\n"
        "z, y -> x : p_theta = mlp(8) bernoulli\n"
    )
    parse(mmd.format(act="tanh"))
    assert "outside 'z' (prior uniform)'s range [-1, 1]" in one(mmd.format(act="relu")).message


def test_distribution_heads_that_cannot_fit() -> None:
    # bernoulli into a normal latent (the registry's rule), with its position
    d = one(
        HEADER
        + (
            "x, y --> z : q_eta = mlp(8) bernoulli\n"
            "z, y -> x : p_theta = mlp(8) bernoulli\n"
            "x --> y : perfect adversarial\n"
        )
    )
    assert d.message == "the distribution 'bernoulli' cannot describe 'z', a normal node" and (
        d.span.line,
        d.span.column,
    ) == (5, 29)
    # bernoulli scoring data declared outside [0, 1]
    vae = (
        "model v\n"
        "data x : real[4] in [-1, 1]\n"
        "latent z : normal[2]\n"
        "indicator y\n"
        "x, y --> z : q_eta = mlp(8) normal\n"
        "z, y -> x : p_theta = mlp(8) {head}\n"
        "x --> y : perfect adversarial\n"
    )
    d = one(vae.format(head="bernoulli"))
    assert (
        d.message
        == "the distribution 'bernoulli' scores values in [0, 1], but the data node 'x' is declared in [-1, 1]"
    )
    assert d.span.line == 6 and "normal" in d.hint
    parse(vae.format(head="normal"))
    # a normal q (written or the default) into a uniform latent: KL(q || p) is infinite
    uni = (
        "model u\n"
        "data x : real[4] in [0, 1]\n"
        "latent z : uniform[2]\n"
        "indicator y\n"
        "x, y --> z : q_eta = mlp(8){head}\n"
        "z, y -> x : p_theta = mlp(8) bernoulli\n"
        "x --> y : perfect adversarial\n"
    )
    d = one(uni.format(head=" normal"))
    assert d.message.startswith(
        "the written head 'normal' draws 'z' on (−∞, ∞), but 'z' lies in its uniform prior on [-1, 1]"
    )
    assert d.span.line == 5
    d = one(uni.format(head=""))
    assert d.message.startswith("the default head (normal) draws 'z'") and d.span.line == 5


def test_every_catalog_and_extra_spec_still_passes() -> None:
    from conftest import SPECS

    for path in sorted(SPECS.glob("*.sgm")) + sorted((SPECS / "extra").glob("*.sgm")):
        parse(path.read_text(), str(path))


def test_a_corruption_has_no_head() -> None:
    """``gaussian_noise`` returns a corrupted copy: no distribution, so no default head to match
    against the target (a bounded latent is not a 'normal draws on (−∞, ∞)' error)."""
    from schemagm.graph.heads import effective_head, head_mismatch

    graph = parse(
        "model c\ndata x : real[4] in [0, 1]\nlatent xt : real[4] in [0, 1]\n"
        "x --> xt : gaussian_noise(0.5)\nxt -> x : p_theta = mlp(4) bernoulli\n"
    )
    (noise,) = [e for e in graph.edges if e.target == "xt"]
    assert effective_head(noise, graph.nodes["xt"]) is None
    assert head_mismatch(noise, graph.nodes["xt"]) is None
    (decoder,) = [e for e in graph.edges if e.target == "x"]
    assert effective_head(decoder, graph.nodes["x"]) == "bernoulli"
