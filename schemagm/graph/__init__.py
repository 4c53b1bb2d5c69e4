"""Stage 2: the schematic graph, built from a syntax tree and checked."""

from .model import Call, Edge, Node, Process, Role, SchematicGraph
from .options import Options

__all__ = ["Call", "Edge", "Node", "Process", "Role", "SchematicGraph", "Options"]
