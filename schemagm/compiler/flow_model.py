"""The rule, factor by factor, for graphs with invertible edges (flows), dequantization or an
empirical latent (a kernel density).

Such a graph (``uses_flows``; the one call is in :func:`schemagm.compiler.compile`) compiles
here.  The objective is the rule of docs/semantics.md read literally, one term per factor:

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
  factor (a constant for the uniform one), and the bound is log P(x) ≥ E_q[log p(v) − log q(v | x)];
* ``latent m : empirical[D]`` with ``m -> x : identity normal(std=ε)`` (a kernel density): m is
  summed out exactly over its points (the training set, memorised by :meth:`FlowModel.fit`),
  log p(x) = log (1/N) Σ_j N(x; x_j, ε² I).

Every factor is an expression tree of the objective IR (:mod:`.ir`, :mod:`.ir_flows`): a term's
value, its formula and its Python source come from its tree, and so do the bounds (``elbo``,
``iw_bound``, ``log_likelihood``: the log-weight Σ_p log p − Σ_q log q as one tree).  The option
``beta`` weights the factors of the latents drawn by a posterior (a VAE's KL part, flow prior or
IAF included); ``importance_samples = k`` replaces the terms by the k-sample bound.  Graphs with
adversaries, an indicator or hollow edges are refused here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from ..errors import SpecError
from ..graph.build import UNIFORM_DEFAULT_RANGE
from ..graph.model import Edge, Process, Role, SchematicGraph
from .derive_base import _prefix
from .distributions import Prior
from .flow_empirical import Empirical, FlowPoints
from .flow_networks import _E, FlowNetworks
from .flow_run import FlowRun
from .flow_sampling import FlowSampling
from .ir import Expr, LogPrior, LogProb, Mean
from .ir_flows import DequantLogQ, FlowLogDet, Marginal
from .ir_games import LogMeanExp, Sum
from .model import CompiledModel
from .terms import Objective, Phase, Sym, Term, call, expectation, node_sym

__all__ = ["FlowModel"]


@dataclass
class _Factor:
    """One factor of the rule and its per-row expression: ``coef`` +1 where the expression is a
    log-density of the generative side (log p, or a dashed flow's log |det| = −log q), −1 where it
    is a dashed log q; its term is ``−coef · 𝔼 expr``."""

    name: str
    coef: int
    node: str
    groups: frozenset[str]
    expr: Expr
    kind: str  # the term's kind: log_p, prior, log_q, log_det, marginal
    weighted: bool = False  # a factor of a posterior's latents: weighted by the option beta


class FlowModel(FlowPoints, FlowNetworks, FlowSampling, CompiledModel):
    """A graph with flows or dequantization compiled by the factor-by-factor rule."""

    def __init__(self, graph: SchematicGraph) -> None:  # noqa: D107 - CompiledModel's __init__ is replaced
        nn.Module.__init__(self)
        self.graph = graph
        self.networks = nn.ModuleDict()
        self.register_buffer("_anchor", torch.zeros(()), persistent=False)
        self.last_draws: dict[str, Tensor] = {}
        self.last_baselines: dict[str, Any] = {}
        self._priors: dict[str, Any] = {}
        for n in graph.nodes.values():
            if n.prior == "empirical":
                self._priors[n.name] = Empirical(self, n.name, n.shape)
                self.register_buffer(f"support_{n.name}", torch.zeros(0, *(n.shape or (1,))))
            elif n.prior is not None:
                lo_hi = n.range if n.range is not None else UNIFORM_DEFAULT_RANGE
                self._priors[n.name] = Prior(n.prior, n.shape, *lo_hi)
        self._refuse()
        self._edges = [self._build(i, e) for i, e in enumerate(graph.edges)]
        self._how: dict[str, tuple[str, int | None]] = {}
        self._deps: dict[str, frozenset[str]] = {}
        self._posterior: dict[str, bool] = {}  # is the dashed value a function of a posterior's draw?
        for v in graph.nodes:
            self._plan(v, frozenset())
        self._data = [n for n in graph.nodes.values() if n.role is Role.data]
        self._support_of: dict[str, str] = {}  # empirical latent -> the data node whose points it holds
        self._check_empirical()
        self._factors = self._derive()
        self.groups: list[str] = list(graph.groups)
        #: Σ_p log p − Σ_q log q per row, every factor included (constants too): the bound's tree
        self._log_w = _LogWeight([(float(f.coef), f.expr) for f in self._factors], Sym(" + ", " + "))
        self._exprs: dict[str, Expr] = {}
        terms = self._terms()
        self.objective = Objective(terms, [Phase("model", tuple(self.groups))] if self.groups else [])
        self._coef = {t.name: t.sign * t.weight for t in terms}

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
        if g.options.importance_samples != 1 and g.options.beta != 1.0:
            raise SpecError(
                "beta weights the KL part of the one-sample bound; with importance_samples the bound is one term "
                "that beta does not weight: set one of them",
                span=self._option_span("beta"),
                source=g.source,
                file=g.file,
            )

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
        post = False
        if node.role is Role.data:
            how = ("data", None)
        elif node.prior == "empirical" and not any(
            ei.edge.target == v and ei.edge.process is Process.inference for ei in self._edges
        ):
            how = ("support", None)
        else:
            for ei in self._edges:
                e = ei.edge
                if e.target == v and e.process is Process.inference:
                    if all(self._plan(s, visiting) is not None for s in ei.inputs):
                        how = ("edge", ei.index)
                        deps = self._group(e).union(*(self._deps[s] for s in ei.inputs))
                        post = ei.kind == "stochastic" or any(self._posterior[s] for s in ei.inputs)
                        break
            if how is None:
                for ei in self._edges:
                    e = ei.edge
                    if ei.kind == "flow" and e.process is Process.generative and ei.inputs[0] == v:
                        needed = (e.target, *ei.inputs[1:])
                        if all(self._plan(s, visiting) is not None for s in needed):
                            how = ("inverse", ei.index)
                            deps = self._group(e).union(*(self._deps[s] for s in needed))
                            post = any(self._posterior[s] for s in needed)
                            break
            if how is None and node.prior is not None:
                how = ("prior", None)
        if how is None:
            return None
        self._how[v], self._deps[v], self._posterior[v] = how, deps, post
        return how

    @staticmethod
    def _group(e: Edge) -> frozenset[str]:
        return frozenset({e.group}) if e.group else frozenset()

    # -- the rule --------------------------------------------------------------------------------------------
    def _derive(self) -> list[_Factor]:
        g = self.graph
        out: list[_Factor] = []
        marginal: dict[str, list[tuple[_E, LogProb, Sym]]] = {}
        for ei in self._edges:
            e = ei.edge
            names = [s for s in (*ei.inputs, e.target) if s not in self._how]
            if names:
                raise self._err(
                    f"'{names[0]}' has no value in the dashed (inference) process, which this edge needs", e
                )
            t, srcs = node_sym(e.target), [node_sym(s) for s in ei.inputs]
            post = self._posterior[e.target] and g.nodes[e.target].role is Role.latent
            if e.process is Process.inference:
                if self._how[e.target] != ("edge", ei.index):
                    raise self._err(f"'{e.target}' gets its value from another edge in the dashed process", e)
                groups = self._deps[e.target]
                if ei.kind == "flow":
                    s = _logdet(ei.sym, srcs[0], srcs[0])
                    expr: Expr = FlowLogDet(ei, False, ei.inputs[0], s)
                    out.append(_Factor(f"logdet:{ei.key}", 1, e.target, groups, expr, "log_det", post))
                elif ei.kind == "dequantize":
                    expr = DequantLogQ(ei, ei.inputs[0], call(ei.sym, [t], srcs))
                    out.append(_Factor(f"log_q:{ei.key}", -1, e.target, groups, expr, "log_q", post))
                else:
                    expr = LogProb(ei, e.target, call(ei.sym, [t], srcs))
                    out.append(_Factor(f"log_q:{ei.key}", -1, e.target, groups, expr, "log_q", post))
                continue
            groups = self._group(e).union(*(self._deps[s] for s in (*ei.inputs, e.target)))
            if ei.kind == "flow":
                if self._how[ei.inputs[0]] != ("inverse", ei.index):
                    raise self._err(
                        f"the base '{ei.inputs[0]}' of this flow must be computed by its inverse in the dashed "
                        "process, but it has another source",
                        e,
                    )
                s = _logdet(Sym(ei.sym.u + "⁻¹", ei.sym.tex + "^{-1}"), t, t)
                expr = FlowLogDet(ei, True, e.target, s)
                out.append(_Factor(f"logdet:{ei.key}", 1, e.target, groups, expr, "log_det", post))
                continue
            over = [s for s in ei.inputs if self._on_support(s)]
            if over:
                j = [node_sym(s) + Sym("_j", "_j") if s in over else node_sym(s) for s in ei.inputs]
                marginal.setdefault(over[0], []).append((ei, LogProb(ei, e.target, call(ei.sym, [t], j)), t))
                continue
            expr = LogProb(ei, e.target, call(ei.sym, [t], srcs))
            out.append(_Factor(f"nll:{ei.key}", 1, e.target, groups, expr, "log_p", post))
        for v, parts in marginal.items():
            body = Sum([(1.0, p) for _, p, _ in parts], Sym(" + ", " + "))
            inner = Sym.join([p.s for _, p, _ in parts], " ", " \\, ")
            s = Sym("log (1/N) Σ_j ", "\\log \\frac{1}{N} \\sum_{j} ") + inner
            groups = frozenset().union(
                *(self._group(ei.edge).union(*(self._deps[i] for i in ei.inputs if i != v)) for ei, _, _ in parts)
            )
            out.append(_Factor(f"marginal:{v}", 1, parts[0][0].edge.target, groups, Marginal(v, body, s), "marginal"))
        for v, prior in self._priors.items():
            how = self._how.get(v)
            if how is None or how[0] in ("prior", "support"):
                continue  # drawn from its prior in the dashed process too: the two factors cancel
            expr = LogPrior(v, prior, call(Sym("p", "p"), [node_sym(v)]))
            out.append(_Factor(f"prior:{v}", 1, v, self._deps[v], expr, "prior", self._posterior[v]))
        if not any(f.groups for f in out) and not marginal:
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

    def _terms(self) -> list[Term]:
        """One term per factor with parameters (``−coef · w · 𝔼 factor``), or, with
        ``importance_samples = k``, the one term −𝔼 log (1/k) Σ_i w_i of the k-sample bound."""
        g, o = self.graph, self.graph.options
        k = o.importance_samples
        if k > 1:
            if self.exact:
                raise SpecError(
                    f"importance_samples = {k} has nothing to weight: '{g.name}' has no stochastic dashed factor "
                    "(its likelihood is exact)",
                    span=self._option_span("importance_samples"),
                    source=g.source,
                    file=g.file,
                    hint="remove the option",
                )
            groups = frozenset().union(*(f.groups for f in self._factors))
            data = [call(Sym("p_data", "p_{\\mathrm{data}}"), [node_sym(n.name)]) for n in self._data]
            top = Mean(self._iw(k), "y=1", expectation(data))
            return [self._emit("iw_bound", groups, 1.0, -1, top, "iw_bound")] if groups else []
        weighted = [f for f in self._factors if f.weighted]
        if o.beta != 1.0 and not weighted:
            raise SpecError(
                f"beta = {o.beta:g} weights the factors of a posterior's latents, and '{g.name}' has no posterior "
                "(no dashed edge with a distribution into a latent)",
                span=self._option_span("beta"),
                source=g.source,
                file=g.file,
                hint="remove the option",
            )
        out = []
        for f in self._factors:
            if not f.groups:
                continue  # a constant: no group to update (it stays in the bound)
            w, wname, wsym = (
                (o.beta, "beta", Sym("β·", "\\beta \\cdot ") if o.beta == 1.0 else None)
                if f.weighted
                else (1.0, None, None)
            )
            top = Mean(f.expr, "y=1", self._expectation())
            out.append(self._emit(f.name, f.groups, w, -f.coef, top, f.kind, wname, wsym))
        return out

    def _emit(
        self,
        name: str,
        groups: frozenset[str],
        weight: float,
        sign: int,
        top: Expr,
        kind: str,
        wname: str | None = None,
        wsym: Sym | None = None,
    ) -> Term:
        formula = _prefix(sign, weight, wsym) + top.sym()
        self._exprs[name] = top
        return Term(name, groups, float(weight), sign, formula.u, formula.tex, "model", kind, None, wname)

    def _iw(self, k: int) -> Expr:
        """log (1/k) Σ_i exp(log w_i) over k dashed passes of each row."""
        s = Sym(f"log (1/{k}) Σ_i exp(", f"\\log \\frac{{1}}{{{k}}} \\sum_i \\exp(") + self._log_w.sym() + Sym(")", ")")
        return LogMeanExp(self._log_w, f"y=1*{k}", k, s)

    # -- one call ----------------------------------------------------------------------------------------------
    def run(self, batch: dict[str, Tensor]) -> Any:
        """A call's state: one dashed pass, shared by every term and phase evaluated on it."""
        return FlowRun(self, batch)

    def _contribution(self, run: Any, name: str) -> Tensor:
        out = run.results.get(name)
        if out is None:
            out = run.results[name] = self._coef[name] * self._exprs[name].eval(run, "y=1")
        return out  # type: ignore[no-any-return]

    def terms(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        run = self.run(batch)
        return {t.name: self._contribution(run, t.name) for t in self.objective.terms}

    def losses(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        return self._losses_from(self.run(batch))

    def losses_and_terms(self, batch: dict[str, Tensor]) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        """:meth:`losses` and :meth:`terms` from one pass (the same draws): a metrics line."""
        run = self.run(batch)
        return self._losses_from(run), {t.name: self._contribution(run, t.name) for t in self.objective.terms}

    def _losses_from(self, run: Any) -> dict[str, Tensor]:
        out: dict[str, Tensor] = {}
        for g in self.groups:
            parts = [self._contribution(run, t.name) for t in self.objective.terms if g in t.groups]
            out[g] = torch.stack(parts).sum() if parts else torch.zeros((), device=self.device)
        return out

    def phase_loss(self, phase: str, batch: Any) -> Tensor:
        if phase != "model":
            raise SpecError(f"no phase named '{phase}' (phases: model)")
        run = batch if isinstance(batch, FlowRun) else self.run(batch)
        c = [self._contribution(run, t.name) for t in self.objective.terms]
        return torch.stack(c).sum() if c else torch.zeros((), device=self.device)

    # -- bounds and exact likelihood -----------------------------------------------------------------------------
    @property
    def exact(self) -> bool:
        """Is log p(x) exact (no stochastic dashed factor: the dashed process is a bijection of the data)?"""
        return not any(ei.edge.process is Process.inference and ei.kind != "flow" for ei in self._edges)

    def log_likelihood_sym(self) -> Sym:
        """The formula of the per-row log-weight (log p(x) itself when :attr:`exact`)."""
        return self._log_w.sym()

    def data_dims(self) -> int:
        return sum(n.size for n in self._data)

    def elbo(self, batch: Tensor | dict[str, Tensor]) -> Tensor:
        """Per-row E_q[log p − log q] at one draw: log p(x) itself when :attr:`exact`, else the
        (dequantization or variational) lower bound."""
        return self._log_w.eval(self.run(self._as_batch(batch)), "y=1")

    def iw_bound(self, batch: Tensor | dict[str, Tensor], k: int) -> Tensor:
        if k < 1:
            raise SpecError(f"k must be at least 1, got {k}")
        if k == 1:
            return self.elbo(batch)
        return self._iw(k).eval(self.run(self._as_batch(batch)), "y=1")

    def log_likelihood(self, batch: Tensor | dict[str, Tensor]) -> Tensor:
        """Exact per-row log p(x) (nats); a SpecError for a model that has only a bound."""
        if not self.exact:
            raise SpecError(
                f"'{self.graph.name}' has a stochastic dashed factor (a posterior or a dequantization): it has a "
                "bound, not an exact likelihood"
            )
        return self.elbo(batch)

    def extra_repr(self) -> str:
        return f"graph={self.graph.name!r}, groups={self.groups}, terms={[t.name for t in self.objective.terms]}"


class _LogWeight(Sum):
    """``Σ log p − Σ log q``: a :class:`~.ir_games.Sum` of ±1 parts, printed with its signs."""

    def sym(self) -> Sym:
        out = Sym("", "")
        for i, (c, p) in enumerate(self.parts):
            s = p.sym()
            if c < 0:
                out = out + (Sym(" − ", " - ") if i else Sym("−", "-")) + s
            else:
                out = out + (Sym(" + ", " + ") if i else Sym("", "")) + s
        return out


def _logdet(f: Sym, at: Sym, wrt: Sym) -> Sym:
    """``log |det ∂f(b)/∂b|``."""
    return Sym(
        f"log |det ∂{f.u}({at.u})/∂{wrt.u}|",
        f"\\log \\left|\\det \\frac{{\\partial {f.tex}({at.tex})}}{{\\partial {wrt.tex}}}\\right|",
    )
