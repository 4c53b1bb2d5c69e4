"""The registry of names a spec may use: networks, corruptions, output heads, kernels.

A spec only ever *names* things (``mlp(256, 256)``, ``bernoulli``,
``gaussian_noise(0.3)``); this module says which names exist, what arguments
they take and whether they have parameters, so that the checker can reject a
bad spec before any tensor exists.  The PyTorch implementations live in the
compiler stage; a :class:`Entry` points at its factory by import path
(``"module:attr"``) or holds a callable registered from Python.

Users add networks from Python::

    import schemagm
    schemagm.register_network("my_resnet", make_resnet, parametric=True)

or through the entry-point group ``schemagm.networks`` of their own package
(``my_resnet = my_pkg.nets:make_resnet``).  A factory is called as
``factory(in_features, out_features, *args, **kwargs)`` where the features are
``int`` for vectors and ``(C, H, W)`` tuples for images, and returns an
``nn.Module``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

__all__ = [
    "Arg",
    "Entry",
    "Kind",
    "NETWORKS",
    "CORRUPTIONS",
    "DISTRIBUTIONS",
    "ACTIVATIONS",
    "KERNELS",
    "register_network",
    "HEAD",
    "has_trunk",
    "lookup",
    "validate_call",
    "network_names",
]

Kind = Literal["network", "corruption", "distribution", "activation", "kernel"]
Factory = str | Callable[..., Any]


@dataclass(frozen=True)
class Arg:
    """One argument: a name, the Python type it takes, an optional default and bounds."""

    name: str
    type: type
    default: Any = None
    required: bool = False
    variadic: bool = False  # takes every remaining positional argument
    minimum: float | None = None
    exclusive_minimum: bool = False
    choices: tuple[Any, ...] | None = None

    def check(self, value: Any) -> str | None:
        if self.type is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if self.type is int and isinstance(value, bool) or not isinstance(value, self.type):
            return f"argument '{self.name}' must be {_TYPE_WORDS[self.type]}, got {_show(value)}"
        if self.minimum is not None:
            number = cast(float, value)  # only int and float arguments have a minimum
            if number < self.minimum or (self.exclusive_minimum and number == self.minimum):
                word = "greater than" if self.exclusive_minimum else "at least"
                return f"argument '{self.name}' must be {word} {self.minimum:g}, got {_show(value)}"
        if self.choices is not None and value not in self.choices:
            return f"argument '{self.name}' must be one of {', '.join(map(str, self.choices))}; got {_show(value)}"
        return None


_TYPE_WORDS = {int: "a whole number", float: "a number", str: "a name or string", bool: "true or false"}


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, str) else str(value)


@dataclass(frozen=True)
class Entry:
    """A registered name."""

    name: str
    kind: Kind
    factory: Factory | None
    parametric: bool
    args: tuple[Arg, ...] = ()
    doc: str = ""
    #: when False, arguments are not checked (networks registered without a signature)
    checked: bool = True
    #: for networks: what the input must be ("any", "vector", "image", "categorical")
    accepts: str = "any"
    #: for networks: what the output can be ("any", "vector", "image")
    produces: str = "any"
    #: for distributions: which node values they can describe
    targets: tuple[str, ...] = field(default_factory=tuple)
    #: for networks: whether a head (``Q_eta = head(D_phi)``) can share its trunk, every layer but the
    #: final affine map: "always", "hidden" (when it has at least one hidden width) or "none"
    trunk: str = "none"

    def resolve(self) -> Callable[..., Any]:
        """Import (or return) the implementation."""
        if self.factory is None:
            raise LookupError(f"{self.kind} '{self.name}' has no implementation")
        if callable(self.factory):
            return self.factory
        module, _, attr = self.factory.partition(":")
        from importlib import import_module

        return getattr(import_module(module), attr)


def _i(name: str, **kw: Any) -> Arg:
    return Arg(name, int, **kw)


def _f(name: str, **kw: Any) -> Arg:
    return Arg(name, float, **kw)


_NET = "schemagm.compiler.networks"
_FLOW = "schemagm.compiler.flows"

#: the flows of an invertible edge (networks that produce a bijection, ``produces="flow"``)
FLOW_DOCS = {
    "realnvp": "affine coupling flow (RealNVP, Dinh et al. 2017)",
    "maf": "masked autoregressive flow (Papamakarios et al. 2017): fast density",
    "iaf": "inverse autoregressive flow (Kingma et al. 2016): fast sampling",
    "nsf": "rational-quadratic spline flow (NSF, Durkan et al. 2019)",
}
_DIST = "schemagm.compiler.distributions"

#: the network that shares another's trunk: ``Q_eta = head(D_phi)`` (InfoGAN's Q on D's body)
HEAD = "head"

_ACT_CHOICES = ("relu", "leaky_relu", "elu", "tanh", "gelu", "silu")

NETWORKS: dict[str, Entry] = {
    e.name: e
    for e in [
        Entry(
            "mlp",
            "network",
            f"{_NET}:mlp",
            True,
            (
                _i("hidden", variadic=True, minimum=1),
                Arg("activation", str, "relu", choices=_ACT_CHOICES),
                _f("dropout", default=0.0, minimum=0.0),
                Arg("batchnorm", bool, False),
            ),
            "multi-layer perceptron with the given hidden widths",
            trunk="hidden",
        ),
        Entry("linear", "network", f"{_NET}:linear", True, (), "one affine map"),
        Entry("identity", "network", f"{_NET}:identity", False, (), "the input itself (sizes must match)"),
        Entry(
            "embedding",
            "network",
            f"{_NET}:embedding",
            True,
            (_i("dim", minimum=1, default=None),),
            "embedding of a categorical code, then an affine map",
            accepts="categorical",
        ),
        Entry(
            "conv_encoder",
            "network",
            f"{_NET}:conv_encoder",
            True,
            (_i("channels", variadic=True, minimum=1), Arg("activation", str, "leaky_relu", choices=_ACT_CHOICES)),
            "strided 3x3 convolutions (one per width), then an affine map",
            accepts="image",
            trunk="always",
        ),
        Entry(
            HEAD,
            "network",
            f"{_NET}:head",
            True,
            (Arg("trunk", str, required=True),),
            "the trunk of another edge's network (all its layers but the last, that network's parameters) "
            "followed by this network's own affine map: `Q_eta = head(D_phi)`",
        ),
        Entry(
            "conv_decoder",
            "network",
            f"{_NET}:conv_decoder",
            True,
            (_i("channels", variadic=True, minimum=1), Arg("activation", str, "relu", choices=_ACT_CHOICES)),
            "an affine map, then transposed convolutions up to the target image",
            produces="image",
        ),
        *(
            Entry(
                kind,
                "network",
                f"{_FLOW}:{kind}",
                True,
                (
                    _i("hidden", variadic=True, minimum=1),
                    _i("transforms", default=4, minimum=1),
                    *((_i("bins", default=8, minimum=2),) if kind == "nsf" else ()),
                ),
                doc + " (zuko); on an invertible edge <-> / <-->, or as q(u | x) of `dequantize`",
                produces="flow",
            )
            for kind, doc in FLOW_DOCS.items()
        ),
    ]
}

CORRUPTIONS: dict[str, Entry] = {
    e.name: e
    for e in [
        Entry(
            "gaussian_noise",
            "corruption",
            f"{_NET}:gaussian_noise",
            False,
            (_f("std", required=True, minimum=0.0, exclusive_minimum=True),),
            "x + std * eps",
        ),
        Entry(
            "masking",
            "corruption",
            f"{_NET}:masking",
            False,
            (_f("p", required=True, minimum=0.0),),
            "zero each entry with probability p",
        ),
        Entry(
            "salt_and_pepper",
            "corruption",
            f"{_NET}:salt_and_pepper",
            False,
            (_f("p", required=True, minimum=0.0),),
            "set each entry to 0 or 1 with probability p",
        ),
        Entry(
            "dequantize",
            "corruption",
            f"{_FLOW}:uniform_dequantization",
            False,
            (_f("scale", required=True, minimum=0.0, exclusive_minimum=True),),
            "uniform dequantization v = x + u / scale, u ~ U[0, 1), for data on a grid of step 1/scale",
        ),
    ]
}

DISTRIBUTIONS: dict[str, Entry] = {
    e.name: e
    for e in [
        Entry(
            "normal",
            "distribution",
            f"{_DIST}:Normal",
            False,
            (_f("std", minimum=0.0, exclusive_minimum=True),),
            "diagonal Gaussian, learned variance unless std is given",
            targets=("real", "normal", "uniform"),
        ),
        Entry(
            "bernoulli",
            "distribution",
            f"{_DIST}:Bernoulli",
            False,
            (),
            "independent Bernoulli (logits)",
            targets=("real", "bernoulli"),
        ),
        Entry(
            "categorical",
            "distribution",
            f"{_DIST}:Categorical",
            False,
            (),
            "one categorical (logits)",
            targets=("categorical",),
        ),
        Entry(
            "relaxed_categorical",
            "distribution",
            f"{_DIST}:RelaxedCategorical",
            False,
            (_f("temperature", minimum=0.0, exclusive_minimum=True),),
            "Gumbel-softmax sample, categorical density",
            targets=("categorical",),
        ),
        Entry(
            "dequantize",
            "distribution",
            f"{_FLOW}:Dequantization",
            False,
            (_f("scale", required=True, minimum=0.0, exclusive_minimum=True),),
            "variational dequantization v = x + sigmoid(s) / scale, s from the edge's conditional flow",
            targets=("real",),
        ),
        Entry(
            "relaxed_bernoulli",
            "distribution",
            f"{_DIST}:RelaxedBernoulli",
            False,
            (_f("temperature", minimum=0.0, exclusive_minimum=True),),
            "binary concrete sample, Bernoulli density",
            targets=("bernoulli", "real"),
        ),
    ]
}

ACTIVATIONS: dict[str, Entry] = {
    e.name: e
    for e in [
        Entry(n, "activation", None, False, (), d)
        for n, d in [
            ("sigmoid", "to (0, 1)"),
            ("tanh", "to (-1, 1)"),
            ("relu", "to [0, inf)"),
            ("softplus", "to (0, inf)"),
            ("softmax", "to probabilities over the last dimension (a soft categorical code)"),
        ]
    ]
}

KERNELS: dict[str, Entry] = {
    "mmd": Entry(
        "mmd",
        "kernel",
        f"{_DIST}:mmd2",
        False,
        (_f("bandwidth", variadic=True, minimum=0.0, exclusive_minimum=True),),
        "maximum mean discrepancy with a sum of Gaussian kernels of these bandwidths",
    )
}

_TABLES: dict[str, dict[str, Entry]] = {
    "network": NETWORKS,
    "corruption": CORRUPTIONS,
    "distribution": DISTRIBUTIONS,
    "activation": ACTIVATIONS,
    "kernel": KERNELS,
}

_entry_points_loaded = False


def register_network(
    name: str,
    factory: Callable[..., Any],
    *,
    parametric: bool = True,
    args: Sequence[Arg] | None = None,
    accepts: str = "any",
    produces: str = "any",
    doc: str = "",
    replace: bool = False,
) -> Entry:
    """Register a network factory ``factory(in_features, out_features, *args, **kwargs) -> nn.Module``.

    Without ``args`` its arguments are passed through unchecked.
    """
    if not name.isidentifier():
        raise ValueError(f"network name {name!r} must be an identifier")
    if name == HEAD:
        raise ValueError(
            f"{HEAD!r} is the language's shared-trunk network (`Q_eta = head(D_phi)`); choose another name"
        )
    if name in NETWORKS and not replace:
        raise ValueError(f"a network named {name!r} is already registered (pass replace=True)")
    entry = Entry(
        name,
        "network",
        factory,
        parametric,
        tuple(args or ()),
        doc or (factory.__doc__ or "").strip(),
        checked=args is not None,
        accepts=accepts,
        produces=produces,
    )
    NETWORKS[name] = entry
    return entry


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    from importlib.metadata import entry_points

    for ep in entry_points(group="schemagm.networks"):
        if ep.name not in NETWORKS:
            NETWORKS[ep.name] = Entry(
                ep.name, "network", ep.value, True, (), f"from entry point {ep.value}", checked=False
            )


def lookup(kind: Kind, name: str) -> Entry | None:
    entry = _TABLES[kind].get(name)
    if entry is None and kind == "network" and not _entry_points_loaded:
        # installed packages' networks are read only for a name that is not registered (scanning
        # every installed distribution's metadata takes a tenth of a second); a registered name
        # wins over an entry point of the same name either way
        _load_entry_points()
        entry = _TABLES[kind].get(name)
    return entry


def network_names() -> list[str]:
    _load_entry_points()
    return sorted(NETWORKS)


def names(kind: Kind) -> list[str]:
    if kind == "network":
        _load_entry_points()
    return sorted(_TABLES[kind])


def has_trunk(entry: Entry, args: Sequence[Any]) -> bool:
    """Can a head share the trunk of this network called with these positional arguments?"""
    return entry.trunk == "always" or (entry.trunk == "hidden" and len(args) > 0)


def validate_call(entry: Entry, args: Sequence[Any], kwargs: dict[str, Any]) -> list[str]:
    """Problems with calling ``entry`` with these arguments, in plain words (empty if fine)."""
    if not entry.checked:
        return []
    problems: list[str] = []
    # parameters before a variadic one are positional; those after it are keyword-only
    variadic_at = next((i for i, a in enumerate(entry.args) if a.variadic), None)
    positional = list(entry.args if variadic_at is None else entry.args[:variadic_at])
    variadic = None if variadic_at is None else entry.args[variadic_at]
    bound: dict[str, Any] = {}
    for i, value in enumerate(args):
        if i < len(positional):
            bound[positional[i].name] = value
        elif variadic is not None:
            msg = variadic.check(value)
            if msg:
                problems.append(msg)
        else:
            n = len(positional)
            problems.append(
                f"'{entry.name}' takes {'no' if n == 0 else f'at most {n}'} positional "
                f"argument{'s' if n != 1 else ''}, got {len(args)}"
            )
            break
    known = {a.name: a for a in entry.args}
    for key, value in kwargs.items():
        if key not in known or known[key].variadic:
            choices = ", ".join(a.name for a in entry.args if not a.variadic) or "none"
            problems.append(f"'{entry.name}' has no argument '{key}' (its arguments: {choices})")
        elif key in bound:
            problems.append(f"argument '{key}' of '{entry.name}' given twice")
        else:
            bound[key] = value
    for a in entry.args:
        if a.variadic:
            continue
        if a.name in bound:
            msg = a.check(bound[a.name])
            if msg:
                problems.append(msg)
        elif a.required:
            problems.append(f"'{entry.name}' needs the argument '{a.name}'")
    return problems
