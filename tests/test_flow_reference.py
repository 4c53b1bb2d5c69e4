"""The flow specs of specs/extra against hand-written references (tests/reference/flows.py, zuko
directly): every group's loss and gradient to 1e-5 on the same draws, the bound, the exact
likelihood and samples."""

from __future__ import annotations

import math

import pytest
import torch
import zuko
from conftest import SPECS
from reference import flows as ref
from reference.batches import digits
from reference.compare import assert_same_losses_and_gradients

from schemagm.compiler import compile as compile_spec


def _twin(
    kind: str, features: int, context: int, transforms: int, hidden: tuple[int, ...], lazy: torch.nn.Module
) -> torch.nn.Module:
    """A zuko flow with the compiled edge's weights (loaded, not shared)."""
    cls = {"realnvp": zuko.flows.RealNVP, "maf": zuko.flows.MAF, "iaf": zuko.flows.MAF}[kind]
    flow = cls(features, context, transforms=transforms, hidden_features=hidden)
    state = lazy.transform.state_dict() if kind == "iaf" else lazy.state_dict()
    flow.transform.load_state_dict(state)
    return flow


def _perturb(model: torch.nn.Module) -> None:
    torch.manual_seed(5)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))


def _moons(n: int = 32) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, 2, generator=g) * torch.tensor([1.0, 0.5])


def test_flow_on_data_is_minus_the_log_likelihood() -> None:
    torch.manual_seed(0)
    m = compile_spec(SPECS / "extra" / "flow2d.sgm")
    _perturb(m)
    x = _moons()
    got = m.losses({"x": x})
    twin = _twin("realnvp", 2, 0, 6, (64, 64), m.networks["f_theta"].lazy)
    expected = ref.flow_on_data(twin, x)
    torch.testing.assert_close(got["theta"], expected["theta"], rtol=1e-5, atol=1e-5)
    # gradients: the twin's parameters are copies, so compare through the model's own flow under zuko's density
    shared = zuko.flows.RealNVP(2, 0, transforms=6, hidden_features=(64, 64))
    shared.transform = m.networks["f_theta"].lazy  # the model's own module, zuko's density on top
    assert_same_losses_and_gradients(m, got, ref.flow_on_data(shared, x), "flow2d")
    # exact: elbo = iw bound = log-likelihood = zuko's log_prob
    with torch.no_grad():
        ll = m.log_likelihood({"x": x})
        torch.testing.assert_close(ll, twin().log_prob(x), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(m.iw_bound({"x": x}, 4), ll, rtol=1e-5, atol=1e-5)
    assert m.exact


def _shared(
    kind: str, features: int, context: int, transforms: int, hidden: tuple[int, ...], lazy: torch.nn.Module
) -> torch.nn.Module:
    cls = {"realnvp": zuko.flows.RealNVP, "maf": zuko.flows.MAF, "iaf": zuko.flows.MAF}[kind]
    flow = cls(features, context, transforms=transforms, hidden_features=hidden)
    flow.transform = lazy.transform if kind == "iaf" else lazy  # the model's module itself (gradients flow to it)
    return flow


def test_vae_with_a_flow_prior() -> None:
    torch.manual_seed(0)
    m = compile_spec(SPECS / "extra" / "vae_flow_prior.sgm")
    _perturb(m)
    x = digits(16)
    got = m.losses({"x": x})
    eps = m.last_draws["eps:q_eta"]
    prior = _shared("maf", 8, 0, 4, (64, 64), m.networks["f_theta"].lazy)
    expected = ref.vae_flow_prior(m.networks["q_eta"], prior, m.networks["p_theta"], x, eps)
    assert_same_losses_and_gradients(m, got, expected, "vae_flow_prior")
    with torch.no_grad():  # the twin with copied weights gives the same numbers
        twin = _twin("maf", 8, 0, 4, (64, 64), m.networks["f_theta"].lazy)
        e2 = ref.vae_flow_prior(m.networks["q_eta"], twin, m.networks["p_theta"], x, eps)
        torch.testing.assert_close(got["eta"], e2["eta"], rtol=1e-5, atol=1e-5)
        torch.manual_seed(3)
        elbo = m.elbo({"x": x})
        torch.testing.assert_close(
            -elbo.mean(),
            ref.vae_flow_prior(m.networks["q_eta"], twin, m.networks["p_theta"], x, m.last_draws["eps:q_eta"])["eta"],
            rtol=1e-5,
            atol=1e-5,
        )


def test_vae_with_an_iaf_posterior() -> None:
    torch.manual_seed(0)
    m = compile_spec(SPECS / "extra" / "vae_iaf.sgm")
    _perturb(m)
    x = digits(16)
    got = m.losses({"x": x})
    eps = m.last_draws["eps:q_eta"]
    maf = _shared("iaf", 8, 64, 2, (64, 64), m.networks["f_eta"].lazy)
    expected = ref.vae_iaf(m.networks["q_eta"], maf, m.networks["p_theta"], x, eps)
    assert_same_losses_and_gradients(m, got, expected, "vae_iaf")
    assert not m.exact


def test_uniform_dequantization() -> None:
    torch.manual_seed(0)
    m = compile_spec(SPECS / "extra" / "dequant_flow.sgm")
    _perturb(m)
    x = digits(16)
    got = m.losses({"x": x})
    u = m.last_draws["noise:x->v"]
    assert float(u.min()) >= 0 and float(u.max()) < 1
    flow = _shared("realnvp", 64, 0, 4, (128,), m.networks["f_theta"].lazy)
    assert_same_losses_and_gradients(m, got, ref.uniform_dequantization(flow, x, u, 16.0), "dequant_flow")
    with torch.no_grad():  # the bound includes the constant log q(v | x) = 64 log 16
        torch.manual_seed(4)
        bound = m.elbo({"x": x})
        u = m.last_draws["noise:x->v"]
        expect = ref.dequantization_bound(flow().log_prob(x + u / 16), torch.full((16,), 64 * math.log(16.0)))
        torch.testing.assert_close(bound, expect, rtol=1e-5, atol=1e-4)
    with pytest.raises(Exception, match="bound, not an exact likelihood"):
        m.log_likelihood({"x": x})


def test_variational_dequantization() -> None:
    torch.manual_seed(0)
    m = compile_spec(SPECS / "extra" / "vdequant_flow.sgm")
    _perturb(m)
    x = digits(16)
    got = m.losses({"x": x})
    e = m.last_draws["noise:q_eta"]
    maf = _shared("iaf", 64, 64, 2, (64,), m.networks["q_eta"].flow.lazy)
    flow = _shared("realnvp", 64, 0, 4, (128,), m.networks["f_theta"].lazy)
    expected = ref.variational_dequantization(maf, flow, x, e, 16.0)
    # the objective drops no constant here: log q(v | x) has the group eta, and includes 64 log 16
    assert_same_losses_and_gradients(m, got, expected, "vdequant_flow")


@pytest.mark.parametrize("name", ["flow2d", "dequant_flow", "vdequant_flow", "vae_flow_prior", "vae_iaf"])
def test_samples_come_from_the_generative_process(name: str) -> None:
    torch.manual_seed(0)
    m = compile_spec(SPECS / "extra" / f"{name}.sgm")
    with torch.no_grad():
        out = m.sample(50)
    x = out["x"]
    assert x.shape[0] == 50 and torch.isfinite(x).all()
    if "dequant" in name:  # quantized back onto the 17-level grid
        torch.testing.assert_close(x * 16, torch.round(x * 16))
    if name == "flow2d":  # x = f(z) for the prior draw z
        with torch.no_grad():
            again, _ = m.networks["f_theta"](out["z"])
        torch.testing.assert_close(again, x)
