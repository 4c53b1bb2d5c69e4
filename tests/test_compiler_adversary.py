"""The adversary's two sides: the frozen twin that runs D in the other groups' reversed term
follows D's buffers as well as its parameters; importance weighting of an AAE-like graph."""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from schemagm import registry
from schemagm.compiler import CompiledModel
from schemagm.compiler import compile as compile_spec


class ShiftedNet(nn.Module):
    """An affine map whose output adds a registered buffer ``b`` (a user network with state)."""

    def __init__(self, in_features, out_features) -> None:
        super().__init__()
        self.lin = nn.Linear(in_features, out_features)
        self.register_buffer("b", torch.zeros(out_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(x) + self.b


registry.register_network("shifted_test_net", ShiftedNet, replace=True)


def gan(d_net: str) -> CompiledModel:
    torch.manual_seed(0)
    return compile_spec(
        f"""model tiny
data      x : real[4] in [0, 1]
latent    z : normal[2]
indicator y
z, y ==> x : G_theta = mlp(8) -> sigmoid
x -> y     : D_phi   = {d_net} adversarial
"""
    )


def theta_and_reference(m: CompiledModel, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """theta's loss and the same non-saturating loss by hand, -E log D(G(z)), with the live D."""
    torch.manual_seed(7)
    theta = m.losses(batch)["theta"]
    z = m.last_draws["prior:z:y=0"]
    with torch.no_grad():
        ref = F.softplus(-m.networks["D_phi"](torch.sigmoid(m.networks["G_theta"](z)))).mean()
    return theta, ref


def test_frozen_twin_follows_a_registered_buffer() -> None:
    m = gan("shifted_test_net")
    batch = {"x": torch.rand(6, 4)}
    d = m.networks["D_phi"]
    with torch.no_grad():
        d.lin.weight.zero_()
        d.lin.bias.zero_()
    theta, ref = theta_and_reference(m, batch)
    torch.testing.assert_close(theta, torch.tensor(0.6931472))  # D = 1/2 everywhere
    torch.testing.assert_close(theta, ref)
    d.b.fill_(5.0)  # in place: the owner and the twin must both see it
    theta, ref = theta_and_reference(m, batch)
    torch.testing.assert_close(theta, F.softplus(torch.tensor(-5.0)))  # 0.0067
    torch.testing.assert_close(theta, ref)
    d.b = torch.full((1,), -3.0)  # the buffer replaced: the twin is rebuilt
    theta, ref = theta_and_reference(m, batch)
    torch.testing.assert_close(theta, F.softplus(torch.tensor(3.0)))
    torch.testing.assert_close(theta, ref)
    other = copy.deepcopy(d.state_dict())
    other["b"] = torch.full((1,), 2.0)
    d.load_state_dict(other, assign=True)  # every tensor replaced
    theta, ref = theta_and_reference(m, batch)
    torch.testing.assert_close(theta, F.softplus(torch.tensor(-2.0)))
    m.double()  # .to(): parameters get new storage, buffers new objects
    theta, ref = theta_and_reference(m, {"x": batch["x"].double()})
    assert theta.dtype == torch.float64
    torch.testing.assert_close(theta, ref)
    grads = torch.autograd.grad(theta, m.parameters_of("phi"), allow_unused=True)
    assert all(g is None for g in grads)  # still frozen after the rebuild


def test_frozen_twin_follows_batchnorm_running_stats_in_eval_mode() -> None:
    m = gan("mlp(16, batchnorm=true)")
    batch = {"x": torch.rand(8, 4)}
    m.train()
    for _ in range(3):  # move the running statistics away from their initial values
        m.losses(batch)
    m.eval()
    theta, ref = theta_and_reference(m, batch)
    torch.testing.assert_close(theta, ref)
    bn = next(mod for mod in m.networks["D_phi"].modules() if isinstance(mod, nn.BatchNorm1d))
    with torch.no_grad():
        bn.running_mean.add_(3.0)
        bn.running_var.mul_(0.1)
    theta2, ref2 = theta_and_reference(m, batch)
    assert not torch.allclose(theta2, theta)
    torch.testing.assert_close(theta2, ref2)


def test_train_mode_batchnorm_stats_see_every_forward_of_the_adversary() -> None:
    """In train mode every run of D (the owner's and the twin's) updates the one set of running
    statistics, as in a hand-written step: replaying the inputs on a copy gives the same stats."""
    m = gan("mlp(16, batchnorm=true)")
    m.train()
    bn = next(mod for mod in m.networks["D_phi"].modules() if isinstance(mod, nn.BatchNorm1d))
    start = copy.deepcopy(bn)
    seen: list[torch.Tensor] = []
    bn.register_forward_pre_hook(lambda mod, args: seen.append(args[0].detach().clone()))
    batch = {"x": torch.rand(8, 4)}
    for _ in range(2):
        seen_before = len(seen)
        m.losses(batch)
        assert len(seen) - seen_before == 3  # real and generated for phi, generated for theta
    assert int(bn.num_batches_tracked) == 6
    with torch.no_grad():
        for h in seen:
            start(h)
    torch.testing.assert_close(bn.running_mean, start.running_mean)
    torch.testing.assert_close(bn.running_var, start.running_var)


# -- importance weighting on an AAE-like graph (docs/design.md section 4, rule 3) -------------------------
def test_importance_weighted_aae_weights_codes_by_softmax_of_the_logits() -> None:
    """The red edge sits on the latent whose generated side is the encoder's code: with
    importance_samples = k the reversed term weights codes by softmax of D's logits over groups of
    k (IWGAN's rule on the aggregate posterior, w ∝ D/(1-D) ≈ p(z)/q(z))."""
    from conftest import SPECS

    text = (SPECS / "aae.sgm").read_text() + "\noptions {\n  importance_samples = 4\n}\n"
    torch.manual_seed(0)
    m = compile_spec(text)
    assert "w̄_i log D_φ(E_η(x)_i)" in m.objective.text()
    eta = m.parameters_of("eta")
    for n, groups in ((8, [(0, 4), (4, 8)]), (10, [(0, 4), (4, 8), (8, 10)])):
        x = torch.rand(n, 64)
        reversed_term = m.terms({"x": x})["reversed:D_phi"]
        code = m.networks["E_eta"](
            x
        )  # by hand: l = D(E(x)), -mean_groups sum_i stopgrad(softmax(l)_i) log sigmoid(l_i)
        logits = m.networks["D_phi"](code).reshape(n)
        sums = [(torch.softmax(logits[a:b].detach(), 0) * F.logsigmoid(logits[a:b])).sum() for a, b in groups]
        reference = -torch.stack(sums).mean()
        torch.testing.assert_close(reversed_term, reference)
        got = torch.autograd.grad(reversed_term, eta)
        want = torch.autograd.grad(reference, eta)
        for g, w in zip(got, want, strict=True):
            torch.testing.assert_close(g, w)
        plain = -(F.logsigmoid(logits)).mean()  # k = 1 (the AAE) differs: the weights matter
        assert not torch.allclose(reversed_term, plain)
        grads = torch.autograd.grad(reversed_term, m.parameters_of("phi"), allow_unused=True)
        assert all(g is None for g in grads)
