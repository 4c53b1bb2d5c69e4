"""Graph -> graph: the transformations of Hu et al. (ICLR 2018) and structural equivalence.

Every transformation is a pure function returning a new, checked graph, and
raises :class:`~schemagm.errors.SpecError` saying why when it does not apply::

    from schemagm.transform import swap_processes, degenerate_adversary, equivalent
    equivalent(degenerate_adversary(swap_processes(infogan)), vae)   # True
"""

from . import adversary as _adversary
from . import edges as _edges
from . import equivalence as _equivalence
from . import explain as _explain
from . import nodes as _nodes
from . import processes as _processes
from . import weighting as _weighting
from .adversary import *  # noqa: F401,F403
from .edges import *  # noqa: F401,F403
from .equivalence import *  # noqa: F401,F403
from .explain import *  # noqa: F401,F403
from .nodes import *  # noqa: F401,F403
from .processes import *  # noqa: F401,F403
from .registry import TRANSFORMATIONS
from .weighting import *  # noqa: F401,F403

__all__ = [
    *_processes.__all__,
    *_nodes.__all__,
    *_adversary.__all__,
    *_weighting.__all__,
    *_edges.__all__,
    *_equivalence.__all__,
    *_explain.__all__,
    "TRANSFORMATIONS",
]
