"""The state and the emitters shared by the parts of the rule's walk (objective.py, bounds.py,
games.py): each term is emitted with its expression tree."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from torch import Tensor

from ..errors import Span, SpecError
from ..graph.model import Edge, SchematicGraph
from .distributions import Prior
from .ir import Expr
from .planner import EdgeInfo, Planner, Source, Unresolved
from .run import Run
from .terms import MINUS, Objective, Sym, Term

__all__ = ["ADVERSARY", "MODEL", "Compiled", "PerSample", "Value"]

Value = Callable[[Run], Tensor]
PerSample = Callable[[Run, str], Tensor]

ADVERSARY, MODEL = "adversary", "model"


@dataclass
class _Part:
    """A term of a branch before its discrete samples are enumerated or scored: a per-row body."""

    name: str
    groups: frozenset[str]
    weight: float
    sign: int
    body: Expr
    over: list[Sym]  # the factors of the expectation
    nodes: tuple[str, ...]  # the nodes its value reads (for its dependence on discrete samples)
    kind: str
    wname: str | None = None
    wsym: Sym | None = None


@dataclass
class Compiled:
    objective: Objective
    values: dict[str, Value]  # term name -> unsigned, unweighted value
    exprs: dict[str, Expr]  # term name -> its expression (the value and the formula of the rule's terms)
    coefficients: dict[str, float]  # term name -> sign * weight


def _prefix(sign: int, weight: float, weight_sym: Sym | None) -> Sym:
    out = MINUS if sign < 0 else Sym("", "")
    if weight_sym is not None:
        out = out + weight_sym
    elif weight != 1.0:
        out = out + Sym(f"{weight:g}·", f"{weight:g} \\cdot ")
    return out


def _side(planner: Planner, ctx: str, nodes: tuple[str, ...]) -> tuple[list[Source], frozenset[str]]:
    srcs = [planner.source(ctx, v) for v in nodes]
    groups = frozenset().union(*(s.groups for s in srcs)) if srcs else frozenset()
    return srcs, groups


def _factors(srcs: list[Source]) -> list[Sym]:
    return [f for s in srcs for f in s.factors]


class _DeriverBase:
    def __init__(
        self,
        graph: SchematicGraph,
        planner: Planner,
        infos: list[EdgeInfo],
        priors: dict[str, Prior],
        err: Callable[..., SpecError],
        option_span: Callable[[str], Span | None],
    ) -> None:
        self.g = graph
        self.p = planner
        self.infos = infos
        self.priors = priors
        self.err = err
        self.option_span = option_span
        self.o = graph.options
        self.terms: list[Term] = []
        self.values: dict[str, Value] = {}
        self.exprs: dict[str, Expr] = {}
        self.owners: list[str] = []
        #: the phase of each adversary group: "adversary", or with several indicators one phase per
        #: indicator's game, "adversary:<u>" (the checker keeps each group in one game)
        self.owner_phase: dict[str, str] = {}
        several = len(planner.branches) > 2
        for ei in infos:
            if ei.edge.adversarial and ei.edge.group and ei.edge.group not in self.owners:
                self.owners.append(ei.edge.group)
                self.owner_phase[ei.edge.group] = f"{ADVERSARY}:{ei.edge.target}" if several else ADVERSARY
        self.tested: set[str] = {s for ei in infos if ei.edge.adversarial for s in ei.inputs}
        self.supervised: set[int] = set()  # the dashed edges whose supervised term is emitted (partial nodes)
        self.used_iw = False
        self.used_walkback = False

    # -- helpers ------------------------------------------------------------------------------------------
    def emit(
        self,
        name: str,
        groups: frozenset[str],
        weight: float,
        sign: int,
        body: Sym,
        value: Value,
        kind: str,
        branch: int | None = None,
        weight_name: str | None = None,
        weight_sym: Sym | None = None,
    ) -> None:
        if not groups:
            return  # a constant: no group to update
        f = _prefix(sign, weight, weight_sym) + body
        owner = next((gr for gr in self.owners if gr in groups), None)
        phase = self.owner_phase[owner] if owner is not None else MODEL
        base, i = name, 2
        while name in self.values:
            name, i = f"{base}#{i}", i + 1
        self.terms.append(
            Term(name, frozenset(groups), float(weight), sign, f.u, f.tex, phase, kind, branch, weight_name)
        )
        self.values[name] = value

    def emit_expr(
        self,
        name: str,
        groups: frozenset[str],
        weight: float,
        sign: int,
        top: Expr,
        kind: str,
        branch: int | None = None,
        weight_name: str | None = None,
        weight_sym: Sym | None = None,
    ) -> None:
        """Emit a term whose value and formula come from one expression."""
        n = len(self.terms)
        value = cast(Value, top.eval)  # a top expression carries its own contexts (ctx=None)
        self.emit(name, groups, weight, sign, top.sym(), value, kind, branch, weight_name, weight_sym)
        if len(self.terms) > n:
            self.exprs[self.terms[-1].name] = top

    def resolve(self, ctx: str, v: str, edge: Edge) -> Source:
        try:
            return self.p.source(ctx, v)
        except Unresolved as exc:
            raise self.err(f"{exc}, which this edge needs", edge) from None
