"""activate_adversary / degenerate_adversary: give a red edge a discriminator, or take it away.

A red edge without a network is the perfect adversary q_* (1 on real samples,
0 on generated ones); its reverse routes real data to the generated branch,
which is how a VAE contains an adversary (SEMANTICS.md, rule 5).  Giving that
edge a network D_phi activates it (the AAVAE); taking the network of a GAN's
discriminator away degenerates it.
"""

from __future__ import annotations

import ast
from typing import Any

from ..errors import SpecError
from ..graph.model import Call, Edge, SchematicGraph
from ..registry import lookup, validate_call
from .common import adversary_kind, describe_edge, find_edge, finish, not_applicable, rebuild

__all__ = ["activate_adversary", "degenerate_adversary", "parse_network"]


def _red_edges(graph: SchematicGraph) -> list[int]:
    return [i for i, e in enumerate(graph.edges) if e.adversarial]


def _listing(graph: SchematicGraph, indices: list[int]) -> str:
    return ", ".join(describe_edge(graph.edges[i]) for i in indices)


def _choose_red_edge(graph: SchematicGraph, edge: str | int | Edge | None, name: str, wanted: str) -> int:
    """The red edge to act on: the one named, or the only red edge (of kind ``wanted``)."""
    if edge is not None:
        return find_edge(graph, edge, name)
    red = _red_edges(graph)
    if not red:
        raise not_applicable(graph, name, "the model has no red (adversarial) edge")
    if len(red) == 1:
        return red[0]
    candidates = [i for i in red if adversary_kind(graph.edges[i]) == wanted]
    if len(candidates) == 1:
        return candidates[0]
    raise not_applicable(
        graph,
        name,
        f"the model has {len(red)} red edges ({_listing(graph, red)})",
        hint="say which one with edge= (--edge), e.g. by its network name or as 'x -> y'",
    )


def _what_it_is(e: Edge) -> str:
    kind = adversary_kind(e)
    if kind is None:
        return f"the edge {describe_edge(e)} is not red (adversarial)"
    if kind == "learned":
        return f"the red edge {describe_edge(e)} already has a discriminator {e.label}_{e.group}"
    if kind == "kernel":
        return f"the red edge {describe_edge(e)} is a kernel test ({e.kernel}); it has no discriminator"
    return f"the red edge {describe_edge(e)} is already a perfect adversary (q_*)"


def _require_kind(graph: SchematicGraph, i: int, name: str, wanted: str, hint: str | None = None) -> Edge:
    """The edge ``i`` if its adversary is of kind ``wanted``; else say what it is instead."""
    e = graph.edges[i]
    if adversary_kind(e) != wanted:
        raise not_applicable(graph, name, _what_it_is(e), e.span, hint=hint)
    return e


def parse_network(text: str | Call) -> Call:
    """A network call as written in a spec (``mlp(256, 256)``, ``mlp(128, activation="tanh")``)."""
    if isinstance(text, Call):
        return text
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        raise SpecError(f"'{text}' is not a network call; write it as in a spec, e.g. mlp(256, 256)") from None
    if isinstance(tree, ast.Name):
        return Call(name=tree.id)
    if not (isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name)):
        raise SpecError(f"'{text}' is not a network call; write it as in a spec, e.g. mlp(256, 256)")
    args = tuple(_literal(a, text) for a in tree.args)
    kwargs = tuple((k.arg, _literal(k.value, text)) for k in tree.keywords if k.arg is not None)
    if len(kwargs) != len(tree.keywords):
        raise SpecError(f"'{text}': arguments must be numbers, names or strings")
    return Call(name=tree.func.id, args=args, kwargs=kwargs)


def _literal(node: ast.expr, text: str) -> Any:
    if isinstance(node, ast.Name) and node.id in ("true", "false", "True", "False"):
        return node.id in ("true", "True")
    if isinstance(node, ast.Name):
        return node.id  # a bare word, as in activation=tanh
    try:
        value = ast.literal_eval(node)
    except ValueError:
        raise SpecError(f"'{text}': arguments must be numbers, names or strings") from None
    if not isinstance(value, (bool, int, float, str)):
        raise SpecError(f"'{text}': arguments must be numbers, names or strings")
    return value


def activate_adversary(
    graph: SchematicGraph,
    edge: str | int | Edge | None = None,
    network: str | Call = "mlp(256)",
    group: str = "phi",
    label: str = "D",
    *,
    check: bool = True,
) -> SchematicGraph:
    """Give a perfect red edge (q_*) a discriminator ``label_group = network`` (VAE -> AAVAE)."""
    name = "activate_adversary"
    i = _choose_red_edge(graph, edge, name, "perfect")
    e = _require_kind(graph, i, name, "perfect", hint="only a perfect adversary (no network, q_*) can be activated")
    call = parse_network(network)
    entry = lookup("network", call.name)
    if entry is None:
        raise not_applicable(
            graph,
            name,
            f"there is no network named '{call.name}'",
            hint="see `schemagm compile --help` for the registered networks",
        )
    problems = validate_call(entry, call.args, call.kw)
    if problems:
        raise not_applicable(graph, name, f"bad network {call}: " + "; ".join(problems))
    if not entry.parametric:
        raise not_applicable(
            graph, name, f"the network '{call.name}' has no parameters, so it cannot learn to discriminate"
        )
    for what, word in ((group, "group"), (label, "label")):
        if not what.isidentifier() or "_" in what:
            raise not_applicable(graph, name, f"the {word} '{what}' must be a name without underscores (e.g. phi, D)")
    clash = [x for j, x in enumerate(graph.edges) if j != i and x.label == label and x.group == group]
    if clash:
        raise not_applicable(
            graph,
            name,
            f"the network name {label}_{group} is already used by {describe_edge(clash[0])}",
            clash[0].span,
            hint="choose another label (--label)",
        )
    new = e.model_copy(update={"perfect": False, "network": call, "group": group, "label": label, "output": None})
    edges = graph.edges[:i] + [new] + graph.edges[i + 1 :]
    return finish(graph, rebuild(graph, edges=edges), name, check)


def degenerate_adversary(
    graph: SchematicGraph, edge: str | int | Edge | None = None, *, check: bool = True
) -> SchematicGraph:
    """Take the discriminator off a red edge: the perfect adversary q_* (AAVAE -> VAE); a head on its
    trunk (``head(D_phi)``) gets its own network of the discriminator's call."""
    name = "degenerate_adversary"
    i = _choose_red_edge(graph, edge, name, "learned")
    e = _require_kind(graph, i, name, "learned")
    new = e.model_copy(update={"perfect": True, "network": None, "group": None, "label": None, "output": None})
    # a head on the discriminator's trunk (`Q_eta = head(D_phi)`) has nothing left to share: it gets a
    # network of its own with the discriminator's architecture (InfoGAN's Q becomes a whole network)
    heads = [x.model_copy(update={"network": e.network}) if x.trunk == e.label_group else x for x in graph.edges]
    edges = heads[:i] + [new] + heads[i + 1 :]
    return finish(graph, rebuild(graph, edges=edges), name, check)
