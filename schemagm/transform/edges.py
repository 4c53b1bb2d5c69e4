"""remove_edge: drop one conditional from the graph.

"GAN is InfoGAN without the inference edge": ``remove_edge(infogan, "Q_eta")``.
"""

from __future__ import annotations

from ..graph.model import Edge, SchematicGraph
from .common import describe_edge, find_edge, finish, rebuild

__all__ = ["remove_edge"]


def remove_edge(graph: SchematicGraph, edge: str | int | Edge, *, check: bool = True) -> SchematicGraph:
    """The graph without ``edge`` (named by network, ``sources -> target``, or index)."""
    i = find_edge(graph, edge, "remove_edge")
    e = graph.edges[i]
    edges = graph.edges[:i] + graph.edges[i + 1 :]
    return finish(graph, rebuild(graph, edges=edges), f"remove_edge({describe_edge(e)})", check)
