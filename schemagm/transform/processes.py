"""swap_processes: the generative and inference processes trade places.

Every solid (generative) edge becomes dashed (inference) and every dashed edge
solid; directions, sources, heads, labels, networks and red marks stay.  This
is the symmetry of Hu et al. (ICLR 2018) that turns InfoGAN into the VAE
(after degenerating the adversary) or the AAVAE (keeping it active).
"""

from __future__ import annotations

from ..graph.model import Process, SchematicGraph
from .common import finish, rebuild

__all__ = ["swap_processes"]

_OTHER = {Process.generative: Process.inference, Process.inference: Process.generative}


def swap_processes(graph: SchematicGraph, *, check: bool = True) -> SchematicGraph:
    """Solid <-> dashed on every edge.  An involution: ``swap_processes(swap_processes(g)) == g``."""
    edges = [e.model_copy(update={"process": _OTHER[e.process]}) for e in graph.edges]
    return finish(graph, rebuild(graph, edges=edges), "swap_processes", check)
