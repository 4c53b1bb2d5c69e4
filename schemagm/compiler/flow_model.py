"""The rule, factor by factor, for graphs with invertible edges (flows) or dequantization.

A graph with an invertible edge (``<->``, ``<-->``) or a ``dequantize`` edge compiles here
(``uses_flows``; the one call is in :func:`schemagm.compiler.compile`).  The objective is
the rule of docs/semantics.md read literally, one term per factor:

    loss = E_dashed[ Σ_dashed stochastic factors log q(v | pa) − Σ_solid factors log p(v | pa) ]

where every prior p(z) is a solid factor and a flow edge is a factor whose log-density comes by
change of variables: ``log p(t | b, c) = −log |det ∂f/∂b|``.  The dashed process samples every
node as the rule says (data from the batch, a latent from its dashed producer), and a flow is
its own inference: the base of a solid flow is computed by the flow's inverse from its target.
So

* ``z <-> x`` (a flow on data): loss = −E log p(z = f⁻¹(x)) − E log |det ∂f⁻¹/∂x| = −E log p(x);
* ``x --> z`` with ``z0 <-> z`` (a flow prior): −ELBO with log p(z) by change of variables;
* ``x --> z0`` with ``z0, x <--> z`` (IAF): log q(z | x) = log q(z0 | x) − log |det ∂f/∂z0|;
* ``x --> v : dequantize(s)`` or ``q_eta = maf(..) dequantize(s)``: log q(v | x) is a dashed
  factor (a constant for the uniform one), and the bound is log P(x) ≥ E_q[log p(v) − log q(v | x)].

This module is deliberately separate from :mod:`.objective` while that is being rewritten into a
factor IR; graphs with adversaries or an indicator are refused here for now.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from .. import registry
from ..errors import SpecError
from ..graph.build import UNIFORM_DEFAULT_RANGE
from ..graph.model import Edge, Process, Role, SchematicGraph
from . import networks as nets
from .distributions import Head, Prior, make_head
from .flow_sampling import FlowSampling
from .flows import Dequantization
from .model import CompiledModel, _features
from .terms import LOG, MINUS, Objective, Phase, Sym, Term, call, expectation, net_sym, node_sym

__all__ = ["FlowModel"]


@dataclass
class _E:
    """One edge as this compiler sees it."""

    index: int
    edge: Edge
    kind: str  # "flow", "stochastic", "dequantize"
    key: str  # network key and term suffix
    sym: Sym
    inputs: tuple[str, ...]
    head: Head | None = None


@dataclass
class _Factor:
    """One factor of the rule: ``side`` q (dashed) or p (solid), its log-density per row."""

    name: str
    side: str  # "q" or "p"
    edge: int | None  # the edge, or None for a prior
    node: str
    groups: frozenset[str]
    body: Sym
    flow: bool = False  # value is a log-determinant (shown as such)


@dataclass
class _Pass:
    """One dashed pass over a batch: node values and each factor's log-density per row."""

    values: dict[str, Tensor] = field(default_factory=dict)
    logdens: dict[str, Tensor] = field(default_factory=dict)
    rows: int = 0


@dataclass
class _FlowRun:
    batch: dict[str, Tensor]
    results: dict[str, Tensor] | None = None


class FlowModel(FlowSampling, CompiledModel):
    """A graph with flows or dequantization compiled by the factor-by-factor rule."""

    def __init__(self, graph: SchematicGraph) -> None:  # noqa: D107 - CompiledModel's __init__ is replaced
        nn.Module.__init__(self)
        self.graph = graph
        self.networks = nn.ModuleDict()
        self.register_buffer("_anchor", torch.zeros(()), persistent=False)
        self.last_draws: dict[str, Tensor] = {}
        self._priors = {
            n.name: Prior(n.prior, n.shape, *(n.range if n.range is not None else UNIFORM_DEFAULT_RANGE))
            for n in graph.nodes.values()
            if n.prior is not None
        }
        self._refuse()
        self._edges = [self._build(i, e) for i, e in enumerate(graph.edges)]
        self._how: dict[str, tuple[str, int | None]] = {}
        self._deps: dict[str, frozenset[str]] = {}
        for v in graph.nodes:
            self._plan(v, frozenset())
        self._factors = self._derive()
        self.groups: list[str] = list(graph.groups)
        terms = [self._term(f) for f in self._factors if f.groups]
        self.objective = Objective(terms, [Phase("model", tuple(self.groups))] if self.groups else [])
        self._term_factor = {t.name: f for t, f in zip(terms, [f for f in self._factors if f.groups], strict=True)}
        self._data = [n for n in graph.nodes.values() if n.role is Role.data]
        self._exprs: dict[str, Any] = {}  # no factor-IR trees (yet): see docs/design.md rule 10

    # -- what is refused (for now) ---------------------------------------------------------------------------
    def _refuse(self) -> None:
        g = self.graph
        for e in g.edges:
            if e.adversarial:
                raise self._err(
                    "a graph with a flow or dequantization compiles without adversaries for now (the factor IR will "
                    "combine them)",
                    e,
                )
            if e.deterministic:
                raise self._err(
                    "a graph with a flow or dequantization has no hollow (implicit) edges here: every factor needs a "
                    "density",
                    e,
                )
            if not e.reparameterize:
                raise self._err(
                    "`no_reparam` is not available with flows: every dashed factor here is reparameterised", e
                )
        if g.indicator is not None:
            raise SpecError(
                "a graph with a flow or dequantization compiles without an indicator for now; remove 'indicator "
                f"{g.indicator.name}'",
                source=g.source,
                file=g.file,
            )
        if g.options.importance_samples != 1 or g.options.beta != 1.0:
            raise SpecError(
                "the options beta and importance_samples do not apply to a flow graph (its bound is evaluated by "
                "`schemagm eval`)",
                source=g.source,
                file=g.file,
            )

    # -- networks ---------------------------------------------------------------------------------------------
    def _build(self, i: int, e: Edge) -> _E:
        g = self.graph
        inputs = e.inputs(g)
        key = f"{e.label or e.key}_{e.group}" if e.group else e.key
        target = g.nodes[e.target]
        size = target.size
        call_ = e.network
        entry = registry.lookup("network", call_.name) if call_ is not None else None
        sym = net_sym(e.label or "f", e.group)
        if e.invertible:
            assert call_ is not None and entry is not None
            ctx = sum(g.nodes[s].size for s in inputs[1:])
            module: nn.Module = self._make(e, entry, (size, ctx, *call_.args), call_.kw)
            self._keep(key, module, e)
            return _E(i, e, "flow", key, sym, inputs)
        if call_ is not None and call_.name == "dequantize":
            scale = float(call_.args[0] if call_.args else call_.kw["scale"])
            self._keep(key, Dequantization(size, scale), e)
            return _E(i, e, "dequantize", key, net_sym("q", None), inputs)
        if e.output is not None and e.output.name == "dequantize":
            assert call_ is not None and entry is not None
            scale = float(e.output.args[0] if e.output.args else e.output.kw["scale"])
            flow = self._make(e, entry, (size, size, *call_.args), call_.kw)
            self._keep(key, Dequantization(size, scale, flow), e)  # type: ignore[arg-type]
            return _E(i, e, "dequantize", key, sym, inputs)
        if call_ is not None and call_.name in registry.CORRUPTIONS:
            raise self._err(f"the corruption '{call_.name}' is not available in a flow graph (only dequantize)", e)
        if entry is None:
            raise self._err(f"unknown network '{call_.name if call_ else None}'", e)
        head_name = (
            e.output.name
            if e.output is not None
            else {"categorical": "categorical", "bernoulli": "bernoulli"}.get(target.value, "normal")
        )
        if head_name.startswith("relaxed"):
            raise self._err("relaxed heads are not available in a flow graph", e)
        head = make_head(head_name, e.output.kw if e.output is not None else {}, g.options.temperature)
        in_f = nets.feature_shape([_features(g.nodes[s]) for s in inputs])
        tf = _features(target)
        out_f = tuple([tf[0] * head.blocks, *tf[1:]]) if isinstance(tf, tuple) else tf * head.blocks
        self._keep(key, self._make(e, entry, (in_f, out_f, *call_.args), call_.kw), e)  # type: ignore[union-attr]
        return _E(i, e, "stochastic", key, sym, inputs, head)

    def _make(self, e: Edge, entry: registry.Entry, args: tuple[Any, ...], kwargs: dict[str, Any]) -> nn.Module:
        try:
            return entry.resolve()(*args, **kwargs)  # type: ignore[no-any-return]
        except (TypeError, ValueError, RuntimeError) as exc:
            raise self._err(f"cannot build {entry.name}: {exc}", e) from None

    def _keep(self, key: str, module: nn.Module, e: Edge) -> None:
        if key in self.networks:
            if repr(self.networks[key]) != repr(module):
                raise self._err(f"the network {key} is used on two edges with different sizes or architectures", e)
            return
        self.networks[key] = module

    def _net(self, key: str) -> Any:
        return self.networks[key]

    def parameters_of(self, group: str) -> list[nn.Parameter]:
        seen: set[int] = set()
        out: list[nn.Parameter] = []
        for ei in self._edges:
            if ei.edge.group == group:
                for p in self._net(ei.key).parameters():
                    if id(p) not in seen:
                        seen.add(id(p))
                        out.append(p)
        return out

    # -- the dashed process: where each node's value comes from ---------------------------------------------
    def _plan(self, v: str, visiting: frozenset[str]) -> tuple[str, int | None] | None:
        if v in self._how:
            return self._how[v]
        if v in visiting:
            return None
        g = self.graph
        node = g.nodes[v]
        visiting = visiting | {v}
        how: tuple[str, int | None] | None = None
        deps: frozenset[str] = frozenset()
        if node.role is Role.data:
            how = ("data", None)
        else:
            for ei in self._edges:
                e = ei.edge
                if e.target == v and e.process is Process.inference:
                    if all(self._plan(s, visiting) is not None for s in ei.inputs):
                        how = ("edge", ei.index)
                        deps = self._group(e).union(*(self._deps[s] for s in ei.inputs))
                        break
            if how is None:
                for ei in self._edges:
                    e = ei.edge
                    if ei.kind == "flow" and e.process is Process.generative and ei.inputs[0] == v:
                        needed = (e.target, *ei.inputs[1:])
                        if all(self._plan(s, visiting) is not None for s in needed):
                            how = ("inverse", ei.index)
                            deps = self._group(e).union(*(self._deps[s] for s in needed))
                            break
            if how is None and node.prior is not None:
                how = ("prior", None)
        if how is None:
            return None
        self._how[v], self._deps[v] = how, deps
        return how

    @staticmethod
    def _group(e: Edge) -> frozenset[str]:
        return frozenset({e.group}) if e.group else frozenset()

    # -- the rule --------------------------------------------------------------------------------------------
    def _derive(self) -> list[_Factor]:
        g = self.graph
        out: list[_Factor] = []
        for ei in self._edges:
            e = ei.edge
            names = [s for s in (*ei.inputs, e.target) if s not in self._how]
            if names:
                raise self._err(
                    f"'{names[0]}' has no value in the dashed (inference) process, which this edge needs", e
                )
            t, srcs = node_sym(e.target), [node_sym(s) for s in ei.inputs]
            if e.process is Process.inference:
                if self._how[e.target] != ("edge", ei.index):
                    raise self._err(f"'{e.target}' gets its value from another edge in the dashed process", e)
                if ei.kind == "flow":
                    body = _logdet(ei.sym, srcs[0], srcs[0])
                    out.append(
                        _Factor(f"logdet:{ei.key}", "q", ei.index, e.target, self._deps[e.target], body, flow=True)
                    )
                else:
                    body = LOG + call(ei.sym, [t], srcs)
                    out.append(_Factor(f"log_q:{ei.key}", "q", ei.index, e.target, self._deps[e.target], body))
            else:
                groups = self._group(e).union(*(self._deps[s] for s in (*ei.inputs, e.target)))
                if ei.kind == "flow":
                    if self._how[ei.inputs[0]] != ("inverse", ei.index):
                        raise self._err(
                            f"the base '{ei.inputs[0]}' of this flow must be computed by its inverse in the dashed "
                            "process, but it has another source",
                            e,
                        )
                    body = _logdet(Sym(ei.sym.u + "⁻¹", ei.sym.tex + "^{-1}"), t, t)
                    out.append(_Factor(f"logdet:{ei.key}", "p", ei.index, e.target, groups, body, flow=True))
                else:
                    out.append(_Factor(f"nll:{ei.key}", "p", ei.index, e.target, groups, LOG + call(ei.sym, [t], srcs)))
        for v in self._priors:
            how = self._how.get(v)
            if how is None or how[0] == "prior":
                continue  # drawn from its prior in the dashed process too: the two factors cancel
            out.append(_Factor(f"prior:{v}", "p", None, v, self._deps[v], LOG + call(Sym("p", "p"), [node_sym(v)])))
        if not any(f.groups for f in out):
            raise SpecError(f"'{g.name}' has no factor with parameters: nothing to train", source=g.source, file=g.file)
        return out

    def _expectation(self) -> Sym:
        parts = [
            call(Sym("p_data", "p_{\\mathrm{data}}"), [node_sym(n.name)])
            for n in self.graph.nodes.values()
            if n.role is Role.data
        ]
        for ei in self._edges:
            if ei.edge.process is Process.inference and ei.kind != "flow":
                parts.append(call(ei.sym, [node_sym(ei.edge.target)], [node_sym(s) for s in ei.inputs]))
        return expectation(parts)

    def _term(self, f: _Factor) -> Term:
        sign = -1 if (f.side == "p" or f.flow) else 1
        formula = (MINUS if sign < 0 else Sym("", "")) + self._expectation() + f.body
        # kinds of this module's factors (not the factor IR's score/kl/reconstruction trees: model._exprs is empty)
        kind = {"nll": "log_p", "prior": "prior", "log_q": "log_q", "logdet": "log_det"}[f.name.split(":")[0]]
        return Term(f.name, frozenset(f.groups), 1.0, sign, formula.u, formula.tex, "model", kind)

    # -- one dashed pass ---------------------------------------------------------------------------------------
    def _pass(self, batch: dict[str, Tensor], tile: int = 1) -> _Pass:
        g = self.graph
        p = _Pass()
        for n in self._data:
            if n.name not in batch:
                raise SpecError(f"the batch has no data for '{n.name}' (it has {', '.join(batch) or 'nothing'})")
            x = batch[n.name].to(self.device)
            x = x.reshape(x.shape[0], *(n.shape or (1,))).to(
                torch.get_default_dtype() if not x.is_floating_point() else x.dtype
            )
            p.values[n.name] = x.repeat(tile, *([1] * (x.dim() - 1))) if tile > 1 else x
            p.rows = p.values[n.name].shape[0]
        self.last_draws = {}
        for v in g.nodes:
            self._value(p, v)
        for f in self._factors:
            if f.name in p.logdens:
                continue
            if f.edge is None:
                p.logdens[f.name] = self._priors[f.node].log_prob(p.values[f.node])
            else:
                ei = self._edges[f.edge]
                if ei.kind == "stochastic":
                    p.logdens[f.name] = self._edge_dist(ei, p.values).log_prob(p.values[f.node])
        return p

    def _value(self, p: _Pass, v: str) -> Tensor:
        if v in p.values:
            return p.values[v]
        how, i = self._how[v]
        node = self.graph.nodes[v]
        if how == "prior":
            p.values[v] = out = self._priors[v].sample(p.rows, device=self.device)
            self.last_draws[f"prior:{v}"] = out.detach()
            return out
        assert i is not None
        ei = self._edges[i]
        if how == "inverse":
            t = self._flat(self._value(p, ei.edge.target))
            base, ladj = self._net(ei.key).inverse(t, self._context(p, ei))
            p.logdens[f"logdet:{ei.key}"] = ladj  # log p(t | b) = −log|det ∂f/∂b| = log|det ∂f⁻¹/∂t|
            p.values[v] = out = base.reshape(p.rows, *(node.shape or (1,)))
            return out
        if ei.kind == "flow":
            b = self._flat(self._value(p, ei.inputs[0]))
            t, ladj = self._net(ei.key)(b, self._context(p, ei))
            p.logdens[f"logdet:{ei.key}"] = -ladj  # log q(t | b) = −log|det ∂f/∂b|
            p.values[v] = out = t.reshape(p.rows, *(node.shape or (1,)))
            return out
        if ei.kind == "dequantize":
            x = self._value(p, ei.inputs[0])
            dq = self._net(ei.key)
            noise = dq.noise(x)
            self.last_draws[f"noise:{ei.key}"] = noise.detach()
            out, log_q = dq.rsample_with(x, noise)
            p.values[v] = out = out.reshape(p.rows, *(node.shape or (1,)))
            p.logdens[f"log_q:{ei.key}"] = log_q
            return out
        d = self._edge_dist(
            ei, p.values if all(s in p.values for s in ei.inputs) else {s: self._value(p, s) for s in ei.inputs}
        )
        noise = d.noise()
        self.last_draws[f"eps:{ei.key}"] = noise.detach()
        p.values[v] = out = d.rsample_with(noise) if d.has_rsample else d.sample()
        return out

    @staticmethod
    def _flat(t: Tensor) -> Tensor:
        return t.reshape(t.shape[0], -1)

    def _context(self, p: _Pass, ei: _E) -> Tensor | None:
        rest = ei.inputs[1:]
        if not rest:
            return None
        return torch.cat([self._flat(self._value(p, s)) for s in rest], 1)

    def _edge_dist(self, ei: _E, values: dict[str, Tensor]) -> Any:
        vals = [values[s] for s in ei.inputs]
        x = vals[0] if len(vals) == 1 else torch.cat([self._flat(t) for t in vals], 1)
        return ei.head(self._net(ei.key)(x))  # type: ignore[misc]

    # -- the objective ---------------------------------------------------------------------------------------
    def _contributions(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        p = self._pass(batch)
        out = {}
        for t in self.objective.terms:
            f = self._term_factor[t.name]
            value = p.logdens[f.name]
            value = -value if f.flow and f.side == "q" else value  # a dashed flow's term is its log-determinant
            out[t.name] = t.sign * value.mean()
        return out

    def terms(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        return self._contributions(batch)

    def losses(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        return self._losses_from(self._contributions(batch))

    def losses_and_terms(self, batch: dict[str, Tensor]) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        """:meth:`losses` and :meth:`terms` from one pass (the same draws): a metrics line."""
        c = self._contributions(batch)
        return self._losses_from(c), c

    def _losses_from(self, c: dict[str, Tensor]) -> dict[str, Tensor]:
        out: dict[str, Tensor] = {}
        for g in self.groups:
            parts = [c[t.name] for t in self.objective.terms if g in t.groups]
            out[g] = torch.stack(parts).sum() if parts else torch.zeros((), device=self.device)
        return out

    def phase_loss(self, phase: str, batch: Any) -> Tensor:
        if phase != "model":
            raise SpecError(f"no phase named '{phase}' (phases: model)")
        run = batch if isinstance(batch, _FlowRun) else self.run(batch)
        c = [self._contribution(run, t.name) for t in self.objective.terms]
        return torch.stack(c).sum() if c else torch.zeros((), device=self.device)

    def run(self, batch: dict[str, Tensor]) -> Any:
        """A call's state: one dashed pass, shared by every term and phase evaluated on it."""
        return _FlowRun(batch)

    def _contribution(self, run: Any, name: str) -> Tensor:
        if run.results is None:
            run.results = self._contributions(run.batch)
        return run.results[name]  # type: ignore[no-any-return]

    # -- bounds and exact likelihood -----------------------------------------------------------------------------
    def _log_weight(self, batch: Any, tile: int = 1) -> Tensor:
        """Σ_solid log p − Σ_dashed log q per row, every factor included (constants too)."""
        p = self._pass(self._as_batch(batch), tile)
        total: Any = 0.0
        for f in self._factors:
            total = total + (p.logdens[f.name] if f.side == "p" else -p.logdens[f.name])
        return total  # type: ignore[return-value]

    @property
    def exact(self) -> bool:
        """Is log p(x) exact (no stochastic dashed factor: the dashed process is a bijection of the data)?"""
        return not any(ei.edge.process is Process.inference and ei.kind != "flow" for ei in self._edges)

    def data_dims(self) -> int:
        return sum(n.size for n in self._data)

    def elbo(self, batch: Tensor | dict[str, Tensor]) -> Tensor:
        """Per-row E_q[log p − log q] at one draw: log p(x) itself when :attr:`exact`, else the
        (dequantization or variational) lower bound."""
        return self._log_weight(batch)

    def iw_bound(self, batch: Tensor | dict[str, Tensor], k: int) -> Tensor:
        if k < 1:
            raise SpecError(f"k must be at least 1, got {k}")
        lw = self._log_weight(batch, tile=k)
        return torch.logsumexp(lw.reshape(k, -1), 0) - math.log(k)

    def log_likelihood(self, batch: Tensor | dict[str, Tensor]) -> Tensor:
        """Exact per-row log p(x) (nats); a SpecError for a model that has only a bound."""
        if not self.exact:
            raise SpecError(
                f"'{self.graph.name}' has a stochastic dashed factor (a posterior or a dequantization): it has a "
                "bound, not an exact likelihood"
            )
        return self._log_weight(batch)

    def extra_repr(self) -> str:
        return f"graph={self.graph.name!r}, groups={self.groups}, terms={[t.name for t in self.objective.terms]}"


def _logdet(f: Sym, at: Sym, wrt: Sym) -> Sym:
    """``log |det ∂f(b)/∂b|``."""
    return Sym(
        f"log |det ∂{f.u}({at.u})/∂{wrt.u}|",
        f"\\log \\left|\\det \\frac{{\\partial {f.tex}({at.tex})}}{{\\partial {wrt.tex}}}\\right|",
    )
