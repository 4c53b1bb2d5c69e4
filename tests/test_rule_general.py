"""The rule factor by factor (SEMANTICS §2): hierarchies and discrete latents, against hand-written
references on the same draws (tests/reference/hierarchy.py), values and gradients per group."""

from __future__ import annotations

import pytest
import torch
from reference import hierarchy as ref
from reference.batches import digits
from reference.catalog import draw, gaussian, net
from reference.compare import assert_same_losses_and_gradients

from schemagm.errors import SpecError

X = "data x : real[16] in [0, 1]\n"

TWO_LAYER = (
    "model hvae\n" + X + "latent z1 : real[4]\nlatent z2 : normal[3]\n"
    "x --> z1 : q_eta = mlp(16) normal\nz1 --> z2 : r_eta = mlp(16) normal\n"
    "z2 -> z1 : p_theta = mlp(16) normal\nz1 -> x : g_theta = mlp(16) bernoulli\n"
)
THREE_LAYER = (
    "model hvae3\n" + X + "latent z1 : real[4]\nlatent z2 : real[3]\nlatent z3 : normal[2]\n"
    "x --> z1 : q_eta = mlp(16) normal\nz1 --> z2 : r_eta = mlp(16) normal\nz2 --> z3 : s_eta = mlp(16) normal\n"
    "z3 -> z2 : p_theta = mlp(16) normal\nz2 -> z1 : o_theta = mlp(16) normal\nz1 -> x : g_theta = mlp(16) bernoulli\n"
)
TOP_DOWN = (
    "model ladder\n" + X + "latent z1 : real[4]\nlatent z2 : normal[3]\n"
    "x --> z2 : r_eta = mlp(16) normal\nx, z2 --> z1 : q_eta = mlp(16) normal\n"
    "z2 -> z1 : p_theta = mlp(16) normal\nz1 -> x : g_theta = mlp(16) bernoulli\n"
)
CAT_VAE = (
    "model catvae\n"
    + X
    + "latent c : categorical[5]\nx --> c : q_eta = mlp(16) categorical\nc -> x : p_theta = mlp(16) bernoulli\n"
)
MIXTURE = (
    "model gmm\ndata x : real[2]\nlatent c : categorical[4]\n"
    "x --> c : q_eta = mlp(16) categorical\nc -> x : p_theta = mlp(16) normal\n"
)
SBN = (
    "model sbn\n"
    + X
    + "latent h : bernoulli[12]\nx --> h : q_eta = mlp(16) bernoulli\nh -> x : p_theta = mlp(16) bernoulli\n"
)


def compiled(text: str, seed: int = 0):
    from schemagm.compiler import compile as compile_spec

    torch.manual_seed(seed)
    return compile_spec(text)


def binary(n: int = 12) -> torch.Tensor:
    return (digits(n)[:, :16] > 0.5).float()


def run(model, batch, seed: int = 1):
    torch.manual_seed(seed)
    return model.losses(batch)


def test_two_layer_vae_pairs_every_dashed_factor_with_its_p_side() -> None:
    model = compiled(TWO_LAYER)
    assert sorted(t.name for t in model.objective.terms) == ["kl:q_eta", "kl:r_eta", "nll:g_theta"]
    assert "log q_η(z1|x) − log p_θ(z1|z2)" in model.objective.term("kl:q_eta").formula
    batch = {"x": binary()}
    got = run(model, batch)
    m = model
    expected = ref.two_layer_bottom_up(
        gaussian(m, "q_eta"),
        gaussian(m, "r_eta"),
        gaussian(m, "p_theta"),
        net(m, "g_theta"),
        batch["x"],
        draw(m, "eps:q_eta:y=1"),
        draw(m, "eps:r_eta:y=1"),
    )
    assert_same_losses_and_gradients(model, got, expected, "two-layer")


def test_three_layer_vae() -> None:
    model = compiled(THREE_LAYER)
    batch = {"x": binary()}
    got = run(model, batch)
    m = model
    g = lambda k: gaussian(m, k)  # noqa: E731
    expected = ref.three_layer_bottom_up(
        g("q_eta"),
        g("r_eta"),
        g("s_eta"),
        g("o_theta"),
        g("p_theta"),
        net(m, "g_theta"),
        batch["x"],
        draw(m, "eps:q_eta:y=1"),
        draw(m, "eps:r_eta:y=1"),
        draw(m, "eps:s_eta:y=1"),
    )
    assert_same_losses_and_gradients(model, got, expected, "three-layer")


def test_top_down_inference_takes_the_closed_form_kl_of_a_conditional_pair() -> None:
    model = compiled(TOP_DOWN)
    assert model.objective.term("kl:q_eta").formula.endswith("KL(q_η(z1|x, z2) ‖ p_θ(z1|z2))")
    batch = {"x": binary()}
    got = run(model, batch)
    m = model
    expected = ref.two_layer_top_down(
        gaussian(m, "r_eta"),
        gaussian(m, "q_eta"),
        gaussian(m, "p_theta"),
        net(m, "g_theta"),
        batch["x"],
        draw(m, "eps:r_eta:y=1"),
        draw(m, "eps:q_eta:y=1"),
    )
    assert_same_losses_and_gradients(model, got, expected, "top-down")


def test_two_layer_iwae_k5() -> None:
    model = compiled(TWO_LAYER + "options {\n  importance_samples = 5\n}\n")
    assert [t.name for t in model.objective.terms] == ["iw_bound"]
    batch = {"x": binary()}
    got = run(model, batch)
    m = model
    e1, e2 = draw(m, "eps:q_eta:y=1"), draw(m, "eps:r_eta:y=1")
    assert e1.shape == (5, 12, 4) and e2.shape == (5, 12, 3)
    expected = ref.two_layer_iwae(
        gaussian(m, "q_eta"), gaussian(m, "r_eta"), gaussian(m, "p_theta"), net(m, "g_theta"), batch["x"], e1, e2
    )
    assert_same_losses_and_gradients(model, got, expected, "two-layer iwae")


def test_categorical_vae_is_summed_out_exactly() -> None:
    model = compiled(CAT_VAE)
    assert "Σ_c q_η(c|x) log p_θ(x|c)" in model.objective.term("nll:p_theta").formula
    batch = {"x": binary()}
    got = run(model, batch)
    expected = ref.categorical_vae(net(model, "q_eta"), net(model, "p_theta"), batch["x"], 5)
    assert_same_losses_and_gradients(model, got, expected, "categorical vae")


def test_gaussian_mixture_is_summed_out_exactly() -> None:
    model = compiled(MIXTURE)
    torch.manual_seed(3)
    batch = {"x": torch.randn(20, 2) * 2}
    got = run(model, batch)
    expected = ref.mixture(net(model, "q_eta"), gaussian(model, "p_theta"), batch["x"], 4)
    assert_same_losses_and_gradients(model, got, expected, "mixture")
    assert model.last_draws == {}  # nothing sampled: c is summed, x is data


def test_sigmoid_belief_net_uses_the_score_function_with_a_baseline() -> None:
    model = compiled(SBN)  # 2^12 values: too many to sum, so `discrete = auto` scores
    batch = {"x": binary()}
    run(model, batch)  # a first call sets the baseline
    got = run(model, batch, seed=2)
    b = model.last_baselines["nll:p_theta"]
    assert b != 0.0
    h = draw(model, "sample:q_eta:y=1")
    expected = ref.sbn_score(net(model, "q_eta"), net(model, "p_theta"), batch["x"], h, b)
    assert_same_losses_and_gradients(model, got, expected, "sbn")


def test_score_function_gradient_matches_the_exact_gradient_on_average() -> None:
    """On a tiny model (h of 2 bits), the surrogate's gradient averaged over many draws agrees with
    the gradient of the exact objective (h summed out) within Monte Carlo error."""
    text = (
        "model tiny\ndata x : real[3] in [0, 1]\nlatent h : bernoulli[2]\n"
        "x --> h : q_eta = mlp(4) bernoulli\nh -> x : p_theta = mlp(4) bernoulli\noptions {\n  discrete = score\n}\n"
    )
    model = compiled(text, seed=4)
    x = torch.tensor([[1.0, 0.0, 1.0]]).repeat(400, 1)
    params = model.parameters_of("eta")
    exact = torch.autograd.grad(ref.sbn_exact(net(model, "q_eta"), net(model, "p_theta"), x[:1], 2), params)
    exact_flat = torch.cat([g.reshape(-1) for g in exact])
    grads = []
    for seed in range(30):
        torch.manual_seed(100 + seed)
        loss = model.losses({"x": x})["eta"]
        grads.append(torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, params)]))
    g = torch.stack(grads)
    mean, se = g.mean(0), g.std(0) / len(grads) ** 0.5
    assert torch.all((mean - exact_flat).abs() <= 4 * se + 1e-4), (mean - exact_flat).abs().max()
    # and it is not the pathwise-only gradient (which misses the likelihood's dependence on q)
    model2 = compiled(text.replace("discrete = score", "discrete = enumerate"), seed=4)
    torch.manual_seed(0)
    enum = torch.autograd.grad(model2.losses({"x": x[:1]})["eta"], model2.parameters_of("eta"))
    torch.testing.assert_close(torch.cat([e.reshape(-1) for e in enum]), exact_flat, rtol=1e-5, atol=1e-6)


def test_elbo_and_iw_bound_for_a_hierarchy() -> None:
    model = compiled(TWO_LAYER)
    model.eval()
    x = binary(8)
    with torch.no_grad():
        torch.manual_seed(5)
        elbo = model.elbo({"x": x})
        m = model
        loss = ref.two_layer_bottom_up(
            gaussian(m, "q_eta"),
            gaussian(m, "r_eta"),
            gaussian(m, "p_theta"),
            net(m, "g_theta"),
            x,
            draw(m, "eps:q_eta:y=1"),
            draw(m, "eps:r_eta:y=1"),
        )
        torch.testing.assert_close(-elbo.mean(), loss["eta"], rtol=1e-5, atol=1e-5)
        iw = torch.stack([model.iw_bound({"x": x}, 50) for _ in range(4)]).mean(0)
        el = torch.stack([model.elbo({"x": x}) for _ in range(200)]).mean(0)
    assert iw.shape == (8,) and bool(torch.all(iw > el - 0.5))  # the k = 50 bound is the tighter


def test_prior_and_solid_producer_together_is_an_error() -> None:
    text = TWO_LAYER.replace("latent z1 : real[4]", "latent z1 : normal[4]")
    with pytest.raises(SpecError) as exc:
        compiled(text)
    assert "'z1' has a prior and a solid producer" in str(exc.value)
    assert exc.value.diagnostics[0].span.line == 7


def test_hollow_dashed_producer_of_a_latent_with_a_solid_p_side_is_an_error() -> None:
    text = TWO_LAYER.replace("x --> z1 : q_eta = mlp(16) normal", "x ==> z1 : E_eta = mlp(16)")
    with pytest.raises(SpecError) as exc:
        compiled(text)
    assert "'z1' has a solid producer but its dashed producer is deterministic (hollow)" in str(exc.value)
    d = exc.value.diagnostics[0]
    assert d.span.line == 5 and "red edge" in (d.hint or "")


def test_enumerate_refuses_a_large_support() -> None:
    with pytest.raises(SpecError) as exc:
        compiled(SBN + "options {\n  discrete = enumerate\n}\n")
    assert "4096 values" in str(exc.value)


def test_beta_prints_with_its_value() -> None:
    model = compiled(CAT_VAE + "options {\n  beta = 4\n}\n")
    assert model.objective.term("kl:q_eta").formula == "4·KL(q_η(c|x) ‖ p(c))"


def test_a_stochastic_dashed_factor_without_a_p_side_is_an_error() -> None:
    text = (
        "model m\n" + X + "latent z : real[2]\nx --> z : q_eta = mlp(8) normal\nz -> x : p_theta = mlp(8) bernoulli\n"
    )
    with pytest.raises(SpecError) as exc:
        compiled(text)
    assert "the generative process has no factor for it" in str(exc.value)
    d = exc.value.diagnostics[0]
    assert d.span.line == 4 and "prior" in (d.hint or "")


def test_a_discrete_sample_tested_by_an_adversary_is_an_error() -> None:
    text = (
        "model m\ndata x : real[3] in [0, 1]\nlatent z : normal[2]\nindicator y\n"
        "z, y --> x : G_theta = mlp(8) bernoulli\nx -> y : D_phi = mlp(8) adversarial\n"
    )
    with pytest.raises(SpecError) as exc:
        compiled(text)
    assert "discrete sample without a reparameterisation, and a red edge tests it" in str(exc.value)
    assert exc.value.diagnostics[0].span.line == 5
