"""explain: the shortest chain of transformations that maps one graph onto another.

A breadth-first search from A over the structural transformations --
swap_processes, swap_nodes (every pair of nodes it accepts), activate and
degenerate adversary (every red edge where they apply) and remove_edge (every
edge) -- keeping one graph per structural hash, until a graph equivalent to B
appears.  The search is structural: a step may move a network next to a node it
no longer fits (``swap_nodes`` carries a ``bernoulli`` head onto a normal node),
which is decoration, so by default intermediate graphs need not pass the
checker; ``valid_only=True`` visits only valid models.  The chain prints as an
expression::

    degenerate_adversary(swap_processes(infogan))
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..errors import SpecError
from ..graph.model import Role, SchematicGraph
from .adversary import activate_adversary, degenerate_adversary
from .common import adversary_kind, describe_edge
from .edges import remove_edge
from .equivalence import Match, find_isomorphism, structural_hash
from .nodes import swap_nodes
from .processes import swap_processes

__all__ = ["Step", "Chain", "explain", "neighbours"]


@dataclass(frozen=True)
class Step:
    """One transformation with its arguments: ``shown`` prints it, ``args`` apply it."""

    name: str
    function: Callable[..., SchematicGraph] = field(repr=False, compare=False)
    args: tuple[Any, ...] = ()
    shown: tuple[str, ...] = ()

    def apply(self, graph: SchematicGraph, check: bool = True) -> SchematicGraph:
        return self.function(graph, *self.args, check=check)

    def wrap(self, inner: str) -> str:
        return f"{self.name}({', '.join((inner, *self.shown))})"


@dataclass(frozen=True)
class Chain:
    """Transformations applied in order to ``start``; ``result`` is equivalent to the goal via ``match``."""

    start: str
    steps: tuple[Step, ...]
    result: SchematicGraph = field(repr=False, compare=False)
    match: Match = field(repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.steps)

    def __str__(self) -> str:
        text = self.start
        for step in self.steps:
            text = step.wrap(text)
        return text

    def apply(self, graph: SchematicGraph, check: bool = False) -> SchematicGraph:
        for step in self.steps:
            graph = step.apply(graph, check=check)
        return graph


def _edge_ref(graph: SchematicGraph, i: int) -> str:
    e = graph.edges[i]
    if e.label and e.group:
        return f"{e.label}_{e.group}"
    return repr(describe_edge(e))


def neighbours(graph: SchematicGraph) -> Iterator[Step]:
    """Every structural transformation one could try on ``graph`` (some may not apply)."""
    yield Step("swap_processes", swap_processes)
    names = list(graph.nodes)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            if (graph.nodes[a].role is Role.indicator) == (graph.nodes[b].role is Role.indicator):
                yield Step("swap_nodes", swap_nodes, (a, b), (a, b))
    only_one_red = sum(e.adversarial for e in graph.edges) == 1
    for i, e in enumerate(graph.edges):
        shown = () if only_one_red else (_edge_ref(graph, i),)  # the edge goes without saying
        kind = adversary_kind(e)
        if kind == "learned":
            yield Step("degenerate_adversary", degenerate_adversary, (i,), shown)
        elif kind == "perfect":
            yield Step("activate_adversary", activate_adversary, (i,), shown)
    for i in range(len(graph.edges)):
        yield Step("remove_edge", remove_edge, (i,), (_edge_ref(graph, i),))


def explain(a: SchematicGraph, b: SchematicGraph, max_depth: int = 3, valid_only: bool = False) -> Chain | None:
    """The shortest chain (at most ``max_depth`` steps) with ``chain.apply(a)`` equivalent to ``b``, or None.

    Each step's own precondition always holds; with ``valid_only`` every graph on
    the way must also pass the checker."""
    if max_depth < 0:
        raise SpecError(f"the depth of the search must be at least 0, got {max_depth}")
    goal = structural_hash(b)
    start = (a, ())
    seen = {structural_hash(a)}
    frontier: deque[tuple[SchematicGraph, tuple[Step, ...]]] = deque([start])
    while frontier:
        graph, steps = frontier.popleft()
        if structural_hash(graph) == goal:
            match = find_isomorphism(graph, b)
            assert match is not None, "equal structural hashes must mean isomorphic graphs"
            return Chain(a.name, steps, graph, match)
        if len(steps) >= max_depth:
            continue
        for step in neighbours(graph):
            try:
                nxt = step.apply(graph, check=valid_only)
            except SpecError:
                continue  # the step does not apply here (or, valid_only, its result is not a valid model)
            h = structural_hash(nxt)
            if h in seen:
                continue
            seen.add(h)
            frontier.append((nxt, (*steps, step)))
    return None
