"""Checks of invertible edges (flows, ``<->`` / ``<-->``) and of dequantization, called by
:mod:`schemagm.graph.check` for each edge.

An invertible edge ``b, c... <-> t : f_theta = realnvp(64)`` is a bijection of its first
source ``b`` (the base) onto its target ``t`` given the other sources (the context), so ``b``
and ``t`` are real vectors of one size; a flow is its own distribution, so it has no output
head, and it is never red.  A flow network elsewhere is only the conditional flow of a
variational dequantization ``x --> v : q_eta = maf(64) dequantize(16)``.
"""

from __future__ import annotations

from .. import registry
from .model import Edge, Role, SchematicGraph

__all__ = ["flow_problems", "is_flow_base"]

#: (message, part of the edge to point at, hint)
Problem = tuple[str, str, str | None]


def _is_flow(name: str | None) -> bool:
    entry = registry.lookup("network", name) if name else None
    return entry is not None and entry.produces == "flow"


def uses_flows(graph: SchematicGraph) -> bool:
    """Does the graph have an invertible edge, a dequantization edge or an empirical latent (a
    kernel density)?  Such a graph is compiled by the factor-by-factor rule of
    ``schemagm.compiler.flow_model`` and checked here."""
    return any(n.value == "empirical" and n.role is Role.latent for n in graph.nodes.values()) or any(
        e.invertible or any(c is not None and c.name == "dequantize" for c in (e.network, e.output))
        for e in graph.edges
    )


def is_flow_base(graph: SchematicGraph, name: str) -> bool:
    """Is ``name`` the base (first source) of an invertible edge?  It then gets its value in the
    dashed process by the flow's inverse, so it needs no dashed producer."""
    return any(e.invertible and e.sources and e.sources[0] == name for e in graph.edges)


def flow_problems(graph: SchematicGraph, e: Edge) -> list[Problem]:
    out: list[Problem] = []
    g = graph
    target = g.nodes[e.target]
    flow_net = e.network is not None and _is_flow(e.network.name)
    dequantize_head = e.output is not None and e.output.name == "dequantize"
    kinds = ", ".join(registry.FLOW_DOCS)
    if not e.invertible:
        if flow_net and not dequantize_head:
            out.append(
                (
                    f"'{e.network.name}' is a flow: it belongs on an invertible edge",  # type: ignore[union-attr]
                    "arrow",
                    f"write the arrow with a head at both ends: `{', '.join(e.sources)} "
                    f"{'<->' if e.line == 'solid' else '<-->'} {e.target}`",
                )
            )
        if dequantize_head:
            if not flow_net:
                out.append(
                    (
                        "variational dequantization draws its noise from a conditional flow",
                        "network",
                        f"e.g. `q_eta = maf(64) dequantize(...)` ({kinds}); the uniform one is the corruption "
                        "`dequantize(...)`",
                    )
                )
            if e.line != "dashed":
                out.append(
                    ("dequantization is part of the inference process: make the arrow dashed (-->)", "arrow", None)
                )
            inputs = [g.nodes[s] for s in e.inputs(g)]
            if len(inputs) != 1 or inputs[0].size != target.size:
                out.append(
                    (
                        "dequantization maps one data node to a node of the same size",
                        "target",
                        "e.g. `x --> v` with `latent v : real[64]` for `data x : real[64]`",
                    )
                )
        return out
    if e.network is not None and not flow_net:
        out.append(
            (
                f"an invertible arrow ({e.glyph}) carries a flow, not '{e.network.name}'",
                "network",
                f"one of {kinds}, e.g. `f_theta = realnvp(64, 64)`",
            )
        )
    if e.output is not None:
        out.append(
            (
                f"a flow has no output head; remove '{e.output.name}'",
                "head",
                "its density follows from its base's by change of variables",
            )
        )
    if e.adversarial or e.perfect:
        out.append(
            (
                "an invertible edge is not an adversary",
                "arrow",
                "a red edge is written `x -> y : D_phi = mlp(256) adversarial`",
            )
        )
    if target.role is Role.indicator:
        return out
    base = g.nodes.get(e.sources[0]) if e.sources else None
    if base is None or base.role is Role.indicator:
        out.append(
            (
                "the first source of an invertible edge is its base, a real vector; here it is the indicator",
                "source",
                "list the base first: `z, y <-> x`",
            )
        )
        return out
    for n in (base, target):
        if n.value in ("categorical", "bernoulli"):
            out.append(
                (
                    f"a flow maps real vectors; '{n.name}' is {n.value}",
                    "target" if n is target else "source",
                    "dequantize discrete data first: `x --> v : dequantize(16)`",
                )
            )
    if target.prior is not None and e.line == "solid":  # a dashed flow's target keeps its prior: its p-side
        out.append(
            (
                f"'{target.name}' has the prior {target.prior}, but the flow gives it its density",
                "target",
                f"declare it without a prior (`latent {target.name} : real[...]`); the base '{base.name}' carries the "
                "prior",
            )
        )
    if base.shape and target.shape and base.size != target.size:
        out.append(
            (
                f"a flow keeps the size: its base '{base.name}' has size {base.size} and '{target.name}' has size "
                f"{target.size}",
                "source",
                "make them equal; other sources are its context",
            )
        )
    if e.network is not None and e.network.name == "realnvp" and target.shape and target.size < 2:
        out.append(
            (
                "a coupling flow (realnvp) needs at least 2 numbers: one half conditions the other",
                "network",
                "use maf or nsf in one dimension",
            )
        )
    return out
