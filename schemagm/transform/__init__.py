"""Graph -> graph: the transformations of Hu et al. (ICLR 2018) and structural equivalence.

Every transformation is a pure function returning a new, checked graph, and
raises :class:`~schemagm.errors.SpecError` saying why when it does not apply::

    from schemagm.transform import swap_processes, degenerate_adversary, equivalent
    equivalent(degenerate_adversary(swap_processes(infogan)), vae)   # True
"""

from . import adversary, edges, equivalence, explain as _explain, nodes, processes, weighting
from .adversary import activate_adversary, degenerate_adversary
from .edges import remove_edge
from .equivalence import Match, canonical_form, differences, equivalent, find_isomorphism, structural_hash, structure
from .explain import Chain, Step, explain
from .nodes import swap_nodes
from .processes import swap_processes
from .registry import TRANSFORMATIONS
from .weighting import importance_weight

__all__ = [
    *processes.__all__,
    *nodes.__all__,
    *adversary.__all__,
    *weighting.__all__,
    *edges.__all__,
    *equivalence.__all__,
    *_explain.__all__,
    "TRANSFORMATIONS",
]
