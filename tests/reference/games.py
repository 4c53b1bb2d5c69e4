"""Hand-written references for several games and per-edge settings (issue 10).  Textbook formulas
with the model's networks as plain callables; never imports the compiler.

* CycleGAN (Zhu, Park, Isola and Efros, ICCV 2017, eq. 1-3): two translators G: A -> B and
  F: B -> A, two discriminators D_B and D_A, each game non-saturating (the paper's eq. 1 with the
  generator's usual non-saturating loss), plus the cycle-consistency loss
  λ (E_a ‖F(G(a)) − a‖₁ + E_b ‖G(F(b)) − b‖₁).
* The hinge game (Lim and Ye 2017; Miyato et al. 2018): D minimises E relu(1 − D(x)) +
  E relu(1 + D(G(z))), G minimises −E D(G(z)) (D the logit).
* The least-squares game (Mao et al. 2017): D minimises ½E(D(x) − 1)² + ½E D(G(z))², G ½E(D(G(z)) − 1)².
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

Net = Callable[[Tensor], Tensor]


def _logit(t: Tensor) -> Tensor:
    return t.reshape(t.shape[0])


def l1(a: Tensor, b: Tensor) -> Tensor:
    """‖a − b‖₁ per row."""
    return (a - b).abs().reshape(a.shape[0], -1).sum(1)


def ns_discriminator(l_real: Tensor, l_gen: Tensor) -> Tensor:
    """−[E log D(real) + E log(1 − D(gen))], D = sigmoid(logit)."""
    return F.softplus(-l_real).mean() + F.softplus(l_gen).mean()


def ns_generator(l_gen: Tensor) -> Tensor:
    """−E log D(gen)."""
    return F.softplus(-l_gen).mean()


def cyclegan(g: Net, f: Net, d_b: Net, d_a: Net, x_a: Tensor, x_b: Tensor, lam: float = 10.0) -> dict[str, Tensor]:
    """CycleGAN's three losses: theta (G and F), phi (D_B), psi (D_A)."""
    fake_b, fake_a = g(x_a), f(x_b)
    phi = ns_discriminator(_logit(d_b(x_b)), _logit(d_b(fake_b.detach())))
    psi = ns_discriminator(_logit(d_a(x_a)), _logit(d_a(fake_a.detach())))
    cycle = l1(f(fake_b), x_a).mean() + l1(g(fake_a), x_b).mean()
    theta = ns_generator(_logit(d_b(fake_b))) + ns_generator(_logit(d_a(fake_a))) + lam * cycle
    return {"theta": theta, "phi": phi, "psi": psi}


def cycle_errors(g: Net, f: Net, x_a: Tensor, x_b: Tensor) -> tuple[Tensor, Tensor]:
    """Mean ‖F(G(a)) − a‖₁ and mean ‖G(F(b)) − b‖₁."""
    return l1(f(g(x_a)), x_a).mean(), l1(g(f(x_b)), x_b).mean()


def hinge_gan(gen: Net, disc: Net, x: Tensor, z: Tensor, weight: float = 1.0) -> dict[str, Tensor]:
    xg = gen(z)
    phi = F.relu(1.0 - _logit(disc(x))).mean() + F.relu(1.0 + _logit(disc(xg.detach()))).mean()
    theta = -_logit(disc(xg)).mean()
    return {"phi": weight * phi, "theta": weight * theta}


def least_squares_gan(gen: Net, disc: Net, x: Tensor, z: Tensor) -> dict[str, Tensor]:
    xg = gen(z)
    phi = 0.5 * ((_logit(disc(x)) - 1.0) ** 2).mean() + 0.5 * (_logit(disc(xg.detach())) ** 2).mean()
    theta = 0.5 * ((_logit(disc(xg)) - 1.0) ** 2).mean()
    return {"phi": phi, "theta": theta}


def ns_gan(gen: Net, disc: Net, x: Tensor, z: Tensor, weight: float = 1.0) -> dict[str, Tensor]:
    xg = gen(z)
    phi = ns_discriminator(_logit(disc(x)), _logit(disc(xg.detach())))
    return {"phi": weight * phi, "theta": weight * ns_generator(_logit(disc(xg)))}


def ae_l1(enc: Net, dec: Net, x: Tensor, weight: float = 1.0) -> dict[str, Tensor]:
    """An autoencoder scored by ‖x − G(E(x))‖₁, times the edge's weight."""
    r = weight * l1(dec(enc(x)), x).mean()
    return {"theta": r, "eta": r}


def vae_weighted_nll(
    enc: Callable[[Tensor], tuple[Tensor, Tensor]], dec: Net, x: Tensor, eps: Tensor, weight: float
) -> dict[str, Tensor]:
    """A VAE whose likelihood term −E log p(x | z) (Bernoulli) is weighted: weight·nll + KL(q ‖ N(0, I))."""
    mean, std = enc(x)
    z = mean + std * eps
    logits = dec(z)
    nll = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(1).mean()
    kl = (0.5 * (mean**2 + std**2 - 1.0) - torch.log(std)).sum(1).mean()
    return {"theta": weight * nll, "eta": weight * nll + kl}
