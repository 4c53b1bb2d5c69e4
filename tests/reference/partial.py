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
