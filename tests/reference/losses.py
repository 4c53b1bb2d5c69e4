"""Textbook losses of the catalog models, written by hand with ``torch.nn.functional``.

Nothing here imports :mod:`schemagm.compiler`.  Every function takes plain callables for the
networks, the data and the noise, and returns ``{group: loss}`` where a group's loss is the sum
of the objective's terms that update that group (docs/design.md section 4; the 1/2 of p(y) is
dropped, so an expectation over y is the sum of the two branch means).  Conventions:

* log-likelihoods are summed over the dimensions of a sample and averaged over the batch;
* a discriminator callable returns the logit of D(v) = q_phi(y = 1 | v), shape ``[n]``;
* a ``normal`` head callable returns ``(mean, std)``, a ``bernoulli`` head returns logits;
* a deterministic (hollow) network returns its value with its output activation applied.

Each formula names the paper (or textbook) it is taken from.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

Net = Callable[[Tensor], Tensor]
GaussianNet = Callable[[Tensor], "tuple[Tensor, Tensor]"]

LOG_2PI = math.log(2 * math.pi)


# -- densities and divergences ---------------------------------------------------------------------
def flat(t: Tensor) -> Tensor:
    """``[n, ...]`` -> ``[n, d]``."""
    return t.reshape(t.shape[0], -1)


def log_bernoulli(x: Tensor, logits: Tensor) -> Tensor:
    """log Bern(x | sigmoid(logits)) summed over dimensions: sum x log p + (1 - x) log(1 - p)."""
    return -flat(F.binary_cross_entropy_with_logits(logits, x, reduction="none")).sum(1)


def log_normal(v: Tensor, mean: Tensor, std: Tensor) -> Tensor:
    """log N(v | mean, diag(std^2)) summed over dimensions."""
    per_dim = -0.5 * ((v - mean) / std) ** 2 - torch.log(std) - 0.5 * LOG_2PI
    return flat(per_dim).sum(1)


def log_standard_normal(v: Tensor) -> Tensor:
    return flat(-0.5 * v**2 - 0.5 * LOG_2PI).sum(1)


def kl_to_standard_normal(mean: Tensor, std: Tensor) -> Tensor:
    """KL(N(mean, std^2) || N(0, 1)) = 1/2 sum(mean^2 + std^2 - 1 - log std^2) (Kingma & Welling 2014, App. B)."""
    return flat(0.5 * (mean**2 + std**2 - 1.0) - torch.log(std)).sum(1)


def log_mean_exp(a: Tensor, dim: int) -> Tensor:
    """log (1/k) sum_i exp(a_i), computed stably."""
    m = a.max(dim=dim, keepdim=True).values
    return (m + torch.log(torch.exp(a - m).mean(dim=dim, keepdim=True))).squeeze(dim)


def recon_bce(x_hat: Tensor, x: Tensor) -> Tensor:
    """Binary cross-entropy reconstruction distance for targets in [0, 1], summed over dims."""
    return flat(F.binary_cross_entropy(x_hat, x, reduction="none")).sum(1)


def recon_mse(x_hat: Tensor, x: Tensor) -> Tensor:
    return flat((x_hat - x) ** 2).sum(1)


def logit(t: Tensor) -> Tensor:
    return t.reshape(t.shape[0])


def discriminator_loss(l_real: Tensor, l_gen: Tensor) -> Tensor:
    """-[E_real log D + E_gen log(1 - D)], D = sigmoid(logit) (Goodfellow et al. 2014)."""
    return F.softplus(-l_real).mean() + F.softplus(l_gen).mean()


def gaussian_mmd2(a: Tensor, b: Tensor, bandwidths: Sequence[float]) -> Tensor:
    """Biased MMD^2 with k(u, v) = sum_s exp(-|u - v|^2 / (2 s^2)) (Gretton et al. 2012; Li et al. 2015)."""
    a, b = flat(a), flat(b)

    def k(u: Tensor, v: Tensor) -> Tensor:
        d2 = (u[:, None, :] - v[None, :, :]).pow(2).sum(-1)
        return sum(torch.exp(-d2 / (2.0 * s * s)) for s in bandwidths)

    return k(a, a).mean() + k(b, b).mean() - 2.0 * k(a, b).mean()


# -- the catalog -------------------------------------------------------------------------------------
def ae(enc: Net, dec: Net, x: Tensor) -> dict[str, Tensor]:
    """Autoencoder: recon(x, G(E(x))), for theta and eta."""
    r = recon_bce(dec(enc(x)), x).mean()
    return {"theta": r, "eta": r}


def dae_walkback(
    dec: Net, x: Tensor, noises: Sequence[Tensor], std: float, chain: Sequence[Tensor] | None = None
) -> dict[str, Tensor]:
    """Denoising autoencoder with walkback (Bengio et al. 2013, Alg. 2).

    Round r corrupts the chain's current point, x~_r = x_{r-1} + std * eps_r (x_0 = x), and the
    denoiser is scored against the ORIGINAL x: -log p_theta(x | x~_r).  ``chain[r]`` is the
    point the chain moves to after round r (a sample of p_theta(. | x~_r), no gradient).  The
    loss is the mean over rounds.
    """
    cur = x
    rounds = []
    for r, eps in enumerate(noises):
        logits = dec(cur + std * eps)
        rounds.append(-log_bernoulli(x, logits).mean())
        if chain is not None and r + 1 < len(noises):
            cur = chain[r]
    theta = torch.stack(rounds).mean()
    return {"theta": theta}


def vae(enc: GaussianNet, dec: Net, x: Tensor, eps: Tensor, beta: float = 1.0) -> dict[str, Tensor]:
    """VAE (Kingma & Welling 2014): -E_q log p(x | z) + beta KL(q(z | x) || N(0, I)), z = mean + std * eps."""
    mean, std = enc(x)
    z = mean + std * eps
    rec = -log_bernoulli(x, dec(z)).mean()
    kl = kl_to_standard_normal(mean, std).mean()
    return {"theta": rec, "eta": rec + beta * kl}


def iwae(enc: GaussianNet, dec: Net, x: Tensor, eps: Tensor) -> dict[str, Tensor]:
    """IWAE (Burda et al. 2016): -E log (1/k) sum_i p(x, z_i) / q(z_i | x); ``eps`` is ``[k, n, d]``."""
    k, n = eps.shape[0], x.shape[0]
    mean, std = enc(x)
    z = mean.unsqueeze(0) + std.unsqueeze(0) * eps  # [k, n, d]
    zf = z.reshape(k * n, -1)
    xs = x.unsqueeze(0).expand(k, *x.shape).reshape(k * n, *x.shape[1:])
    log_px = log_bernoulli(xs, dec(zf))
    log_pz = log_standard_normal(zf)
    log_q = log_normal(zf, mean.repeat(k, 1), std.repeat(k, 1))
    log_w = (log_px + log_pz - log_q).reshape(k, n)
    loss = -log_mean_exp(log_w, 0).mean()
    return {"theta": loss, "eta": loss}


def gan(gen: Net, disc: Net, x: Tensor, z: Tensor) -> dict[str, Tensor]:
    """GAN (Goodfellow et al. 2014), non-saturating generator: theta minimises -E log D(G(z))."""
    xg = gen(z)
    phi = discriminator_loss(logit(disc(x)), logit(disc(xg.detach())))
    theta = F.softplus(-logit(disc(xg))).mean()
    return {"phi": phi, "theta": theta}


def infogan(gen: Net, disc: Net, q: GaussianNet, x: Tensor, z: Tensor, mi_weight: float = 1.0) -> dict[str, Tensor]:
    """InfoGAN (Chen et al. 2016): theta, eta add -mi_weight E log q_eta(z | G(z)) on generated x."""
    xg = gen(z)
    phi = discriminator_loss(logit(disc(x)), logit(disc(xg.detach())))
    mean, std = q(xg)
    mi = -log_normal(z, mean, std).mean()
    adv = F.softplus(-logit(disc(xg))).mean()
    return {"phi": phi, "theta": adv + mi_weight * mi, "eta": mi_weight * mi}


def aae(enc: Net, disc: Net, dec: Net, x: Tensor, z_prior: Tensor) -> dict[str, Tensor]:
    """AAE (Makhzani et al. 2016): D tells prior samples (real) from codes E(x) (fake);
    the decoder reconstructs, the encoder reconstructs and fools D (non-saturating)."""
    code = enc(x)
    phi = discriminator_loss(logit(disc(z_prior)), logit(disc(code.detach())))
    rec = -log_bernoulli(x, dec(code)).mean()
    adv = F.softplus(-logit(disc(code))).mean()
    return {"phi": phi, "theta": rec, "eta": rec + adv}


def ada(gen: Net, disc: Net, source: Tensor, target: Tensor) -> dict[str, Tensor]:
    """Domain-adversarial training (Ganin et al. 2016): D tells source (1) from target (0)
    features; the feature extractor minimises D's loss with flipped labels on both domains."""
    fs, ft = gen(source), gen(target)
    phi = discriminator_loss(logit(disc(fs.detach())), logit(disc(ft.detach())))
    theta = F.softplus(logit(disc(fs))).mean() + F.softplus(-logit(disc(ft))).mean()
    return {"phi": phi, "theta": theta}


def aavae(
    enc: GaussianNet,
    dec: Net,
    disc: Net,
    x: Tensor,
    z_prior: Tensor,
    eps_real: Tensor,
    eps_gen: Tensor,
    beta: float = 1.0,
) -> dict[str, Tensor]:
    """Adversary-activated VAE (Hu et al. 2018, Sec. 4).

    Generated x is the decoder mean at z ~ p(z), detached.  phi plays the GAN game on real vs
    generated x.  theta and eta minimise mean_real(w * l) + mean_gen(w * l) where l is the
    per-sample negative ELBO and w = stopgrad(D(x)).
    """
    x_gen = torch.sigmoid(dec(z_prior)).detach()
    phi = discriminator_loss(logit(disc(x)), logit(disc(x_gen)))

    def weighted(v: Tensor, eps: Tensor) -> tuple[Tensor, Tensor]:
        mean, std = enc(v)
        z = mean + std * eps
        w = torch.sigmoid(logit(disc(v))).detach()
        return (w * -log_bernoulli(v, dec(z))).mean(), (w * kl_to_standard_normal(mean, std)).mean()

    rec_r, kl_r = weighted(x, eps_real)
    rec_g, kl_g = weighted(x_gen, eps_gen)
    theta = rec_r + rec_g
    return {"phi": phi, "theta": theta, "eta": theta + beta * (kl_r + kl_g)}


def iwgan(gen: Net, disc: Net, x: Tensor, z: Tensor, k: int) -> dict[str, Tensor]:
    """Importance-weighted GAN (Hu et al. 2018, Sec. 4): theta minimises
    -sum_i stopgrad(w_i) log D(G(z_i)), w = softmax of D's logits within each group of k samples,
    averaged over groups."""
    xg = gen(z)
    phi = discriminator_loss(logit(disc(x)), logit(disc(xg.detach())))
    lg = logit(disc(xg)).reshape(-1, k)
    w = torch.softmax(lg.detach(), dim=1)
    theta = -(w * F.logsigmoid(lg)).sum(1).mean()
    return {"phi": phi, "theta": theta}


def wake_sleep(rec: Net, gen: Net, x: Tensor, h_wake: Tensor, h_sleep: Tensor, x_sleep: Tensor) -> dict[str, Tensor]:
    """Wake-sleep (Hinton et al. 1995), Bernoulli layers (logits from both networks).

    wake: theta maximises log p_theta(x | h) at h ~ q_lambda(h | x) (a sample, no gradient);
    sleep: lambda maximises log q_lambda(h | x) at h ~ p(h), x ~ p_theta(x | h) (no gradient).
    """
    theta = -log_bernoulli(x, gen(h_wake.detach())).mean()
    lam = -log_bernoulli(h_sleep.detach(), rec(x_sleep.detach())).mean()
    return {"theta": theta, "lambda": lam}


def mmd_net(gen: Net, x: Tensor, z: Tensor, bandwidths: Sequence[float]) -> dict[str, Tensor]:
    """Generative moment matching (Li et al. 2015): theta minimises MMD^2(data, G(z))."""
    return {"theta": gaussian_mmd2(x, gen(z), bandwidths)}


def bernoulli_sample(logits: Tensor, u: Tensor) -> Tensor:
    """A Bernoulli sample from uniform noise: 1 where u < sigmoid(logits)."""
    return (u < torch.sigmoid(logits)).to(logits.dtype)


# -- models outside the catalog (specs/extra) ---------------------------------------------------------------
def ali(enc: Net, gen: Net, disc: Callable[[Tensor, Tensor], Tensor], x: Tensor, z: Tensor) -> dict[str, Tensor]:
    """ALI / BiGAN (Dumoulin et al. 2017; Donahue et al. 2017): D tells real pairs (x, E(x)) from
    generated pairs (G(z), z); E and G minimise D's loss with flipped labels (non-saturating)."""
    code, fake = enc(x), gen(z)
    phi = discriminator_loss(logit(disc(x, code.detach())), logit(disc(fake.detach(), z)))
    both = F.softplus(logit(disc(x, code))).mean() + F.softplus(-logit(disc(fake, z))).mean()
    return {"phi": phi, "theta": both, "eta": both}


def vae_gan(
    enc: GaussianNet, dec: Net, disc: Net, x: Tensor, eps: Tensor, z_prior: Tensor, beta: float = 1.0
) -> dict[str, Tensor]:
    """VAE-GAN (Larsen et al. 2016) without the feature-matching reconstruction: the VAE's loss,
    plus a GAN on x whose generated side is the decoder's mean at z ~ p(z)."""
    mean, std = enc(x)
    rec = -log_bernoulli(x, dec(mean + std * eps)).mean()
    kl = kl_to_standard_normal(mean, std).mean()
    x_gen = torch.sigmoid(dec(z_prior))
    phi = discriminator_loss(logit(disc(x)), logit(disc(x_gen.detach())))
    adv = F.softplus(-logit(disc(x_gen))).mean()
    return {"phi": phi, "theta": rec + adv, "eta": rec + beta * kl}


def cvae(
    enc: Callable[[Tensor, Tensor], tuple[Tensor, Tensor]],
    dec: Callable[[Tensor, Tensor], Tensor],
    x: Tensor,
    c: Tensor,
    eps: Tensor,
    beta: float = 1.0,
) -> dict[str, Tensor]:
    """Conditional VAE (Sohn et al. 2015): -E_q log p(x | z, c) + KL(q(z | x, c) || N(0, I)), c one-hot."""
    mean, std = enc(x, c)
    rec = -log_bernoulli(x, dec(mean + std * eps, c)).mean()
    kl = kl_to_standard_normal(mean, std).mean()
    return {"theta": rec, "eta": rec + beta * kl}


# -- the forms of the adversarial game (docs/design.md section 4, rule 3) ------------------------------------------
def gan_form(
    gen: Net, disc: Net, x: Tensor, z: Tensor, form: str, gp_weight: float = 10.0, gp_eps: Tensor | None = None
) -> dict[str, Tensor]:
    """A GAN under each form of the game; D's output is a logit l.

    * minimax (Goodfellow et al. 2014): phi as the GAN; theta minimises E log(1 - D(G(z)));
    * least_squares (Mao et al. 2017): phi 1/2 E (l_real - 1)^2 + 1/2 E l_gen^2; theta 1/2 E (l_gen - 1)^2;
    * hinge (Lim & Ye 2017): phi E relu(1 - l_real) + E relu(1 + l_gen); theta -E l_gen;
    * wasserstein with gradient penalty (Gulrajani et al. 2017): phi E l_gen - E l_real
      + gp E (|grad l(x_hat)| - 1)^2 at x_hat = eps x + (1 - eps) G(z); theta -E l_gen.
    """
    xg = gen(z)
    lr, lg_d = logit(disc(x)), logit(disc(xg.detach()))
    lg = logit(disc(xg))
    if form == "minimax":
        return {"phi": discriminator_loss(lr, lg_d), "theta": F.logsigmoid(-lg).mean()}
    if form == "least_squares":
        return {"phi": 0.5 * ((lr - 1) ** 2).mean() + 0.5 * (lg_d**2).mean(), "theta": 0.5 * ((lg - 1) ** 2).mean()}
    if form == "hinge":
        return {"phi": F.relu(1 - lr).mean() + F.relu(1 + lg_d).mean(), "theta": -lg.mean()}
    if form == "wasserstein":
        assert gp_eps is not None
        e = gp_eps.reshape(-1, *([1] * (x.dim() - 1)))
        x_hat = (e * x + (1 - e) * xg.detach()).requires_grad_(True)
        (grad,) = torch.autograd.grad(logit(disc(x_hat)).sum(), x_hat, create_graph=True)
        penalty = ((flat(grad).norm(2, dim=1) - 1) ** 2).mean()
        return {"phi": lg_d.mean() - lr.mean() + gp_weight * penalty, "theta": -lg.mean()}
    raise ValueError(form)


def vae_monte_carlo_kl(enc: GaussianNet, dec: Net, x: Tensor, eps: Tensor, beta: float = 1.0) -> dict[str, Tensor]:
    """The VAE with KL(q || p) estimated at the sample: log q(z | x) - log p(z)."""
    mean, std = enc(x)
    z = mean + std * eps
    rec = -log_bernoulli(x, dec(z)).mean()
    kl = (log_normal(z, mean, std) - log_standard_normal(z)).mean()
    return {"theta": rec, "eta": rec + beta * kl}
