"""Several indicators, tied networks and per-edge settings against hand-written references (issue 10):
CycleGAN's three losses, the hinge and least-squares forms on one red edge, l1 reconstruction and
the weight of an edge's own terms, each group's loss and gradient to 1e-5 on the same draws."""

from __future__ import annotations

import pytest
import torch
from conftest import SPECS
from reference import games as ref
from reference.batches import batch_for
from reference.catalog import draw, gaussian, net, sigmoid_of
from reference.compare import assert_same_losses_and_gradients

CYCLEGAN = SPECS / "extra" / "cyclegan.sgm"


def compile_text(text: str):
    from schemagm.compiler import compile as c

    torch.manual_seed(0)
    return c(text)


def two_domains(n: int = 16) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    return {"x_a": torch.randn(n, 2, generator=g) + 1.0, "x_b": torch.randn(n, 2, generator=g) * 0.5 - 1.0}


def test_cyclegan_losses_and_gradients_match_the_paper() -> None:
    from schemagm.compiler import compile as c

    torch.manual_seed(0)
    model = c(CYCLEGAN)
    batch = two_domains()
    got = model.losses(batch)
    expected = ref.cyclegan(
        net(model, "G_theta"), net(model, "F_theta"), net(model, "DB_phi"), net(model, "DA_psi"), **batch, lam=10.0
    )
    assert_same_losses_and_gradients(model, got, expected, "cyclegan")


def test_cyclegan_reference_can_fail() -> None:
    """The comparison detects a wrong λ and a swapped translator."""
    from schemagm.compiler import compile as c

    torch.manual_seed(0)
    model = c(CYCLEGAN)
    batch = two_domains()
    got = model.losses(batch)
    nets = [net(model, k) for k in ("G_theta", "F_theta", "DB_phi", "DA_psi")]
    wrong_lambda = ref.cyclegan(*nets, **batch, lam=1.0)
    assert not torch.allclose(got["theta"], wrong_lambda["theta"])
    swapped = ref.cyclegan(nets[1], nets[0], nets[2], nets[3], **batch)
    assert not torch.allclose(got["phi"], swapped["phi"])


def test_cyclegan_has_one_game_per_indicator_and_one_network_per_label() -> None:
    from schemagm.compiler import compile as c

    model = c(CYCLEGAN)
    phases = [(p.name, p.groups) for p in model.objective.phases]
    assert phases == [("adversary:u", ("phi",)), ("adversary:v", ("psi",)), ("model", ("theta",))]
    assert sorted(model.networks) == ["DA_psi", "DB_phi", "F_theta", "G_theta"]  # G and F each once
    terms = {t.name: t for t in model.objective.terms}
    assert terms["adversary:DB_phi"].phase == "adversary:u" and terms["adversary:DA_psi"].phase == "adversary:v"
    assert terms["recon:F_theta"].weight == 10.0 and terms["recon:F_theta"].weight_name == "weight"
    assert terms["recon:F_theta"].formula == "10·𝔼_{p_data(x_a)} l1(x_a, F_θ(G_θ(x_a)))"
    assert terms["recon:G_theta"].formula == "10·𝔼_{p_data(x_b)} l1(x_b, G_θ(F_θ(x_b)))"
    # each phase's loss updates its own group only: the game of u never touches psi
    batch = two_domains()
    loss_u = model.phase_loss("adversary:u", batch)
    grads = torch.autograd.grad(loss_u, model.parameters_of("psi"), allow_unused=True)
    assert all(gr is None or not torch.count_nonzero(gr) for gr in grads)


def test_a_phase_of_cyclegan_trains() -> None:
    """A few steps with the phases in order lower the cycle error on a fixed batch."""
    from schemagm.compiler import compile as c

    torch.manual_seed(0)
    model = c(CYCLEGAN)
    batch = two_domains(64)
    opts = {g: torch.optim.Adam(model.parameters_of(g), lr=3e-3) for g in model.groups}
    before = sum(ref.cycle_errors(net(model, "G_theta"), net(model, "F_theta"), batch["x_a"], batch["x_b"]))
    for _ in range(60):
        for phase in model.objective.phases:
            for g in phase.groups:
                opts[g].zero_grad(set_to_none=True)
            model.phase_loss(phase.name, batch).backward()
            for g in phase.groups:
                opts[g].step()
    after = sum(ref.cycle_errors(net(model, "G_theta"), net(model, "F_theta"), batch["x_a"], batch["x_b"]))
    assert float(after.detach()) < 0.5 * float(before.detach()), (float(before), float(after))


GAN = (SPECS / "gan.sgm").read_text()


@pytest.mark.parametrize(("form", "reference"), [("hinge", ref.hinge_gan), ("least_squares", ref.least_squares_gan)])
def test_a_red_edge_with_its_own_form(form: str, reference) -> None:
    text = GAN.replace("mlp(256) adversarial", f"mlp(256) adversarial form={form}")
    assert f"form={form}" in text
    model = compile_text(text)  # the option says non_saturating; the edge's own form wins
    batch = batch_for(model.graph, n=16)
    torch.manual_seed(1)
    got = model.losses(batch)
    expected = reference(sigmoid_of(net(model, "G_theta")), net(model, "D_phi"), batch["x"], draw(model, "prior:z:y=0"))
    assert_same_losses_and_gradients(model, got, expected, form)


def test_the_weight_of_a_red_edge_scales_its_game() -> None:
    text = GAN.replace("mlp(256) adversarial", "mlp(256) adversarial weight=2.5")
    model = compile_text(text)
    batch = batch_for(model.graph, n=16)
    torch.manual_seed(1)
    got = model.losses(batch)
    expected = ref.ns_gan(
        sigmoid_of(net(model, "G_theta")), net(model, "D_phi"), batch["x"], draw(model, "prior:z:y=0"), 2.5
    )
    assert_same_losses_and_gradients(model, got, expected, "weighted game")
    assert model.objective.term("adversary:D_phi").formula.startswith("−2.5·[𝔼_{p_data(x)} log D_φ(x) + ")


def test_an_autoencoder_with_l1_distance_and_a_weight() -> None:
    text = (SPECS / "ae.sgm").read_text().replace("-> sigmoid", "-> sigmoid weight=3 distance=l1")
    model = compile_text(text)
    batch = batch_for(model.graph, n=16)
    got = model.losses(batch)
    expected = ref.ae_l1(net(model, "E_eta"), sigmoid_of(net(model, "G_theta")), batch["x"], 3.0)
    assert_same_losses_and_gradients(model, got, expected, "ae l1")
    # l2 is the sum of squares (the `mse` of the option reconstruction), bce the cross-entropy
    l2 = compile_text((SPECS / "ae.sgm").read_text().replace("-> sigmoid", "-> sigmoid distance=l2"))
    assert "mse(" in l2.objective.term("recon:G_theta").formula


def test_the_weight_of_a_solid_stochastic_edge_scales_its_likelihood() -> None:
    text = (SPECS / "vae.sgm").read_text().replace("mlp(256) bernoulli", "mlp(256) bernoulli weight=4")
    assert "weight=4" in text
    model = compile_text(text)
    batch = batch_for(model.graph, n=16)
    torch.manual_seed(1)
    got = model.losses(batch)
    expected = ref.vae_weighted_nll(
        gaussian(model, "q_eta"), net(model, "p_theta"), batch["x"], draw(model, "eps:q_eta:y=0"), 4.0
    )
    assert_same_losses_and_gradients(model, got, expected, "weighted nll")
    assert model.objective.term("nll:p_theta").formula.startswith("−4·𝔼")


def test_a_tied_stochastic_network_names_its_draws_apart() -> None:
    """One network on two stochastic edges sampled in one branch: each edge's draw is kept."""
    text = """model tied
data   x : real[4]
latent a : normal[3]
latent b : normal[3]
x --> a : q_eta = mlp(8) normal
x --> b : q_eta = mlp(8) normal
a, b -> x : p_theta = mlp(8) normal
"""
    from schemagm.compiler import compile as c

    model = c(text)
    assert list(model.networks).count("q_eta") == 1
    model.losses({"x": torch.randn(8, 4)})
    assert {"eps:q_eta[1]:y=1", "eps:q_eta[2]:y=1"} <= set(model.last_draws)
    assert not torch.equal(model.last_draws["eps:q_eta[1]:y=1"], model.last_draws["eps:q_eta[2]:y=1"])
