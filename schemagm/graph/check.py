"""The checker: every problem of a schematic graph, before any tensor exists.

``check(graph) -> list[Diagnostic]`` works on any :class:`SchematicGraph` --
parsed from text or built in Python (then spans may be missing).  It never
stops at the first problem: every diagnostic is collected, each with the most
precise position known (the word that is wrong, through :class:`Locations`
when the graph came from text) and a hint, sorted by position.

What is checked (docs/language.md lists every message):

* nodes: sizes (positive, a vector ``[n]`` or an image ``[C, H, W]``, one size
  for a categorical), ranges, ``given`` naming an indicator, roles of ``from``;
  every node used by some edge;
* edges: known endpoints, no node feeding itself, at most one indicator, the
  red-edge rules (target an indicator, a network or ``perfect`` or a kernel),
  known networks / corruptions / heads / kernels with valid arguments
  (:mod:`schemagm.registry`), groups for networks with parameters, heads that fit
  the arrow and the target's value, ``no_reparam`` only on dashed edges, sizes
  knowable from the spec (``identity``, corruptions, ``conv_encoder``,
  ``conv_decoder``, ``embedding``);
* branches (docs/design.md section 3): a value for every node in every branch,
  at most one dashed producer per node and branch, no cycle inside one process
  within one branch, no dashed hollow edge into a prior node without a red edge
  (no density for the KL), no dashed producer of a data node that serves both
  branches;
* what the rule cannot honour (``rule_check``): a prior and a solid producer on one
  latent, a stochastic dashed factor with no p-side, a hollow dashed producer matched
  with a solid p-side, a discrete unreparameterised sample tested by a red edge,
  ``discrete = enumerate`` on too large a support, importance weighting of a discrete sample;
* shared trunks (``trunks``): ``head(D_phi)`` names a network with a trunk that reads the same nodes.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .. import registry
from ..errors import Diagnostic, Span
from ..limits import MAX_NODE_SIZE, MAX_WIDTH
from .branches import Branch, branches, serves
from .flow_check import flow_problems, is_flow_base
from .heads import head_mismatch
from .model import Edge, Node, Process, Role, SchematicGraph
from .rule_check import check_rule, head_name
from .trunks import trunk_problems

if TYPE_CHECKING:  # pragma: no cover
    from ..language.syntax import EdgeDecl, NodeDecl, OptionDecl

__all__ = ["check", "Locations", "suggest", "sort_diagnostics"]


# -- where things were written ------------------------------------------------------------
@dataclass
class Locations:
    """Precise positions of the parts of a parsed graph (the syntax tree it came from).

    Without it (graphs built in Python or transformed) the checker falls back to
    ``Node.span`` / ``Edge.span``, which may be None.
    """

    nodes: dict[str, NodeDecl] = field(default_factory=dict)
    edges: list[EdgeDecl] = field(default_factory=list)
    options: dict[str, OptionDecl] = field(default_factory=dict)
    #: the `model NAME` line
    model: Span | None = None

    def node(self, graph: SchematicGraph, name: str, part: str = "name") -> Span | None:
        decl = self.nodes.get(name)
        if decl is not None:
            span = getattr(decl, f"{part}_span", None) if part != "whole" else decl.span
            return span or decl.name_span or decl.span
        node = graph.nodes.get(name)
        return node.span if node is not None else None

    def edge(self, graph: SchematicGraph, index: int, part: str = "whole", source: int | None = None) -> Span | None:
        fallback = graph.edges[index].span
        if index >= len(self.edges):
            return fallback
        decl = self.edges[index]
        body = decl.body
        span: Span | None = None
        if part == "source" and source is not None and source < len(decl.sources):
            span = decl.sources[source].span
        elif part == "target":
            span = decl.target_span
        elif part == "arrow":
            span = decl.arrow_span
        elif body is not None:
            if part == "label":
                span = body.label_span
            elif part == "network" and body.call is not None:
                span = body.call.span
            elif part == "head" and body.head is not None:
                span = body.head.span
            elif part.startswith("flag:"):
                flag = part[5:]
                if flag in body.flags:
                    span = body.flag_spans[body.flags.index(flag)]
            elif part == "body":
                span = body.span
        return (
            span
            or (body.span if body is not None and part not in ("whole", "source", "target", "arrow") else None)
            or decl.span
            or fallback
        )


def suggest(name: str, known: Iterable[str]) -> str | None:
    """The closest known name (difflib), or None."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.5)
    return close[0] if close else None


def sort_diagnostics(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    return sorted(
        diagnostics,
        key=lambda d: (d.span is None, d.span.line if d.span else 0, d.span.column if d.span else 0),
    )


def _known_hint(name: str, kinds: tuple[str, ...], extra: str = "") -> str:
    known: list[str] = []
    parts: list[str] = []
    for kind in kinds:
        names = registry.names(kind)  # type: ignore[arg-type]
        known.extend(names)
        parts.append(f"{kind}s: {', '.join(names)}")
    guess = suggest(name, known)
    text = f"did you mean '{guess}'? " if guess else ""
    return text + "known " + "; ".join(parts) + extra


def _shown_head(e: Edge, target: Node) -> str:
    """An edge's head as a tie's error names it: the activation of a hollow edge, else the
    distribution, written or implied by the target's kind (``normal`` for a real node)."""
    if e.deterministic:
        return e.output.name if e.output else "none"
    return head_name(e, target) or "none"


def _shape_words(node: Node) -> str:
    if not node.shape:
        return "a scalar"
    if node.is_image:
        return "an image [" + ", ".join(map(str, node.shape)) + "]"
    return f"a vector [{', '.join(map(str, node.shape))}]"


_ARROW_WORDS = {
    "->": "solid filled arrow (->)",
    "=>": "solid hollow arrow (=>)",
    "-->": "dashed filled arrow (-->)",
    "==>": "dashed hollow arrow (==>)",
}


def _branch_words(b: Branch | None) -> str:
    return "every branch" if b is None else b.words


# -- the checker --------------------------------------------------------------------------------
class _Checker:
    def __init__(self, graph: SchematicGraph, locations: Locations | None) -> None:
        self.g = graph
        self.loc = locations or Locations()
        self.out: list[Diagnostic] = []
        #: edges whose endpoints are all declared (the others get one 'unknown node' error)
        self.sound: list[bool] = []
        # computed once, so that every rule is linear in the size of the spec
        self.indicator = graph.indicator
        self.tested: set[str] = {s for e in graph.edges if e.adversarial for s in e.sources}
        self._by_target: dict[str, list[int]] | None = None

    def error(self, message: str, span: Span | None, hint: str | None = None) -> None:
        self.out.append(Diagnostic(message, span, hint))

    def nspan(self, name: str, part: str = "name") -> Span | None:
        return self.loc.node(self.g, name, part)

    def espan(self, i: int, part: str = "whole", source: int | None = None) -> Span | None:
        return self.loc.edge(self.g, i, part, source)

    def line_of(self, i: int) -> str:
        span = self.espan(i)
        return f"line {span.line}" if span is not None else f"edge {i + 1}"

    # ------------------------------------------------------------------------------------------
    def run(self) -> list[Diagnostic]:
        if not self.g.nodes:
            self.error(
                f"the model '{self.g.name}' declares no nodes",
                self.loc.model,
                "declare its variables, e.g. `data x : real[64]` and `latent z : normal[8]`, then the edges "
                "between them",
            )
        for node in self.g.nodes.values():
            self.check_node(node)
        for i, edge in enumerate(self.g.edges):
            self.sound.append(self.check_endpoints(i, edge))
        for i, edge in enumerate(self.g.edges):
            if self.sound[i]:
                self.check_edge(i, edge)
        self.check_labels()
        for i, message, part, hint in trunk_problems(self.g, self.sound):
            self.error(message, self.espan(i, part, 0) if part == "source" else self.espan(i, part), hint)
        self.check_unused()
        self.check_values()
        self.check_producers()
        self.check_cycles()
        if not self.out:  # the games and the rule's pairing presuppose an otherwise valid graph
            self.check_games()
        if not self.out:
            check_rule(self)
        return sort_diagnostics(self.out)

    # -- nodes ---------------------------------------------------------------------------------
    def check_node(self, n: Node) -> None:
        if n.role is Role.indicator:
            if n.shape or n.range is not None or n.given or n.dataset or n.value != "real":
                self.error(
                    f"the indicator '{n.name}' has no type, size, range or data set",
                    self.nspan(n.name, "whole"),
                    f"declare it as `indicator {n.name}`",
                )
            return
        example = f"{n.role.value} {n.name} : {n.value}[8]"
        if not n.shape:
            self.error(
                f"node '{n.name}' has no size",
                self.nspan(n.name, "type"),
                f"give it one, e.g. `{example}` (a vector) or `{n.role.value} {n.name} : {n.value}[1, 28, 28]` "
                "(an image C, H, W)",
            )
        else:
            for d in n.shape:
                if d <= 0:
                    self.error(
                        f"size {d} of '{n.name}' must be a positive whole number",
                        self.nspan(n.name, "dims"),
                        f"e.g. `{example}`",
                    )
                    break
            size = math.prod(n.shape)
            if all(d > 0 for d in n.shape) and size > MAX_NODE_SIZE:
                self.error(
                    f"'{n.name}' has {size:,} elements; a node holds at most {MAX_NODE_SIZE:,}",
                    self.nspan(n.name, "dims"),
                    "a node is one sample: a vector or one image (C, H, W)",
                )
            if len(n.shape) not in (1, 3):
                self.error(
                    f"'{n.name}' has {len(n.shape)} sizes; a node is a vector [n] or an image [C, H, W]",
                    self.nspan(n.name, "dims"),
                    f"e.g. `{n.value}[64]` or `{n.value}[1, 8, 8]`",
                )
            elif n.value == "categorical" and len(n.shape) != 1:
                self.error(
                    f"the categorical node '{n.name}' takes one size: its number of classes",
                    self.nspan(n.name, "dims"),
                    f"e.g. `{n.role.value} {n.name} : categorical[10]`",
                )
        if n.range is not None:
            lo, hi = n.range
            if not lo < hi:
                self.error(
                    f"the range [{lo:g}, {hi:g}] of '{n.name}' is empty: the lower bound must be below the upper",
                    self.nspan(n.name, "range"),
                    "e.g. `in [0, 1]`",
                )
            if n.value in ("categorical", "bernoulli"):
                self.error(
                    f"a {n.value} node has no range (its values are "
                    f"{'classes' if n.value == 'categorical' else '0 and 1'})",
                    self.nspan(n.name, "range"),
                    "remove `in [...]`",
                )
        if n.given is not None:
            target = self.g.nodes.get(n.given)
            if n.role is not Role.data:
                self.error(
                    f"only a data node can be `given` an indicator; '{n.name}' is {n.role.value}",
                    self.nspan(n.name, "given"),
                    "remove `given ...`",
                )
            elif target is None:
                self.error(
                    f"unknown node '{n.given}' after `given`",
                    self.nspan(n.name, "given"),
                    f"declare it: `indicator {n.given}`",
                )
            elif target.role is not Role.indicator:
                self.error(
                    f"`given {n.given}` must name an indicator, but '{n.given}' is a {target.role.value} node",
                    self.nspan(n.name, "given"),
                    "the data of two domains are chosen by an indicator: `indicator y` and `given y`",
                )
        if n.dataset is not None and n.role is not Role.data:
            self.error(
                f"a latent node has no data set; `from {n.dataset}` is for data nodes",
                self.nspan(n.name, "dataset"),
                f"declare it as `data {n.name} : ...` or remove `from {n.dataset}`",
            )
        if n.partial:
            self.check_partial(n)

    def check_partial(self, n: Node) -> None:
        """A partially observed node: a data node with a discrete value, a dashed producer to infer
        it where missing, and a kept fraction in (0, 1]."""
        where = self.nspan(n.name, "partial")
        if n.role is not Role.data:
            self.error(
                f"only a data node can be partially observed; '{n.name}' is {n.role.value}",
                where,
                "remove `partial` (a latent node is never observed)",
            )
            return
        if n.observed is not None and not 0.0 < n.observed <= 1.0:
            self.error(
                f"partial({n.observed:g}): the fraction of rows that keep their value must be in (0, 1]",
                where,
                "e.g. `partial(0.1)` keeps the value on 10% of the rows",
            )
        if n.value not in ("categorical", "bernoulli"):
            self.error(
                f"the partially observed node '{n.name}' is {n.value}: "
                "only a categorical or bernoulli node can be summed over where missing",
                where,
                f"declare it `data {n.name} : categorical[K] ... partial`",
            )
        given = next((m for m in self.g.nodes.values() if m.given is not None), None)
        if given is not None:
            self.error(
                "a partially observed node cannot be combined with data chosen by an indicator "
                f"(`given {given.given}` on '{given.name}'): the branches split the rows, the mask does not",
                where,
            )
        if self.g.options.discrete == "score":
            self.error(
                f"the partially observed '{n.name}' is summed over exactly where missing, "
                "but the options ask for `discrete = score`",
                where,
                "remove `discrete = score` (`auto` enumerates it)",
            )
        if not any(e.target == n.name and e.process is Process.inference and not e.adversarial for e in self.g.edges):
            self.error(
                f"'{n.name}' is partially observed, but no dashed edge infers it where it is missing",
                where,
                f"add its inference edge, e.g. `x --> {n.name} : q_eta = mlp(256) categorical`",
            )

    # -- edges ---------------------------------------------------------------------------------
    def check_endpoints(self, i: int, e: Edge) -> bool:
        ok = True
        for j, s in enumerate(e.sources):
            if s not in self.g.nodes:
                ok = False
                self.error(f"unknown node '{s}'", self.espan(i, "source", j), self._declare_hint(s))
            elif s in e.sources[:j]:
                self.error(
                    f"'{s}' is listed twice among the sources", self.espan(i, "source", j), "list each source once"
                )
        if e.target not in self.g.nodes:
            ok = False
            self.error(f"unknown node '{e.target}'", self.espan(i, "target"), self._declare_hint(e.target))
        if e.target in e.sources:
            self.error(
                f"the edge into '{e.target}' has '{e.target}' among its sources",
                self.espan(i, "target"),
                "a node cannot be computed from itself; introduce a second node (like the DAE's x and xn)",
            )
        if not e.sources:
            ok = False
            self.error("an edge needs at least one source", self.espan(i))
        return ok

    def _declare_hint(self, name: str) -> str:
        guess = suggest(name, self.g.nodes)
        if guess:
            return f"did you mean '{guess}'? or declare it first, e.g. `latent {name} : normal[8]`"
        return f"declare it first, e.g. `latent {name} : normal[8]`"

    def check_edge(self, i: int, e: Edge) -> None:
        g = self.g
        target = g.nodes[e.target]
        indicators = [s for s in e.sources if g.nodes[s].role is Role.indicator]
        if len(indicators) > 1:
            j = e.sources.index(indicators[1])
            self.error(
                f"an edge carries at most one indicator; this one has {', '.join(indicators)}",
                self.espan(i, "source", j),
                "keep the indicator that chooses the branch of this edge",
            )
        if e.branch is not None and not indicators:
            self.error(
                f"the edge serves branch y = {e.branch} but none of its sources is an indicator",
                self.espan(i, "source", 0),
                "write the indicator among the sources: `z, y ==> x` (branch 0) or `x, y=1 ==> z` (branch 1)",
            )

        # -- red edges ---------------------------------------------------------------------
        if target.role is Role.indicator and not e.adversarial and not e.perfect and e.kernel is None:
            self.error(
                f"an edge into the indicator '{e.target}' must be adversarial",
                self.espan(i, "target"),
                f"add `adversarial` (a discriminator q({e.target} | {', '.join(e.sources)})), or choose another target",
            )
        if e.adversarial and target.role is not Role.indicator:
            self.error(
                f"adversarial edge into '{e.target}', which is not an indicator",
                self.espan(i, "target"),
                "a red edge tests its sources against the indicator, e.g. `x -> y : D_phi = mlp(256) adversarial`",
            )
        if e.perfect and not e.adversarial:
            self.error(
                "`perfect` names the perfect adversary q_*; it is written `perfect adversarial`",
                self.espan(i, "flag:perfect"),
                "add `adversarial`",
            )
        if e.kernel is not None and not e.adversarial:
            self.error(
                f"the kernel test '{e.kernel.name}' is a red edge; add `adversarial`",
                self.espan(i, "network"),
                f"e.g. `x -> y : {e.kernel} adversarial`",
            )
        if e.perfect and (e.network is not None or e.kernel is not None):
            what = e.network or e.kernel
            self.error(
                f"a perfect adversary has no network; remove '{what}' or `perfect`",
                self.espan(i, "network"),
                "`perfect adversarial` is the degenerate discriminator q_*; `D_phi = mlp(256) adversarial` a "
                "learned one",
            )
        if e.network is not None and e.kernel is not None:
            self.error("an edge has either a network or a kernel test, not both", self.espan(i, "network"))
        if e.adversarial and e.network is None and e.kernel is None and not e.perfect:
            self.error(
                "an adversarial edge needs a discriminator network, `perfect` or a kernel test",
                self.espan(i, "body"),
                "e.g. `D_phi = mlp(256) adversarial`, `perfect adversarial` or `mmd(1, 2) adversarial`",
            )
        if e.adversarial and e.output is not None:
            self.error(
                f"a discriminator outputs a logit; remove the output head '{e.output.name}'",
                self.espan(i, "head"),
                "D(v) = q_phi(y = 1 | v) is read from the logit",
            )
        if not e.adversarial and not e.perfect and e.network is None and e.kernel is None:
            self.error(
                f"the edge into '{e.target}' has no network",
                self.espan(i, "target"),
                f"write one after ':', e.g. `{self._edge_text(e)} : G_theta = mlp(256)`, or a corruption like "
                "`gaussian_noise(0.3)`",
            )
        if e.group is not None and e.network is None:
            self.error(
                f"the group '{e.group}' has no network on this edge",
                self.espan(i, "label"),
                "a group owns the parameters of a network: `G_theta = mlp(256)`",
            )
        if not e.reparameterize and e.process is Process.generative:
            self.error(
                "`no_reparam` is for dashed (inference) edges: it trains their group by the sleep phase",
                self.espan(i, "flag:no_reparam"),
                "remove it, or make the arrow dashed (-->)",
            )

        if not e.inputs(g) and indicators:
            self.error(
                f"the edge into '{e.target}' has no input besides the indicator '{indicators[0]}'",
                self.espan(i, "source", e.sources.index(indicators[0])),
                "the indicator only chooses the branch; list the nodes the network reads, e.g. `z, y ==> x`",
            )
        if e.network is not None:
            self.check_network(i, e)
        if e.output is not None and not e.adversarial:
            self.check_head(i, e)
        if not e.adversarial and e.network is not None and self._head_known(e):
            mismatch = head_mismatch(e, target)
            if mismatch is not None:
                self.error(mismatch[0], self.espan(i, "head" if e.output is not None else "target"), mismatch[1])
        if e.kernel is not None:
            self.check_kernel(i, e)
        for message, part, hint in flow_problems(g, e):
            self.error(message, self.espan(i, part, 0) if part == "source" else self.espan(i, part), hint)

        # -- branch rules that concern one edge --------------------------------------------
        if e.process is Process.inference and not e.adversarial:
            tested = e.target in self.tested
            if e.deterministic and target.prior is not None and not tested:
                self.error(
                    f"a dashed hollow edge (==>) into '{e.target}', which has the prior {target.prior}: "
                    "an implicit distribution has no density, so KL(q || p) cannot be computed",
                    self.espan(i, "arrow"),
                    f"make the arrow filled (-->) with a distribution head (normal), or test '{e.target}' with a "
                    f"red edge (`{e.target} -> y : D_phi = mlp(256) adversarial`) as the AAE does",
                )
            if target.role is Role.data and not indicators and not target.partial:
                y = self.indicator.name if self.indicator is not None else "y"
                inputs = ", ".join(e.sources)
                self.error(
                    f"the dashed edge into the data node '{e.target}' serves both branches, so its own data "
                    "would never be used",
                    self.espan(i, "arrow"),
                    ("" if self.indicator is not None else f"declare `indicator {y}` and ")
                    + f"write `{inputs}, {y} {e.glyph} {e.target}` (the generated branch y = 0)",
                )

    @staticmethod
    def _edge_text(e: Edge) -> str:
        return f"{', '.join(e.sources)} {e.glyph} {e.target}"

    def check_network(self, i: int, e: Edge) -> None:
        assert e.network is not None
        g = self.g
        call = e.network
        entry = registry.lookup("network", call.name) or registry.lookup("corruption", call.name)
        if entry is None:
            self.error(
                f"unknown network '{call.name}'",
                self.espan(i, "network"),
                _known_hint(call.name, ("network", "corruption", "kernel")),
            )
            return
        for problem in registry.validate_call(entry, call.args, call.kw):
            self.error(problem, self.espan(i, "network"), f"{entry.name}: {entry.doc}" if entry.doc else None)
        too_large = [
            v
            for v in (*call.args, *call.kw.values())
            if isinstance(v, (int, float)) and not isinstance(v, bool) and v > MAX_WIDTH
        ]
        if too_large:
            self.error(
                f"'{call}' asks for {too_large[0]:,g} units; a network argument is at most {MAX_WIDTH:,}",
                self.espan(i, "network"),
                "layer widths and channel counts are far smaller (the catalog's largest is 1024)",
            )
        if entry.parametric and e.group is None and not e.perfect:
            label = e.label or "G"
            self.error(
                f"the network '{call}' has parameters but no group",
                self.espan(i, "network"),
                f"name its parameter group, e.g. `{label}_theta = {call}` (theta: generator, eta: inference, "
                "phi: discriminator)",
            )
        if not entry.parametric and e.group is not None:
            self.error(
                f"'{call.name}' has no parameters, so it belongs to no group; remove `{e.label}_{e.group} =`",
                self.espan(i, "label"),
                f"write `{self._edge_text(e)} : {call}`",
            )
        if entry.kind == "corruption" and e.output is not None:
            self.error(
                f"a corruption has no output head; remove '{e.output.name}'",
                self.espan(i, "head"),
                f"{call.name} returns a corrupted copy of its input",
            )
        # sizes knowable from the spec
        inputs = [g.nodes[s] for s in e.inputs(g)]
        target = g.nodes[e.target]
        if entry.accepts == "image":
            if len(inputs) != 1 or not inputs[0].is_image:
                got = ", ".join(f"'{n.name}' is {_shape_words(n)}" for n in inputs) or "it has no input"
                self.error(
                    f"'{call.name}' needs one image input [C, H, W]; {got}",
                    self.espan(i, "network"),
                    "declare the input as an image, e.g. `data x : real[1, 28, 28]`, or use mlp",
                )
        if entry.accepts == "categorical":
            bad = [n for n in inputs if n.value != "categorical"]
            if bad or not inputs:
                self.error(
                    f"'{call.name}' needs categorical inputs; "
                    + (", ".join(f"'{n.name}' is {n.value}" for n in bad) or "it has none"),
                    self.espan(i, "network"),
                    "use mlp for real inputs, or declare the input `categorical[K]`",
                )
        if entry.produces == "image" and target.shape and not target.is_image:
            self.error(
                f"'{call.name}' produces an image, but '{target.name}' is {_shape_words(target)}",
                self.espan(i, "network"),
                "declare the target as an image [C, H, W] or use mlp",
            )
        if (
            (call.name == "identity" or entry.kind == "corruption")
            and inputs
            and all(n.shape for n in inputs)
            and target.shape
        ):
            size_in = sum(n.size for n in inputs)
            if size_in != target.size:
                names = " + ".join(f"'{n.name}' ({n.size})" for n in inputs)
                self.error(
                    f"'{call.name}' keeps the size of its input, but {names} has size {size_in} and "
                    f"'{target.name}' has size {target.size}",
                    self.espan(i, "network"),
                    "make the sizes equal, or use a network with parameters (linear, mlp)",
                )

    @staticmethod
    def _head_known(e: Edge) -> bool:
        """The written head is a known one of the right kind (else check_head has said so)."""
        if e.output is None:
            return registry.lookup("corruption", e.network.name) is None if e.network is not None else False
        if e.deterministic:
            return registry.lookup("activation", e.output.name) is not None
        return registry.lookup("distribution", e.output.name) is not None

    def check_head(self, i: int, e: Edge) -> None:
        assert e.output is not None
        head = e.output
        target = self.g.nodes[e.target]
        dist = registry.lookup("distribution", head.name)
        act = registry.lookup("activation", head.name)
        if dist is None and act is None:
            self.error(
                f"unknown output head '{head.name}'",
                self.espan(i, "head"),
                _known_hint(
                    head.name, ("distribution", "activation"), " (an activation is written after ->, e.g. `-> sigmoid`)"
                ),
            )
            return
        entry = dist or act
        assert entry is not None
        for problem in registry.validate_call(entry, head.args, head.kw):
            self.error(problem, self.espan(i, "head"))
        if dist is not None:
            if e.deterministic:
                self.error(
                    f"a hollow arrow ({e.glyph}) is deterministic; it has no distribution '{head.name}'",
                    self.espan(i, "head"),
                    f"use a filled arrow ({'->' if e.process is Process.generative else '-->'}) for a "
                    "stochastic edge, or an activation (`-> sigmoid`)",
                )
            if target.value == "empirical":
                self.error(
                    f"'{target.name}' is an empirical latent (the training points), summed over exactly: no edge "
                    "produces it",
                    self.espan(i, "target"),
                    f"let it generate the data instead (`{target.name} -> x : identity normal(std=0.05)`)",
                )
            elif target.value not in dist.targets:
                fits = [n for n in registry.names("distribution") if target.value in registry.DISTRIBUTIONS[n].targets]
                self.error(
                    f"the distribution '{head.name}' cannot describe '{target.name}', a {target.value} node",
                    self.espan(i, "head"),
                    f"for a {target.value} node use {', '.join(fits)}",
                )
        elif not e.deterministic:
            self.error(
                f"a filled arrow ({e.glyph}) is stochastic; give it a distribution, not the activation '{head.name}'",
                self.espan(i, "head"),
                "e.g. `normal` or `bernoulli`, or make the arrow hollow "
                f"({'=>' if e.process is Process.generative else '==>'})",
            )

    def check_kernel(self, i: int, e: Edge) -> None:
        assert e.kernel is not None
        entry = registry.lookup("kernel", e.kernel.name)
        if entry is None:
            self.error(
                f"unknown kernel '{e.kernel.name}'", self.espan(i, "network"), _known_hint(e.kernel.name, ("kernel",))
            )
            return
        for problem in registry.validate_call(entry, e.kernel.args, e.kernel.kw):
            self.error(problem, self.espan(i, "network"), f"{entry.name}: {entry.doc}")
        if e.group is not None:
            self.error(
                f"a kernel test has no parameters; remove `{e.label}_{e.group} =`",
                self.espan(i, "label"),
                f"write `{self._edge_text(e)} : {e.kernel} adversarial`",
            )

    def check_labels(self) -> None:
        """The same label on several edges is one network (tied): the edges must agree on what the
        network is (its call, the size of its input, the size of its output, its head)."""
        first: dict[str, int] = {}
        for i, e in enumerate(self.g.edges):
            if e.label is None or e.group is None or not self.sound[i]:
                continue
            key = f"{e.label}_{e.group}"
            if key not in first:
                first[key] = i
                continue
            j = first[key]
            problem = self._tie_problem(self.g.edges[j], e)
            if problem is not None:
                what, part, hint = problem
                self.error(
                    f"{key} is one network on several edges ({self.line_of(j)} and {self.line_of(i)}), but {what}",
                    self.espan(i, part, 0 if part == "source" else None),
                    hint,
                )

    def _tie_problem(self, f: Edge, e: Edge) -> tuple[str, str, str] | None:
        """Why the edges ``f`` (first) and ``e`` cannot share one network, or None."""
        g = self.g
        other = "give each network its own letter, e.g. G_theta and F_theta"
        if f.adversarial or e.adversarial:
            return "a discriminator belongs to one red edge (one game)", "label", other
        if f.invertible or e.invertible:
            return "a flow belongs to one edge", "label", other
        if f.network != e.network:
            return (
                f"the edges write different networks ('{f.network}' and '{e.network}')",
                "network",
                f"write the same call on every edge of the network: `{e.label}_{e.group} = {f.network}`",
            )

        def sizes(names: Iterable[str]) -> list[tuple[int, ...]]:
            return [g.nodes[s].shape for s in names]

        fin, ein = sizes(f.inputs(g)), sizes(e.inputs(g))
        images = any(len(s) == 3 for s in (*fin, *ein))
        if (fin != ein) if images else (sum(math.prod(s) for s in fin) != sum(math.prod(s) for s in ein)):

            def words(shapes: list[tuple[int, ...]]) -> str:
                return " + ".join(f"[{', '.join(map(str, x))}]" for x in shapes) or "nothing"

            return (
                f"its inputs differ: {words(fin)} on the first edge, {words(ein)} here",
                "source",
                "a tied network reads inputs of the same size on every edge",
            )
        ft, et = g.nodes[f.target], g.nodes[e.target]
        if ft.shape != et.shape or (ft.value == "categorical") != (et.value == "categorical"):
            return (
                f"its outputs differ: '{ft.name}' is {_shape_words(ft)}, '{et.name}' is {_shape_words(et)}",
                "target",
                "a tied network produces a node of the same size and kind on every edge",
            )
        if f.deterministic != e.deterministic:
            return (
                "one edge is hollow (deterministic) and the other filled (stochastic)",
                "arrow",
                "draw every edge of a tied network with the same head: all hollow or all filled",
            )
        if f.deterministic:
            same = f.output == e.output
        else:
            same = (head_name(f, ft), f.output.kw if f.output else {}) == (
                head_name(e, et),
                e.output.kw if e.output else {},
            )
        if not same:
            fh, eh = (_shown_head(x, t) for x, t in ((f, ft), (e, et)))
            return (
                f"its output heads differ ('{fh}' and '{eh}')",
                "head" if e.output is not None else "network",
                "write the same head on every edge of a tied network",
            )
        return None

    def check_games(self) -> None:
        """Several indicators: each is its own game, with its own adversary group."""
        ys = [n.name for n in self.g.nodes.values() if n.role is Role.indicator]
        if len(ys) < 2:
            return
        owner: dict[str, tuple[str, int]] = {}
        for i, e in enumerate(self.g.edges):
            if not self.sound[i] or not e.adversarial:
                continue
            if e.process is Process.inference:
                self.error(
                    "a dashed red edge re-weights the generated branch; with several indicators only solid red "
                    "edges (one game per indicator) are supported",
                    self.espan(i, "arrow"),
                    f"draw it solid (`{', '.join(e.sources)} -> {e.target}`) or keep one indicator",
                )
            if e.group is not None:
                seen = owner.setdefault(e.group, (e.target, i))
                if seen[0] != e.target:
                    self.error(
                        f"the group '{e.group}' owns red edges into '{seen[0]}' ({self.line_of(seen[1])}) and "
                        f"'{e.target}': each indicator's game has its own adversary group",
                        self.espan(i, "label"),
                        f"name this discriminator's group differently, e.g. `{e.label}_psi`",
                    )
        for n in self.g.nodes.values():
            if n.given is not None:
                self.error(
                    f"'{n.name}' is given the indicator '{n.given}'; data chosen by an indicator is supported "
                    "only in a model with one indicator",
                    self.nspan(n.name, "given"),
                    "give each domain its own data node (`data x_a : ... from moons`, `data x_b : ... from swissroll`)",
                )

    # -- graph-wide rules ------------------------------------------------------------------------
    def check_unused(self) -> None:
        used: set[str] = set()
        for e in self.g.edges:
            used.update(e.sources)
            used.add(e.target)
        for n in self.g.nodes.values():
            if n.name not in used:
                self.error(
                    f"node '{n.name}' is not used by any edge",
                    self.nspan(n.name),
                    "connect it with an edge, or remove its declaration",
                )

    def _branches(self) -> tuple[Branch | None, ...]:
        return branches(self.g) if self.indicator is not None else (None,)

    def _serves(self, e: Edge, b: Branch | None) -> bool:
        return b is None or serves(self.g, e, b)

    def _into(self, name: str) -> list[int]:
        """The indices of the sound edges into ``name``, in order (an index built once)."""
        if self._by_target is None:
            self._by_target = {}
            for i, e in enumerate(self.g.edges):
                if self.sound[i]:
                    self._by_target.setdefault(e.target, []).append(i)
        return self._by_target.get(name, [])

    def _producers(self, name: str, process: Process) -> list[tuple[int, Edge]]:
        edges = self.g.edges
        return [(i, edges[i]) for i in self._into(name) if edges[i].process is process and not edges[i].adversarial]

    def check_values(self) -> None:
        """Rule 4 of design section 3: a latent without prior needs a dashed producer."""
        for n in self.g.nodes.values():
            if n.value == "empirical" and n.role is not Role.latent:
                self.error(
                    f"'empirical' is the prior of a latent node (the training points); '{n.name}' is {n.role.value}",
                    self.nspan(n.name, "type"),
                    f"declare the points as a latent: `latent m : empirical[...]` with `m -> {n.name} : ...`",
                )
            if n.role is not Role.latent or n.prior is not None:
                continue
            dashed = self._producers(n.name, Process.inference)
            if dashed or is_flow_base(self.g, n.name):
                continue
            solid = self._producers(n.name, Process.generative)
            if not solid:
                self.error(
                    f"latent node '{n.name}' has neither a prior nor a producer",
                    self.nspan(n.name, "type"),
                    f"give it a prior (`latent {n.name} : normal[...]`) or an edge into it (`x --> {n.name} : ...`)",
                )
            else:
                where = "either branch (y = 1, y = 0)" if self.indicator is not None else "the model"
                self.error(
                    f"latent node '{n.name}' has no value in {where}: it has no prior and no dashed "
                    "(inference) edge produces it",
                    self.nspan(n.name, "type"),
                    f"sampling follows the dashed edges: add one into '{n.name}' (`... --> {n.name}`), or give "
                    "it a prior",
                )

    def check_producers(self) -> None:
        """At most one dashed producer per node and branch."""
        for n in self.g.nodes.values():
            served: dict[Branch | None, int] = {}
            for i in self._into(n.name):
                e = self.g.edges[i]
                if e.process is not Process.inference:
                    continue
                branches = [b for b in self._branches() if self._serves(e, b)]
                clash = [b for b in branches if b in served]
                if clash:
                    first = served[clash[0]]
                    self.error(
                        f"'{n.name}' has two dashed producers for {_branch_words(clash[0])} "
                        f"({self.line_of(first)} and {self.line_of(i)})",
                        self.espan(i, "arrow"),
                        "a node gets its value from one dashed edge per branch; give them different branches "
                        "(`y=1`, `y`) or remove one",
                    )
                for b in branches:
                    served.setdefault(b, i)

    def check_cycles(self) -> None:
        """No cycle inside one process within one branch (ALI's `x, y=1 ==> z` + `z, y ==> x` is fine)."""
        for process in (Process.inference, Process.generative):
            reported: set[frozenset[str]] = set()
            for b in self._branches():
                where: dict[tuple[str, str], int] = {}
                for i, e in enumerate(self.g.edges):
                    if not self.sound[i] or e.process is not process or e.adversarial or not self._serves(e, b):
                        continue
                    for s in e.inputs(self.g):
                        if s != e.target:
                            where[(s, e.target)] = i
                if _acyclic(where):
                    continue
                import networkx as nx  # only to report a cycle (it costs start-up time)

                arcs = nx.DiGraph(list(where))
                for component in nx.strongly_connected_components(arcs):
                    if len(component) < 2 or frozenset(component) in reported:
                        continue
                    reported.add(frozenset(component))
                    cycle = nx.find_cycle(arcs.subgraph(component))
                    path = " -> ".join([cycle[0][0], *[v for _, v in cycle]])
                    last = max(where[(u, v)] for u, v in cycle)
                    kind = "dashed (inference)" if process is Process.inference else "solid (generative)"
                    self.error(
                        f"cycle in the {kind} process in {_branch_words(b)}: {path}",
                        self.espan(last, "arrow"),
                        "within one branch the edges of one process must form no cycle; "
                        "serve different branches (`x, y=1 ==> z` and `z, y ==> x`, as ALI) or swap one edge's process",
                    )


def _acyclic(arcs: Iterable[tuple[str, str]]) -> bool:
    """Whether the arcs (source, target) form no cycle (the standard library's topological sort)."""
    import graphlib

    preds: dict[str, set[str]] = {}
    for u, v in arcs:
        preds.setdefault(v, set()).add(u)
    try:
        graphlib.TopologicalSorter(preds).prepare()
    except graphlib.CycleError:
        return False
    return True


def check(graph: SchematicGraph, locations: Locations | None = None) -> list[Diagnostic]:
    """Every problem of ``graph``, sorted by position (empty when the graph is valid)."""
    return _Checker(graph, locations).run()
