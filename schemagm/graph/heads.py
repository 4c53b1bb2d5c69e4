"""Whether an edge's output head fits the node it produces or scores: supports and ranges.

The registry says which kinds of node a distribution can describe at all
(``normal`` real values, ``categorical`` one-hot classes); this module adds what
the declared types and ranges imply (docs/language.md, section 9, "Heads"):

* a hollow edge's activation (``-> sigmoid``) sets the values it can produce.
  They must lie in the target's declared range ``in [lo, hi]``; where the target's
  values must be *matched* (a latent node with a prior, a data node), the
  activation's range must also cover them, or no training can make the two
  distributions agree: ``-> sigmoid`` (0, 1) into ``normal[16]`` (all of R) is an
  error, ``-> tanh`` into ``uniform[8] in [-1, 1]`` is right;
* a Bernoulli head scores values in [0, 1] (binary cross-entropy), so a data node
  it scores must not be declared outside [0, 1];
* a dashed (sampling) edge with a normal head, written or the default, draws
  values on all of R, so it cannot produce a latent node confined to a range
  (a uniform prior, or ``real[...] in [lo, hi]``): log p(z) is -inf outside, and
  KL(q || p) infinite.

:func:`head_mismatch` returns the reason in words and a hint, or None.
"""

from __future__ import annotations

import math

from .. import registry
from .model import Edge, Node, Process, Role

__all__ = ["ACTIVATION_RANGES", "head_mismatch", "effective_head", "support", "fmt_interval"]

INF = math.inf

#: the values each activation can produce (the closure of its range)
ACTIVATION_RANGES: dict[str, tuple[float, float]] = {
    "sigmoid": (0.0, 1.0),
    "tanh": (-1.0, 1.0),
    "relu": (0.0, INF),
    "softplus": (0.0, INF),
    "softmax": (0.0, 1.0),
}
#: the open or closed ends, for printing: sigmoid (0, 1), relu [0, inf)
_WRITTEN = {
    "sigmoid": "(0, 1)",
    "tanh": "(-1, 1)",
    "relu": "[0, ∞)",
    "softplus": "(0, ∞)",
    "softmax": "(0, 1), summing to 1",
}

UNIFORM_DEFAULT = (-1.0, 1.0)  # as schemagm.graph.build.UNIFORM_DEFAULT_RANGE (build imports this stage's model only)


def fmt_interval(lo: float, hi: float) -> str:
    def one(v: float) -> str:
        if v == INF:
            return "∞"
        if v == -INF:
            return "−∞"
        return str(int(v)) if float(v).is_integer() else repr(v)

    left = "(" if lo == -INF else "["
    right = ")" if hi == INF else "]"
    return f"{left}{one(lo)}, {one(hi)}{right}"


def support(node: Node) -> tuple[float, float] | None:
    """The interval a continuous node's values lie in (None for discrete nodes): its declared range,
    a uniform prior's range, else all of R."""
    if node.value in ("categorical", "bernoulli"):
        return None
    if node.range is not None:
        return (float(node.range[0]), float(node.range[1]))
    if node.value == "uniform":
        return UNIFORM_DEFAULT
    return (-INF, INF)


def effective_head(edge: Edge, target: Node) -> str | None:
    """The head the compiler uses: the one written, else for a stochastic edge the default of the
    target's type (categorical, bernoulli, else normal); None for a hollow edge without activation
    and for a corruption (``gaussian_noise``: it returns a corrupted copy, not a distribution)."""
    if edge.output is not None:
        return edge.output.name
    if edge.deterministic or edge.adversarial or edge.network is None or edge.network.name in registry.CORRUPTIONS:
        return None
    return {"categorical": "categorical", "bernoulli": "bernoulli"}.get(target.value, "normal")


def _what(target: Node) -> str:
    if target.role is Role.data:
        return f"the data node '{target.name}'"
    if target.prior is not None:
        return f"'{target.name}' (prior {target.prior})"
    return f"'{target.name}'"


def head_mismatch(edge: Edge, target: Node) -> tuple[str, str] | None:
    """Why the edge's head cannot produce or score ``target``'s values, with a hint; None when it fits."""
    head = effective_head(edge, target)
    if head is None:
        return None
    written = edge.output is not None
    if edge.deterministic and head in ACTIVATION_RANGES:
        return _activation_mismatch(head, target)
    if head in ("bernoulli", "relaxed_bernoulli") and target.role is Role.data and target.value == "real":
        if target.range is not None and not (0.0 <= target.range[0] and target.range[1] <= 1.0):
            lo, hi = target.range
            return (
                f"the distribution '{head}' scores values in [0, 1], but the data node '{target.name}' "
                f"is declared in {fmt_interval(lo, hi)}",
                "use `normal` for real data outside [0, 1], or rescale the data to [0, 1] (`in [0, 1]`)",
            )
    if head == "normal" and edge.process is Process.inference and target.role is Role.latent:
        s = support(target)
        if s is not None and (s[0] > -INF or s[1] < INF):
            where = (
                f"its uniform prior on {fmt_interval(*s)}"
                if target.prior == "uniform"
                else f"its range {fmt_interval(*s)}"
            )
            how = "the written head 'normal'" if written else "the default head (normal)"
            return (
                f"{how} draws '{target.name}' on (−∞, ∞), but '{target.name}' lies in {where}: "
                f"log p({target.name}) is −∞ outside, so KL(q ‖ p) is infinite",
                f"declare `latent {target.name} : normal[...]`, or give '{target.name}' no inference edge",
            )
    return None


def _activation_mismatch(act: str, target: Node) -> tuple[str, str] | None:
    lo, hi = ACTIVATION_RANGES[act]
    gives = f"'{act}' gives values in {_WRITTEN[act]}"
    drop = "drop the activation (a linear output)"
    if target.value == "categorical" and act == "softmax":
        return None  # a soft code: probabilities over the classes, a one-hot vector's relaxation
    if target.value == "categorical":
        return (
            f"{gives}, but {_what(target)} is categorical (one-hot values)",
            f"{drop}, or use a filled arrow with `categorical`",
        )
    if target.value == "bernoulli":
        if lo >= 0.0 and hi <= 1.0 and target.role is Role.data:
            return None  # sigmoid for binary data: values in [0, 1]
        return (
            f"{gives}, but {_what(target)} takes the values 0 and 1",
            "use `-> sigmoid` into binary data, or a filled arrow with `bernoulli`",
        )
    s = support(target)
    assert s is not None
    if target.range is not None or target.value == "uniform":
        if lo < s[0] or hi > s[1]:
            return (
                f"{gives}, outside {_what(target)}'s range {fmt_interval(*s)}",
                f"choose an activation within {fmt_interval(*s)} (sigmoid for [0, 1], tanh for [-1, 1]), or {drop}",
            )
    # the values must be matched where the node has a prior, or is data declared in a range
    matched = target.prior is not None or (target.role is Role.data and target.range is not None)
    if matched and (lo > s[0] or hi < s[1]):
        if target.prior is not None:
            whose = f"the prior p({target.name}) ({target.prior}) has support {fmt_interval(*s)}"
            then = f"the produced values can never match p({target.name})"
        else:
            whose = f"'{target.name}' is declared in {fmt_interval(*s)}"
            then = "the generated samples can never cover the data"
        fit = {(-1.0, 1.0): "tanh", (0.0, 1.0): "sigmoid"}.get(s)
        return (f"{gives}, but {whose}: {then}", f"use `-> {fit}`" if fit else drop)
    return None
