"""The options a flow graph honours, against hand-written references (tests/reference/flows.py,
zuko directly): ``beta`` on a VAE with a flow prior and on one with an IAF posterior, the
importance-weighted bound of ``importance_samples``; and the clear errors where an option has
nothing to act on."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import SPECS
from reference import flows as ref
from reference.batches import digits
from reference.compare import assert_same_losses_and_gradients
from test_flow_reference import _perturb, _shared

from schemagm.compiler import compile as compile_spec
from schemagm.errors import SpecError


def _with(name: str, options: str) -> str:
    return (SPECS / "extra" / f"{name}.sgm").read_text() + f"\noptions {{\n{options}\n}}\n"


def test_beta_weights_the_kl_part_of_a_vae_with_a_flow_prior() -> None:
    torch.manual_seed(0)
    m = compile_spec(_with("vae_flow_prior", "  beta = 0.25"))
    _perturb(m)
    x = digits(16)
    got = m.losses({"x": x})
    prior = _shared("maf", 8, 0, 4, (64, 64), m.networks["f_theta"].lazy)
    expected = ref.beta_vae_flow_prior(
        m.networks["q_eta"], prior, m.networks["p_theta"], x, m.last_draws["eps:q_eta"], 0.25
    )
    assert_same_losses_and_gradients(m, got, expected, "vae_flow_prior, beta = 0.25")
    weights = {t.name: t.weight for t in m.objective.terms}
    assert weights == {"log_q:q_eta": 0.25, "logdet:f_theta": 0.25, "prior:z0": 0.25, "nll:p_theta": 1.0}
    assert m.objective.term("prior:z0").formula.startswith("−0.25·𝔼")


def test_beta_weights_the_iaf_posterior_and_its_prior() -> None:
    torch.manual_seed(0)
    m = compile_spec(_with("vae_iaf", "  beta = 2"))
    _perturb(m)
    x = digits(16)
    got = m.losses({"x": x})
    maf = _shared("iaf", 8, 64, 2, (64, 64), m.networks["f_eta"].lazy)
    expected = ref.beta_vae_iaf(m.networks["q_eta"], maf, m.networks["p_theta"], x, m.last_draws["eps:q_eta"], 2.0)
    assert_same_losses_and_gradients(m, got, expected, "vae_iaf, beta = 2")


@pytest.mark.parametrize("k", [2, 5])
def test_importance_samples_give_the_iw_bound_of_a_vae_with_a_flow_prior(k: int) -> None:
    torch.manual_seed(0)
    m = compile_spec(_with("vae_flow_prior", f"  importance_samples = {k}"))
    _perturb(m)
    x = digits(12)
    got = m.losses({"x": x})
    assert [t.name for t in m.objective.terms] == ["iw_bound"]
    eps = m.last_draws["eps:q_eta"]
    assert eps.shape == (k * 12, 8)  # row i·n + j: draw i of data row j
    prior = _shared("maf", 8, 0, 4, (64, 64), m.networks["f_theta"].lazy)
    log_w = ref.vae_flow_prior_log_w(m.networks["q_eta"], prior, m.networks["p_theta"], x.repeat(k, 1), eps)
    loss = -ref.iw_bound(log_w, k).mean()
    assert_same_losses_and_gradients(m, got, {"eta": loss, "theta": loss}, f"vae_flow_prior, k = {k}")
    with torch.no_grad():  # the method and the option compute the same bound on the same draws
        torch.manual_seed(11)
        b = m.iw_bound({"x": x}, k)
        log_w = ref.vae_flow_prior_log_w(
            m.networks["q_eta"], prior, m.networks["p_theta"], x.repeat(k, 1), m.last_draws["eps:q_eta"]
        )
        torch.testing.assert_close(b, ref.iw_bound(log_w, k), rtol=1e-5, atol=1e-5)


def test_importance_samples_on_a_dequantized_flow_weight_the_dequantization() -> None:
    torch.manual_seed(0)
    m = compile_spec(_with("dequant_flow", "  importance_samples = 3"))
    _perturb(m)
    x = digits(8)
    got = m.losses({"x": x})
    u = m.last_draws["noise:x->v"]
    assert u.shape == (24, 64)
    flow = _shared("realnvp", 64, 0, 4, (128,), m.networks["f_theta"].lazy)
    log_w = flow().log_prob(x.repeat(3, 1) + u / 16) - 64 * math.log(16.0)
    loss = -ref.iw_bound(log_w, 3).mean()
    assert_same_losses_and_gradients(m, got, {"theta": loss}, "dequant_flow, k = 3")


def _error(text: str) -> SpecError:
    with pytest.raises(SpecError) as info:
        compile_spec(text)
    return info.value


def _line(text: str, needle: str) -> int:
    return next(i for i, s in enumerate(text.splitlines(), 1) if needle in s)


def test_options_with_nothing_to_act_on_are_errors_at_the_option() -> None:
    text = _with("flow2d", "  importance_samples = 4")
    err = _error(text)
    assert "nothing to weight" in err.message and "exact" in err.message
    assert err.span is not None and (err.span.line, err.span.column) == (_line(text, "importance_samples"), 3)
    text = _with("dequant_flow", "  beta = 0.5")
    err = _error(text)
    assert "no posterior" in err.message and err.span is not None and err.span.line == _line(text, "beta =")
    text = _with("vae_iaf", "  beta = 0.5\n  importance_samples = 2")
    err = _error(text)
    assert "set one of them" in err.message and err.span is not None and err.span.line == _line(text, "beta =")


def test_what_the_flow_path_cannot_honour_stays_refused() -> None:
    text = (SPECS / "extra" / "flow2d.sgm").read_text()
    err = _error(
        text.replace("latent z : normal[2]", "latent z : normal[2]\nindicator y")
        + "x -> y : D_phi = mlp(8) adversarial\n"
    )
    assert "adversar" in err.message and err.span is not None
