"""A shared trunk (issue 10): InfoGAN's Q on D's body, `Q_eta = head(D_phi)` (specs/extra/infogan_shared.sgm).

Against the hand-written reference of tests/reference/trunks.py: every group's loss, and its gradient
with respect to *every* parameter of the model (not only the group's own), to 1e-5 on the same draws;
the trunk is one module whose parameters are phi's; the trunk gets a gradient from phi's loss only,
and the trainer clears what a phase left in it before the next phase's step."""

from __future__ import annotations

import pytest
import torch
from conftest import SPECS
from reference import trunks as ref
from reference.batches import batch_for
from reference.catalog import draw, sigmoid_of
from reference.compare import TOL, assert_same_gradients, assert_same_losses_and_gradients
from torch import nn

SHARED = SPECS / "extra" / "infogan_shared.sgm"


def compiled(seed: int = 0):
    from schemagm.compiler import compile as c

    torch.manual_seed(seed)
    return c(SHARED)


def linears(module: nn.Module) -> list[nn.Linear]:
    return [m for m in module.modules() if isinstance(m, nn.Linear)]


def reference_of(model, batch, q_name: str = "Q_eta", trunk: nn.Linear | None = None):
    """The reference's losses on the model's own weights; ``trunk``: another first layer in place of D's."""
    d1, d2 = linears(model.networks["D_phi"])
    (q,) = linears(model.networks[q_name])  # Q's own layer only: the trunk is not Q's module
    first = trunk if trunk is not None else d1
    return ref.infogan_shared(
        sigmoid_of(model.networks["G_theta"]),
        (first.weight, first.bias),
        (d2.weight, d2.bias),
        (q.weight, q.bias),
        batch["x"],
        draw(model, "prior:z:y=0"),
        model.graph.options.mi_weight,
        q_in_phi=q_name.endswith("_phi"),
    )


def test_the_trunk_is_one_module_owned_by_phi() -> None:
    model = compiled()
    d_params = {id(p) for p in model.networks["D_phi"].parameters()}
    q_params = {id(p) for p in model.networks["Q_eta"].parameters()}
    assert not d_params & q_params  # Q's module holds its own layer only
    assert {id(p) for p in model.parameters_of("phi")} == d_params
    assert {id(p) for p in model.parameters_of("eta")} == q_params
    (q,) = linears(model.networks["Q_eta"])
    assert (q.in_features, q.out_features) == (256, 32)  # D's hidden width -> mean and log σ² of z[16]
    # the state dict has each tensor once, under its own network
    assert sorted(k for k in model.state_dict() if k.startswith("networks.Q_eta")) == [
        "networks.Q_eta.0.bias",
        "networks.Q_eta.0.weight",
    ]


@pytest.mark.parametrize("seed", [1, 2])
def test_losses_and_gradients_match_the_hand_written_reference(seed: int) -> None:
    model = compiled()
    batch = batch_for(model.graph, n=16)
    torch.manual_seed(seed)
    got = model.losses(batch)
    expected = reference_of(model, batch)
    assert_same_losses_and_gradients(model, got, expected, "infogan_shared")
    # stronger: each group's loss has the reference's gradient w.r.t. every parameter of the model
    for g in model.groups:
        assert_same_gradients(got[g], expected[g], list(model.parameters()), f"gradient of {g}'s loss")


def test_the_reference_can_fail() -> None:
    """Q reading the trunk of another network, or the MI term reaching the trunk, is detected."""
    model = compiled()
    batch = batch_for(model.graph, n=16)
    torch.manual_seed(1)
    got = model.losses(batch)
    d1, _ = linears(model.networks["D_phi"])
    wrong = reference_of(model, batch, trunk=nn.Linear(64, 256))
    assert not torch.allclose(got["eta"], wrong["eta"])
    # an MI term that also trained the trunk (openai/InfoGAN's D loss adds -λ·MI) has a gradient there
    mi = got["eta"]
    (g_trunk,) = torch.autograd.grad(mi, [d1.weight], allow_unused=True)
    assert g_trunk is None
    live = reference_of(model, batch)
    assert torch.count_nonzero(torch.autograd.grad(live["phi"], [d1.weight])[0])


def test_the_trunk_gets_a_gradient_from_phis_loss_only() -> None:
    model = compiled()
    batch = batch_for(model.graph, n=16)
    torch.manual_seed(1)
    losses = model.losses(batch)
    trunk = list(model.networks["D_phi"][1].parameters())
    for g in ("theta", "eta"):
        grads = torch.autograd.grad(losses[g], trunk, retain_graph=True, allow_unused=True)
        assert all(gr is None for gr in grads), g
    grads = torch.autograd.grad(losses["phi"], trunk, retain_graph=True)
    assert all(torch.count_nonzero(gr) for gr in grads)
    # the model phase's one backward pass leaves no gradient in the trunk
    model.zero_grad(set_to_none=True)
    torch.manual_seed(1)
    model.phase_loss("model", batch).backward()
    assert all(p.grad is None for p in model.parameters_of("phi"))
    assert all(p.grad is not None for p in model.parameters_of("eta"))


def test_the_trainer_steps_phi_with_the_gradient_of_phis_loss_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever a phase leaves in the trunk's gradients (here: poisoned on purpose after every
    phase's loss) never reaches phi's step: its optimiser sees exactly ∂L_phi/∂phi."""
    from schemagm.train.config import load_config
    from schemagm.train.data import get_dataset
    from schemagm.train.trainer import Trainer

    model = compiled()
    config = load_config(None, {"spec": str(SHARED), "batch_size": 16, "progress": False, "samples": 0})
    trainer = Trainer(
        model, get_dataset(None, model.graph), config, run=None, spec_text=SHARED.read_text(), model_name="m"
    )
    phi = model.parameters_of("phi")
    expected: list[list[torch.Tensor]] = []
    seen: list[list[torch.Tensor]] = []
    original = model.phase_loss

    def spy(phase, batch):
        if phase.startswith("adversary"):
            state = torch.get_rng_state()
            # retain_graph: the trainer hands in one call (model.run) whose loss it then backpropagates
            grads = torch.autograd.grad(original(phase, batch), phi, retain_graph=True)
            expected.append([g.clone() for g in grads])
            torch.set_rng_state(state)
        loss = original(phase, batch)
        for p in phi:  # what an uncleared earlier phase would leave behind
            p.grad = torch.full_like(p, 1e3)
        return loss

    model.phase_loss = spy  # type: ignore[method-assign]
    from schemagm.train import trainer as trainer_module

    step_together = trainer_module.step_together

    def record(optimizers):  # the gradients phi's optimiser steps with
        if trainer.optimizers["phi"] in optimizers:
            seen.append([p.grad.clone() for p in phi])
        return step_together(optimizers)

    monkeypatch.setattr(trainer_module, "step_together", record)
    for _ in range(2):
        trainer.train_step()
    assert len(seen) == len(expected) == 2
    for got, want in zip(seen, expected, strict=True):
        for a, b in zip(got, want, strict=True):
            torch.testing.assert_close(a, b, **TOL)


def test_a_head_in_the_trunks_group_trains_the_trunk_with_its_term() -> None:
    """`Q_phi = head(D_phi)` (openai/InfoGAN's convention): the MI term updates phi and theta, phi's
    loss adds λ·MI through the live trunk; against the same reference with Q's layer in phi."""
    from schemagm.compiler import compile as c

    torch.manual_seed(0)
    model = c(SHARED.read_text().replace("Q_eta   = head(D_phi)", "Q_phi   = head(D_phi)"))
    assert model.groups == ["theta", "phi"] and model.networks["Q_phi"].trunk is not None
    batch = batch_for(model.graph, n=16)
    torch.manual_seed(1)
    got = model.losses(batch)
    expected = reference_of(model, batch, q_name="Q_phi")
    assert_same_losses_and_gradients(model, got, expected, "Q_phi = head(D_phi)")
    phases = {p.name: p.groups for p in model.objective.phases}
    assert phases == {"adversary": ("phi",), "model": ("theta",)}
    # the MI term is in both phases: it trains D (and the trunk) and G
    assert "nll:Q_phi" in model._phase_terms["adversary"] and "nll:Q_phi" in model._phase_terms["model"]


def test_a_convolutional_trunk_is_shared_too() -> None:
    """conv_encoder's trunk: its convolutions and the flatten; Q's own layer reads the flattened features."""
    from schemagm.compiler import compile as c

    torch.manual_seed(0)
    model = c(
        "model m\n"
        "data x : real[1, 8, 8] in [0, 1]\n"
        "latent z : normal[4]\n"
        "indicator y\n"
        "z, y ==> x : G_theta = conv_decoder(8) -> sigmoid\n"
        "x -> y : D_phi = conv_encoder(8, 16) adversarial\n"
        "x, y -> z : Q_eta = head(D_phi) normal\n"
    )
    (q,) = linears(model.networks["Q_eta"])
    (last,) = [m for m in model.networks["D_phi"] if isinstance(m, nn.Linear)]
    assert q.in_features == last.in_features == 16 * 2 * 2 and q.out_features == 8
    x = torch.rand(4, 1, 8, 8)
    h = model.networks["D_phi"][:-1](x)  # by hand: every layer of D but its last
    torch.testing.assert_close(model.networks["Q_eta"](x), q(h), **TOL)
    losses = model.losses({"x": x})
    grads = torch.autograd.grad(losses["eta"], model.parameters_of("phi"), allow_unused=True)
    assert all(g is None for g in grads)
