"""What the rule cannot honour, found before compiling (SEMANTICS §2, docs/design.md §3).

The compiler derives each branch's terms by pairing every dashed stochastic factor q(v | pa) with
v's p-side (its prior, or its one solid producer).  Some graphs are well formed but give that
pairing nothing sound to do; this module finds them from the graph alone (no torch), mirroring the
compiler's pairing walk (``schemagm.compiler.objective._Deriver.branch_terms``):

- a latent with a prior and a solid producer (its p-side would be counted twice);
- a hollow dashed producer into a latent whose p-side is a solid producer, with no adversary
  (an implicit distribution has no density for the KL);
- a stochastic dashed factor with parameters and no p-side (q would have no partner);
- a discrete sample without a reparameterisation tested by a red edge (no gradient reaches q);
- ``discrete = enumerate`` on a support larger than :data:`ENUMERATE_MAX`;
- importance weighting together with a discrete sample.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .. import registry
from .branches import Branch, branches, serves
from .flow_check import uses_flows
from .model import Edge, Node, Process, Role, SchematicGraph

if TYPE_CHECKING:  # pragma: no cover
    from .check import _Checker

__all__ = ["ENUMERATE_MAX", "check_rule", "head_name", "support_size"]

ENUMERATE_MAX = 64  # the largest support that `discrete = auto` sums over exactly
_REPARAMETERISED = ("normal", "relaxed_categorical", "relaxed_bernoulli")
_DENSITY = {"relaxed_categorical": "categorical", "relaxed_bernoulli": "bernoulli"}


def support_size(kind: str, shape: tuple[int, ...]) -> int | None:
    """How many values a discrete node of ``kind`` (categorical / bernoulli) and ``shape`` takes."""
    shape = tuple(shape) or (1,)
    if kind == "categorical":
        return shape[-1] ** (math.prod(shape[:-1]) if len(shape) > 1 else 1)
    if kind == "bernoulli":
        return 2 ** math.prod(shape)
    return None


def head_name(e: Edge, target: Node) -> str | None:
    """The distribution that ends a stochastic edge (None: hollow, or a corruption)."""
    if e.deterministic or is_corruption(e):
        return None
    if e.output is not None:
        return e.output.name
    return {"categorical": "categorical", "bernoulli": "bernoulli"}.get(target.value, "normal")


def _name(e: Edge) -> str:
    """The edge as the compiler names it (``q_eta``), else its key."""
    return f"{e.label or e.key}_{e.group}" if e.group else e.key


def is_corruption(e: Edge) -> bool:
    return e.network is not None and e.network.name in registry.CORRUPTIONS


class _Rule:
    def __init__(self, checker: _Checker) -> None:
        self.c = checker
        self.g: SchematicGraph = checker.g
        g = self.g
        self.live = [(i, e) for i, e in enumerate(g.edges) if checker.sound[i]]
        self.dashed_in: dict[str, list[tuple[int, Edge]]] = {n: [] for n in g.nodes}
        self.solid_in: dict[str, list[tuple[int, Edge]]] = {n: [] for n in g.nodes}
        for i, e in self.live:
            if e.adversarial:
                continue
            (self.dashed_in if e.process is Process.inference else self.solid_in)[e.target].append((i, e))
        self.tested = {s for _, e in self.live if e.adversarial for s in e.inputs(g)}
        self.reported: set[tuple[str, int]] = set()
        self.walkback_used = False
        self.weighted = False

    def option_value(self, key: str) -> object:
        """Where the option ``key`` is written: its value, else its line (None where not written)."""
        decl = self.c.loc.options.get(key)
        return (decl.value_span or decl.span) if decl is not None else None

    def error(self, key: tuple[str, int], message: str, span: object, hint: str) -> None:
        if key not in self.reported:
            self.reported.add(key)
            self.c.error(message, span, hint)  # type: ignore[arg-type]

    # -- the sampling of a branch, as the planner does it ---------------------------------------------
    def own(self, v: str) -> bool:
        node = self.g.nodes[v]
        return node.role is Role.data or node.prior is not None

    def source(self, v: str, b: Branch) -> tuple[int, Edge] | None:
        """The dashed edge that gives ``v`` its value in branch ``b`` (None: its own: data or prior)."""
        serving = [(i, e) for i, e in self.dashed_in[v] if serves(self.g, e, b)]
        if serving:
            return serving[0]
        if self.own(v):
            return None
        other = [(i, e) for i, e in self.dashed_in[v] if not serves(self.g, e, b)]
        return other[0] if other else None

    def sampled(self, e: Edge) -> bool:
        """Is the value a sample without gradient (not reparameterised)?"""
        head = head_name(e, self.g.nodes[e.target])
        return head is not None and not (head in _REPARAMETERISED and e.reparameterize)

    def groups(self, v: str, b: Branch, seen: frozenset[str] = frozenset()) -> frozenset[str]:
        """The parameter groups ``v``'s value depends on in branch ``b``."""
        src = self.source(v, b)
        if src is None or v in seen:
            return frozenset()
        e = src[1]
        if self.sampled(e):
            return frozenset()
        inner = frozenset().union(*(self.groups(s, b, seen | {v}) for s in e.inputs(self.g)))
        return inner if is_corruption(e) else inner | ({e.group} if e.group else set())

    # -- the pairing walk of one branch -------------------------------------------------------------------
    def branch(self, b: Branch) -> None:
        g, c = self.g, self.c
        o = g.options
        pairs: list[tuple[str, int, Edge]] = []
        special: list[tuple[str, int, Edge]] = []
        consumed: set[int] = set()
        for v, node in g.nodes.items():
            src = self.source(v, b)
            if src is None:
                continue
            i, e = src
            head = head_name(e, g.nodes[v])
            density = _DENSITY.get(head, head) if head is not None else None
            producers = [(j, p) for j, p in self.solid_in[v] if serves(g, p, b)]
            has_prior = (node.role is Role.latent and node.prior is not None) or node.missing_prior is not None
            if v in self.tested:
                if head in ("categorical", "bernoulli") and e.reparameterize and e.group:
                    self.error(
                        ("tested", i),
                        f"'{v}' is a discrete sample without a reparameterisation, and a red edge tests it: "
                        f"the adversary's gradient cannot reach {_name(e)}",
                        c.espan(i, "head" if e.output is not None else "arrow"),
                        "draw it with a relaxed head (`relaxed_categorical`, `relaxed_bernoulli`)",
                    )
                continue
            if not has_prior and not producers:
                if head is not None and e.group and e.reparameterize:
                    self.error(
                        ("no-p", i),
                        f"'{v}' is inferred by the stochastic edge {_name(e)}, but the generative process has no "
                        f"factor for it: q({v} | ...) has no p-side to be matched with",
                        c.espan(i, "arrow"),
                        f"give '{v}' a prior (`latent {v} : normal[...]`) or a solid producer, "
                        f"or make the arrow hollow (==>) for a deterministic code",
                    )
                continue
            if has_prior and producers:
                j, p = producers[0]
                self.error(
                    ("twice", j),
                    f"'{v}' has a prior and a solid producer, so its p-side would be counted twice: "
                    f"p({v}) and {_name(p)}",
                    c.espan(j, "arrow"),
                    f"a hierarchical latent takes its p-side from its solid producer: remove the prior of '{v}' "
                    f"(write `latent {v} : real[...]`), or remove the edge",
                )
                continue
            p_name = f"p({v})" if has_prior else f"p({v} | ...)"
            if is_corruption(e):
                self.error(
                    ("corrupt", i),
                    f"'{v}' has a p-side {p_name}, so its dashed producer needs a density for KL(q || {p_name}), "
                    "but a corruption has none",
                    c.espan(i, "network"),
                    "draw it with a network and a distribution head (`--> ... : q_phi = mlp(256) -> normal`)",
                )
                continue
            if e.deterministic:
                if not has_prior:  # the prior case is reported by the edge check
                    self.error(
                        ("hollow", i),
                        f"'{v}' has a solid producer but its dashed producer is deterministic (hollow): "
                        f"an implicit distribution has no density for KL(q || {p_name})",
                        c.espan(i, "arrow"),
                        f"draw it stochastic (`-->` with a distribution), or test '{v}' against its generative side "
                        f"with a red edge (`{v} -> y : D_phi = mlp(...) adversarial`)",
                    )
                continue
            if len(producers) > 1:
                j, _ = producers[1]
                self.error(
                    ("two", j),
                    f"'{v}' has two solid producers in the branch {b.name}",
                    c.espan(j, "arrow"),
                    "a node has one p-side per branch: give the edges different branches (`y=1`, `y`) or remove one",
                )
                continue
            if not e.reparameterize:
                if producers:
                    continue
                ins = frozenset().union(*(self.groups(s, b) for s in e.inputs(g)))
                own = {e.group} if e.group else set()
                if (frozenset(own) | ins) <= own:
                    continue
            pairs.append((v, i, e))
            if producers:
                consumed.add(producers[0][0])  # the p-side of the pair: scored inside its KL
            if density in ("categorical", "bernoulli") and self.sampled(e):
                special.append((v, i, e))
        self.weighted = self.weighted or bool(pairs)  # rule 8 weights the bound of a branch with a KL pair
        walks = self.walks(b, consumed) if o.walkback > 1 else []
        self.walkback_used = self.walkback_used or bool(walks)
        for v, i, e in special:
            kind = _DENSITY.get(head_name(e, g.nodes[v]) or "", head_name(e, g.nodes[v]) or "")
            size = support_size(kind, g.nodes[v].shape)
            summed = o.discrete == "enumerate" or (o.discrete == "auto" and size is not None and size <= ENUMERATE_MAX)
            if summed and any(v in self.drawn(s, b) for _, w in walks for s in w.inputs(g)):
                self.error(
                    ("walk-enum", i),
                    f"walkback = {o.walkback} runs one chain, so it cannot be summed over the values of the "
                    f"enumerated '{v}': {_name(e)} would get no gradient from it",
                    c.espan(i, "arrow"),
                    f"use `discrete = score` (the chain at a sample of '{v}', with a score-function gradient), "
                    "or remove walkback",
                )
            if o.discrete == "enumerate" and (size is None or size > ENUMERATE_MAX):
                span = self.option_value("discrete") or c.espan(i, "arrow")
                self.error(
                    ("enum", i),
                    f"discrete = enumerate: '{v}' takes {size} values, more than the {ENUMERATE_MAX} "
                    "this compiler sums over",
                    span,
                    "use `discrete = score` (a score-function estimator with a baseline) or a relaxed head",
                )
        if o.importance_samples > 1 and pairs and special:
            v, i, e = special[0]
            self.error(
                ("iw", i),
                f"importance weighting of the bound (importance_samples = {o.importance_samples}) needs "
                f"reparameterised samples, but '{v}' is discrete",
                c.espan(i, "head" if e.output is not None else "arrow"),
                "remove importance_samples, or draw the edge with a relaxed head "
                "(`relaxed_categorical`, `relaxed_bernoulli`)",
            )

    def walks(self, b: Branch, consumed: set[int]) -> list[tuple[int, Edge]]:
        """The solid edges x -> a that branch ``b`` scores at a corruption of their data target
        (``a --> x``: ``x``'s value in ``b`` comes from a dashed edge that reads ``a`` alone): a
        walkback chain runs from each (compiler/bounds.py, walkback_pair)."""
        g = self.g
        out = []
        for j, e in self.live:
            if j in consumed or e.adversarial or e.process is not Process.generative or not serves(g, e, b):
                continue
            if e.deterministic or is_corruption(e) or g.nodes[e.target].role is not Role.data:
                continue
            for v in e.inputs(g):
                src = self.source(v, b)
                if src is not None and tuple(src[1].inputs(g)) == (e.target,):
                    out.append((j, e))
                    break
        return out

    def drawn(self, v: str, b: Branch, seen: frozenset[str] = frozenset()) -> frozenset[str]:
        """The nodes whose drawn value ``v``'s value in branch ``b`` is a function of (the planner's
        ``depends``: ``v`` itself where a prior or a stochastic edge draws it)."""
        if v in seen:
            return frozenset()
        src = self.source(v, b)
        if src is None:
            node = self.g.nodes[v]
            return frozenset([v]) if node.role is Role.latent and node.prior is not None else frozenset()
        e = src[1]
        own = frozenset() if e.deterministic else frozenset([v])
        return own.union(*(self.drawn(s, b, seen | {v}) for s in e.inputs(self.g)))

    # -- the red edges the rule can play (compiler/objective.py, derive) ----------------------------------
    def red_edges(self) -> None:
        g, c = self.g, self.c
        dashed = [(i, e) for i, e in self.live if e.adversarial and e.process is Process.inference]
        generated = [b for b in branches(g) if b.value == 0]
        for i, e in dashed:
            if e.kernel is not None:
                self.error(
                    ("kernel-dashed", i),
                    "a kernel test belongs on a solid red edge (the generated side is tested against data)",
                    c.espan(i, "arrow"),
                    f"draw it solid: `{', '.join(e.sources)} -> {e.target} : {e.kernel} adversarial`",
                )
                continue
            for b in generated:
                for v in e.inputs(g):
                    if self.source(v, b) is not None or g.nodes[v].role is not Role.data:
                        self.error(
                            ("pool-data", i),
                            f"a dashed red edge re-weights the generated branch by the adversary, so '{v}' must be "
                            f"data in the branch {b.name}",
                            c.espan(i, "arrow"),
                            f"test a data node that no dashed edge produces in {b.name} (AAVAE: `x --> y : D_phi = "
                            "mlp(...) adversarial`), or draw the red edge solid",
                        )
        # (two dashed red edges are two dashed producers of one indicator, or need several: check.py says so)
        with_net = [(i, e) for i, e in dashed if e.kernel is None and e.group is not None]
        if with_net:
            for v, node in g.nodes.items():
                if node.partial and self.dashed_in[v]:
                    i, _ = with_net[0]
                    self.error(
                        ("pool-partial", i),
                        f"the partially observed '{v}' cannot be combined with a dashed red edge with a network",
                        c.espan(i, "arrow"),
                        f"remove the red edge's network (`perfect adversarial`), or observe '{v}' fully",
                    )
        for i, e in self.live:
            if e.adversarial and e.process is Process.generative and e.kernel is None and e.group is None:
                self.error(
                    ("perfect-solid", i),
                    "a perfect adversary on a solid red edge would give the generator log 0: only a dashed red "
                    "edge can be perfect",
                    c.espan(i, "arrow"),
                    "make the edge dashed (`x --> y : perfect adversarial`) or give it a network",
                )

    def run(self) -> None:
        g = self.g
        self.red_edges()
        dashed_red = any(e.adversarial and e.process is Process.inference for _, e in self.live)
        every = branches(g)
        scored = tuple(b for b in every if b.value == 0) if dashed_red else every
        for b in scored:
            self.branch(b)
        k = g.options.importance_samples
        games = any(e.adversarial and e.process is Process.generative and e.group is not None for _, e in self.live)
        if k > 1 and not self.weighted and not games:  # (a game weights its generator's loss: compiler/games.py)
            hollow = next((e for _, e in self.live if e.deterministic and not e.adversarial), None)
            what = f"; {hollow.key} is deterministic (hollow) and has no density" if hollow is not None else ""
            self.error(
                ("iw", -1),
                f"importance_samples = {k} has nothing to weight: importance weighting needs a dashed edge "
                f"with a density into a latent node with a prior, or a red edge with a discriminator{what}",
                self.option_value("importance_samples"),
                "remove the option, or draw the inference edge as stochastic (`-->` with a distribution)",
            )
        k = g.options.walkback
        if k > 1 and not self.walkback_used:
            self.error(
                ("walkback", 0),
                f"walkback = {k} needs a dashed edge a --> b and a solid edge b -> a (a corruption and its denoiser)",
                self.option_value("walkback"),
                "remove the option, or add the corruption and the denoiser (`x --> xn : gaussian_noise(0.5)`, "
                "`xn -> x : p_theta = mlp(...) bernoulli`)",
            )


def check_rule(checker: _Checker) -> None:
    """Report, on ``checker``, every place where the rule cannot pair a factor soundly.

    A graph with flows or dequantization is compiled by its own factor walk (compiler/flow_model.py),
    whose limits :mod:`.flow_check` reports."""
    if uses_flows(checker.g):
        return
    _Rule(checker).run()
