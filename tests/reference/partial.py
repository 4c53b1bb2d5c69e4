"""Hand-written references for partially observed nodes (no compiler imports).

M2 (Kingma, Mohamed, Rezende and Welling, NeurIPS 2014, "Semi-supervised learning with deep
generative models"), written as in the paper:

* a labelled row (x, c): -L(x, c) = -E_{r(z|x,c)} log p(x|z,c) + KL(r(z|x,c) || N(0, I)) - log p(c);
* an unlabelled row x: -U(x) = sum_c q(c|x) (-L(x, c)) - H(q(c|x)), the sum over every class;
* plus alpha * the mean over the labelled rows of -log q(c|x).

p(c) is uniform over K classes, so -log p(c) = log K and -H(q) - sum_c q(c|x) log p(c) =
KL(q(c|x) || uniform): the unlabelled row is sum_c q(c|x) (-log p(x|z,c) + KL(r || N)) + KL(q || u).
The networks are plain callables; ``eps[k]`` is the model's noise of r(z | x, c) where the
class is set to k (a labelled row uses the noise of its own class).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from .losses import kl_to_standard_normal, log_bernoulli

Net = Callable[..., Tensor]
Gauss = Callable[..., "tuple[Tensor, Tensor]"]


def m2(
    q: Net,
    r: Gauss,
    px: Net,
    x: Tensor,
    label: Tensor,
    observed: Tensor,
    eps: list[Tensor],
    alpha: float,
) -> dict[str, Tensor]:
    """``{group: loss}`` of M2: eta = q and r, theta = p(x|z,c); ``label`` long [n] (any value
    where ``observed`` is False), ``observed`` bool [n]."""
    n, classes = x.shape[0], len(eps)
    logq = torch.log_softmax(q(x), -1)
    qc = logq.exp()
    rec_rows = torch.zeros(n, dtype=x.dtype)
    klz_rows = torch.zeros(n, dtype=x.dtype)
    for k in range(classes):
        onehot = F.one_hot(torch.full((n,), k, dtype=torch.long), classes).to(x.dtype)
        m, s = r(x, onehot)
        z = m + s * eps[k]
        rec_k = -log_bernoulli(x, px(z, onehot))
        kl_k = kl_to_standard_normal(m, s)
        weight = torch.where(observed, (label == k).to(x.dtype), qc[:, k])
        rec_rows = rec_rows + weight * rec_k
        klz_rows = klz_rows + weight * kl_k
    kl_c = (qc * (logq + math.log(classes))).sum(1)  # KL(q(c|x) || uniform) = -H(q) + log K
    prior_c = torch.where(observed, torch.full((n,), math.log(classes), dtype=x.dtype), kl_c)
    m_obs = observed.to(x.dtype)
    supervised = -(m_obs * logq.gather(1, label.reshape(n, 1)).reshape(n)).sum() / m_obs.sum().clamp(min=1.0)
    rec = rec_rows.mean()
    eta = rec + klz_rows.mean() + prior_c.mean() + alpha * supervised
    return {"eta": eta, "theta": rec}


def ssaae(
    enc: Net,
    cls: Net,
    dz: Net,
    dc: Net,
    dec: Net,
    x: Tensor,
    label: Tensor,
    observed: Tensor,
    z_prior: Tensor,
    c_prior: Tensor,
    alpha: float,
) -> dict[str, Tensor]:
    """The semi-supervised AAE (Makhzani et al. 2016, Sec. 5) as the rule reads its graph: the
    soft code s = softmax(C(x)) is the label where observed, ``c_code = m·onehot + (1 - m)·s``;
    Dz tells N(0, I) samples from E(x), Dc tells ``m·onehot + (1 - m)·c_prior`` from ``c_code``;
    the decoder reconstructs x from (E(x), c_code), labelled rows from their label; the encoders
    fool both discriminators (non-saturating) and C_eta is trained by alpha times the cross-entropy
    on the labelled rows."""
    n, classes = x.shape[0], c_prior.shape[1]
    onehot = F.one_hot(label, classes).to(x.dtype)
    m = observed.reshape(n, 1)
    raw = cls(x)
    code_c = torch.where(m, onehot, torch.softmax(raw, -1))
    real_c = torch.where(m, onehot, c_prior)
    code_z = enc(x)

    def d_loss(d: Net, real: Tensor, fake: Tensor) -> Tensor:
        return F.softplus(-d(real).reshape(n)).mean() + F.softplus(d(fake.detach()).reshape(n)).mean()

    phi = d_loss(dz, z_prior, code_z) + d_loss(dc, real_c, code_c)
    rec = -log_bernoulli(x, dec(code_z, code_c)).mean()
    adv = F.softplus(-dz(code_z).reshape(n)).mean() + F.softplus(-dc(code_c).reshape(n)).mean()
    m_obs = observed.to(x.dtype)
    ce = -(m_obs * torch.log_softmax(raw, -1).gather(1, label.reshape(n, 1)).reshape(n)).sum()
    supervised = ce / m_obs.sum().clamp(min=1.0)
    return {"phi": phi, "theta": rec, "eta": rec + adv + alpha * supervised}
