"""swap_nodes: two node names trade places in every edge.

Each node's declaration -- its role, data source or prior, shape -- stays with
its name; only the edges are rewritten.  ``swap_nodes(infogan, "x", "z")`` is
the adversarial autoencoder (Hu et al., ICLR 2018, Fig. 1(d)).
"""

from __future__ import annotations

from ..graph.model import Role, SchematicGraph
from ..suggest import did_you_mean
from .common import finish, not_applicable, rebuild

__all__ = ["swap_nodes"]


def swap_nodes(graph: SchematicGraph, a: str, b: str, *, check: bool = True) -> SchematicGraph:
    """Exchange the names ``a`` and ``b`` in every edge.  An involution; commutes with swap_processes.

    Both nodes must exist and be distinct, and either both or neither must be the
    indicator: the indicator is the switch of the adversarial game, and a variable
    swapped into its place would make every red edge test the wrong thing.
    """
    name = f"swap_nodes({a}, {b})"
    for n in (a, b):
        if n not in graph.nodes:
            raise not_applicable(
                graph,
                name,
                f"there is no node '{n}'",
                hint=did_you_mean(n, graph.nodes) + f"the nodes are {', '.join(graph.nodes) or 'none'}",
            )
    if a == b:
        raise not_applicable(graph, name, "a node cannot be swapped with itself", graph.nodes[a].span)
    na, nb = graph.nodes[a], graph.nodes[b]
    if (na.role is Role.indicator) != (nb.role is Role.indicator):
        ind, other = (na, nb) if na.role is Role.indicator else (nb, na)
        raise not_applicable(
            graph,
            name,
            f"'{ind.name}' is the indicator and '{other.name}' is a {other.role.value} node; "
            "an indicator can only trade places with another indicator",
            other.span,
        )
    rename = {a: b, b: a}
    edges = [
        e.model_copy(
            update={
                "sources": tuple(rename.get(s, s) for s in e.sources),
                "target": rename.get(e.target, e.target),
            }
        )
        for e in graph.edges
    ]
    return finish(graph, rebuild(graph, edges=edges), name, check)
