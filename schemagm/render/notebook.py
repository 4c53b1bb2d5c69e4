"""Jupyter display: a schematic graph shows itself as its diagram (SVG).

:class:`~schemagm.graph.model.SchematicGraph` calls :func:`mimebundle` from its
``_repr_mimebundle_`` (importing this module only then), so the graph stage does
not depend on the render stage.  Without the ``dot`` program the graph shows as
Mermaid text and its plain repr.
"""

from __future__ import annotations

from typing import Any

from ..graph.model import SchematicGraph
from .drawing import drawing
from .graphviz_backend import dot_available, to_dot, to_image
from .mermaid_backend import to_mermaid

__all__ = ["mimebundle", "svg"]


def svg(graph: SchematicGraph, **options: Any) -> str:
    """The graph's diagram as SVG text."""
    return to_image(to_dot(drawing(graph, **options)), "svg").decode("utf-8")


def mimebundle(graph: SchematicGraph, include: Any = None, exclude: Any = None) -> dict[str, str]:
    """IPython's rich display of a graph: SVG where ``dot`` exists, else Mermaid in Markdown."""
    bundle = {"text/plain": repr(graph)}
    if dot_available():
        bundle["image/svg+xml"] = svg(graph)
    else:
        bundle["text/markdown"] = "```mermaid\n" + to_mermaid(drawing(graph)) + "```\n"
    if include:
        bundle = {k: v for k, v in bundle.items() if k in include}
    if exclude:
        bundle = {k: v for k, v in bundle.items() if k not in exclude}
    return bundle
