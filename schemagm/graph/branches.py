"""The branches of a graph: how the values of its indicators combine (docs/semantics.md §2.1).

Each indicator u splits every expectation into its own two branches, u = 1 (real / source) and
u = 0 (generated / target).  With several indicators the branches are taken **one indicator at a
time**: the real branch, where every indicator is 1, and for each indicator u the branch u = 0,
where u is 0 and every other indicator is 1.  (The full product of the values would put two
generated sides into one branch; CycleGAN's two translators would then feed each other in a cycle.)
A graph with one indicator y has the two branches y = 1 and y = 0, a graph without one the single
branch y = 1.

An edge serves a branch when it carries no indicator, or when the value it is written with
(``y`` for 0, ``y=1`` for 1) is the value of its indicator in that branch.
"""

from __future__ import annotations

from dataclasses import dataclass

from .model import Edge, Role, SchematicGraph

__all__ = ["Branch", "branches", "serves", "indicators"]


@dataclass(frozen=True)
class Branch:
    """One branch: ``indicator`` takes ``value``, every other indicator 1 (``indicator`` None: every
    indicator takes ``value``, i.e. the real branch, or the one branch of a graph without one)."""

    name: str  # the compiler's context name: "y=1", "y=0", or "<u>=0" with several indicators
    value: int
    indicator: str | None = None
    several: bool = False

    def value_of(self, indicator: str) -> int:
        return self.value if self.indicator in (None, indicator) else 1

    @property
    def words(self) -> str:
        if not self.several:
            return f"branch y = {self.value}"
        if self.indicator is None:
            return "the real branch (every indicator = 1)"
        return f"branch {self.indicator} = 0"


def indicators(graph: SchematicGraph) -> list[str]:
    return [n.name for n in graph.nodes.values() if n.role is Role.indicator]


def branches(graph: SchematicGraph) -> tuple[Branch, ...]:
    """The branches of ``graph``, the real branch first."""
    ys = indicators(graph)
    if not ys:
        return (Branch("y=1", 1),)
    if len(ys) == 1:
        return (Branch("y=1", 1), Branch("y=0", 0))
    return (Branch("y=1", 1, None, True), *(Branch(f"{u}=0", 0, u, True) for u in ys))


def serves(graph: SchematicGraph, edge: Edge, branch: Branch) -> bool:
    """Does ``edge`` take part in ``branch``?"""
    if edge.branch is None:
        return True
    ind = edge.indicator(graph) if all(s in graph.nodes for s in edge.sources) else None
    if ind is None:
        return True
    return edge.branch == branch.value_of(ind)
