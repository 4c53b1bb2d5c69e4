"""A transformed spec as text: its new name and title, and the comments that still apply.

``schemagm transform`` prints the result of a transformation as a spec of its own:

* **name**: the model's name, then the step and its plain arguments, joined by
  ``_``: ``swap_nodes(infogan, x, z)`` is ``infogan_swap_nodes_x_z``; arguments
  that are not plain words or numbers (a network like ``mlp(128)``) are left out.
* **title**: the original title (or name) and what was applied:
  ``"InfoGAN, after swap_nodes(x, z)"``; a second step adds ``, then ...``.
* **comments**: the rule is that a comment stays where what it describes is
  unchanged.  The header comments stay (they describe where the model comes
  from), and a line ``# <step> of <name> (<file>)`` is added after them; node
  declarations never change, so their comments stay; an edge's comments stay when
  the edge is exactly as before (same arrow, endpoints, network and head) and are
  dropped when the transformation rewrote it (``# dashed, hollow`` on an edge that
  swap_processes made solid would now be wrong); an option's comments stay when its
  value did not change.  A removed edge takes its comments with it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from ..graph.build import to_syntax
from ..graph.model import SchematicGraph
from ..language.parser import parse_spec
from ..language.printer import print_spec
from ..language.syntax import NodeDecl

__all__ = ["derived_name", "derived_title", "step_text", "renamed", "transformed_text"]

_PLAIN = re.compile(r"[A-Za-z0-9_.+-]+\Z")


def step_text(function_name: str, args: Sequence[Any] = ()) -> str:
    """``swap_nodes(x, z)``; ``swap_processes`` without arguments."""
    shown = [str(a) for a in args if a is not None]
    return f"{function_name}({', '.join(shown)})" if shown else function_name


def derived_name(name: str, function_name: str, args: Sequence[Any] = ()) -> str:
    """``infogan`` + ``swap_nodes(x, z)`` -> ``infogan_swap_nodes_x_z`` (a valid model name)."""
    words = [name, function_name] + [str(a) for a in args if a is not None and _PLAIN.match(str(a))]
    return re.sub(r"[^A-Za-z0-9_]+", "_", "_".join(words)).strip("_")


def derived_title(graph: SchematicGraph, step: str) -> str:
    base = graph.title or graph.name
    return f"{base}, then {step}" if ", after " in base else f"{base}, after {step}"


def renamed(
    before: SchematicGraph, after: SchematicGraph, function_name: str, args: Sequence[Any] = ()
) -> SchematicGraph:
    """``after`` with the name and title that say which step made it from ``before``."""
    out = after.replace(
        name=derived_name(before.name, function_name, args), title=derived_title(before, step_text(function_name, args))
    )
    out.source, out.file = after.source, after.file
    return out


def _same(a: Any, b: Any) -> bool:
    return a.model_dump() == b.model_dump()


def _edge_origins(before: SchematicGraph, after: SchematicGraph) -> list[int | None]:
    """For each edge of ``after``, the index of the edge of ``before`` in its place (edges keep their
    order; remove_edge drops one)."""
    n, m = len(before.edges), len(after.edges)
    if m == n:
        return list(range(n))
    if m == n - 1:
        k = next((i for i in range(m) if not _same(before.edges[i], after.edges[i])), m)
        return [j if j < k else j + 1 for j in range(m)]
    return [None] * m


def transformed_text(before: SchematicGraph, after: SchematicGraph, step: str) -> str:
    """The canonical text of ``after`` with the comments of ``before``'s text that still apply."""
    canonical = to_syntax(after)
    if not before.source:
        return print_spec(canonical)
    written = parse_spec(before.source, before.file)
    where = f" ({before.file})" if before.file else ""
    canonical.comments = [*written.comments, f"# {step} of {before.name}{where}"]
    canonical.trailing_comments = list(written.trailing_comments)
    decls: dict[str, NodeDecl] = {}
    for written_node in written.nodes:
        decls.setdefault(written_node.name, written_node)
    for node in canonical.nodes:
        found = decls.get(node.name)
        if found is not None:
            node.comments, node.comment = found.comments, found.comment
    for j, origin in enumerate(_edge_origins(before, after)):
        if origin is not None and origin < len(written.edges) and _same(before.edges[origin], after.edges[j]):
            canonical.edges[j].comments = written.edges[origin].comments
            canonical.edges[j].comment = written.edges[origin].comment
    old = before.options.model_dump()
    new = after.options.model_dump()
    written_options = {o.key: o for b in written.options for o in b.options}
    for block in canonical.options:
        for o in block.options:
            w = written_options.get(o.key)
            if w is not None and old.get(o.key) == new.get(o.key):
                o.comments, o.comment = w.comments, w.comment
    return print_spec(canonical)
