"""schemagm: a declarative compiler for deep generative models.

Specs in the ``.sgm`` language describe a model as the schematic graphical
model of Hu et al. (ICLR 2018); schemagm parses, checks, transforms, renders,
compiles, trains and evaluates them.

The public API is imported lazily, so that ``import schemagm`` stays cheap and
an early stage never pays for (or breaks on) a later one::

    import schemagm
    graph = schemagm.parse_file("specs/vae.sgm")        # a checked SchematicGraph
    model = schemagm.load("specs/vae.sgm")              # a CompiledModel (torch.nn.Module)
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from .errors import Diagnostic, Span, SpecError

__version__ = "0.1.0"

_LAZY = {
    # text -> graph
    "parse": "schemagm.graph.build",
    "parse_file": "schemagm.graph.build",
    "to_sgm": "schemagm.graph.build",
    "SchematicGraph": "schemagm.graph.model",
    "Options": "schemagm.graph.options",
    # graph -> graph
    "transform": "schemagm.transform",
    # graph -> model
    "compile": "schemagm.compiler",
    "load": "schemagm.compiler",
    "CompiledModel": "schemagm.compiler",
    "register_network": "schemagm.registry",
}

__all__ = ["SpecError", "Diagnostic", "Span", "__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = import_module(_LAZY[name])
        return module if name == "transform" else getattr(module, name)
    raise AttributeError(f"module 'schemagm' has no attribute {name!r}")
