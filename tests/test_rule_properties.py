"""Properties over random hierarchies: the compiled negative ELBO equals an independent
factor-by-factor evaluation on the same draws; analytic and Monte Carlo KL agree within Monte
Carlo error."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import hierarchy as ref
from reference.catalog import draw, gaussian, net
from strategies import hierarchies

GREEK = ["eta", "theta"]


def chain_spec(dims: list[int], monte_carlo: bool = False) -> str:
    depth = len(dims)
    lines = ["model chain", "data x : real[6] in [0, 1]"]
    for i, d in enumerate(dims, 1):
        lines.append(f"latent z{i} : {'normal' if i == depth else 'real'}[{d}]")
    for i in range(1, depth + 1):
        src = "x" if i == 1 else f"z{i - 1}"
        lines.append(f"{src} --> z{i} : q{i}_eta = mlp(8) normal")
    for i in range(1, depth):
        lines.append(f"z{i + 1} -> z{i} : p{i}_theta = mlp(8) normal")
    lines.append("z1 -> x : g_theta = mlp(8) bernoulli")
    if monte_carlo:
        lines += ["options {", "  kl = monte_carlo", "}"]
    return "\n".join(lines) + "\n"


def compiled(text: str, seed: int):
    from schemagm.compiler import compile as compile_spec

    torch.manual_seed(seed)
    return compile_spec(text)


@settings(max_examples=8, deadline=None)
@given(dims=st.lists(st.integers(1, 3), min_size=1, max_size=3), seed=st.integers(0, 100))
def test_compiled_negative_elbo_is_the_factor_by_factor_sum(dims: list[int], seed: int) -> None:
    model = compiled(chain_spec(dims), seed)
    torch.manual_seed(seed + 1)
    x = (torch.rand(7, 6) > 0.5).float()
    got = model.losses({"x": x})["eta"]  # eta's terms are every term here
    n = len(dims)
    qs = [gaussian(model, f"q{i}_eta") for i in range(1, n + 1)]
    ps = [gaussian(model, f"p{i}_theta") for i in range(1, n)]
    eps = [draw(model, f"eps:q{i}_eta:y=1") for i in range(1, n + 1)]
    expected = ref.chain_bottom_up(qs, ps, net(model, "g_theta"), x, eps)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


@settings(max_examples=4, deadline=None)
@given(dims=st.lists(st.integers(1, 3), min_size=1, max_size=2), seed=st.integers(0, 100))
def test_analytic_and_monte_carlo_kl_agree_in_expectation(dims: list[int], seed: int) -> None:
    a = compiled(chain_spec(dims), seed)
    b = compiled(chain_spec(dims, monte_carlo=True), seed)
    x = (torch.rand(1, 6) > 0.5).float().repeat(2000, 1)
    with torch.no_grad():
        torch.manual_seed(3)
        la = a.terms({"x": x})
        torch.manual_seed(3)
        run = b.run({"x": x})
        top = f"kl:q{len(dims)}_eta"
        lb = b._exprs[top].body.eval(run, "y=1")  # the per-row Monte Carlo estimate
    se = float(lb.std()) / len(lb) ** 0.5
    assert abs(float(la[top]) - float(lb.mean())) <= 4 * se + 1e-4


@settings(max_examples=25, deadline=None)
@given(h=hierarchies(), seed=st.integers(0, 100))
def test_random_hierarchies_with_discrete_tops_match_the_factor_by_factor_reference(h, seed: int) -> None:
    """Bottom-up or top-down, depth 1 to 3, a normal, categorical or bernoulli top (summed out):
    the compiled loss and its gradients equal the reference's on the same draws."""
    model = compiled(h.text, seed)
    torch.manual_seed(seed + 1)
    x = (torch.rand(5, h.x_dim) > 0.5).float()
    got = model.losses({"x": x})["eta"]
    depth = len(h.dims)
    raw = [model.networks[f"q{i}_eta"] for i in range(1, depth + 1)]
    p = [model.networks[f"p{i}_theta"] for i in range(1, depth)]
    expected = ref.chain(raw, p, model.networks["g_theta"], x, model.last_draws, h.dims, h.top, h.top_down)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    params = [q for q in model.parameters() if q.requires_grad]
    for a, b in zip(
        torch.autograd.grad(got, params, retain_graph=True, allow_unused=True),
        torch.autograd.grad(expected, params, allow_unused=True),
        strict=True,
    ):
        if a is None or b is None:
            assert (a is None or not a.any()) and (b is None or not b.any())
        else:
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
