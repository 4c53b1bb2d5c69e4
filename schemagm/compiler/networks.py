"""The PyTorch networks and corruptions a spec can name (see :mod:`schemagm.registry`).

A network factory is called as ``factory(in_features, out_features, *args, **kwargs)``
where a feature size is an ``int`` for a vector and a ``(C, H, W)`` tuple for an
image; it returns an ``nn.Module`` mapping ``[n, *in]`` to ``[n, *out]``.  A factory
raises ``ValueError`` when the sizes cannot fit (the compiler turns that into a
``SpecError`` at the edge).

A corruption (a fixed, parameter-free dashed edge such as ``gaussian_noise(0.3)``)
is a :class:`Corruption`: ``noise(x)`` draws its randomness (recorded by the
compiler in ``last_draws``) and ``apply(x, noise)`` is the corrupted value, so a
hand-written reference can replay exactly the same corruption.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

__all__ = [
    "Features",
    "mlp",
    "linear",
    "identity",
    "embedding",
    "conv_encoder",
    "conv_decoder",
    "Corruption",
    "gaussian_noise",
    "masking",
    "salt_and_pepper",
    "activation",
    "head",
    "OnTrunk",
    "trunk_cut",
    "trunk_layers",
]

Features = int | tuple[int, ...]


def _flat(f: Features) -> int:
    return f if isinstance(f, int) else math.prod(f)


def _act(name: str) -> nn.Module:
    table: dict[str, Callable[[], nn.Module]] = {
        "relu": nn.ReLU,
        "leaky_relu": lambda: nn.LeakyReLU(0.2),
        "elu": nn.ELU,
        "tanh": nn.Tanh,
        "gelu": nn.GELU,
        "silu": nn.SiLU,
        "sigmoid": nn.Sigmoid,
        "softplus": nn.Softplus,
    }
    if name not in table:
        raise ValueError(f"unknown activation '{name}' (known: {', '.join(sorted(table))})")
    return table[name]()


def activation(name: str | None) -> nn.Module:
    """The output activation of a deterministic edge (``-> sigmoid``); ``None``: the identity."""
    return nn.Identity() if name is None else _act(name)


class _Reshape(nn.Module):
    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x: Tensor) -> Tensor:
        return x.reshape(x.shape[0], *self.shape)

    def extra_repr(self) -> str:
        return f"shape={self.shape}"


def _to_out(out_features: Features) -> list[nn.Module]:
    return [] if isinstance(out_features, int) else [_Reshape(tuple(out_features))]


def mlp(
    in_features: Features,
    out_features: Features,
    *hidden: int,
    activation: str = "relu",
    dropout: float = 0.0,
    batchnorm: bool = False,
) -> nn.Module:
    """A multi-layer perceptron: flatten, then affine maps of the given hidden widths with the
    activation between them, then an affine map to the output (reshaped for an image)."""
    layers: list[nn.Module] = [nn.Flatten()]
    width = _flat(in_features)
    for h in hidden:
        layers.append(nn.Linear(width, h))
        if batchnorm:
            layers.append(nn.BatchNorm1d(h))
        layers.append(_act(activation))
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = h
    layers.append(nn.Linear(width, _flat(out_features)))
    layers.extend(_to_out(out_features))
    return nn.Sequential(*layers)


def trunk_cut(net: nn.Module) -> tuple[int, int]:
    """(how many leading layers of ``net`` are its trunk, the trunk's width): every layer before its
    last affine map (``nn.Linear``), which must follow at least one layer with parameters (a body)."""
    if not isinstance(net, nn.Sequential):
        raise ValueError(f"a head shares the trunk of a sequence of layers, not of a {type(net).__name__}")
    layers = list(net.children())
    last = max((i for i, m in enumerate(layers) if isinstance(m, nn.Linear)), default=None)
    if last is None or not any(p.numel() for m in layers[:last] for p in m.parameters()):
        raise ValueError("the network has no trunk: no layer with parameters before its last affine map")
    final = layers[last]
    assert isinstance(final, nn.Linear)
    return last, final.in_features


def trunk_layers(net: nn.Module, cut: int) -> nn.Sequential:
    """The trunk of ``net``: its first ``cut`` layers, the same modules (the same parameters)."""
    return nn.Sequential(*list(net.children())[:cut])


class OnTrunk(nn.Sequential):
    """A head's own layers (an affine map to its output) applied to another network's trunk.

    The trunk is *not* a submodule: its parameters belong to its own network (and group); the
    compiler gives ``trunk``, a callable returning the trunk to apply (the live layers, or their
    frozen twin when the head's group is not the trunk's)."""

    def __init__(self, *layers: nn.Module) -> None:
        super().__init__(*layers)
        self.trunk: Callable[[], nn.Module] | None = None

    def forward(self, x: Tensor) -> Tensor:  # type: ignore[override]  # nn.Sequential's takes any input
        if self.trunk is None:
            raise RuntimeError("a head network is used before the compiler gave it its trunk")
        return super().forward(self.trunk()(x))


def head(in_features: Features, out_features: Features) -> OnTrunk:
    """The own layers of ``head(D_phi)``: one affine map from the trunk's width (``in_features``)
    to the output (reshaped for an image); the compiler attaches the trunk."""
    return OnTrunk(nn.Linear(_flat(in_features), _flat(out_features)), *_to_out(out_features))


def linear(in_features: Features, out_features: Features) -> nn.Module:
    """One affine map (inputs flattened, output reshaped for an image)."""
    return nn.Sequential(nn.Flatten(), nn.Linear(_flat(in_features), _flat(out_features)), *_to_out(out_features))


def identity(in_features: Features, out_features: Features) -> nn.Module:
    """The input itself; the sizes must match."""
    if _flat(in_features) != _flat(out_features):
        raise ValueError(
            f"identity needs as many outputs as inputs, got {_flat(in_features)} inputs for "
            f"{_flat(out_features)} outputs"
        )
    if in_features == out_features:
        return nn.Identity()
    return nn.Sequential(nn.Flatten(), *_to_out(out_features))


class _Embedding(nn.Module):
    """A categorical code (one-hot, possibly relaxed) times an embedding table, then an affine map."""

    def __init__(self, classes: int, dim: int, out_features: Features) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(classes, dim))
        self.out = nn.Sequential(nn.Linear(dim, _flat(out_features)), *_to_out(out_features))

    def forward(self, x: Tensor) -> Tensor:
        return self.out(x.reshape(x.shape[0], -1) @ self.weight)


def embedding(in_features: Features, out_features: Features, dim: int | None = None) -> nn.Module:
    """Embedding of a categorical code of ``in_features`` classes, then an affine map."""
    if not isinstance(in_features, int):
        raise ValueError("embedding takes one categorical input, not an image")
    return _Embedding(in_features, dim or _flat(out_features), out_features)


def _conv_out(size: int) -> int:
    return (size - 1) // 2 + 1  # 3x3, stride 2, padding 1


def conv_encoder(
    in_features: Features, out_features: Features, *channels: int, activation: str = "leaky_relu"
) -> nn.Module:
    """Strided 3x3 convolutions (one per width, each halving the image), then an affine map."""
    if isinstance(in_features, int) or len(in_features) != 3:
        raise ValueError(f"conv_encoder takes one image [C, H, W] as input, got {in_features} features")
    if not isinstance(out_features, int):
        raise ValueError("conv_encoder produces a vector; use conv_decoder to produce an image")
    channels = channels or (32, 64)
    c, h, w = in_features
    layers: list[nn.Module] = []
    for ch in channels:
        layers += [nn.Conv2d(c, ch, 3, stride=2, padding=1), _act(activation)]
        c, h, w = ch, _conv_out(h), _conv_out(w)
    layers += [nn.Flatten(), nn.Linear(c * h * w, out_features)]
    return nn.Sequential(*layers)


class _Crop(nn.Module):
    def __init__(self, h: int, w: int) -> None:
        super().__init__()
        self.h, self.w = h, w

    def forward(self, x: Tensor) -> Tensor:
        return x[:, :, : self.h, : self.w]


def conv_decoder(in_features: Features, out_features: Features, *channels: int, activation: str = "relu") -> nn.Module:
    """An affine map to a small image, then transposed convolutions (each doubling it) up to the
    target image, then a 3x3 convolution to its channels (cropped to its height and width)."""
    if isinstance(out_features, int) or len(out_features) != 3:
        raise ValueError(f"conv_decoder produces an image [C, H, W], but this edge needs {out_features} outputs")
    channels = channels or (64, 32)
    c_out, h_out, w_out = out_features
    scale = 2 ** len(channels)
    h0, w0 = -(-h_out // scale), -(-w_out // scale)
    layers: list[nn.Module] = [
        nn.Flatten(),
        nn.Linear(_flat(in_features), channels[0] * h0 * w0),
        _act(activation),
        _Reshape((channels[0], h0, w0)),
    ]
    for i, ch in enumerate(channels):
        nxt = channels[i + 1] if i + 1 < len(channels) else ch
        layers += [nn.ConvTranspose2d(ch, nxt, 4, stride=2, padding=1), _act(activation)]
    layers.append(nn.Conv2d(channels[-1], c_out, 3, padding=1))
    if (h0 * scale, w0 * scale) != (h_out, w_out):
        layers.append(_Crop(h_out, w_out))
    return nn.Sequential(*layers)


# -- corruptions: fixed dashed edges without parameters ----------------------------------------------
class Corruption(nn.Module):
    """A fixed corruption x -> x~.  ``noise`` draws (of kind ``noise_kind``: ``normal`` or
    ``uniform``, the shape of x), ``apply`` corrupts with a given draw."""

    noise_kind = "normal"

    def noise(self, x: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    # corrupts x with a given draw; it hides nn.Module.apply(fn), which is never called on a corruption
    # (corruptions are not registered as submodules of a model)
    def apply(self, x: Tensor, noise: Tensor) -> Tensor:  # type: ignore[override]  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        return self.apply(x, self.noise(x))


class _GaussianNoise(Corruption):
    def __init__(self, std: float) -> None:
        super().__init__()
        self.std = float(std)

    def noise(self, x: Tensor) -> Tensor:
        return torch.randn_like(x)

    def apply(self, x: Tensor, noise: Tensor) -> Tensor:  # type: ignore[override]  # see Corruption.apply
        return x + self.std * noise

    def extra_repr(self) -> str:
        return f"std={self.std}"


class _PerEntry(Corruption):
    """A corruption driven by one uniform draw per entry and a probability p."""

    noise_kind = "uniform"

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = float(p)

    def noise(self, x: Tensor) -> Tensor:
        return torch.rand_like(x)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class _Masking(_PerEntry):
    def apply(self, x: Tensor, noise: Tensor) -> Tensor:  # type: ignore[override]  # see Corruption.apply
        return x * (noise >= self.p).to(x.dtype)


class _SaltAndPepper(_PerEntry):
    def apply(self, x: Tensor, noise: Tensor) -> Tensor:  # type: ignore[override]  # see Corruption.apply
        pepper = noise < self.p / 2  # set to 0
        salt = (noise >= self.p / 2) & (noise < self.p)  # set to 1
        return torch.where(pepper, torch.zeros_like(x), torch.where(salt, torch.ones_like(x), x))


def gaussian_noise(std: float) -> Corruption:
    """x~ = x + std * eps, eps ~ N(0, I); the draw is eps."""
    if std <= 0:
        raise ValueError("gaussian_noise needs std > 0")
    return _GaussianNoise(std)


def masking(p: float) -> Corruption:
    """Each entry set to 0 with probability p; the draw is u ~ U(0, 1) per entry (zeroed where u < p)."""
    if not 0 <= p <= 1:
        raise ValueError("masking needs 0 <= p <= 1")
    return _Masking(p)


def salt_and_pepper(p: float) -> Corruption:
    """Each entry set to 0 (u < p/2) or 1 (p/2 <= u < p); the draw is u ~ U(0, 1) per entry."""
    if not 0 <= p <= 1:
        raise ValueError("salt_and_pepper needs 0 <= p <= 1")
    return _SaltAndPepper(p)


def feature_shape(sizes: Sequence[Features]) -> Features:
    """The input features of a network fed by these nodes: one image stays an image, anything
    else is flattened and concatenated."""
    if len(sizes) == 1:
        return sizes[0]
    return sum(_flat(s) for s in sizes)
