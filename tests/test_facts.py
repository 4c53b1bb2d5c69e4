"""The facts of SEMANTICS.md §5 as properties, computed by the COMPILED GAN objective and checked
against independent references written with numpy/scipy.

Two things make the compiled expectations exact instead of sampled:

* the generator's noise is a data node read from the batch (``u``), so that a batch can hold an
  exact distribution: a discrete one by repeating each value in proportion to its probability,
  a continuous one by the quantile grid u_j = (j + 1/2) / M pushed through the generator's inverse
  CDF (midpoint quadrature in u);
* the discriminator is a network registered from Python (``schemagm.registry.register_network``)
  whose output is the optimal D* = p_data / (p_data + p_g): a lookup table of logits on a discrete
  support, or the log density ratio of two Gaussians in 1-D.

The compiler drops p(y)'s factor 1/2 (docs/design.md §3), so its discriminator loss is
-[E_data log D + E_g log(1 - D)] = -V(D, G) and its non-saturating generator loss is
-E_g log D(G(u)), twice the paper's -E_{p(y=0)} term.
"""

from __future__ import annotations

import math
from functools import cache, lru_cache

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats
from scipy.integrate import trapezoid
from scipy.spatial.distance import jensenshannon
from torch import nn

from schemagm.compiler import compile as compile_spec
from schemagm.graph.build import parse
from schemagm.registry import register_network

# -- networks registered for the facts ------------------------------------------------------------


class LookupTable(nn.Module):
    """A discriminator on a categorical node: one logit per class (a one-hot input picks it)."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(out_features, in_features))

    def forward(self, onehot: torch.Tensor) -> torch.Tensor:
        return onehot.reshape(onehot.shape[0], -1) @ self.logits.T


class GaussianQuantile(nn.Module):
    """A 1-D generator x = mu + sigma * Phi^{-1}(u): pushes u ~ U(0, 1) to N(mu, sigma^2)."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.mu = nn.Parameter(torch.zeros(()))
        self.log_sigma = nn.Parameter(torch.zeros(()))

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return self.mu + self.log_sigma.exp() * torch.special.ndtri(u.reshape(-1, 1))


class GaussianLogRatio(nn.Module):
    """The optimal discriminator's logit log p_data(x) - log p_g(x) for two Gaussians (fixed)."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        # fixed (no gradient), but held as a parameter: the compiler's reversed term evaluates a
        # twin of the discriminator that shares its parameters (buffers are copied once)
        self.params = nn.Parameter(torch.tensor([0.0, 1.0, 0.0, 1.0], dtype=torch.float64), requires_grad=False)
        self.scale = nn.Parameter(torch.ones(()))  # phi has a parameter; kept at 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        md, sd, mg, sg = self.params
        x = x.reshape(-1, 1).double()
        log_ratio = (-0.5 * ((x - md) / sd) ** 2 - torch.log(sd)) - (-0.5 * ((x - mg) / sg) ** 2 - torch.log(sg))
        return (self.scale * log_ratio).float()


register_network("fact_lookup_table", LookupTable, parametric=True, replace=True)
register_network("fact_gaussian_quantile", GaussianQuantile, parametric=True, replace=True)
register_network("fact_gaussian_log_ratio", GaussianLogRatio, parametric=True, replace=True)


@cache
def discrete_gan(k: int):
    """A GAN over a categorical data node x with k classes; the noise u is read from the batch and
    G_theta (an affine map set to the identity) passes it on: the generated x has u's law."""
    model = compile_spec(
        parse(
            f"""model gan_discrete "GAN on a discrete support, noise from the batch"
data      x : categorical[{k}]
data      u : categorical[{k}]
indicator y
u, y ==> x : G_theta = linear
x -> y     : D_phi   = fact_lookup_table adversarial
"""
        )
    )
    affine = next(m for m in model.networks["G_theta"].modules() if isinstance(m, nn.Linear))
    with torch.no_grad():
        affine.weight.copy_(torch.eye(k))
        affine.bias.zero_()
    return model


@lru_cache(maxsize=1)
def gaussian_gan():
    return compile_spec(
        parse(
            """model gan_1d "1-D GAN with a quantile generator"
data      x : real[1]
data      u : real[1] in [0, 1]
indicator y
u, y ==> x : G_theta = fact_gaussian_quantile
x -> y     : D_phi   = fact_gaussian_log_ratio adversarial
"""
        )
    )


# -- references (numpy / scipy) ------------------------------------------------------------------


def jsd(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence in nats (scipy returns its square root)."""
    return float(jensenshannon(p, q, base=math.e) ** 2)


counts = st.integers(2, 5).flatmap(
    lambda k: st.tuples(
        st.lists(st.integers(0, 6), min_size=k, max_size=k).filter(lambda c: sum(c) > 0),
        st.lists(st.integers(0, 6), min_size=k, max_size=k).filter(lambda c: sum(c) > 0),
    )
)


def exact_batch(a: list[int], b: list[int]) -> dict[str, torch.Tensor]:
    """x with law a / sum(a) and u with law b / sum(b), exactly, in sum(a) * sum(b) rows."""
    na, nb = sum(a), sum(b)
    x = torch.repeat_interleave(torch.arange(len(a)), torch.tensor(a) * nb)
    u = torch.repeat_interleave(torch.arange(len(b)), torch.tensor(b) * na)
    return {"x": x, "u": u}


def set_optimal_table(model, p_data: np.ndarray, p_g: np.ndarray) -> None:
    with np.errstate(divide="ignore"):
        logits = np.clip(np.log(p_data) - np.log(p_g), -60.0, 60.0)  # D* = p_data / (p_data + p_g)
    logits[(p_data == 0) & (p_g == 0)] = 0.0
    with torch.no_grad():
        model.networks["D_phi"].logits.copy_(torch.tensor(logits, dtype=torch.float32)[None, :])


# -- fact 1: the value of the game at the optimal discriminator --------------------------------


@given(counts)
def test_gan_value_at_the_optimal_discriminator_is_2_jsd_minus_log_4(ab: tuple[list[int], list[int]]) -> None:
    a, b = ab
    p_data, p_g = np.array(a) / sum(a), np.array(b) / sum(b)
    model = discrete_gan(len(a))
    set_optimal_table(model, p_data, p_g)
    batch = exact_batch(a, b)
    loss_phi = model.losses(batch)["phi"]
    value = -loss_phi.item()  # V(D*, G) = E_data log D* + E_g log(1 - D*)
    assert math.isclose(value, 2 * jsd(p_data, p_g) - math.log(4), rel_tol=1e-5, abs_tol=1e-5)
    # D* is the optimum of the compiled objective: its gradient vanishes on the support
    table = model.networks["D_phi"].logits
    (grad,) = torch.autograd.grad(loss_phi, table)
    on_support = torch.tensor((p_data > 0) & (p_g > 0))
    assert torch.allclose(grad[0][on_support], torch.zeros(int(on_support.sum())), atol=1e-5)


@given(st.lists(st.integers(1, 6), min_size=2, max_size=5))
def test_gan_value_is_minus_log_4_when_the_distributions_agree(a: list[int]) -> None:
    model = discrete_gan(len(a))
    p = np.array(a) / sum(a)
    set_optimal_table(model, p, p)  # D* = 1/2 everywhere
    assert torch.allclose(torch.sigmoid(model.networks["D_phi"].logits), torch.tensor(0.5))
    value = -model.losses(exact_batch(a, a))["phi"].item()
    assert math.isclose(value, -math.log(4), rel_tol=1e-6)


# -- fact 2 (Lemma 1): the generator's gradient at the optimal discriminator -------------------


def kl_half_minus_jsd(mu: float, sigma: float, md: float, sd: float) -> float:
    """KL(p_g || p_data) / 2 - JSD(p_g || p_data) for p_g = N(mu, sigma^2), p_data = N(md, sd^2),
    by the trapezoid rule on a fine grid."""
    lo = min(mu - 12 * sigma, md - 12 * sd)
    hi = max(mu + 12 * sigma, md + 12 * sd)
    x = np.linspace(lo, hi, 40001)
    lg, ld = stats.norm.logpdf(x, mu, sigma), stats.norm.logpdf(x, md, sd)
    pg, pd = np.exp(lg), np.exp(ld)
    lm = np.logaddexp(lg, ld) - math.log(2)
    kl = trapezoid(pg * (lg - ld), x)
    js = 0.5 * trapezoid(pg * (lg - lm), x) + 0.5 * trapezoid(pd * (ld - lm), x)
    return float(kl / 2 - js)


M = 200_000  # quantile grid of the generator's noise


@given(
    st.floats(-1.5, 1.5),
    st.floats(0.6, 1.6),
    st.floats(-1.5, 1.5),
    st.floats(0.6, 1.6),
)
def test_lemma_1_generator_gradient_at_the_optimal_discriminator(mu: float, sigma: float, md: float, sd: float) -> None:
    model = gaussian_gan()
    gen, disc = model.networks["G_theta"], model.networks["D_phi"]
    with torch.no_grad():
        gen.mu.fill_(mu)
        gen.log_sigma.fill_(math.log(sigma))
        disc.params.copy_(torch.tensor([md, sd, mu, sigma], dtype=torch.float64))  # D* for the current G
    u = (torch.arange(M, dtype=torch.float32) + 0.5) / M
    batch = {"x": torch.zeros(M, 1), "u": u[:, None]}  # x (the real side) does not enter theta's loss
    loss_theta = model.losses(batch)["theta"]  # -E_g log D*(G(u)), non-saturating
    g_mu, g_log_sigma = torch.autograd.grad(loss_theta, [gen.mu, gen.log_sigma])
    # reference: central differences of KL/2 - JSD in (mu, log sigma)
    h = 1e-4
    ref_mu = (kl_half_minus_jsd(mu + h, sigma, md, sd) - kl_half_minus_jsd(mu - h, sigma, md, sd)) / (2 * h)
    ref_ls = (
        kl_half_minus_jsd(mu, sigma * math.exp(h), md, sd) - kl_half_minus_jsd(mu, sigma * math.exp(-h), md, sd)
    ) / (2 * h)
    # the compiler's loss is the paper's term without p(y = 0) = 1/2
    assert math.isclose(g_mu.item() / 2, ref_mu, rel_tol=1e-4, abs_tol=1e-4), (g_mu.item() / 2, ref_mu)
    assert math.isclose(g_log_sigma.item() / 2, ref_ls, rel_tol=1e-4, abs_tol=1e-4), (g_log_sigma.item() / 2, ref_ls)
