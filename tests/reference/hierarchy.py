"""Hand-written references for hierarchies and discrete latents (no compiler imports).

Each function is the textbook negative ELBO of one model, written out factor by factor
(Trace_ELBO: log q of every inferred variable minus log p of every factor of the generative
model), with the networks as plain callables and the model's own noise.  It returns
``{group: loss}`` where a group's loss is the sum of the terms that update it.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from .losses import kl_to_standard_normal, log_bernoulli, log_mean_exp, log_normal, log_standard_normal

Gauss = Callable[..., "tuple[Tensor, Tensor]"]
Net = Callable[..., Tensor]


def kl_normal(m1: Tensor, s1: Tensor, m2: Tensor, s2: Tensor) -> Tensor:
    """KL(N(m1, s1^2) || N(m2, s2^2)) summed over dimensions."""
    return (torch.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - 0.5).sum(1)


def two_layer_bottom_up(
    q1: Gauss, q2: Gauss, p1: Gauss, px: Net, x: Tensor, eps1: Tensor, eps2: Tensor
) -> dict[str, Tensor]:
    """q(z1|x) q(z2|z1); p(z2) p(z1|z2) p(x|z1).  KL(q(z2|z1) || N(0, I)) in closed form (its
    p-side has no parents); log q(z1|x) - log p(z1|z2) at the sample (z2 depends on z1)."""
    m1, s1 = q1(x)
    z1 = m1 + s1 * eps1
    m2, s2 = q2(z1)
    z2 = m2 + s2 * eps2
    pm, ps = p1(z2)
    rec = -log_bernoulli(x, px(z1)).mean()
    pair1 = (log_normal(z1, m1, s1) - log_normal(z1, pm, ps)).mean()
    kl2 = kl_to_standard_normal(m2, s2).mean()
    return {"eta": rec + pair1 + kl2, "theta": rec + pair1}


def three_layer_bottom_up(
    q1: Gauss, q2: Gauss, q3: Gauss, p1: Gauss, p2: Gauss, px: Net, x: Tensor, e1: Tensor, e2: Tensor, e3: Tensor
) -> dict[str, Tensor]:
    m1, s1 = q1(x)
    z1 = m1 + s1 * e1
    m2, s2 = q2(z1)
    z2 = m2 + s2 * e2
    m3, s3 = q3(z2)
    z3 = m3 + s3 * e3
    a1, b1 = p1(z2)
    a2, b2 = p2(z3)
    rec = -log_bernoulli(x, px(z1)).mean()
    pair1 = (log_normal(z1, m1, s1) - log_normal(z1, a1, b1)).mean()
    pair2 = (log_normal(z2, m2, s2) - log_normal(z2, a2, b2)).mean()
    kl3 = kl_to_standard_normal(m3, s3).mean()
    return {"eta": rec + pair1 + pair2 + kl3, "theta": rec + pair1 + pair2}


def two_layer_top_down(
    q2: Gauss, q1: Gauss, p1: Gauss, px: Net, x: Tensor, eps2: Tensor, eps1: Tensor
) -> dict[str, Tensor]:
    """q(z2|x) q(z1|x, z2): the p-side p(z1|z2) does not depend on z1, so KL(q(z1|x,z2) || p(z1|z2))
    is taken in closed form."""
    m2, s2 = q2(x)
    z2 = m2 + s2 * eps2
    m1, s1 = q1(x, z2)
    z1 = m1 + s1 * eps1
    pm, ps = p1(z2)
    rec = -log_bernoulli(x, px(z1)).mean()
    kl1 = kl_normal(m1, s1, pm, ps).mean()
    kl2 = kl_to_standard_normal(m2, s2).mean()
    return {"eta": rec + kl1 + kl2, "theta": rec + kl1}


def two_layer_iwae(
    q1: Gauss, q2: Gauss, p1: Gauss, px: Net, x: Tensor, eps1: Tensor, eps2: Tensor
) -> dict[str, Tensor]:
    """-E log (1/k) sum_i p(x|z1_i) p(z1_i|z2_i) p(z2_i) / (q(z1_i|x) q(z2_i|z1_i)); eps [k, n, d]."""
    k, n = eps1.shape[0], eps1.shape[1]
    xs = x.repeat(k, 1)
    m1, s1 = q1(xs)
    z1 = m1 + s1 * eps1.reshape(k * n, -1)
    m2, s2 = q2(z1)
    z2 = m2 + s2 * eps2.reshape(k * n, -1)
    pm, ps = p1(z2)
    log_w = (
        log_bernoulli(xs, px(z1))
        + log_normal(z1, pm, ps)
        + log_standard_normal(z2)
        - log_normal(z1, m1, s1)
        - log_normal(z2, m2, s2)
    )
    loss = -log_mean_exp(log_w.reshape(k, n), 0).mean()
    return {"eta": loss, "theta": loss}


def enumerated(q_logits: Tensor, log_lik: Callable[[Tensor], Tensor], classes: int) -> dict[str, Tensor]:
    """A categorical latent summed out exactly: sum_c q(c|x) (-log p(x|c)) + KL(q(c|x) || uniform)."""
    logq = torch.log_softmax(q_logits, -1)
    q = logq.exp()
    n = q_logits.shape[0]
    nll = 0.0
    for c in range(classes):
        onehot = F.one_hot(torch.full((n,), c, dtype=torch.long), classes).to(q_logits.dtype)
        nll = nll - q[:, c] * log_lik(onehot)
    kl = (q * (logq + math.log(classes))).sum(1)
    rec = nll.mean()  # type: ignore[union-attr]
    return {"eta": rec + kl.mean(), "theta": rec}


def categorical_vae(q: Net, px: Net, x: Tensor, classes: int) -> dict[str, Tensor]:
    return enumerated(q(x), lambda c: log_bernoulli(x, px(c)), classes)


def mixture(q: Net, px: Gauss, x: Tensor, classes: int) -> dict[str, Tensor]:
    def lik(c: Tensor) -> Tensor:
        m, s = px(c)
        return log_normal(x, m, s)

    return enumerated(q(x), lik, classes)


def sbn_score(q: Net, px: Net, x: Tensor, h: Tensor, baseline: float) -> dict[str, Tensor]:
    """A Bernoulli latent h ~ q(h|x) drawn without gradient: the likelihood term's gradient for
    q is the score function (log p(x|h) - b) grad log q(h|x), b the baseline; KL(q(h|x) || Bern(1/2))
    in closed form."""
    logits = q(x)
    log_q = log_bernoulli(h, logits)
    f = log_bernoulli(x, px(h))
    surrogate = f + (f.detach() - baseline) * (log_q - log_q.detach())
    p = torch.sigmoid(logits)
    kl = (p * F.logsigmoid(logits) + (1 - p) * F.logsigmoid(-logits) + math.log(2.0)).sum(1)
    rec = -surrogate.mean()
    return {"eta": rec + kl.mean(), "theta": rec}


def sbn_exact(q: Net, px: Net, x: Tensor, bits: int) -> Tensor:
    """The same negative ELBO with h summed out over its 2^bits values (the exact objective)."""
    logits = q(x)
    p = torch.sigmoid(logits)
    total = 0.0
    n = x.shape[0]
    for code in range(2**bits):
        h = torch.tensor([(code >> (bits - 1 - j)) & 1 for j in range(bits)], dtype=x.dtype).expand(n, bits)
        w = torch.exp(log_bernoulli(h, logits))
        total = total - w * log_bernoulli(x, px(h))
    kl = (p * F.logsigmoid(logits) + (1 - p) * F.logsigmoid(-logits) + math.log(2.0)).sum(1)
    return (total + kl).mean()  # type: ignore[union-attr]


def chain_bottom_up(qs: list, ps: list, px: Net, x: Tensor, eps: list[Tensor]) -> Tensor:
    """Negative ELBO of a chain x -> z1 -> ... -> zL inferred bottom-up, factor by factor:
    -log p(x|z1) + sum_{i<L} [log q(z_i|z_{i-1}) - log p(z_i|z_{i+1})] + KL(q(z_L|z_{L-1}) || N(0, I))."""
    zs, stats = [], []
    h = x
    for q, e in zip(qs, eps, strict=True):
        m, s = q(h)
        h = m + s * e
        zs.append(h)
        stats.append((m, s))
    total = -log_bernoulli(x, px(zs[0]))
    for i in range(len(zs) - 1):
        pm, pstd = ps[i](zs[i + 1])
        total = total + log_normal(zs[i], *stats[i]) - log_normal(zs[i], pm, pstd)
    total = total + kl_to_standard_normal(*stats[-1])
    return total.mean()


def _split(raw: Tensor) -> tuple[Tensor, Tensor]:
    d = raw.shape[1] // 2
    return raw[:, :d], torch.exp(0.5 * raw[:, d:])


def _discrete_values(top: str, d: int) -> list[Tensor]:
    """Every value of the top latent: one-hot classes 0..K-1, or bit patterns in binary counting order."""
    import itertools

    if top == "categorical":
        return [torch.eye(d)[k] for k in range(d)]
    return [torch.tensor(bits, dtype=torch.float32) for bits in itertools.product((0.0, 1.0), repeat=d)]


def _log_q_discrete(top: str, raw: Tensor, v: Tensor) -> Tensor:
    if top == "categorical":
        return (v * torch.log_softmax(raw, -1)).sum(1)
    return log_bernoulli(v.expand_as(raw), raw)


def _kl_discrete_uniform(top: str, raw: Tensor) -> Tensor:
    if top == "categorical":
        lq = torch.log_softmax(raw, -1)
        return (lq.exp() * (lq + math.log(raw.shape[1]))).sum(1)
    p = torch.sigmoid(raw)
    return (p * F.logsigmoid(raw) + (1 - p) * F.logsigmoid(-raw) + math.log(2.0)).sum(1)


def chain(q: list, p: list, g: Net, x: Tensor, draws: dict, dims: tuple[int, ...], top: str, top_down: bool) -> Tensor:
    """Negative ELBO of a chain x <- z1 <- ... <- zL, factor by factor, the top latent summed out
    exactly when discrete.  ``q[i]`` / ``p[i]`` are the raw networks of q_{i+1} / p_{i+1};
    ``draws`` the model's ``last_draws`` (keys ``eps:q<i>_eta:y=1``, in an enumerated context
    ``eps:q<i>_eta:y=1|z<L>=<k>``)."""
    depth = len(dims)
    n = x.shape[0]

    def expand(v: Tensor) -> Tensor:
        return v.expand(n, *v.shape)

    def top_term(raw: Tensor, rest: Callable[[Tensor, str], Tensor]) -> Tensor:
        if top == "normal":
            m, s = _split(raw)
            return rest(m + s * draws[f"eps:q{depth}_eta:y=1"], "") + kl_to_standard_normal(m, s)
        total = _kl_discrete_uniform(top, raw)
        for k, v in enumerate(_discrete_values(top, dims[-1])):
            total = total + torch.exp(_log_q_discrete(top, raw, v)) * rest(expand(v), f"|z{depth}={k}")
        return total

    if top_down:

        def below(z_top: Tensor, suffix: str) -> Tensor:
            h, total = z_top, 0.0
            for i in range(depth - 1, 0, -1):
                m, s = _split(q[i - 1](torch.cat([x, h], 1)))
                pm, ps = _split(p[i - 1](h))
                total = total + kl_normal(m, s, pm, ps)
                h = m + s * draws[f"eps:q{i}_eta:y=1{suffix}"]
            return total - log_bernoulli(x, g(h))

        return top_term(q[depth - 1](x), below).mean()
    zs, stats, h = [], [], x
    for i in range(1, depth):
        m, s = _split(q[i - 1](h))
        h = m + s * draws[f"eps:q{i}_eta:y=1"]
        zs.append(h)
        stats.append((m, s))
    base = 0.0 if depth == 1 else -log_bernoulli(x, g(zs[0]))
    for i in range(depth - 2):
        base = base + log_normal(zs[i], *stats[i]) - log_normal(zs[i], *_split(p[i](zs[i + 1])))

    def rest(z_top: Tensor, _suffix: str) -> Tensor:
        if depth == 1:
            return -log_bernoulli(x, g(z_top))
        return log_normal(zs[-1], *stats[-1]) - log_normal(zs[-1], *_split(p[depth - 2](z_top)))

    return (base + top_term(q[depth - 1](h), rest)).mean()
