"""Importance weighting with k samples: networks whose inputs do not depend on the k draws (the
encoder on data, a deterministic feature map of data) run once on the n rows, and the bound is
unchanged (checked against a hand-written IWAE bound with the same noise)."""

from __future__ import annotations

import math

import torch
import torch.distributions as D
from conftest import SPECS

from schemagm.compiler import CompiledModel
from schemagm.compiler import compile as compile_spec

HIERARCHICAL = """model hier
data      x : real[4] in [0, 1]
latent    h : real[3]
latent    z : normal[2]
indicator y
x ==> h    : F_eta   = mlp(8) -> tanh
h --> z    : q_eta   = mlp(8) normal
z -> x     : p_theta = mlp(8) bernoulli
x --> y    : perfect adversarial
options {
  importance_samples = 3
}
"""


def rows_seen(m: CompiledModel) -> dict[str, list[int]]:
    seen: dict[str, list[int]] = {}
    for key, net in m.networks.items():
        net.register_forward_hook(lambda mod, args, out, key=key: seen.setdefault(key, []).append(args[0].shape[0]))
    return seen


def test_iwae_encoder_sees_n_rows_and_the_decoder_k_times_n() -> None:
    torch.manual_seed(0)
    m = compile_spec(SPECS / "iwae.sgm")
    seen = rows_seen(m)
    x = torch.rand(6, 64)
    loss = m.losses({"x": x})["eta"]
    assert seen == {"q_eta": [6], "p_theta": [30]}  # importance_samples = 5
    assert m.last_draws["eps:q_eta:y=0"].shape == (5, 6, 8)
    seen.clear()
    m.iw_bound({"x": x}, 4)
    assert seen == {"q_eta": [6], "p_theta": [24]}
    assert torch.isfinite(loss)


def test_a_feature_map_of_the_data_runs_once_and_the_bound_is_unchanged() -> None:
    torch.manual_seed(0)
    m = compile_spec(HIERARCHICAL)
    seen = rows_seen(m)
    x = torch.rand(5, 4)
    torch.manual_seed(3)
    loss = m.losses({"x": x})["theta"]
    assert seen == {"F_eta": [5], "q_eta": [5], "p_theta": [15]}
    eps = m.last_draws["eps:q_eta:y=0"]
    assert eps.shape == (3, 5, 2)
    with torch.no_grad():  # by hand: z_i = mu(h) + sigma(h) eps_i, h = tanh(F(x))
        h = torch.tanh(m.networks["F_eta"](x))
        mean, logvar = m.networks["q_eta"](h).chunk(2, dim=1)
        std = torch.exp(0.5 * logvar)
        z = mean + std * eps
        logits = m.networks["p_theta"](z.reshape(15, 2)).reshape(3, 5, 4)
        log_w = (
            D.Bernoulli(logits=logits, validate_args=False).log_prob(x).sum(-1)
            + D.Normal(0.0, 1.0).log_prob(z).sum(-1)
            - D.Normal(mean, std).log_prob(z).sum(-1)
        )
        ref = -(torch.logsumexp(log_w, 0) - math.log(3)).mean()
    torch.testing.assert_close(loss.detach(), ref)
