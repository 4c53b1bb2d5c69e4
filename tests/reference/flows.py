"""Flow losses written by hand with zuko and torch directly (no schemagm.compiler import).

Each function takes the zuko flow objects (``zuko.flows.RealNVP/MAF``: calling one with a context
gives a ``torch.distributions`` NormalizingFlow with its N(0, I) base), the other networks as
plain callables, the data and the noise the compiled model drew, and returns ``{group: loss}``
where a group's loss is the sum of the objective's terms that update that group.

* flow on data (Dinh et al. 2017): loss = −E log p_θ(x).
* VAE with a flow prior (e.g. Chen et al. 2017): −ELBO with log p(z) = flow.log_prob(z).
* VAE with an IAF posterior (Kingma et al. 2016): z = IAF(z0; x), z0 = μ + σ ε,
  log q(z | x) = log N(z0; μ, σ) − log |det ∂z/∂z0|.
* Dequantization (Ho et al. 2019): v = x + u / s, uniform u (log q = D log s, a constant) or
  u = sigmoid(IAF(e; x)), log q(v | x) = log N(e) − log|det| − Σ log σ'(·) + D log s.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

LOG_2PI = math.log(2 * math.pi)


def log_normal(x: Tensor, mean: Tensor, std: Tensor) -> Tensor:
    return (-0.5 * ((x - mean) / std) ** 2 - torch.log(std) - 0.5 * LOG_2PI).sum(1)


def log_std_normal(x: Tensor) -> Tensor:
    return (-0.5 * x**2 - 0.5 * LOG_2PI).sum(1)


def log_bernoulli(x: Tensor, logits: Tensor) -> Tensor:
    return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(1)


def gaussian(net: Callable[[Tensor], Tensor], x: Tensor) -> tuple[Tensor, Tensor]:
    mean, logvar = net(x).chunk(2, dim=1)
    return mean, torch.exp(0.5 * logvar)


def flow_on_data(flow: Any, x: Tensor) -> dict[str, Tensor]:
    return {"theta": -flow().log_prob(x).mean()}


def vae_flow_prior(q: Callable, prior_flow: Any, p: Callable, x: Tensor, eps: Tensor) -> dict[str, Tensor]:
    mean, std = gaussian(q, x)
    z = mean + std * eps
    log_q = log_normal(z, mean, std)
    log_pz = prior_flow().log_prob(z)
    log_px = log_bernoulli(x, p(z))
    return {"eta": (log_q - log_pz - log_px).mean(), "theta": (-log_pz - log_px).mean()}


def vae_iaf(q: Callable, maf: Any, p: Callable, x: Tensor, eps: Tensor) -> dict[str, Tensor]:
    """The IAF is MAF's fast (data -> noise) map applied to z0: z = T_x(z0)."""
    mean, std = gaussian(q, x)
    z0 = mean + std * eps
    t = maf.transform(x)
    z = t(z0)
    log_q = log_normal(z0, mean, std) - t.log_abs_det_jacobian(z0, z)
    log_px = log_bernoulli(x, p(z))
    return {"eta": (log_q - log_std_normal(z) - log_px).mean(), "theta": (-log_px).mean()}


def uniform_dequantization(flow: Any, x: Tensor, u: Tensor, scale: float) -> dict[str, Tensor]:
    v = x + u / scale
    return {"theta": -flow().log_prob(v).mean()}  # log q(v | x) = D log scale: no group


def variational_dequantization(maf: Any, flow: Any, x: Tensor, e: Tensor, scale: float) -> dict[str, Tensor]:
    t = maf.transform(x)
    s = t(e)
    u = torch.sigmoid(s)
    v = x + u / scale
    log_q = (
        log_std_normal(e) - t.log_abs_det_jacobian(e, s) - torch.log(u * (1 - u)).sum(1) + x.shape[1] * math.log(scale)
    )
    log_p = flow().log_prob(v)
    return {"eta": (log_q - log_p).mean(), "theta": (-log_p).mean()}


def dequantization_bound(log_p_v: Tensor, log_q: Tensor) -> Tensor:
    """log P(x) ≥ log p(v) − log q(v | x), per row."""
    return log_p_v - log_q


def kernel_density(train: Tensor, x: Tensor, eps: float) -> Tensor:
    """log (1/N) Σ_j N(x; x_j, ε² I) per row: a logsumexp of Gaussians over the training points."""
    d = x.shape[1]
    sq = ((x[:, None, :] - train[None, :, :]) ** 2).sum(-1)  # [n, N]
    log_k = -0.5 * sq / eps**2 - d * math.log(eps) - 0.5 * d * LOG_2PI
    return torch.logsumexp(log_k, 1) - math.log(train.shape[0])


def vae_flow_prior_log_w(q: Callable, prior_flow: Any, p: Callable, x: Tensor, eps: Tensor) -> Tensor:
    """log p(x | z) + log p(z) − log q(z | x) per row, log p(z) the flow's density."""
    mean, std = gaussian(q, x)
    z = mean + std * eps
    return log_bernoulli(x, p(z)) + prior_flow().log_prob(z) - log_normal(z, mean, std)


def iw_bound(log_w: Tensor, k: int) -> Tensor:
    """log (1/k) Σ_i w_i per row from the log-weights of k draws, rows i·n + j (draw i of row j)."""
    return torch.logsumexp(log_w.reshape(k, -1), 0) - math.log(k)


def beta_vae_flow_prior(q: Callable, prior_flow: Any, p: Callable, x: Tensor, eps: Tensor, beta: float) -> dict:
    """−E log p(x | z) + β·E[log q(z | x) − log p(z)], log p(z) the flow's density (a β-VAE)."""
    mean, std = gaussian(q, x)
    z = mean + std * eps
    log_q = log_normal(z, mean, std)
    log_pz = prior_flow().log_prob(z)
    log_px = log_bernoulli(x, p(z))
    return {"eta": (beta * (log_q - log_pz) - log_px).mean(), "theta": (-beta * log_pz - log_px).mean()}


def beta_vae_iaf(q: Callable, maf: Any, p: Callable, x: Tensor, eps: Tensor, beta: float) -> dict:
    mean, std = gaussian(q, x)
    z0 = mean + std * eps
    t = maf.transform(x)
    z = t(z0)
    log_q = log_normal(z0, mean, std) - t.log_abs_det_jacobian(z0, z)
    log_px = log_bernoulli(x, p(z))
    return {"eta": (beta * (log_q - log_std_normal(z)) - log_px).mean(), "theta": (-log_px).mean()}
