"""Numerical equivalences on compiled models (random weights, fixed seed, a real batch of digits).

Where two graphs are structurally equivalent the one rule must derive the same
objective from them: with the same weights and the same noise, the same loss
for every group."""

from __future__ import annotations

import torch
from conftest import catalog_graph as spec
from reference.batches import batch_for

from schemagm.compiler import compile as compile_spec
from schemagm.graph.model import SchematicGraph
from schemagm.graph.options import Options
from schemagm.transform import (
    degenerate_adversary,
    find_isomorphism,
    importance_weight,
    swap_processes,
)


def with_options(g: SchematicGraph, **changes) -> SchematicGraph:
    return g.replace(options=Options(**{**g.options.model_dump(), **changes}))


def losses(model, batch, seed: int = 0) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    return {k: v.detach() for k, v in model.losses(batch).items()}


def assert_same_losses(a: dict, b: dict, rtol: float = 1e-6) -> None:
    assert sorted(a) == sorted(b)
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=rtol, atol=1e-6, msg=lambda m, k=k: f"group {k}: {m}")


def twin(graph: SchematicGraph, reference, extra: tuple[str, ...] = ()):
    """Compile ``graph`` and give it the weights of the compiled ``reference`` (same network names);
    only the networks named in ``extra`` keep their own random weights."""
    model = compile_spec(graph)
    missing = model.load_state_dict(reference.state_dict(), strict=False)
    assert {k.split(".")[1] for k in missing.missing_keys} <= set(extra), missing
    assert not missing.unexpected_keys, missing
    return model


def test_iwgan_with_k_1_is_the_gan() -> None:
    gan = compile_spec(spec("gan"))
    batch = batch_for(gan.graph, 16)
    iw1 = twin(importance_weight(spec("iwgan"), 1), gan)
    assert_same_losses(losses(iw1, batch), losses(gan, batch))
    # and k = 8 really weights: same discriminator loss, another generator loss
    iw8 = twin(spec("iwgan"), gan)
    l8, l1 = losses(iw8, batch), losses(gan, batch)
    torch.testing.assert_close(l8["phi"], l1["phi"])
    assert not torch.allclose(l8["theta"], l1["theta"])


def test_iwae_with_k_1_is_the_vae() -> None:
    vae = compile_spec(spec("vae"))
    batch = batch_for(vae.graph, 16)
    assert_same_losses(losses(twin(importance_weight(spec("iwae"), 1), vae), batch), losses(vae, batch))
    # the bound itself: with k = 1 it is the one-sample ELBO log p(x|z) + log p(z) - log q(z|x),
    # written here by hand with torch.distributions at the noise the model drew
    iwae = twin(spec("iwae"), vae)
    torch.manual_seed(3)
    bound = iwae.iw_bound(batch, 1).detach()
    eps = iwae.last_draws["eps:q_eta:y=0"].reshape(16, 8)
    q = iwae.posterior(batch)
    z = q.mean + q.stddev * eps
    x = batch["x"]
    logits = iwae.networks["p_theta"](z)
    reference = (
        torch.distributions.Bernoulli(logits=logits, validate_args=False).log_prob(x).sum(-1)
        + torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(-1)
        - torch.distributions.Normal(q.mean, q.stddev).log_prob(z).sum(-1)
    ).detach()
    torch.testing.assert_close(bound, reference, rtol=1e-5, atol=1e-4)


def test_beta_vae_with_beta_1_is_the_vae_and_beta_weights_the_kl() -> None:
    vae = compile_spec(spec("vae"))
    batch = batch_for(vae.graph, 16)
    assert_same_losses(losses(twin(with_options(spec("beta_vae"), beta=1.0), vae), batch), losses(vae, batch))
    beta4 = twin(spec("beta_vae"), vae)  # beta = 4
    torch.manual_seed(0)
    kl = vae.terms(batch)["kl:q_eta"].detach()
    l4, l1 = losses(beta4, batch), losses(vae, batch)
    torch.testing.assert_close(l4["eta"] - l1["eta"], 3 * kl, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(l4["theta"], l1["theta"])


def test_aavae_with_its_adversary_degenerated_is_the_vae() -> None:
    vae = compile_spec(spec("vae"))
    batch = batch_for(vae.graph, 16)
    degenerated = twin(degenerate_adversary(spec("aavae")), vae)
    assert "phi" not in degenerated.groups
    assert_same_losses(losses(degenerated, batch), losses(vae, batch))
    # active, the adversary re-weights the same terms: not the VAE's losses
    active = twin(spec("aavae"), vae, extra=("D_phi",))
    assert not torch.allclose(losses(active, batch)["theta"], losses(vae, batch)["theta"])


def match_decoration(g: SchematicGraph, reference: SchematicGraph):
    """``g`` with the node sizes and the declaration order of an equivalent ``reference``, through the
    node and edge matching, and the map of network names ``g``'s -> reference's.  Sizes decide the
    shapes of the weights; the order of nodes and edges decides the compiler's random streams
    (they are seeded structurally, by position).  Networks, heads, hollow arrows and names stay."""
    match = find_isomorphism(g, reference)
    assert match is not None
    inverse_nodes = {v: k for k, v in match.nodes.items()}
    inverse_edges = {j: i for i, j in match.edges.items()}
    nodes = [
        g.nodes[inverse_nodes[name]].model_copy(update={"shape": reference.nodes[name].shape})
        for name in reference.nodes
    ]
    edges = [g.edges[inverse_edges[j]] for j in range(len(reference.edges))]
    names = {
        f"{g.edges[i].label}_{g.edges[i].group}": f"{reference.edges[j].label}_{reference.edges[j].group}"
        for i, j in match.edges.items()
        if g.edges[i].group
    }
    return g.replace(nodes=nodes, edges=edges), names


def test_transformed_infogan_gives_the_losses_of_the_hand_written_vae() -> None:
    """degenerate_adversary(swap_processes(infogan)) against specs/vae.sgm.

    Decoration matched first: z's size (16 in InfoGAN, 8 in the VAE) and the order of the
    declarations (the encoder first, as in vae.sgm).  The weights of vae.sgm's networks are loaded
    through the edge matching (p_theta -> G_theta, q_eta -> Q_eta).  The decoder keeps InfoGAN's
    head: a hollow `z, y => x` with `-> sigmoid`, scored by the reconstruction bce(x, sigmoid(l)),
    where the VAE writes `bernoulli` and scores -log Bernoulli(x; logits l): the same number."""
    vae_graph = spec("vae")
    transformed = degenerate_adversary(swap_processes(spec("infogan")))
    matched, names = match_decoration(transformed, vae_graph)
    assert names == {"G_theta": "p_theta", "Q_eta": "q_eta"}
    assert [e.deterministic for e in matched.edges] == [False, True, False]  # the hollow decoder stays
    vae = compile_spec(vae_graph)
    model = compile_spec(matched)
    model.load_state_dict(
        {
            f"networks.{mine}.{k}": v
            for mine, theirs in names.items()
            for k, v in vae.networks[theirs].state_dict().items()
        }
    )
    batch = batch_for(vae_graph, 16)
    assert_same_losses(losses(model, batch), losses(vae, batch), rtol=1e-5)
    # the same gradients too
    for m in (model, vae):
        m.zero_grad()
        torch.manual_seed(1)
        sum(m.losses(batch).values()).backward()
    for mine, theirs in names.items():
        for (ka, pa), (_, pb) in zip(
            model.networks[mine].named_parameters(), vae.networks[theirs].named_parameters(), strict=True
        ):
            torch.testing.assert_close(
                pa.grad, pb.grad, rtol=1e-4, atol=1e-6, msg=lambda m, mine=mine, ka=ka: f"{mine}.{ka}: {m}"
            )


def test_gan_and_ada_differ_exactly_in_the_parameters_of_the_y_1_branch() -> None:
    """GAN is ADA whose y = 1 branch has no parameters (the graphs have the same edges; see
    test_transform_catalog).  What the rule derives from that one difference: theta's loss in ADA
    depends on the source rows (G_theta acts at y = 1 too), in the GAN it does not depend on the
    data at all (x at y = 1 is p_data, no parameters); the discriminator's loss depends on both."""
    ada = compile_spec(spec("ada"))
    batch = batch_for(ada.graph, 16)  # rows 0-7: source (y = 1), rows 8-15: target (y = 0)
    moved = {**batch, "z": batch["z"].clone()}
    moved["z"][:8] += 1.0  # move the source domain only
    assert not torch.allclose(losses(ada, batch)["theta"], losses(ada, moved)["theta"])
    gan = compile_spec(spec("gan"))
    data = batch_for(gan.graph, 16)
    other = {"x": data["x"].flip(0) * 0.5}
    assert torch.equal(losses(gan, data)["theta"], losses(gan, other)["theta"])
    assert not torch.allclose(losses(gan, data)["phi"], losses(gan, other)["phi"])
    # and the reversed (generator) term of ADA has both branches, the GAN's only the generated one
    rev_ada = next(t for t in ada.objective.terms if t.name.startswith("reversed:"))
    rev_gan = next(t for t in gan.objective.terms if t.name.startswith("reversed:"))
    assert "log(1 − D_φ" in rev_ada.formula and "log(1 − D_φ" not in rev_gan.formula
