"""Bind the hand-written references of :mod:`reference.losses` to a compiled model.

This is the only place that knows the compiled model's conventions (docs/design.md section 6
and the head conventions documented in ``schemagm/compiler/distributions.py``):

* ``model.networks["G_theta"]`` is the bare network on an edge: its input is the edge's input
  nodes (indicator left out), flattened and concatenated in written order, a categorical data
  node one-hot; its output is raw (logits; for a ``normal`` head the mean then log sigma^2);
  the output activation of a hollow edge (``-> sigmoid``) is applied here, by hand;
* ``model.last_draws["<kind>:<name>:<context>"]`` holds every random draw of the last call.

The functions return ``{group: loss}`` computed by the textbook formula with the model's own
networks as plain callables and the model's own noise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from . import losses as ref


def net(model: Any, key: str) -> Callable[..., Tensor]:
    module = model.networks[key]

    def call(*inputs: Tensor) -> Tensor:
        if len(inputs) == 1:
            return module(inputs[0])
        return module(torch.cat([t.reshape(t.shape[0], -1) for t in inputs], 1))

    return call


def gaussian(model: Any, key: str) -> Callable[..., tuple[Tensor, Tensor]]:
    """A ``normal`` head: the network's first half is the mean, the second log sigma^2."""
    f = net(model, key)

    def call(*inputs: Tensor) -> tuple[Tensor, Tensor]:
        out = f(*inputs)
        d = out.shape[1] // 2
        return out[:, :d], torch.exp(0.5 * out[:, d:])

    return call


def sigmoid_of(f: Callable[..., Tensor]) -> Callable[..., Tensor]:
    return lambda *a: torch.sigmoid(f(*a))


def draw(model: Any, key: str) -> Tensor:
    draws = model.last_draws
    if key not in draws:
        raise KeyError(f"no draw {key!r}; the last call drew: {sorted(draws)}")
    return draws[key]


def option(model: Any, name: str) -> Any:
    return getattr(model.graph.options, name)


# -- one binding per catalog spec -------------------------------------------------------------------
def ae(model: Any, batch: dict[str, Tensor]) -> dict[str, Tensor]:
    return ref.ae(net(model, "E_eta"), sigmoid_of(net(model, "G_theta")), batch["x"])


def dae(model: Any, batch: dict[str, Tensor]) -> dict[str, Tensor]:
    k = option(model, "walkback")
    ctx = ["y=1"] + [f"y=1:r={r}" for r in range(2, k + 1)]
    noises = [draw(model, f"noise:x->xn:{c}") for c in ctx]
    chain = [draw(model, f"sample:p_theta:{c}") for c in ctx[:-1]]
    (corruption,) = [e for e in model.graph.edges if e.network is not None and e.network.name == "gaussian_noise"]
    std = float(corruption.network.args[0])
    return ref.dae_walkback(net(model, "p_theta"), batch["x"], noises, std, chain)


def vae(model: Any, batch: dict[str, Tensor]) -> dict[str, Tensor]:
    return ref.vae(
        gaussian(model, "q_eta"),
        net(model, "p_theta"),
        batch["x"],
        draw(model, "eps:q_eta:y=0"),
        beta=option(model, "beta"),
    )


beta_vae = vae


def iwae(model: Any, batch: dict[str, Tensor]) -> dict[str, Tensor]:
    eps = draw(model, "eps:q_eta:y=0")
    assert eps.shape[0] == option(model, "importance_samples")
    return ref.iwae(gaussian(model, "q_eta"), net(model, "p_theta"), batch["x"], eps)


def gan(model: Any, batch: dict[str, Tensor]) -> dict[str, Tensor]:
    return ref.gan(sigmoid_of(net(model, "G_theta")), net(model, "D_phi"), batch["x"], draw(model, "prior:z:y=0"))


def infogan(model: Any, batch: dict[str, Tensor]) -> dict[str, Tensor]:
    return ref.infogan(
        sigmoid_of(net(model, "G_theta")),
        net(model, "D_phi"),
        gaussian(model, "Q_eta"),
        batch["x"],
        draw(model, "prior:z:y=0"),
        option(model, "mi_weight"),
    )


def aae(model: Any, batch: dict[str, Tensor]) -> dict[str, Tensor]:
    return ref.aae(
        net(model, "E_eta"), net(model, "D_phi"), net(model, "p_theta"), batch["x"], draw(model, "prior:z:y=1")
    )


def ada(model: Any, batch: dict[str, Tensor]) -> dict[str, Tensor]:
    z, y = batch["z"], batch["y"]
    return ref.ada(net(model, "G_theta"), net(model, "D_phi"), z[y == 1], z[y == 0])


def aavae(model: Any, batch: dict[str, Tensor]) -> dict[str, Tensor]:
    return ref.aavae(
        gaussian(model, "q_eta"),
        net(model, "p_theta"),
        net(model, "D_phi"),
        batch["x"],
        draw(model, "prior:z:gen"),
        draw(model, "eps:q_eta:y=0"),
        draw(model, "eps:q_eta:y=0:gen"),
        beta=option(model, "beta"),
    )


def iwgan(model: Any, batch: dict[str, Tensor]) -> dict[str, Tensor]:
    return ref.iwgan(
        sigmoid_of(net(model, "G_theta")),
        net(model, "D_phi"),
        batch["x"],
        draw(model, "prior:z:y=0"),
        option(model, "importance_samples"),
    )


def wake_sleep(model: Any, batch: dict[str, Tensor]) -> dict[str, Tensor]:
    return ref.wake_sleep(
        net(model, "q_lambda"),
        net(model, "p_theta"),
        batch["x"],
        draw(model, "sample:q_lambda:y=1"),
        draw(model, "prior:h:sleep"),
        draw(model, "sample:p_theta:sleep"),
    )


def mmd_net(model: Any, batch: dict[str, Tensor]) -> dict[str, Tensor]:
    (red,) = [e for e in model.graph.edges if e.kernel is not None]
    bandwidths = [float(a) for a in red.kernel.args]
    return ref.mmd_net(sigmoid_of(net(model, "G_theta")), batch["x"], draw(model, "prior:z:y=0"), bandwidths)


REFERENCES: dict[str, Callable[[Any, dict[str, Tensor]], dict[str, Tensor]]] = {
    "ae": ae,
    "dae": dae,
    "vae": vae,
    "beta_vae": beta_vae,
    "iwae": iwae,
    "gan": gan,
    "infogan": infogan,
    "aae": aae,
    "ada": ada,
    "aavae": aavae,
    "iwgan": iwgan,
    "wake_sleep": wake_sleep,
    "mmd_net": mmd_net,
}


# -- the extra specs ------------------------------------------------------------------------------------------
def ali(model: Any, batch: dict[str, Tensor]) -> dict[str, Tensor]:
    return ref.ali(
        net(model, "E_eta"),
        sigmoid_of(net(model, "G_theta")),
        net(model, "D_phi"),
        batch["x"],
        draw(model, "prior:z:y=0"),
    )


def vae_gan(model: Any, batch: dict[str, Tensor]) -> dict[str, Tensor]:
    return ref.vae_gan(
        gaussian(model, "q_eta"),
        net(model, "p_theta"),
        net(model, "D_phi"),
        batch["x"],
        draw(model, "eps:q_eta:y=0"),
        draw(model, "prior:z:gen"),
        beta=option(model, "beta"),
    )


def cvae(model: Any, batch: dict[str, Tensor]) -> dict[str, Tensor]:
    c = torch.nn.functional.one_hot(batch["c"], 10).float()
    return ref.cvae(
        gaussian(model, "q_eta"),
        net(model, "p_theta"),
        batch["x"],
        c,
        draw(model, "eps:q_eta:y=0"),
        beta=option(model, "beta"),
    )


EXTRA_REFERENCES: dict[str, Callable[[Any, dict[str, Tensor]], dict[str, Tensor]]] = {
    "ali": ali,
    "vae_gan": vae_gan,
    "cvae": cvae,
}

__all__ = ["REFERENCES", "EXTRA_REFERENCES", "net", "gaussian", "draw"]
