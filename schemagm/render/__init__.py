"""Stage 5: diagrams of schematic graphs in the paper's notation.

``drawing(graph)`` describes the figure as plain data; ``to_dot`` and
``to_mermaid`` turn that into Graphviz or Mermaid text; ``write_drawing`` writes
svg, png, pdf (through Graphviz's ``dot``), dot or mermaid files::

    from schemagm.render import drawing, write_drawing
    write_drawing(drawing(graph, legend=True), "vae.svg")
"""

from .drawing import compare_drawing, drawing, layout_columns, objective_text
from .graphviz_backend import dot_available, to_dot, to_image
from .mermaid_backend import to_mermaid
from .output import FORMATS, format_for, render_bytes, write_drawing

__all__ = [
    "drawing",
    "compare_drawing",
    "layout_columns",
    "objective_text",
    "to_dot",
    "to_image",
    "to_mermaid",
    "dot_available",
    "FORMATS",
    "format_for",
    "render_bytes",
    "write_drawing",
]
