"""Where each node's value comes from in each context, planned once at compile time: the sources
and the closures that compute them (a call's state, which runs those closures, is :mod:`.run`).

Contexts (docs/design.md section 3):

* ``y=1`` / ``y=0``: the two branches (a graph without an indicator has the one branch ``y=1``).
  A node's value is its dashed producer serving the branch, else its own source (data from the
  batch, a latent's prior), else the dashed producer serving the other branch.
* ``gen``: the ancestral sample of the solid process that gives the generated side of a tested
  node without a dashed producer for y = 0 (data nodes from their solid producer, latents from
  their prior; outputs reparameterised samples where the head has them, else means).
* ``sleep``: the same ancestral process, really sampled and detached (wake-sleep's sleep phase).
* ``y=0:gen``: branch 0 with the tested node replaced by its generated side (detached): the
  generated half of the pool of a dashed red edge with a network.
* ``y=1:r=<r>``: round r of a walkback chain (the corrupted node replaced by the chain's point).
* ``sample`` / ``sample:mean``: the generative process of :meth:`CompiledModel.sample`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import torch
from torch import Tensor

from ..errors import SpecError
from ..graph.branches import branches as graph_branches
from ..graph.model import Edge, Process, Role, SchematicGraph
from .distributions import Head, Prior
from .terms import Sym, call, node_sym

if TYPE_CHECKING:
    from .run import Run

__all__ = ["EdgeInfo", "Source", "Context", "Planner", "Unresolved", "ACTIVATIONS"]


class Unresolved(Exception):
    """A node has no value in a context (turned into a SpecError where it matters)."""


@dataclass
class EdgeInfo:
    """What the compiler knows about one edge once its network exists."""

    index: int
    edge: Edge
    inputs: tuple[str, ...]
    net_key: str | None = None  # key in CompiledModel.networks
    head: Head | None = None  # stochastic edges with a network
    activation: str | None = None  # deterministic edges
    corruption: Any = None  # a networks.Corruption
    logits_out: bool = False  # bce read on logits (a hollow edge without activation)
    name: str = ""  # net_key or the edge key: used in term names and draw keys
    draw: str = ""  # the name in draw keys: ``name``, or ``name[k]`` on the k-th edge of a tied network
    sym: Sym = field(default_factory=lambda: Sym("f", "f"))
    #: a head (``head(D_phi)``): the trunk's network key, how many of its layers are the trunk, and
    #: whether the trunk is applied live (the head's group is the trunk's) or frozen
    trunk: tuple[str, int, bool] | None = None

    @property
    def group(self) -> str | None:
        return self.edge.group


@dataclass
class Source:
    """How a node gets its value in one context."""

    kind: str  # data | prior | edge | copy | inject | enum
    node: str
    ctx: str
    edge: int | None = None
    mode: str = ""  # det | rsample | sample | mean | corrupt
    parent: str | None = None  # copy: the context the value is taken from
    detach: bool = False
    inputs: tuple[str, ...] = ()
    groups: frozenset[str] = frozenset()
    expr: Sym = field(default_factory=lambda: Sym("", ""))
    factors: tuple[Sym, ...] = ()
    from_data: bool = False
    signature: tuple = ()
    value: Any = None  # enum: the value (a tensor of one row) the node takes in this context


@dataclass
class Context:
    name: str
    kind: str  # branch | gen | sleep | sample | pool | round
    branch: int | None = None
    parent: str | None = None
    overrides: dict[str, Source] = field(default_factory=dict)
    tile: int = 1
    tag: str = ""
    mean_data: bool = False
    #: the indicator that takes ``branch`` (the others are 1); None: every indicator takes it
    indicator: str | None = None

    def __post_init__(self) -> None:
        self.tag = self.tag or self.name


ACTIVATIONS: dict[str | None, Callable[[Tensor], Tensor]] = {
    None: lambda t: t,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "softplus": torch.nn.functional.softplus,
    "softmax": lambda t: torch.softmax(t, -1),
}


class Planner:
    """Resolves, once, where each node's value comes from in each context, and builds the
    closures that compute them."""

    def __init__(
        self, graph: SchematicGraph, infos: list[EdgeInfo], priors: dict[str, Prior], err: Callable[..., SpecError]
    ) -> None:
        self.graph = graph
        self.infos = infos
        self.priors = priors
        self.err = err
        self.indicator = graph.indicator.name if graph.indicator else None
        self.given = any(n.given for n in graph.nodes.values() if n.role is Role.data)
        self.data_nodes = tuple(v for v, n in graph.nodes.items() if n.role is Role.data)
        self.contexts: dict[str, Context] = {}
        self.sources: dict[tuple[str, str], Source] = {}
        self.getters: dict[tuple[str, str], Callable[[Run], Tensor]] = {}
        self._untiled: dict[tuple[str, int], tuple[str, int] | None] = {}
        self.dashed_in: dict[str, list[EdgeInfo]] = {n: [] for n in graph.nodes}
        self.solid_in: dict[str, list[EdgeInfo]] = {n: [] for n in graph.nodes}
        for ei in infos:
            e = ei.edge
            if e.adversarial:
                continue
            (self.dashed_in if e.process is Process.inference else self.solid_in)[e.target].append(ei)
        #: the branch contexts (docs/semantics.md §2.1): y=1 and y=0, or with several indicators the
        #: real branch y=1 and one branch <u>=0 per indicator u
        self.branches = graph_branches(graph)
        for br in self.branches:
            self.add(Context(br.name, "branch", br.value, indicator=br.indicator))
        self.add(Context("gen", "gen", 0))
        self.add(Context("sleep", "sleep", 0))
        self.add(Context("sample", "sample", 0))
        self.add(Context("sample:mean", "sample", 0, tag="sample", mean_data=True))

    def add(self, ctx: Context) -> Context:
        self.contexts[ctx.name] = ctx
        return ctx

    # -- own sources -------------------------------------------------------------------------------------
    def has_own_source(self, v: str) -> bool:
        node = self.graph.nodes[v]
        return node.role is Role.data or node.prior is not None

    def own(self, ctx: Context, v: str) -> Source:
        node = self.graph.nodes[v]
        if node.role is Role.data:
            given = f"|{node.given}={ctx.branch}" if node.given and ctx.branch is not None else ""
            given_tex = given.replace("|", " \\mid ")
            f = Sym(f"p_data({v}{given})", "p_{\\mathrm{data}}(" + node_sym(v).tex + given_tex + ")")
            if node.partial:  # where missing, the prior p(v)
                f = Sym(
                    f"m_{v}·p_data({v}) + (1 − m_{v})·p({v})",
                    f"m_{{{v}}} p_{{\\mathrm{{data}}}}({v}) + (1 - m_{{{v}}}) p({v})",
                )
            b = ctx.branch if node.given else None
            return Source(
                "data",
                v,
                ctx.name,
                groups=frozenset(),
                expr=node_sym(v),
                factors=(f,),
                from_data=True,
                signature=("data", v, b),
            )
        if node.prior is not None:
            f = Sym(f"p({v})", f"p({node_sym(v).tex})")
            return Source("prior", v, ctx.name, expr=node_sym(v), factors=(f,), signature=("prior", v))
        raise Unresolved(f"'{v}' has no source of its own (no data, no prior)")

    # -- resolution ----------------------------------------------------------------------------------------
    def source(self, ctx_name: str, v: str) -> Source:
        key = (ctx_name, v)
        if key in self.sources:
            src = self.sources[key]
            if src is None:
                raise Unresolved(f"'{v}' depends on itself in {ctx_name}")
            return src
        ctx = self.contexts[ctx_name]
        if ctx.kind == "sample":
            src = self._sample_source(ctx, v, frozenset())
        else:
            self.sources[key] = None  # type: ignore[assignment]  # cycle guard
            try:
                src = self._resolve(ctx, v)
            except Exception:
                del self.sources[key]
                raise
        self.sources[key] = src
        return src

    def _resolve(self, ctx: Context, v: str) -> Source:
        if v in ctx.overrides:
            return ctx.overrides[v]
        if ctx.kind in ("branch", "pool", "round"):
            src = self._branch_rule(ctx, v)
        else:
            src = self._ancestral_rule(ctx, v)
        if ctx.parent is not None and not self._touched(ctx, src):
            p = self.source(ctx.parent, v)
            return Source(
                "copy",
                v,
                ctx.name,
                parent=ctx.parent,
                groups=p.groups,
                expr=p.expr,
                factors=p.factors,
                from_data=p.from_data,
                signature=p.signature,
            )
        return src

    def _touched(self, ctx: Context, src: Source) -> bool:
        """Does this value depend on an overridden node of ``ctx``?"""
        if src.kind == "edge":
            for i in src.inputs:
                s = self.source(ctx.name, i)
                if i in ctx.overrides or s.kind != "copy":
                    return True
        return False

    def serves(self, e: Edge, ctx: Context) -> bool:
        """Does ``e`` take part in the branch of ``ctx`` (its indicator's value there is the one it is written with)?"""
        if e.branch is None:
            return True
        ind = e.indicator(self.graph)
        value = ctx.branch if ctx.indicator in (None, ind) else 1
        return e.branch == value

    def branch_context(self, indicator: str, value: int) -> str:
        """The name of the branch context in which ``indicator`` takes ``value`` (the others 1)."""
        if value == 1 or len(self.branches) <= 2:
            return f"y={value}"
        return f"{indicator}={value}"

    def _branch_rule(self, ctx: Context, v: str) -> Source:
        b = ctx.branch
        serving = [ei for ei in self.dashed_in[v] if self.serves(ei.edge, ctx)]
        if len(serving) > 1:
            raise self.err(f"'{v}' has two dashed producers in the branch y={b}", serving[1].edge)
        if serving:
            return self._edge_source(ctx, serving[0], "branch")
        if self.has_own_source(v):
            return self.own(ctx, v)
        other = [ei for ei in self.dashed_in[v] if not self.serves(ei.edge, ctx)]
        if other:
            return self._edge_source(ctx, other[0], "branch")
        raise Unresolved(f"'{v}' has no value in the branch y={b}")

    def _ancestral_rule(self, ctx: Context, v: str) -> Source:
        node = self.graph.nodes[v]
        solid = [ei for ei in self.solid_in[v] if ei.edge.branch in (0, None)]
        if node.role is Role.data:
            if solid:
                return self._edge_source(ctx, solid[0], ctx.kind)
            return self.own(ctx, v)
        if node.prior is not None:
            return self.own(ctx, v)
        if solid:
            return self._edge_source(ctx, solid[0], ctx.kind)
        raise Unresolved(f"'{v}' has neither a prior nor a solid producer")

    def _sample_source(self, ctx: Context, v: str, visiting: frozenset[str]) -> Source:
        key = (ctx.name, v)
        if key in self.sources and self.sources[key] is not None:
            return self.sources[key]
        if v in ctx.overrides:  # a latent given to sample(): its value is the caller's
            self.sources[key] = ctx.overrides[v]
            return ctx.overrides[v]
        if v in visiting:
            raise Unresolved(f"'{v}' depends on itself")
        node = self.graph.nodes[v]
        options: list[Any] = [ei for ei in self.dashed_in[v] if ei.edge.branch in (0, None) and ei.corruption is None]
        options += [ei for ei in self.solid_in[v] if ei.edge.branch in (0, None)]
        if node.prior is not None:
            options.append("own")
        if node.role is Role.data and (not visiting or not options or node.partial):  # partial: p(c) where missing
            options.append("given")
        problems = []
        for opt in options:
            try:
                if opt == "own":
                    src = self.own(ctx, v)
                elif opt == "given":
                    src = Source("inject", v, ctx.name, expr=node_sym(v), signature=("given", v))
                else:
                    for i in opt.inputs:
                        self._sample_source(ctx, i, visiting | {v})
                    src = self._edge_source(ctx, opt, "sample")
                self.sources[key] = src
                return src
            except Unresolved as exc:
                problems.append(str(exc))
        raise Unresolved(f"'{v}' cannot be sampled" + (f": {problems[-1]}" if problems else ""))

    def _edge_source(self, ctx: Context, ei: EdgeInfo, rule: str) -> Source:
        e = ei.edge
        v = e.target
        ins = [self.source(ctx.name, i) for i in ei.inputs]
        in_groups = frozenset().union(*(s.groups for s in ins)) if ins else frozenset()
        factors = tuple(f for s in ins for f in s.factors)
        exprs = [s.expr for s in ins]
        own_group = frozenset([e.group]) if e.group else frozenset()
        sig_in = tuple(s.signature for s in ins)
        detach = rule == "sleep"
        if ei.corruption is not None:
            f = call(Sym("q", "q"), [node_sym(v)], exprs)
            return Source(
                "edge",
                v,
                ctx.name,
                ei.index,
                "corrupt",
                inputs=ei.inputs,
                groups=in_groups,
                expr=node_sym(v),
                factors=factors + (f,),
                signature=("edge", ei.index, "corrupt", sig_in),
            )
        if e.deterministic:
            groups = frozenset() if detach else own_group | in_groups
            return Source(
                "edge",
                v,
                ctx.name,
                ei.index,
                "det",
                detach=detach,
                inputs=ei.inputs,
                groups=groups,
                expr=call(ei.sym, exprs),
                factors=factors,
                signature=("edge", ei.index, "det", sig_in),
            )
        assert ei.head is not None
        density = call(ei.sym, [node_sym(v)], exprs)
        if rule == "sleep":
            mode = "sample"
        elif rule == "gen":
            mode = "rsample" if ei.head.reparameterised else "mean"
        elif rule == "sample":
            node = self.graph.nodes[v]
            mode = (
                "mean"
                if (ctx.mean_data and node.role is Role.data)
                else ("rsample" if ei.head.reparameterised else "sample")
            )
        else:
            mode = "rsample" if (ei.head.reparameterised and e.reparameterize) else "sample"
        if mode == "mean":
            expr = call(Sym("𝔼", "\\mathbb{E}") + ei.sym, [node_sym(v)], exprs)
            return Source(
                "edge",
                v,
                ctx.name,
                ei.index,
                "mean",
                inputs=ei.inputs,
                groups=own_group | in_groups,
                expr=expr,
                factors=factors,
                signature=("edge", ei.index, "mean", sig_in),
            )
        groups = own_group | in_groups if mode == "rsample" else frozenset()
        return Source(
            "edge",
            v,
            ctx.name,
            ei.index,
            mode,
            detach=detach,
            inputs=ei.inputs,
            groups=groups,
            expr=node_sym(v),
            factors=factors + (density,),
            signature=("edge", ei.index, mode, sig_in),
        )

    def enum_context(self, parent: str, v: str, k: int, value: Tensor) -> str:
        """The context ``parent`` with the discrete node ``v`` fixed to its ``k``-th value (exact
        enumeration): values that do not depend on ``v`` are the parent's (same draws)."""
        name = f"{parent}|{v}={k}"
        if name not in self.contexts:
            base = self.contexts[parent]
            src = Source("enum", v, name, expr=node_sym(v), signature=("enum", v, k), value=value)
            self.add(
                Context(
                    name, "round", base.branch, parent=parent, overrides={v: src}, tag=name, indicator=base.indicator
                )
            )
        return name

    def depends(self, ctx_name: str, v: str) -> frozenset[str]:
        """The nodes whose sampled value the value of ``v`` in the context is a function of (``v``
        itself included where it is drawn from a stochastic edge or a prior)."""
        src = self.source(ctx_name, v)
        if src.kind == "copy":
            return self.depends(src.parent, v)  # type: ignore[arg-type]
        out = (
            frozenset([v])
            if src.kind in ("prior", "enum") or (src.kind == "edge" and src.mode not in ("det", "mean"))
            else frozenset()
        )
        for i in src.inputs:
            out = out | self.depends(ctx_name, i)
        return out

    def untiled(self, ctx_name: str, ei: EdgeInfo) -> tuple[str, int] | None:
        """In a context holding k copies of its branch (importance weighting): ``(branch context,
        k)`` when no input of the edge depends on the k draws (data, and deterministic functions
        or means of data), so that its network runs once on the n rows and its output is repeated
        k times; else None."""
        key = (ctx_name, ei.index)
        if key not in self._untiled:
            ctx = self.contexts[ctx_name]
            base = self.contexts.get(ctx.tag)
            out = None
            if (
                ctx.tile > 1
                and base is not None
                and base.tile == 1
                and base.kind == ctx.kind
                and base.branch == ctx.branch
                and ei.inputs
            ):
                try:
                    if all(
                        self._draw_free(ctx_name, i)
                        and self.source(ctx_name, i).signature == self.source(base.name, i).signature
                        for i in ei.inputs
                    ):
                        out = (base.name, ctx.tile)
                except Unresolved:
                    out = None
            self._untiled[key] = out
        return self._untiled[key]

    def _draw_free(self, ctx_name: str, v: str) -> bool:
        """Is the value of ``v`` in the context a function of the data only (no random draw)?"""
        src = self.source(ctx_name, v)
        if src.kind == "data":
            return True
        if src.kind == "copy":
            return self._draw_free(src.parent, v)  # type: ignore[arg-type]
        if src.kind == "edge" and src.mode in ("det", "mean"):
            return all(self._draw_free(ctx_name, i) for i in src.inputs)
        return False

    # -- closures ------------------------------------------------------------------------------------------
    def getter(self, ctx_name: str, v: str) -> Callable[[Run], Tensor]:
        key = (ctx_name, v)
        g = self.getters.get(key)
        if g is None:
            src = self.source(ctx_name, v)
            g = self._make_getter(src)
            if self.graph.nodes[v].partial and self.contexts[src.ctx].kind != "sample":
                from .partial import mixed_getter  # observed rows keep their value

                if src.kind in ("edge", "enum"):  # missing rows: the dashed producer's value
                    g = mixed_getter(v, g)
                elif src.kind == "data":  # missing rows: the prior p(v)
                    g = mixed_getter(v, self._prior_getter(self.contexts[src.ctx], v))
            self.getters[key] = g
        return g

    def sample_context(self, mean: bool, latents: tuple[str, ...] = ()) -> str:
        """The context of the generative process, with the ``latents`` (and data nodes that it would
        otherwise make) taken from the caller."""
        name = "sample:mean" if mean else "sample"
        if latents:
            name += "|" + ",".join(latents)
            if name not in self.contexts:
                given = {v: Source("inject", v, name, expr=node_sym(v), signature=("given", v)) for v in latents}
                self.add(Context(name, "sample", 0, tag="sample", mean_data=mean, overrides=given))
        return name

    def _prior_getter(self, ctx: Context, v: str) -> Callable[[Run], Tensor]:
        prior = self.priors[v]
        key = f"prior:{v}:{ctx.tag}"
        sid = f"prior:{list(self.graph.nodes).index(v)}:{ctx.name}"  # structural: names do not seed
        kind, shape = prior.base_kind, prior.shape
        if ctx.tile > 1:  # (a draw of k copies is recorded as [k, n, ...])
            return lambda run: run.draw_prior(ctx, prior, key, sid)

        def draw(run: Run) -> Tensor:  # run.draw_prior, inlined: every call of a prior's node runs it
            z = run.draws[key] = prior.from_base(run.base(sid, kind, (run.rows(ctx), *shape)), fresh=True)
            return z

        return draw

    def _make_getter(self, src: Source) -> Callable[[Run], Tensor]:
        ctx = self.contexts[src.ctx]
        v = src.node
        tag = ctx.tag
        for i in src.inputs:  # build the inputs' closures now, not during a call
            self.getter(src.ctx, i)
        if src.kind == "data":
            node = self.graph.nodes[v]
            branch = ctx.branch if (self.given and ctx.branch is not None) else None
            tile = ctx.tile
            return lambda run: run.data(node, branch, tile)
        if src.kind == "prior":
            return self._prior_getter(ctx, v)
        if src.kind == "copy":
            parent, detach = cast(str, src.parent), src.detach  # a copy always names its context
            if detach:
                return lambda run: run.value(parent, v).detach()
            return lambda run: run.value(parent, v)
        if src.kind == "inject":
            return lambda run: run.injected(ctx.name, v)
        if src.kind == "enum":
            one = src.value
            return lambda run: one.to(run.device, run.dtype).expand(run.rows(ctx), *one.shape)
        ei = self.infos[src.edge]  # type: ignore[index]
        name = ctx.name
        mode = src.mode
        sid = f"{mode}:{ei.index}:{ctx.name}"
        tiled = ctx.tile > 1  # (fixed with the context: a draw of k copies is recorded as [k, n, ...])
        if mode == "corrupt":
            corruption = ei.corruption
            key = f"noise:{ei.draw or ei.name}:{tag}"

            def corrupt(run: Run) -> Tensor:
                x = run.value(name, ei.inputs[0])
                noise = run.base(sid, corruption.noise_kind, x.shape, x.dtype)
                run.record(key, noise, ctx)
                return corruption.apply(x, noise)

            return corrupt
        if mode == "det":
            act = ACTIVATIONS[ei.activation]
            if src.detach:
                return lambda run: act(run.forward(name, ei)).detach()
            return lambda run: act(run.forward(name, ei))
        if mode == "mean":
            return lambda run: run.dist(name, ei).mean
        if mode == "rsample":
            key = f"eps:{ei.draw or ei.name}:{tag}"

            def rsample(run: Run) -> Tensor:
                d = run.dist(name, ei)
                eps = d.noise_from(run.base(sid, d.noise_kind, d.shape))
                if tiled:
                    run.record(key, eps, ctx)
                else:
                    run.draws[key] = eps.detach() if eps.requires_grad else eps
                return d.rsample_with(eps)

            return rsample
        key = f"sample:{ei.draw or ei.name}:{tag}"

        def sample(run: Run) -> Tensor:
            d = run.dist(name, ei)
            s = d.sample_with(run.base(sid, d.sample_kind, d.shape))
            if tiled:
                run.record(key, s, ctx)
            else:
                run.draws[key] = s.detach() if s.requires_grad else s
            return s

        return sample
