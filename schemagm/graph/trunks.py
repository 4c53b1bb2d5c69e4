"""The checker's rules for shared trunks: ``Q_eta = head(D_phi)`` (docs/language.md §4).

A head's network is the trunk of another edge's network (every layer but its final affine map, that
network's module and parameters) followed by the head's own affine map.  The rules, each an error at
the head's call:

* the named network exists on some edge (``D_phi`` as written there: label and group);
* it has a trunk: an ``mlp`` with at least one hidden width or a ``conv_encoder`` (not ``linear``, a
  flow, a corruption, a kernel or the perfect adversary), and it is not itself a head (so heads never
  form a cycle: a head's trunk always belongs to a network that is no head), nor the head itself;
* the head is not a red edge and not a flow;
* the head reads the same nodes as an edge of the trunk's network (the indicator left out, as it is
  for every network: ``x, y -> z`` reads x, as ``x -> y`` does);
* a head in another group than its trunk reads the trunk frozen, which is exact only where no term
  through the head can update the trunk's group: the trunk is then a discriminator whose group owns
  red edges only.
"""

from __future__ import annotations

from collections.abc import Iterator

from .. import registry
from .model import Edge, SchematicGraph

__all__ = ["trunk_problems", "is_head"]


def is_head(e: Edge) -> bool:
    return e.network is not None and e.network.name == registry.HEAD


def _words(names: tuple[str, ...]) -> str:
    return ", ".join(names) if names else "no node"


def trunk_problems(graph: SchematicGraph, sound: list[bool]) -> Iterator[tuple[int, str, str, str]]:
    """(edge index, message, part of the edge, hint) for every head whose trunk is wrong."""
    by_name: dict[str, list[int]] = {}
    for i, e in enumerate(graph.edges):
        if e.label_group is not None:
            by_name.setdefault(e.label_group, []).append(i)
    for i, e in enumerate(graph.edges):
        if not sound[i] or not is_head(e):
            continue
        assert e.network is not None
        args = e.network.args
        if len(args) != 1 or e.network.kwargs or not isinstance(args[0], str):
            continue  # registry.validate_call has said what is wrong with the arguments
        name = args[0]
        if e.adversarial:
            yield (
                i,
                f"a head is not a discriminator: the red edge's network cannot be '{e.network}'",
                "network",
                "give the discriminator its own network (`D_phi = mlp(256) adversarial`), and put heads on "
                "solid or dashed edges",
            )
            continue
        if e.invertible:
            continue  # flow_check: an invertible arrow carries a flow
        if name == e.label_group:
            yield i, f"{name} cannot share its own trunk", "network", "name another edge's network: `head(D_phi)`"
            continue
        owners = by_name.get(name)
        if not owners:
            known = sorted(k for k in by_name if not any(is_head(graph.edges[j]) for j in by_name[k]))
            guess = next((k for k in known if k.lower() == name.lower() or k.split("_")[0] == name), None)
            hint = f"did you mean '{guess}'? " if guess else ""
            yield (
                i,
                f"'{e.network}' names the network '{name}', but no edge has it",
                "network",
                hint + ("networks on edges: " + ", ".join(known) if known else "write the trunk's network first"),
            )
            continue
        trunk = graph.edges[owners[0]]
        call = trunk.network
        if call is not None and call.name == registry.HEAD:
            yield (
                i,
                f"{name} is itself a head ('{call}'); a head shares the trunk of a network that is no head",
                "network",
                f"write `head({call.args[0] if call.args else '...'})`: every head on one trunk names it",
            )
            continue
        entry = registry.lookup("network", call.name) if call is not None else None
        if call is None or entry is None or not registry.has_trunk(entry, call.args):
            what = f"'{call}'" if call is not None else "no network"
            yield (
                i,
                f"{name} is {what}, which has no trunk for a head to share",
                "network",
                "a head shares every layer but the last of an mlp with a hidden layer (`mlp(256)`) or of a "
                "conv_encoder",
            )
            continue
        mine = e.inputs(graph)
        theirs = [graph.edges[j].inputs(graph) for j in owners]
        if mine not in theirs:
            yield (
                i,
                f"the head reads {_words(mine)}, but its trunk {name} reads {_words(theirs[0])}",
                "source",
                f"a head reads what its trunk reads: write `{', '.join(theirs[0])}"
                + (f", {e.indicator(graph)}" if e.indicator(graph) else "")
                + f" {e.glyph} {e.target}`",
            )
            continue
        if e.group != trunk.group:
            others = [j for j, f in enumerate(graph.edges) if f.group == trunk.group and not f.adversarial and j != i]
            if not trunk.adversarial or others:
                why = (
                    f"{name} is not a discriminator"
                    if not trunk.adversarial
                    else f"the group '{trunk.group}' also owns a network that is not on a red edge"
                )
                yield (
                    i,
                    f"a head in the group '{e.group}' reads the trunk of {name} (group '{trunk.group}') with its "
                    f"weights held fixed, which is exact only for a discriminator's trunk; {why}",
                    "label",
                    f"put the head in the trunk's group (`{e.label}_{trunk.group} = head({name})`), or give it "
                    "its own network",
                )
