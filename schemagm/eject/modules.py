"""The networks of a compiled model as source: one ``nn.Module`` class per network, named after the
paper's symbol (``G_theta``), whose layers are read off the built module (so the state dicts match
and the same seed gives the same initial weights)."""

from __future__ import annotations

from typing import Any

from torch import nn

from ..errors import SpecError

__all__ = ["layer_source", "network_class", "head_class", "EXTRA_CLASSES"]

_ACTS = {
    nn.ReLU: "nn.ReLU()",
    nn.ELU: "nn.ELU()",
    nn.Tanh: "nn.Tanh()",
    nn.GELU: "nn.GELU()",
    nn.SiLU: "nn.SiLU()",
    nn.Sigmoid: "nn.Sigmoid()",
    nn.Softplus: "nn.Softplus()",
    nn.Identity: "nn.Identity()",
    nn.Flatten: "nn.Flatten()",
}

#: classes of layers that torch does not have, printed once where used
EXTRA_CLASSES = {
    "Reshape": '''
class Reshape(nn.Module):
    """Rows reshaped to one sample's shape."""

    def __init__(self, *shape):
        super().__init__()
        self.shape = shape

    def forward(self, x):
        return x.reshape(x.shape[0], *self.shape)
''',
    "Crop": '''
class Crop(nn.Module):
    """Images cropped to height h and width w."""

    def __init__(self, h, w):
        super().__init__()
        self.h, self.w = h, w

    def forward(self, x):
        return x[:, :, : self.h, : self.w]
''',
    "Embedding": '''
class Embedding(nn.Module):
    """A categorical code (one-hot, possibly relaxed) times an embedding table, then more layers."""

    def __init__(self, classes, dim, *layers):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(classes, dim))
        self.out = nn.Sequential(*layers)

    def forward(self, x):
        return self.out(x.reshape(x.shape[0], -1) @ self.weight)
''',
}


def _conv(m: Any, name: str) -> str:
    args = [str(m.in_channels), str(m.out_channels), str(m.kernel_size[0])]
    if m.stride != (1, 1):
        args.append(f"stride={m.stride[0]}")
    if m.padding != (0, 0):
        args.append(f"padding={m.padding[0]}")
    return f"nn.{name}({', '.join(args)})"


def layer_source(m: Any, extra: set[str], where: str) -> str:
    """The constructor call of one layer (``nn.Linear(64, 256)``)."""
    t = type(m)
    if t in _ACTS:
        if t is nn.Flatten and (m.start_dim, m.end_dim) != (1, -1):
            raise SpecError(f"{where}: a Flatten({m.start_dim}, {m.end_dim}) has no emitted form")
        return _ACTS[t]
    if t is nn.LeakyReLU:
        return f"nn.LeakyReLU({m.negative_slope!r})"
    if t is nn.Linear:
        bias = "" if m.bias is not None else ", bias=False"
        return f"nn.Linear({m.in_features}, {m.out_features}{bias})"
    if t is nn.Dropout:
        return f"nn.Dropout({m.p!r})"
    if t is nn.BatchNorm1d:
        return f"nn.BatchNorm1d({m.num_features})"
    if t is nn.Conv2d:
        return _conv(m, "Conv2d")
    if t is nn.ConvTranspose2d:
        return _conv(m, "ConvTranspose2d")
    if t.__name__ == "_Reshape":
        extra.add("Reshape")
        return f"Reshape({', '.join(map(str, m.shape))})"
    if t.__name__ == "_Crop":
        extra.add("Crop")
        return f"Crop({m.h}, {m.w})"
    if t is nn.Sequential:
        return "nn.Sequential(" + ", ".join(layer_source(c, extra, where) for c in m) + ")"
    raise SpecError(
        f"{where}: the layer {t.__module__}.{t.__name__} has no emitted form",
        hint="eject knows torch's Linear, Conv2d, ConvTranspose2d, BatchNorm1d, Dropout and activations",
    )


def network_class(name: str, module: Any, doc: str, extra: set[str]) -> str:
    """``class G_theta(nn.Sequential)`` (or of ``Embedding`` / ``nn.Identity``) building ``module``'s layers."""
    where = f"network {name}"
    if isinstance(module, nn.Sequential):
        base = "nn.Sequential"
        args = [layer_source(c, extra, where) for c in module]
    elif type(module).__name__ == "_Embedding":
        extra.add("Embedding")
        base = "Embedding"
        classes, dim = module.weight.shape
        args = [str(classes), str(dim), *(layer_source(c, extra, where) for c in module.out)]
    elif type(module) is nn.Identity:
        base, args = "nn.Identity", []
    else:
        raise SpecError(
            f"{where}: a network of type {type(module).__name__} has no emitted form",
            hint="eject prints networks of torch layers (mlp, linear, conv_encoder, conv_decoder, embedding, identity)",
        )
    body = "".join(f"            {a},\n" for a in args)
    init = f"        super().__init__(\n{body}        )\n" if args else "        super().__init__()\n"
    return f'class {name}({base}):\n    """{doc}"""\n\n    def __init__(self):\n{init}'


def head_class(name: str, module: Any, doc: str, extra: set[str], trunk: tuple[str, int, bool]) -> str:
    """``class Q_eta(nn.Sequential)`` for ``Q_eta = head(D_phi)``: its own layers, run on the first
    layers of the network it is given (the trunk: not a submodule, its parameters are that network's)."""
    key, cut, live = trunk
    where = f"network {name}"
    args = "".join(f"            {layer_source(c, extra, where)},\n" for c in module)
    return (
        f"class {name}(nn.Sequential):\n"
        f'    """{doc}"""\n\n'
        "    def __init__(self, shared):\n"
        f"        super().__init__(\n{args}        )\n"
        f"        self.shared = (shared,)  # {key}, not a submodule: its parameters are its own\n\n"
        "    def forward(self, x):\n"
        f"        # on the trunk: {key}'s first {cut} layers"
        + ("\n" if live else ", held fixed\n")
        + f"        return super().forward(trunk(self.shared[0], {cut}, x, fixed={not live}))\n"
    )
