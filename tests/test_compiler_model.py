"""CompiledModel as an nn.Module: state_dict, deepcopy, dtype/device, torch.compile; the
generative process and the inference helpers (encode, reconstruct, posterior, elbo, iw_bound)
against hand computations with the recorded draws."""

from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.distributions as D
import torch.nn.functional as F
from conftest import SPECS
from reference.batches import batch_for

from schemagm.compiler import CompiledModel, Objective, Phase, Term, load
from schemagm.compiler import compile as compile_spec
from schemagm.errors import SpecError

TINY_GAN = """model tiny
data      x : real[4] in [0, 1]
latent    z : normal[2]
indicator y
z, y ==> x : G_theta = mlp(8) -> sigmoid
x -> y     : D_phi   = mlp(8) adversarial
"""

TINY_VAE = """model tiny
data      x : real[4] in [0, 1]
latent    z : normal[2]
indicator y
x, y --> z : q_eta   = mlp(8) normal
z, y -> x  : p_theta = mlp(8) bernoulli
x --> y    : perfect adversarial
"""


def vae(seed: int = 0) -> CompiledModel:
    torch.manual_seed(seed)
    return compile_spec(SPECS / "vae.sgm")


def test_exports() -> None:
    m = vae()
    assert isinstance(m, torch.nn.Module) and isinstance(m.objective, Objective)
    assert all(isinstance(t, Term) for t in m.objective.terms) and all(isinstance(p, Phase) for p in m.objective.phases)
    assert sorted(m.networks.keys()) == ["p_theta", "q_eta"]
    assert load(SPECS / "vae.sgm").groups == ["eta", "theta"]


def test_state_dict_round_trips() -> None:
    a, b = vae(0), vae(1)
    batch = batch_for(a.graph)
    torch.manual_seed(2)
    la = a.losses(batch)
    b.load_state_dict(a.state_dict())
    torch.manual_seed(2)
    lb = b.losses(batch)
    for g in la:
        torch.testing.assert_close(la[g], lb[g])
    assert set(a.state_dict()) == {k for k in a.state_dict() if k.startswith("networks.")}


def test_deepcopy_is_independent() -> None:
    a = vae()
    b = copy.deepcopy(a)
    batch = batch_for(a.graph)
    torch.manual_seed(3)
    la = a.losses(batch)
    torch.manual_seed(3)
    lb = b.losses(batch)
    torch.testing.assert_close(la["eta"], lb["eta"])
    with torch.no_grad():
        for p in b.parameters_of("theta"):
            p.add_(1.0)
    torch.manual_seed(3)
    assert torch.allclose(a.losses(batch)["theta"], la["theta"])
    torch.manual_seed(3)
    assert not torch.allclose(b.losses(batch)["theta"], la["theta"])


def test_double_precision_draws_follow_the_parameters() -> None:
    m = compile_spec(TINY_GAN).double()
    x = torch.rand(6, 4, dtype=torch.float64)
    losses = m.losses({"x": x})
    assert all(v.dtype == torch.float64 for v in losses.values())
    assert m.last_draws["prior:z:y=0"].dtype == torch.float64


@pytest.mark.parametrize("text", [TINY_GAN, TINY_VAE], ids=["gan", "vae"])
def test_losses_under_torch_compile_equal_eager(text: str) -> None:
    torch.manual_seed(0)
    m = compile_spec(text)
    batch = {"x": torch.rand(6, 4)}
    fn = torch.compile(m.losses, backend="aot_eager")
    torch.manual_seed(1)
    compiled = fn(batch)
    torch.manual_seed(1)
    eager = m.losses(batch)
    for g in eager:
        torch.testing.assert_close(compiled[g], eager[g])
    compiled[m.groups[0]].backward()
    assert any(p.grad is not None for p in m.parameters_of(m.groups[0]))


def test_draws_do_not_depend_on_which_terms_a_call_evaluates() -> None:
    torch.manual_seed(0)
    m = compile_spec(SPECS / "extra" / "vae_gan.sgm")
    batch = batch_for(m.graph)
    torch.manual_seed(5)
    m.phase_loss("adversary", batch)
    adv = dict(m.last_draws)
    torch.manual_seed(5)
    m.losses(batch)
    for k, v in adv.items():
        torch.testing.assert_close(m.last_draws[k], v)


def test_shared_run_across_phases() -> None:
    torch.manual_seed(0)
    m = compile_spec(SPECS / "gan.sgm")
    batch = batch_for(m.graph)
    run = m.run(batch)
    a = m.phase_loss("adversary", run)
    z = m.last_draws["prior:z:y=0"]
    b = m.phase_loss("model", run)
    assert m.last_draws["prior:z:y=0"] is z  # the generated batch is drawn once
    assert a.requires_grad and b.requires_grad
    with pytest.raises(SpecError, match="no phase named 'wake'"):
        m.phase_loss("wake", batch)


def test_batch_without_its_data_is_a_spec_error() -> None:
    m = vae()
    with pytest.raises(SpecError, match="'x'"):
        m.losses({"pixels": torch.rand(3, 64)})


# -- the generative process ---------------------------------------------------------------------------------
def test_sample_follows_the_generative_process() -> None:
    torch.manual_seed(0)
    gan = compile_spec(SPECS / "gan.sgm")
    s = gan.sample(5)
    assert s["x"].shape == (5, 64) and s["z"].shape == (5, 16)
    torch.testing.assert_close(s["x"], torch.sigmoid(gan.networks["G_theta"](s["z"])))
    m = vae()
    mean = m.sample(7)
    torch.testing.assert_close(mean["x"], torch.sigmoid(m.networks["p_theta"](mean["z"])))
    binary = m.sample(7, mean=False)["x"]
    assert set(binary.unique().tolist()) <= {0.0, 1.0}
    assert "prior:z:sample" in m.last_draws


def test_sample_takes_given_data_nodes() -> None:
    torch.manual_seed(0)
    cvae = compile_spec(SPECS / "extra" / "cvae.sgm")
    c = torch.tensor([3, 3, 7])
    s = cvae.sample(3, given={"c": c})
    torch.testing.assert_close(s["c"], F.one_hot(c, 10).float())
    ada = compile_spec(SPECS / "ada.sgm")
    with pytest.raises(SpecError, match="needs a value for the data node 'z'"):
        ada.sample(3)
    assert ada.sample(3, given={"z": torch.randn(3, 2)})["x"].shape == (3, 8)


def test_a_given_data_node_replaces_its_producer_and_runs_the_process_from_it() -> None:
    """CycleGAN's process takes x_a and makes x_b = G(x_a); given x_b instead it makes x_a = F(x_b)."""
    torch.manual_seed(0)
    cyclegan = compile_spec(SPECS / "extra" / "cyclegan.sgm")
    a, b = torch.randn(5, 2), torch.randn(5, 2)
    g, f = cyclegan.networks["G_theta"], cyclegan.networks["F_theta"]
    forward = cyclegan.sample(5, given={"x_a": a})
    torch.testing.assert_close(forward["x_b"], g(a))
    reverse = cyclegan.sample(5, given={"x_b": b})
    torch.testing.assert_close(reverse["x_a"], f(b))
    torch.testing.assert_close(reverse["x_b"], b)
    assert not torch.allclose(f(b), g(b))  # the two translators differ: the reverse really is F
    with pytest.raises(SpecError, match="needs a value for the data node 'x_a'"):
        cyclegan.sample(5)


def test_decode_runs_the_generative_process_from_given_codes() -> None:
    m = vae()
    z = torch.randn(6, 8)
    torch.testing.assert_close(m.decode(z), torch.sigmoid(m.networks["p_theta"](z)))  # the Bernoulli mean
    torch.testing.assert_close(m.decode({"z": z}), m.sample(6, given={"z": z})["x"])
    binary = m.decode(z, mean=False)
    assert binary.shape == (6, 64) and set(binary.unique().tolist()) <= {0.0, 1.0}
    torch.testing.assert_close(m.sample(6, given={"z": z})["z"], z)
    x = batch_for(m.graph, n=4)["x"]
    torch.testing.assert_close(m.decode(m.encode(x)), m.reconstruct(x))
    torch.manual_seed(0)
    cvae = compile_spec(SPECS / "extra" / "cvae.sgm")  # a data node without producer comes from given
    c = torch.tensor([1, 4, 4, 9, 0, 2])
    net_in = torch.cat([z, F.one_hot(c, 10).float()], 1)
    torch.testing.assert_close(cvae.decode(z, given={"c": c}), torch.sigmoid(cvae.networks["p_theta"](net_in)))
    torch.manual_seed(0)
    gan = compile_spec(SPECS / "gan.sgm")
    zg = torch.randn(3, 16)
    torch.testing.assert_close(gan.decode({"z": zg}), torch.sigmoid(gan.networks["G_theta"](zg)))
    with pytest.raises(SpecError, match="given names no node of 'vae': w"):
        m.sample(2, given={"w": z})


def test_denoising_graph_samples_by_a_markov_chain() -> None:
    torch.manual_seed(0)
    dae = compile_spec(SPECS / "dae.sgm")
    s = dae.sample(4, steps=3)["x"]
    assert s.shape == (4, 64) and torch.all((s > 0) & (s < 1))


# -- inference helpers ----------------------------------------------------------------------------------------
def gaussian(m: CompiledModel, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    out = m.networks["q_eta"](x)
    return out[:, :8], torch.exp(0.5 * out[:, 8:])


def test_encode_reconstruct_posterior() -> None:
    m = vae()
    x = batch_for(m.graph, n=5)["x"]
    mean, std = gaussian(m, x)
    torch.testing.assert_close(m.encode(x), mean)
    torch.testing.assert_close(m.reconstruct(x), torch.sigmoid(m.networks["p_theta"](mean)))
    post = m.posterior({"x": x})
    assert isinstance(post, D.Distribution)
    torch.testing.assert_close(post.mean, mean)
    torch.testing.assert_close(post.stddev, std)
    torch.manual_seed(0)
    ae = compile_spec(SPECS / "ae.sgm")
    torch.testing.assert_close(ae.encode(x), ae.networks["E_eta"](x))
    with pytest.raises(SpecError, match="hollow"):
        ae.posterior(x)
    with pytest.raises(SpecError, match="no inference edge"):
        compile_spec(SPECS / "gan.sgm").encode(x)


def test_elbo_and_iw_bound_against_hand_computations() -> None:
    m = vae()
    x = batch_for(m.graph, n=5)["x"]
    mean, std = gaussian(m, x)
    torch.manual_seed(1)
    elbo = m.elbo(x)
    z = mean + std * m.last_draws["eps:q_eta:y=0"]
    logp = D.Bernoulli(logits=m.networks["p_theta"](z), validate_args=False).log_prob(x).sum(1)
    kl = D.kl_divergence(D.Normal(mean, std), D.Normal(0.0, 1.0)).sum(1)
    torch.testing.assert_close(elbo, logp - kl)
    torch.manual_seed(2)
    iw = m.iw_bound(x, 4)
    eps = m.last_draws["eps:q_eta:y=0"]
    assert eps.shape == (4, 5, 8)
    zk = mean + std * eps
    log_w = (
        D.Bernoulli(logits=m.networks["p_theta"](zk.reshape(20, 8)).reshape(4, 5, 64), validate_args=False)
        .log_prob(x)
        .sum(-1)
        + D.Normal(0.0, 1.0).log_prob(zk).sum(-1)
        - D.Normal(mean, std).log_prob(zk).sum(-1)
    )
    torch.testing.assert_close(iw, torch.logsumexp(log_w, 0) - math.log(4))
    # the bound tightens with k (on average over draws)
    torch.manual_seed(3)
    with torch.no_grad():
        assert float(m.iw_bound(x, 50).mean()) > float(torch.stack([m.elbo(x) for _ in range(20)]).mean())


def test_bounds_need_densities() -> None:
    torch.manual_seed(0)
    aae = compile_spec(SPECS / "aae.sgm")
    x = batch_for(aae.graph, n=3)["x"]
    with pytest.raises(SpecError, match="hollow"):
        aae.elbo(x)
    with pytest.raises(SpecError, match="hollow"):
        aae.iw_bound(x, 3)


def test_reversed_term_follows_the_adversarys_updates_and_copies() -> None:
    """The reversed term runs D with frozen parameters that track every update of D."""
    torch.manual_seed(0)
    m = compile_spec(TINY_GAN)
    batch = {"x": torch.rand(6, 4)}

    def check(model: CompiledModel) -> None:
        torch.manual_seed(7)
        theta = model.losses(batch)["theta"]
        z = model.last_draws["prior:z:y=0"]
        ref = F.softplus(-model.networks["D_phi"](torch.sigmoid(model.networks["G_theta"](z)))).mean()
        torch.testing.assert_close(theta, ref)
        grads = torch.autograd.grad(theta, model.parameters_of("phi"), allow_unused=True)
        assert all(g is None for g in grads)

    check(m)
    opt = torch.optim.SGD(m.parameters_of("phi"), lr=1.0)
    m.losses(batch)["phi"].backward()
    opt.step()
    check(m)
    other = copy.deepcopy(m)
    with torch.no_grad():
        for p in other.parameters_of("phi"):
            p.mul_(-1.0)
    check(other)
    check(m)
    m.load_state_dict(other.state_dict())
    check(m)


# -- per-call costs that do not change what a call computes ---------------------------------------------------
def test_the_split_of_a_batch_by_branch_is_reused_while_the_batch_is_unchanged() -> None:
    torch.manual_seed(0)
    ada = compile_spec(SPECS / "ada.sgm")
    z, y = torch.randn(8, 2), torch.tensor([1, 0, 1, 1, 0, 0, 1, 0])
    batch = {"z": z, "y": y}
    node = ada.graph.nodes["z"]

    def source_rows() -> torch.Tensor:
        return ada.run(batch).data(node, 1, 1)

    first = source_rows()
    torch.testing.assert_close(first, z[y == 1])
    assert source_rows() is first  # the next phase on the same batch: no new split
    z.mul_(2.0)  # the batch changed in place: split again
    torch.testing.assert_close(source_rows(), z[y == 1])
    y[0] = 0
    torch.testing.assert_close(source_rows(), z[y == 1])
    assert source_rows().shape == (3, 2)
    batch = {"z": z.clone(), "y": y}  # another tensor: split again
    again = source_rows()
    assert again is not first and torch.equal(again, z[y == 1])
    assert ada.double().run({"z": z.double(), "y": y}).data(node, 1, 1).dtype == torch.float64
    torch.testing.assert_close(
        ada.losses(batch)["theta"].detach().double(), ada.losses({"z": z.double(), "y": y.clone()})["theta"].detach()
    )


def test_a_call_without_draws_leaves_the_global_generator_alone() -> None:
    torch.manual_seed(0)
    ae = compile_spec(SPECS / "ae.sgm")
    torch.manual_seed(5)
    ae.losses(batch_for(ae.graph, n=4))
    after = torch.rand(3)
    torch.manual_seed(5)
    torch.testing.assert_close(after, torch.rand(3))
    m = vae()  # a call with draws takes one seed from it: torch.manual_seed still fixes the call
    batch = batch_for(m.graph, n=4)
    torch.manual_seed(2)
    a = m.losses(batch)["eta"]
    torch.manual_seed(2)
    torch.testing.assert_close(m.losses(batch)["eta"], a)
