"""Heads, priors, analytic KLs, MMD² and reconstruction distances against torch.distributions,
numpy loops and closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.distributions as D
import torch.nn.functional as F

from schemagm.compiler.distributions import Head, Prior, kl_to_prior, mmd2, reconstruction


def test_normal_head_splits_mean_and_log_variance_and_matches_torch() -> None:
    torch.manual_seed(0)
    raw = torch.randn(5, 6)
    d = Head("normal")(raw)
    mean, logvar = raw[:, :3], raw[:, 3:]
    torch.testing.assert_close(d.loc, mean)
    torch.testing.assert_close(d.std, torch.exp(0.5 * logvar))
    v = torch.randn(5, 3)
    ref = D.Normal(mean, torch.exp(0.5 * logvar)).log_prob(v).sum(1)
    torch.testing.assert_close(d.log_prob(v), ref)
    eps = torch.randn(5, 3)
    torch.testing.assert_close(d.rsample_with(eps), mean + torch.exp(0.5 * logvar) * eps)


def test_a_learned_normal_uses_the_networks_log_std_as_it_is() -> None:
    """log std is logvar / 2 from the output, not log(exp(logvar / 2)): densities and KLs match
    torch, and the KL stays finite where exp underflows (log(exp(.)) would give -inf)."""
    from schemagm.compiler.distributions import kl_pair

    raw = torch.tensor([[0.3, -1.0, 2.0, -250.0], [-0.7, 0.4, -3.0, 1.5]], dtype=torch.float64)
    d = Head("normal")(raw)
    assert torch.equal(d.log_std, 0.5 * raw[:, 2:])
    ref = D.Normal(raw[:, :2], torch.exp(0.5 * raw[:, 2:]))
    v = raw[:, :2] + 1e-60
    torch.testing.assert_close(d.log_prob(v), ref.log_prob(v).sum(1))
    prior = D.Normal(torch.zeros(2, 2, dtype=torch.float64), torch.ones(2, 2, dtype=torch.float64))
    torch.testing.assert_close(kl_to_prior(d, Prior("normal", (2,))), D.kl_divergence(ref, prior).sum(1))
    flipped = raw.flip(0)
    expected = D.kl_divergence(ref, D.Normal(flipped[:, :2], torch.exp(0.5 * flipped[:, 2:]))).sum(1)
    torch.testing.assert_close(kl_pair(d, Head("normal")(flipped)), expected)
    tiny = Head("normal")(torch.tensor([[0.5, -1600.0]], dtype=torch.float64))  # std = exp(-800) = 0.0
    assert float(tiny.std) == 0.0
    assert float(kl_to_prior(tiny, Prior("normal", (1,)))) == 0.5 * (0.25 - 1.0) + 800.0


def test_fixed_std_normal_takes_the_mean_only() -> None:
    h = Head("normal", std=0.1)
    assert h.blocks == 1
    d = h(torch.zeros(2, 4))
    torch.testing.assert_close(d.std, torch.full((2, 4), 0.1))
    assert Head("normal").blocks == 2


def test_bernoulli_and_categorical_log_prob_match_torch() -> None:
    torch.manual_seed(1)
    logits = torch.randn(4, 7)
    x = torch.rand(4, 7).round()
    torch.testing.assert_close(Head("bernoulli")(logits).log_prob(x), D.Bernoulli(logits=logits).log_prob(x).sum(1))
    idx = torch.randint(7, (4,))
    onehot = F.one_hot(idx, 7).float()
    torch.testing.assert_close(Head("categorical")(logits).log_prob(onehot), D.Categorical(logits=logits).log_prob(idx))


def test_bernoulli_sample_is_u_below_p() -> None:
    logits = torch.tensor([[0.0, 3.0, -3.0]])
    u = torch.tensor([[0.4, 0.9, 0.1]])
    s = Head("bernoulli")(logits).sample_with(u)
    assert s.tolist() == [[1.0, 1.0, 0.0]]


def test_bernoulli_sample_is_exactly_u_below_p_and_leaves_its_inputs() -> None:
    torch.manual_seed(1)
    logits, u = torch.randn(64, 32, requires_grad=True), torch.rand(64, 32)
    before_u, before_logits = u.clone(), logits.detach().clone()
    s = Head("bernoulli")(logits).sample_with(u)
    assert torch.equal(s, (u < torch.sigmoid(before_logits)).to(torch.float32))
    assert s.dtype == torch.float32 and not s.requires_grad
    assert torch.equal(u, before_u) and torch.equal(logits.detach(), before_logits)


def test_a_fresh_base_gives_the_same_prior_draw_written_in_place() -> None:
    torch.manual_seed(2)
    for prior in (Prior("uniform", (5,), -1.0, 1.0), Prior("uniform", (5,), 0.25, 3.0), Prior("bernoulli", (5,))):
        base = torch.rand(50, 5)
        kept = base.clone()
        plain = prior.from_base(base)
        assert torch.equal(base, kept)  # not fresh: the base is left as it was
        fresh = prior.from_base(base, fresh=True)
        assert torch.equal(fresh, plain) and fresh.data_ptr() == base.data_ptr()


def test_categorical_sample_frequencies_follow_the_probabilities() -> None:
    torch.manual_seed(2)
    logits = torch.log(torch.tensor([[0.7, 0.2, 0.1]])).expand(20000, 3)
    s = Head("categorical")(logits).sample_with(torch.rand(20000, 3))
    assert torch.all(s.sum(1) == 1)
    freq = s.mean(0)
    torch.testing.assert_close(freq, torch.tensor([0.7, 0.2, 0.1]), atol=0.02, rtol=0)


def test_relaxed_samples_lie_in_the_simplex_and_sharpen_with_temperature() -> None:
    torch.manual_seed(3)
    logits = torch.randn(6, 5, requires_grad=True)
    u = torch.rand(6, 5)
    hot = Head("relaxed_categorical", temperature=5.0)(logits)
    cold = Head("relaxed_categorical", temperature=0.05)(logits)
    a, b = hot.rsample_with(hot.noise_from(u)), cold.rsample_with(cold.noise_from(u))
    torch.testing.assert_close(a.sum(1), torch.ones(6))
    assert b.max(1).values.min() > a.max(1).values.max()
    a.sum().backward()  # reparameterised: gradient reaches the logits
    assert logits.grad is not None
    rb = Head("relaxed_bernoulli", temperature=0.5)(torch.zeros(3, 2))
    v = rb.rsample_with(rb.noise_from(torch.tensor([[0.1, 0.9]] * 3)))
    assert torch.all((v > 0) & (v < 1)) and torch.all(v[:, 0] < 0.5) and torch.all(v[:, 1] > 0.5)


def test_analytic_kl_normal_matches_torch() -> None:
    torch.manual_seed(4)
    d = Head("normal")(torch.randn(8, 10))
    ref = D.kl_divergence(D.Normal(d.loc, d.std), D.Normal(torch.zeros(8, 5), torch.ones(8, 5))).sum(1)
    torch.testing.assert_close(kl_to_prior(d, Prior("normal", (5,))), ref)


def test_analytic_kl_categorical_and_bernoulli_match_torch() -> None:
    torch.manual_seed(5)
    logits = torch.randn(6, 4)
    ref = D.kl_divergence(D.Categorical(logits=logits), D.Categorical(probs=torch.full((6, 4), 0.25)))
    torch.testing.assert_close(kl_to_prior(Head("categorical")(logits), Prior("categorical", (4,))), ref)
    ref_b = D.kl_divergence(D.Bernoulli(logits=logits), D.Bernoulli(probs=torch.full((6, 4), 0.5))).sum(1)
    torch.testing.assert_close(kl_to_prior(Head("bernoulli")(logits), Prior("bernoulli", (4,))), ref_b)
    # relaxed heads are regularised with the KL of the density that scores them
    torch.testing.assert_close(kl_to_prior(Head("relaxed_categorical")(logits), Prior("categorical", (4,))), ref)


def test_no_closed_form_for_normal_against_uniform() -> None:
    assert kl_to_prior(Head("normal")(torch.zeros(2, 4)), Prior("uniform", (2,), -1, 1)) is None


def test_priors_sample_in_their_support_and_score_their_density() -> None:
    torch.manual_seed(6)
    u = Prior("uniform", (3,), -1.0, 1.0)
    s = u.sample(4000)
    assert s.min() >= -1 and s.max() <= 1 and abs(float(s.mean())) < 0.05
    torch.testing.assert_close(u.log_prob(s[:2]), torch.full((2,), -3 * math.log(2.0)))
    n = Prior("normal", (3,))
    z = torch.randn(5, 3)
    torch.testing.assert_close(n.log_prob(z), D.Normal(0.0, 1.0).log_prob(z).sum(1))
    c = Prior("categorical", (10,))
    oh = c.sample(3)
    assert torch.all(oh.sum(1) == 1)
    torch.testing.assert_close(c.log_prob(oh), torch.full((3,), -math.log(10)))
    b = Prior("bernoulli", (6,))
    torch.testing.assert_close(b.log_prob(b.sample(2)), torch.full((2,), -6 * math.log(2)))
    freq = Prior("categorical", (4,)).from_base(torch.rand(20000, 4)).mean(0)
    torch.testing.assert_close(freq, torch.full((4,), 0.25), atol=0.02, rtol=0)


def _mmd2_numpy(a: np.ndarray, b: np.ndarray, bws: tuple[float, ...]) -> float:
    def k(u: np.ndarray, v: np.ndarray) -> float:
        return sum(math.exp(-float(((u - v) ** 2).sum()) / (2 * s * s)) for s in bws)

    kaa = sum(k(x, y) for x in a for y in a) / (len(a) ** 2)
    kbb = sum(k(x, y) for x in b for y in b) / (len(b) ** 2)
    kab = sum(k(x, y) for x in a for y in b) / (len(a) * len(b))
    return kaa + kbb - 2 * kab


@pytest.mark.parametrize("bws", [(1.0,), (0.5, 1.0, 2.0, 4.0)])
def test_mmd2_matches_a_numpy_double_loop(bws: tuple[float, ...]) -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(7, 3))
    b = rng.normal(loc=0.5, size=(5, 3))
    got = mmd2(torch.tensor(a), torch.tensor(b), *bws)
    assert float(got) == pytest.approx(_mmd2_numpy(a, b, bws), rel=1e-9, abs=1e-12)
    assert float(mmd2(torch.tensor(a), torch.tensor(a), *bws)) == pytest.approx(0.0, abs=1e-9)


def test_reconstruction_distances() -> None:
    torch.manual_seed(7)
    x = torch.rand(3, 4)
    p = torch.rand(3, 4)
    ref = -(x * torch.log(p) + (1 - x) * torch.log(1 - p)).sum(1)
    torch.testing.assert_close(reconstruction(p, x, "bce"), ref)
    logits = torch.logit(p)
    torch.testing.assert_close(reconstruction(logits, x, "bce", logits=True), ref, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(reconstruction(p, x, "mse"), ((p - x) ** 2).sum(1))
