"""The catalog relations of SEMANTICS.md §4 on the shipped specs, and the chains explain finds."""

from __future__ import annotations

from collections import defaultdict

import pytest
from conftest import CATALOG
from conftest import catalog_graph as spec

from schemagm.errors import SpecError
from schemagm.graph.model import Process, Role
from schemagm.transform import (
    degenerate_adversary,
    differences,
    equivalent,
    explain,
    find_isomorphism,
    remove_edge,
    structural_hash,
    swap_nodes,
    swap_processes,
)


def test_swap_processes_of_infogan_is_the_vae_once_its_adversary_is_degenerated() -> None:
    ig, vae = spec("infogan"), spec("vae")
    g = degenerate_adversary(swap_processes(ig))
    match = find_isomorphism(g, vae)
    assert match is not None and match.nodes == {"x": "x", "z": "z", "y": "y"}
    # G_theta becomes the decoder p_theta, Q_eta the encoder q_eta, the red edge the perfect q_*
    assert match.edges == {0: 1, 1: 2, 2: 0}
    # kept active it is the AAVAE, and not the VAE: the one difference is the adversary
    active = swap_processes(ig)
    assert equivalent(active, spec("aavae"))
    assert differences(active, vae) == [
        "edge x --> y is red with a learned discriminator in A, red with the perfect adversary q_* in B"
    ]


def test_swap_x_z_of_infogan_is_the_aae() -> None:
    # structurally the AAE; as a model it is refused: G_theta's sigmoid lands on the normal latent z
    with pytest.raises(SpecError) as err:
        swap_nodes(spec("infogan"), "x", "z")
    assert "in the result: 'sigmoid' gives values in (0, 1), but the prior p(z) (normal) has support (−∞, ∞)" in str(
        err.value
    )
    g = swap_nodes(spec("infogan"), "x", "z", check=False)
    match = find_isomorphism(g, spec("aae"))
    assert match is not None and match.nodes == {"x": "x", "z": "z", "y": "y"}
    # both swaps commute on InfoGAN too, and the swapped processes of the AAE are not the VAE (nor a
    # valid model: the sigmoid still lands on z, and its stochastic dashed z, y --> x has no p-side)
    with pytest.raises(SpecError, match="not a valid model"):
        swap_processes(g)
    with pytest.raises(SpecError, match="has no p-side to be matched with"):
        swap_processes(spec("aae"))  # the AAE itself, swapped
    swapped = swap_processes(g, check=False)
    assert swapped == swap_nodes(swap_processes(spec("infogan"), check=False), "x", "z", check=False)
    assert not equivalent(swapped, spec("vae"))


def test_gan_is_infogan_without_its_inference_edge() -> None:
    assert equivalent(remove_edge(spec("infogan"), "Q_eta"), spec("gan"))
    assert not equivalent(spec("infogan"), spec("gan"))


def test_gan_is_ada_whose_source_branch_has_no_parameters() -> None:
    """What is checked: the two graphs have the same edges (same arrows, same red edge, same branches)
    under the identity of names; they differ only in what the nodes are declared as, and that
    difference is exactly the y = 1 branch of x: in the GAN, x at y = 1 is the data (p_data, no
    parameters) and G_theta serves only y = 0; in ADA, x is a latent without prior, so G_theta serves
    both branches (design.md §3, rule 3) and its y = 1 branch -- the source domain -- has parameters."""
    gan, ada = spec("gan"), spec("ada")
    assert not equivalent(gan, ada)
    same_edges = find_isomorphism(ada, gan, declarations=False)
    assert same_edges is not None and same_edges.nodes == {"z": "z", "x": "x", "y": "y"}
    assert differences(ada, gan) == [
        "A's z is a data node chosen by y; B's z is a latent node with a prior",
        "A's x is a latent node without a prior; B's x is a data node",
    ]
    # the y = 1 value of x: GAN -- its own source, the data; ADA -- the dashed edge G_theta
    (g_gan,) = [e for e in gan.in_edges("x", Process.inference)]
    (g_ada,) = [e for e in ada.in_edges("x", Process.inference)]
    assert gan.nodes["x"].role is Role.data and g_gan.branch == 0 and g_gan.group == "theta"
    assert ada.nodes["x"].role is Role.latent and ada.nodes["x"].prior is None and g_ada.group == "theta"
    # ... and the y = 0 branches coincide: G_theta(z) tested by D_phi, in both
    assert (g_gan.sources, g_gan.target, g_gan.deterministic) == (g_ada.sources, g_ada.target, g_ada.deterministic)


@pytest.mark.parametrize("variant, base", [("beta_vae", "vae"), ("iwae", "vae"), ("iwgan", "gan")])
def test_options_are_decoration(variant: str, base: str) -> None:
    a, b = spec(variant), spec(base)
    assert a.options != b.options
    assert equivalent(a, b) and structural_hash(a) == structural_hash(b)


def test_the_catalogs_equivalence_classes() -> None:
    classes = defaultdict(set)
    for name in CATALOG:
        classes[structural_hash(spec(name))].add(name)
    assert sorted(sorted(c) for c in classes.values()) == sorted(
        [
            ["beta_vae", "iwae", "vae"],
            ["gan", "iwgan"],
            # same graph: x --> z (no prior) and z -> x; only decoration differs (hollow heads,
            # a fixed corruption without parameters in place of an encoder)
            ["ae", "dae"],
            ["aae"],
            ["aavae"],
            ["ada"],
            ["infogan"],
            ["mmd_net"],
            ["wake_sleep"],
        ]
    )


@pytest.mark.parametrize(
    "start, goal, chain",
    [
        ("infogan", "vae", "degenerate_adversary(swap_processes(infogan))"),
        ("infogan", "aavae", "swap_processes(infogan)"),
        ("infogan", "aae", "swap_nodes(infogan, x, z)"),
        ("infogan", "gan", "remove_edge(infogan, Q_eta)"),
        ("aavae", "vae", "degenerate_adversary(aavae)"),
        ("vae", "aavae", "activate_adversary(vae)"),
        ("iwgan", "gan", "iwgan"),
        ("aae", "vae", "degenerate_adversary(swap_nodes(swap_processes(aae), x, z))"),
    ],
)
def test_explain_finds_the_shortest_chain(start: str, goal: str, chain: str) -> None:
    a, b = spec(start), spec(goal)
    found = explain(a, b)
    assert found is not None and str(found) == chain
    assert equivalent(found.apply(a), b) and equivalent(found.result, b)


def test_explain_through_valid_models_only() -> None:
    assert (
        str(explain(spec("infogan"), spec("vae"), valid_only=True)) == "degenerate_adversary(swap_processes(infogan))"
    )
    # from the AAE, swap_nodes would carry the decoder's bernoulli head onto the normal node z
    assert explain(spec("aae"), spec("vae"), max_depth=4, valid_only=True) is None


def test_explain_says_when_no_chain_exists() -> None:
    # no transformation adds an edge or changes a declaration
    assert explain(spec("gan"), spec("vae"), max_depth=3) is None
    assert explain(spec("ada"), spec("gan"), max_depth=3) is None
    assert explain(spec("infogan"), spec("vae"), max_depth=1) is None
