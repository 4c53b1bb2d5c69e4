"""Hand-written reference for a shared trunk: InfoGAN with Q on D's body (issue 10).

Chen et al. (NeurIPS 2016), "InfoGAN", Sec. 5 and App. C: "Q shares all convolutional layers with D
and there is one final fully connected layer to output parameters for the conditional distribution
Q(c|x)".  Here D is an MLP: its trunk h(x) = relu(W₁ x + b₁) is D's first layer, D's logit is
W₂ h(x) + b₂ and Q's parameters are (W_q h(x) + b_q) = (mean, log σ²).  Written from the raw
weights with ``torch.nn.functional``; never imports the compiler.

The gradient rule (each group's loss steps only that group's parameters, and a term that updates a
group reads every other group's network with its weights held fixed):

* phi (D and the trunk): −E log D(x) − E log(1 − D(G(z))), G(z) detached;
* theta (G): −E log D(G(z)) + λ · (−E log Q(z | G(z))), D's and the trunk's weights held fixed;
* eta (Q's own layer): λ · (−E log Q(z | G(z))), the trunk's weights held fixed.

So the trunk (W₁, b₁) gets a gradient from phi's loss only: the PyTorch InfoGAN convention (D's
optimiser over D, G's over G and Q's head).
"""

from __future__ import annotations

from collections.abc import Callable

import torch.nn.functional as F
from torch import Tensor

from .losses import LOG_2PI, flat

Weights = tuple[Tensor, Tensor]


def _fixed(w: Weights) -> Weights:
    return w[0].detach(), w[1].detach()


def _trunk(x: Tensor, w1: Weights) -> Tensor:
    return F.relu(F.linear(flat(x), *w1))


def _log_normal(v: Tensor, mean: Tensor, log_var: Tensor) -> Tensor:
    return flat(-0.5 * (v - mean) ** 2 / log_var.exp() - 0.5 * log_var - 0.5 * LOG_2PI).sum(1)


def infogan_shared(
    gen: Callable[[Tensor], Tensor],
    trunk: Weights,
    d_last: Weights,
    q_last: Weights,
    x: Tensor,
    z: Tensor,
    mi_weight: float = 1.0,
    q_in_phi: bool = False,
) -> dict[str, Tensor]:
    """Per-group losses of InfoGAN whose Q is (W_q, b_q) on D's trunk (W₁, b₁); D's logit is (W₂, b₂).

    ``q_in_phi``: Q's own layer belongs to D's group (``Q_phi = head(D_phi)``, openai/InfoGAN): the
    MI term is then also D's (phi's loss adds λ · MI, through the live trunk), and there is no eta."""
    xg = gen(z)

    def d_logit(v: Tensor, w1: Weights, w2: Weights) -> Tensor:
        return F.linear(_trunk(v, w1), *w2).reshape(v.shape[0])

    phi = F.softplus(-d_logit(x, trunk, d_last)).mean() + F.softplus(d_logit(xg.detach(), trunk, d_last)).mean()
    adv = F.softplus(-d_logit(xg, _fixed(trunk), _fixed(d_last))).mean()
    out = F.linear(_trunk(xg, trunk if q_in_phi else _fixed(trunk)), *q_last)
    d = out.shape[1] // 2
    mi = -_log_normal(z, out[:, :d], out[:, d:]).mean()
    if q_in_phi:
        return {"phi": phi + mi_weight * mi, "theta": adv + mi_weight * mi}
    return {"phi": phi, "theta": adv + mi_weight * mi, "eta": mi_weight * mi}
