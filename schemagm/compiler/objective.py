"""The rule: walk the graph once and emit the objective's terms, each with the closure that
evaluates it (docs/design.md section 4).

Nothing here looks at the model's name, its node names or its network labels: only at roles,
priors, solid/dashed, hollow/filled, red, networks present or not, branches and options.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import Tensor

from ..errors import SpecError
from ..graph.model import Edge, Process, Role, SchematicGraph
from ..graph.rule_check import ENUMERATE_MAX  # the largest support that `discrete = auto` sums over exactly
from .distributions import Prior, support, support_size
from .ir import KL, Diff, EnumSum, Expect, Expr, LogPrior, LogProb, Mean, Opaque, Pool, Recon, Score
from .ir_games import MMD2, GradPenalty, IWSide, LogMeanExp, Side, Sum, iw_log_d
from .sampling import _ACTIVATIONS, Context, EdgeInfo, Planner, Run, Source, Unresolved
from .terms import LOG, MINUS, Objective, Phase, Sym, Term, call, expectation, node_sym

__all__ = ["Compiled", "derive"]

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


class _Deriver:
    def __init__(self, graph: SchematicGraph, planner: Planner, infos: list[EdgeInfo], priors: dict[str, Prior], err: Callable[..., SpecError], option_span: Callable[[str], object]) -> None:
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
        for ei in infos:
            if ei.edge.adversarial and ei.edge.group and ei.edge.group not in self.owners:
                self.owners.append(ei.edge.group)
        self.tested: set[str] = {s for ei in infos if ei.edge.adversarial for s in ei.inputs}
        self.used_iw = False
        self.used_walkback = False

    # -- helpers ------------------------------------------------------------------------------------------
    def emit(self, name: str, groups: frozenset[str], weight: float, sign: int, body: Sym, value: Value, kind: str, branch: int | None = None, weight_name: str | None = None, weight_sym: Sym | None = None) -> None:
        if not groups:
            return  # a constant: no group to update
        f = _prefix(sign, weight, weight_sym) + body
        phase = ADVERSARY if groups & set(self.owners) else MODEL
        base, i = name, 2
        while name in self.values:
            name, i = f"{base}#{i}", i + 1
        self.terms.append(Term(name, frozenset(groups), float(weight), sign, f.u, f.tex, phase, kind, branch, weight_name))
        self.values[name] = value

    def emit_expr(self, name: str, groups: frozenset[str], weight: float, sign: int, top: Expr, kind: str, branch: int | None = None, weight_name: str | None = None, weight_sym: Sym | None = None) -> None:
        """Emit a term whose value and formula come from one expression."""
        n = len(self.terms)
        self.emit(name, groups, weight, sign, top.sym(), top.eval, kind, branch, weight_name, weight_sym)
        if len(self.terms) > n:
            self.exprs[self.terms[-1].name] = top

    def resolve(self, ctx: str, v: str, edge: Edge) -> Source:
        try:
            return self.p.source(ctx, v)
        except Unresolved as exc:
            raise self.err(f"{exc}, which this edge needs", edge) from None

    # -- the rule --------------------------------------------------------------------------------------------
    def derive(self) -> Compiled:
        g, p = self.g, self.p
        branches = (1, 0) if p.indicator else (1,)
        dashed_red = [ei for ei in self.infos if ei.edge.adversarial and ei.edge.process is Process.inference]
        solid_red = [ei for ei in self.infos if ei.edge.adversarial and ei.edge.process is Process.generative]
        pool: EdgeInfo | None = None
        if dashed_red:
            for ei in dashed_red:
                if ei.edge.kernel is not None:
                    raise self.err("a kernel test belongs on a solid red edge (the generated side is tested against data)", ei.edge)
                for v in ei.inputs:
                    src = self.resolve("y=0", v, ei.edge)
                    if src.kind != "data":
                        raise self.err(f"a dashed red edge re-weights the generated branch by the adversary, so '{v}' must be data in the branch y=0", ei.edge)
            with_net = [ei for ei in dashed_red if ei.net_key]
            if len(with_net) > 1:
                raise self.err("only one dashed red edge with a network can re-weight the generated branch", with_net[1].edge)
            pool = with_net[0] if with_net else None
            scored = (0,)
        else:
            scored = branches
        solid = [ei for ei in self.infos if ei.edge.process is Process.generative and not ei.edge.adversarial]
        for b in scored:
            self.branch_terms(b, solid, len(scored) > 1, pool)
        for ei in solid_red:
            if ei.edge.kernel is not None:
                self.kernel_terms(ei)
            elif ei.net_key:
                self.adversarial_terms(ei)
            else:
                raise self.err(
                    "a perfect adversary on a solid red edge would give the generator log 0: only a dashed red edge can be perfect",
                    ei.edge,
                    hint="make the edge dashed (`x --> y : perfect adversarial`) or give it a network",
                )
        if pool is not None:
            self.pool_adversary(pool)
        for ei in self.infos:
            e = ei.edge
            if e.process is Process.inference and not e.adversarial and not e.reparameterize:
                self.sleep_term(ei)
        k = self.o.importance_samples
        if k > 1 and not self.used_iw:
            hollow = next((ei for ei in self.infos if ei.edge.deterministic and not ei.edge.adversarial), None)
            what = f"; {hollow.edge.key} is deterministic (hollow) and has no density" if hollow else ""
            raise SpecError(
                f"importance_samples = {k} has nothing to weight: importance weighting needs a dashed edge with a density into a latent node with a prior, or a red edge with a discriminator{what}",
                span=self.option_span("importance_samples"),
                hint="remove the option, or draw the inference edge as stochastic (`-->` with a distribution)",
            )
        if self.o.walkback > 1 and not self.used_walkback:
            raise SpecError(
                f"walkback = {self.o.walkback} needs a dashed edge a --> b and a solid edge b -> a (a corruption and its denoiser)",
                span=self.option_span("walkback"),
            )
        phases = []
        model_groups = [gr for gr in g.groups if gr not in self.owners]
        if self.owners:
            phases.append(Phase(ADVERSARY, tuple(self.owners), self.o.discriminator_steps))
        if model_groups:
            phases.append(Phase(MODEL, tuple(model_groups), 1))
        obj = Objective(self.terms, phases)
        coefs = {t.name: t.sign * t.weight for t in self.terms}
        return Compiled(obj, self.values, self.exprs, coefs)

    # -- rules 1, 2, 8, 9 (+ 4, 5: the pool of a dashed red edge) ----------------------------------------------
    def branch_terms(self, b: int, solid: list[EdgeInfo], multi: bool, pool: EdgeInfo | None) -> None:
        """The terms of one branch (SEMANTICS §2, rule 2): every dashed stochastic factor
        +𝔼 log q(v | pa) paired with v's p-side (its prior or its solid producer) into one term
        KL(q ‖ p), every other solid factor −𝔼 log p(v | pa); or the importance-weighted bound."""
        ctx = f"y={b}"
        o = self.o
        p = self.p
        serving = [ei for ei in solid if ei.edge.branch in (b, None)]
        solid_into: dict[str, list[EdgeInfo]] = {}
        for ei in serving:
            solid_into.setdefault(ei.edge.target, []).append(ei)

        def several(ei: EdgeInfo) -> bool:
            return multi and ei.edge.branch is None

        # the dashed stochastic factors of the branch and their p-sides
        pairs: list[tuple[str, EdgeInfo, Source, EdgeInfo | None]] = []  # (v, q edge, v's source, solid p-side or None: prior)
        consumed: set[int] = set()
        wake_only: set[int] = set()
        for v, node in self.g.nodes.items():
            try:
                src = p.source(ctx, v)
            except (Unresolved, SpecError):
                continue
            if src.kind != "edge":
                continue
            ei = self.infos[src.edge]  # type: ignore[index]
            if ei.edge.process is not Process.inference:
                continue
            discrete = src.mode == "sample" and ei.edge.reparameterize and ei.head is not None and ei.head.density in ("categorical", "bernoulli")
            if v in self.tested:
                if discrete and (ei.edge.group or src.groups):
                    raise self.err(
                        f"'{v}' is a discrete sample without a reparameterisation, and a red edge tests it: the adversary's gradient cannot reach {ei.name}",
                        ei.edge,
                        hint="draw it with a relaxed head (`relaxed_categorical`, `relaxed_bernoulli`)",
                    )
                continue
            producers = solid_into.get(v, [])
            has_prior = node.role is Role.latent and node.prior is not None
            if not has_prior and not producers:
                if ei.head is not None and ei.corruption is None and ei.edge.group and ei.edge.reparameterize:
                    raise self.err(
                        f"'{v}' is inferred by the stochastic {ei.name}, but the generative process has no factor for it: q({v} | ...) has no p-side to be matched with",
                        ei.edge,
                        hint=f"give '{v}' a prior (`latent {v} : normal[...]`) or a solid producer, or make the arrow hollow (==>) for a deterministic code",
                    )
                continue  # no p-side: a fixed corruption (DAE) or a deterministic code (AE)
            p_name = f"p({v})" if has_prior else f"p({v} | ...)"
            if has_prior and producers:
                raise self.err(
                    f"'{v}' has a prior and a solid producer, so its p-side would be counted twice: p({v}) and {producers[0].name}",
                    producers[0].edge,
                    hint=f"a hierarchical latent takes its p-side from its solid producer: remove the prior of '{v}' (write `latent {v} : real[...]`)",
                )
            if ei.corruption is not None:
                raise self.err(f"'{v}' has a p-side {p_name}, so its dashed producer needs a density for KL(q || {p_name}), but a corruption has none", ei.edge)
            if ei.edge.deterministic:
                raise self.err(
                    f"'{v}' has a {'prior' if has_prior else 'solid producer'} but its dashed producer is deterministic (hollow): an implicit distribution has no density for KL(q || {p_name})",
                    ei.edge,
                    hint=f"draw it stochastic (`-->` with a distribution), or test '{v}' against its {'prior' if has_prior else 'generative side'} with a red edge (`{v} -> y : D_phi = mlp(...) adversarial`)",
                )
            if len(producers) > 1:
                raise self.err(f"'{v}' has two solid producers in the branch y={b}", producers[1].edge)
            if not ei.edge.reparameterize:
                # rule 7: the wake phase scores the p-side at detached samples; the q-side is the sleep phase's
                if producers:
                    wake_only.add(producers[0].index)
                    continue
                ins = [p.source(ctx, i) for i in ei.inputs]
                if (frozenset([ei.edge.group] if ei.edge.group else []) | frozenset().union(*(s.groups for s in ins))) <= {ei.edge.group}:
                    continue
            pairs.append((v, ei, src, producers[0] if producers else None))
            if producers:
                consumed.add(producers[0].index)

        # discrete samples without a reparameterisation: exact enumeration or the score function
        special: dict[str, tuple[str, EdgeInfo, list]] = {}
        for v, ei, src, _ in pairs:
            if src.mode == "sample" and ei.head is not None and ei.head.density in ("categorical", "bernoulli"):
                special[v] = self.discrete_estimator(v, ei)

        parts: list[_Part] = []
        density_terms: list[EdgeInfo] = []
        hollow: list[EdgeInfo] = []
        for ei in serving:
            if ei.index in consumed:
                continue
            e = ei.edge
            tgt = self.resolve(ctx, e.target, e)
            ins = [self.resolve(ctx, i, e) for i in ei.inputs]
            groups = frozenset([e.group] if e.group else []) | tgt.groups | frozenset().union(*(s.groups for s in ins))
            suffix = f":y={b}" if several(ei) else ""
            weight, wname = (1.0, None) if tgt.from_data else (o.mi_weight, "mi_weight")
            over = list(tgt.factors) + _factors(ins)
            nodes = (e.target, *ei.inputs)
            if ei.corruption is not None:
                raise self.err("a corruption has no density to score on a solid edge", e)
            if e.deterministic:
                kind = self.recon_kind(e, ei)
                s = call(Sym(kind, f"\\mathrm{{{kind}}}"), [tgt.expr, call(ei.sym, [s_.expr for s_ in ins])])
                logits = ei.activation is None and kind == "bce"
                body: Expr = Recon(ei, e.target, kind, _ACTIVATIONS[None if logits else ei.activation], logits, s)
                parts.append(_Part(f"recon:{ei.name}{suffix}", groups, weight, 1, body, over, nodes, "reconstruction", wname))
                hollow.append(ei)
                continue
            dens = call(ei.sym, [tgt.expr], [s_.expr for s_ in ins])
            walk = self.walkback_pair(ctx, ei) if o.walkback > 1 else None
            if walk is not None:
                self.used_walkback = True
                s = Sym(f"(1/{o.walkback})·Σ_r ", f"\\frac{{1}}{{{o.walkback}}} \\sum_r ") + LOG + dens
                body = Opaque(self.walkback_fn(ctx, ei, b), s)
                parts.append(_Part(f"nll:{ei.name}{suffix}", groups, weight, -1, body, over, nodes, "walkback", wname))
            else:
                parts.append(_Part(f"nll:{ei.name}{suffix}", groups, weight, -1, LogProb(ei, e.target, dens), over, nodes, "score", wname))
            density_terms.append(ei)
        kls: list[tuple[str, EdgeInfo, Source]] = []
        for v, ei, src, prod in pairs:
            kls.append((v, ei, src))
            ins = [p.source(ctx, i) for i in ei.inputs]
            groups = frozenset([ei.edge.group] if ei.edge.group else []) | frozenset().union(*(s.groups for s in ins))
            q = LogProb(ei, v, call(ei.sym, [src.expr], [s.expr for s in ins]))
            p_ins: list[Source] = []
            if prod is None:
                pside: LogProb | LogPrior = LogPrior(v, self.priors[v], call(Sym("p", "p"), [src.expr]))
                p_family = self.priors[v].kind
            else:
                p_ins = [self.resolve(ctx, i, prod.edge) for i in prod.inputs]
                groups = groups | frozenset([prod.edge.group] if prod.edge.group else []) | frozenset().union(*(s.groups for s in p_ins))
                pside = LogProb(prod, v, call(prod.sym, [src.expr], [s.expr for s in p_ins]))
                p_family = prod.head.density if prod.head is not None else ""
            coupled = any(v in p.depends(ctx, i) for i in (prod.inputs if prod is not None else ()))
            closed = not coupled and o.kl == "analytic" and ei.head is not None and ei.head.density == p_family and p_family in ("normal", "categorical", "bernoulli")
            non_data = [f for s in (*ins, *p_ins) if not s.from_data for f in s.factors]
            if coupled:
                kbody: Expr = Diff(q, pside)
                over = [f for s in ins for f in s.factors] + list(src.factors) + _factors(p_ins)
            else:
                kbody = KL(q, pside, analytic=closed)
                over = non_data
            nodes = (*ei.inputs, *(prod.inputs if prod is not None else ())) + (() if closed else (v,))
            wsym = Sym("β·", "\\beta \\cdot ") if o.beta == 1.0 else None
            parts.append(_Part(f"kl:{ei.name}" + (f":y={b}" if several(ei) else ""), groups, o.beta, 1, kbody, over, nodes, "kl", "beta", wsym))
        # rule 8: importance weighting of the bound
        if o.importance_samples > 1 and kls:
            if special:
                v = next(iter(special))
                raise self.err(
                    f"importance weighting of the bound needs reparameterised samples, but '{v}' is discrete",
                    special[v][1].edge,
                    hint="remove importance_samples, or draw the edge with a relaxed head (`relaxed_categorical`, `relaxed_bernoulli`)",
                )
            parts = self.iw_parts(b, ctx, parts, density_terms, hollow, kls, pool, multi, [self.infos[i] for i in consumed | wake_only])
        for part in parts:
            body, groups = part.body, part.groups
            deps = [v for v in special if any(v in p.depends(ctx, n) for n in part.nodes)]
            deps.sort(key=lambda v: len(p.depends(ctx, v)))
            scores = [v for v in deps if special[v][0] == "score"]
            for v in deps:
                qe = special[v][1]
                groups = groups | frozenset([qe.edge.group] if qe.edge.group else []) | frozenset().union(*(p.source(ctx, i).groups for i in qe.inputs))
            if scores:
                body = Score(body, [LogProb(special[v][1], v, Sym("", "")) for v in scores], part.name)
            over = part.over
            for v in reversed([v for v in deps if special[v][0] == "enumerate"]):
                qe = special[v][1]
                qsym = call(qe.sym, [node_sym(v)], [p.source(ctx, i).expr for i in qe.inputs])
                inner = self.downstream_factors(ctx, v, part.nodes)
                if inner:
                    body = Expect(body, expectation(inner))
                body = EnumSum(v, qe, special[v][2], body, p, qsym)
                over = [f for f in over if f != qsym and f not in inner]  # summed exactly, not sampled
            if pool is not None:
                top: Expr = self.pooled(body, pool)
            else:
                top = Mean(body, ctx, expectation(over))
            self.emit_expr(part.name, groups, part.weight, part.sign, top, part.kind, b, part.wname, part.wsym)

    def downstream_factors(self, ctx: str, v: str, nodes: tuple[str, ...]) -> list[Sym]:
        """The sampling factors of the nodes a term reads that are drawn after ``v`` (they print
        inside the sum over ``v``)."""
        p = self.p
        seen: list[str] = []
        for n in nodes:
            for u in p.depends(ctx, n):
                if u != v and u not in seen and v in p.depends(ctx, u):
                    seen.append(u)
        out = []
        for u in seen:
            src = p.source(ctx, u)
            if src.kind == "edge" and src.mode in ("rsample", "sample"):
                ei = self.infos[src.edge]  # type: ignore[index]
                out.append(call(ei.sym, [node_sym(u)], [p.source(ctx, i).expr for i in ei.inputs]))
        return out

    def discrete_estimator(self, v: str, ei: EdgeInfo) -> tuple[str, EdgeInfo, list]:
        """How a discrete dashed sample gets its gradient: exact enumeration of a small support,
        else the score function (option ``discrete``)."""
        node = self.g.nodes[v]
        kind = ei.head.density  # type: ignore[union-attr]
        size = support_size(kind, node.shape)
        choice = self.o.discrete
        if choice == "auto":
            choice = "enumerate" if size is not None and size <= ENUMERATE_MAX else "score"
        if choice == "enumerate":
            if size is None or size > ENUMERATE_MAX:
                raise SpecError(
                    f"discrete = enumerate: '{v}' takes {size} values, more than the {ENUMERATE_MAX} this compiler sums over",
                    span=self.option_span("discrete"),
                    hint="use `discrete = score` (a score-function estimator with a baseline) or a relaxed head",
                )
            return ("enumerate", ei, support(kind, node.shape))
        return ("score", ei, [])

    def recon_kind(self, e: Edge, ei: EdgeInfo) -> str:
        kind = self.o.reconstruction
        if kind == "auto":
            node = self.g.nodes[e.target]
            lo_hi = node.range
            unit = node.value == "bernoulli" or (lo_hi is not None and lo_hi[0] >= 0.0 and lo_hi[1] <= 1.0)
            kind = "bce" if unit else "mse"
        if kind == "bce" and ei.activation not in (None, "sigmoid"):
            raise self.err(f"bce reconstruction needs probabilities, but this edge ends with '{ei.activation}'", e, hint="end it with `-> sigmoid`, or set `reconstruction = mse`")
        return kind

    def score_fn(self, ei: EdgeInfo, target_ctx: str | None = None) -> PerSample:
        target = ei.edge.target

        def fn(run: Run, ctx: str) -> Tensor:
            return run.dist(ctx, ei).log_prob(run.value(target_ctx or ctx, target))

        return fn

    def pooled(self, body: Expr, red: EdgeInfo) -> Expr:
        """Rule 4: mean_real(w * l) + mean_gen(w * l) with w = stopgrad(D(v))."""
        gen_ctx = self.pool_context(red)
        real_srcs = [self.p.source("y=0", v) for v in red.inputs]
        gen_srcs = [self.p.source(gen_ctx, v) for v in red.inputs]
        return _Pooled(body, red, "y=0", gen_ctx, expectation(_factors(real_srcs)), expectation(_factors(gen_srcs)), call(red.sym, [s.expr for s in real_srcs]), call(red.sym, [s.expr for s in gen_srcs]))

    def pool_context(self, red: EdgeInfo) -> str:
        name = "y=0:gen"
        if name not in self.p.contexts:
            overrides = {}
            for v in red.inputs:
                g = self.resolve("gen", v, red.edge)
                overrides[v] = Source("copy", v, name, parent="gen", detach=True, expr=g.expr, factors=g.factors, signature=g.signature)
            self.p.add(Context(name, "pool", 0, parent="y=0", overrides=overrides))
        return name

    # -- rule 9 -------------------------------------------------------------------------------------------------
    def walkback_pair(self, ctx: str, ei: EdgeInfo) -> str | None:
        """For a scored solid edge b -> a whose input b comes from a dashed edge a --> b: b."""
        a = ei.edge.target
        for i in ei.inputs:
            src = self.p.source(ctx, i)
            if src.kind == "edge" and self.infos[src.edge].inputs == (a,) and self.g.nodes[a].role is Role.data:  # type: ignore[index]
                return i
        return None

    def walkback_fn(self, ctx: str, ei: EdgeInfo, b: int) -> PerSample:
        """Rule 9: k rounds of corrupt / denoise from one data point, each scored against it."""
        k = self.o.walkback
        a = ei.edge.target
        rounds = [ctx]
        for r in range(2, k + 1):
            name = f"{ctx}:r={r}"
            if name not in self.p.contexts:
                src = Source("inject", a, name, expr=Sym(a, a), signature=("chain", a, r))
                self.p.add(Context(name, "round", b, parent=ctx, overrides={a: src}))
            rounds.append(name)
        score = self.score_fn(ei, target_ctx=ctx)
        key = f"sample:{ei.name}:"

        def fn(run: Run, base: str) -> Tensor:
            total = score(run, rounds[0])
            for r in range(1, k):
                prev = rounds[r - 1]
                d = run.dist(prev, ei)
                point = d.sample_with(run.base(f"chain:{ei.index}:{prev}", d.sample_kind, d.shape))
                run.record(key + run.plan.contexts[prev].tag, point, run.plan.contexts[prev])
                run.values[(rounds[r], a)] = point
                total = total + score(run, rounds[r])
            return total / k

        return fn

    # -- rule 8 -------------------------------------------------------------------------------------------------
    def iw_parts(self, b: int, ctx: str, parts: list, density_terms: list[EdgeInfo], hollow: list[EdgeInfo], kls: list, pool: EdgeInfo | None, multi: bool, p_sides: list[EdgeInfo]) -> list:
        """Rule 8: one term -E log (1/k) sum_i p(x, z_i) / q(z_i | x) in place of the branch's scores and KLs."""
        k = self.o.importance_samples
        if pool is not None:
            raise SpecError("importance weighting of the bound together with a dashed red edge with a network is not supported", span=self.option_span("importance_samples"))
        for e in hollow:
            raise self.err(
                f"importance weighting scores p({e.edge.target} | ...) as a density, but this edge is deterministic (hollow)",
                e.edge,
                hint="draw it with a distribution (`->` with bernoulli or normal), or remove importance_samples",
            )
        self.used_iw = True
        tiled = f"{ctx}*{k}"
        if tiled not in self.p.contexts:
            self.p.add(Context(tiled, "branch", b, tile=k, tag=ctx))
        groups = frozenset().union(*(t.groups for t in parts))
        density_terms = density_terms + p_sides
        dashed = [(v, ei) for v, ei, _ in kls]
        stochastic_dashed = []
        for v, node in self.g.nodes.items():
            try:
                src = self.p.source(tiled, v)
            except Unresolved:
                continue
            if src.kind == "edge" and self.infos[src.edge].head is not None and self.infos[src.edge].edge.process is Process.inference:  # type: ignore[index]
                stochastic_dashed.append((v, self.infos[src.edge]))  # type: ignore[index]
        priors = {v: self.priors[v] for v, _ in dashed if v in self.priors}

        log_w: list[tuple[float, Expr]] = [(1.0, LogProb(ei, ei.edge.target, ei.sym)) for ei in density_terms]
        for v, ei in stochastic_dashed:
            if v in priors:
                log_w.append((1.0, LogPrior(v, priors[v], Sym("p", "p"))))
            log_w.append((-1.0, LogProb(ei, v, ei.sym)))

        sym = self.iw_sym(ctx, density_terms, dashed, k)
        suffix = f":y={b}" if multi else ""
        body = LogMeanExp(Sum(log_w, Sym(" + ", " + ")), tiled, k, sym)
        return [_Part(f"iw_bound{suffix}", groups, 1.0, -1, body, [], (), "iw_bound")]

    def iw_sym(self, ctx: str, density_terms: list[EdgeInfo], dashed: list, k: int) -> Sym:
        facs: list[Sym] = []
        num: list[Sym] = []
        den: list[Sym] = []
        for ei in density_terms:
            tgt = self.p.source(ctx, ei.edge.target)
            ins = [self.p.source(ctx, i) for i in ei.inputs]
            facs += list(tgt.factors) + _factors(ins)
            num.append(call(ei.sym, [tgt.expr], [s.expr for s in ins]))
        for v, ei in dashed:
            src = self.p.source(ctx, v)
            if v in self.priors:
                num.append(call(Sym("p", "p"), [src.expr]))
            ins = [self.p.source(ctx, i) for i in ei.inputs]
            den.append(call(ei.sym, [src.expr], [s.expr for s in ins]))
        ratio = Sym.join(num, " ", " \\, ") + Sym(" / ", " \\big/ ") + Sym.join(den, " ", " \\, ")
        return expectation(facs) + Sym(f"log (1/{k}) Σ_{{i=1..{k}}} ", f"\\log \\frac{{1}}{{{k}}} \\sum_{{i=1}}^{{{k}}} ") + ratio

    # -- rule 3 ---------------------------------------------------------------------------------------------------
    def sides(self, ei: EdgeInfo) -> tuple[str, str]:
        """The contexts of the real side (y = 1) and of the generated side of a red edge."""
        e = ei.edge
        real = "y=1"
        for v in ei.inputs:
            self.resolve(real, v, e)
        def signatures(ctx: str) -> list | None:
            try:
                return [self.p.source(ctx, v).signature for v in ei.inputs]
            except Unresolved:
                return None

        sig1 = signatures(real)
        for generated in ("y=0", "gen"):  # a dashed producer for y = 0, else the ancestral sample
            sig = signatures(generated)
            if sig is not None and sig != sig1:
                return real, generated
        tested = ", ".join(ei.inputs)
        raise self.err(
            f"this red edge compares the real and the generated branch of {tested}, but {tested} has the same value in both branches",
            e,
            hint="give the tested node a dashed producer for the generated branch (`z, y ==> x : G_theta = ...`) or a solid producer",
        )

    def d_sym(self, ei: EdgeInfo, srcs: list[Source]) -> Sym:
        return call(ei.sym, [s.expr for s in srcs])

    def adversarial_terms(self, ei: EdgeInfo) -> None:
        real, gen = self.sides(ei)
        self.adversary_term(ei, real, gen)
        r_srcs, r_groups = _side(self.p, real, ei.inputs)
        g_srcs, g_groups = _side(self.p, gen, ei.inputs)
        groups = (r_groups | g_groups) - {ei.edge.group}
        if not groups:
            raise self.err("nothing learns from this adversary: neither the real nor the generated side depends on parameters", ei.edge)
        form = self.o.adversarial
        k = self.o.importance_samples
        iw = k > 1
        if iw:
            if form != "non_saturating" or not g_groups:
                raise SpecError(
                    "importance weighting of the generator's adversarial loss needs adversarial = non_saturating and a generated side with parameters",
                    span=self.option_span("importance_samples"),
                )
            self.used_iw = True
        use_real, use_gen = bool(r_groups - {ei.edge.group}), bool(g_groups - {ei.edge.group})
        dr, dg = self.d_sym(ei, r_srcs), self.d_sym(ei, g_srcs)
        er, eg = expectation(_factors(r_srcs)), expectation(_factors(g_srcs))
        sign, (rpart, gpart) = _REVERSED[form]
        rform, gform = _REVERSED_FORMS[form]
        parts: list[tuple[float, Expr]] = []
        if use_real:
            parts.append((1.0, Side(rform, ei, real, False, True, rpart(er, dr))))
        if use_gen:
            if iw:
                s = eg + Sym(f"Σ_{{i=1..{k}}} w̄_i log ", f"\\sum_{{i=1}}^{{{k}}} \\bar w_i \\log ") + call(ei.sym, [Sym(s_.expr.u + "_i", s_.expr.tex + "_i") for s_ in g_srcs])
                parts.append((1.0, IWSide(ei, gen, k, s)))
            else:
                parts.append((1.0, Side(gform, ei, gen, False, True, gpart(eg, dg))))
        joiner = Sym(" − ", " - ") if sign < 0 else Sym(" + ", " + ")
        self.emit_expr(f"reversed:{ei.name}", groups, 1.0, sign, Sum(parts, joiner), "reversed")

    def adversary_term(self, ei: EdgeInfo, real: str, gen: str) -> None:
        """phi's term: -[E_real log D(v) + E_gen log(1 - D(v))] at detached samples (or another form)."""
        r_srcs, r_groups = _side(self.p, real, ei.inputs)
        g_srcs, g_groups = _side(self.p, gen, ei.inputs)
        dr, dg = self.d_sym(ei, r_srcs), self.d_sym(ei, g_srcs)
        er, eg = expectation(_factors(r_srcs)), expectation(_factors(g_srcs))
        form = self.o.adversarial
        sign, (rform, gform, joiner, gen_coef) = _ADVERSARY[form]
        detach_r, detach_g = bool(r_groups), bool(g_groups)
        real_side = Side(rform, ei, real, detach_r, False, _ADVERSARY_SYM[form][0](er, dr))
        gen_side = Side(gform, ei, gen, detach_g, False, _ADVERSARY_SYM[form][1](eg, dg))
        if form == "wasserstein":  # printed and summed generated side first: 𝔼 D(G) − 𝔼 D(x)
            top = Sum([(1.0, gen_side), (-1.0, real_side)], joiner)
        else:
            top = Sum([(1.0, real_side), (gen_coef, gen_side)], joiner)
        group = frozenset([ei.edge.group]) if ei.edge.group else frozenset()
        self.emit_expr(f"adversary:{ei.name}", group, 1.0, sign, top, "adversary")
        if form == "wasserstein" and self.o.gradient_penalty > 0:
            hat = call(ei.sym, [Sym("x̂", "\\hat{x}")])
            body = Sym("𝔼_{x̂} (‖∇ ", "\\mathbb{E}_{\\hat{x}} (\\|\\nabla ") + hat + Sym("‖ − 1)²", "\\| - 1)^2")
            gp = self.o.gradient_penalty
            self.emit_expr(f"gradient_penalty:{ei.name}", group, gp, 1, GradPenalty(ei, real, gen, body), "gradient_penalty", None, "gradient_penalty", Sym(f"{gp:g}·", f"{gp:g} \\cdot "))

    def pool_adversary(self, ei: EdgeInfo) -> None:
        """Rule 4: phi plays the game on real v against the generated side (ancestral, detached)."""
        gen = self.pool_context(ei)
        self.adversary_term(ei, "y=0", gen)

    # -- rule 6 ---------------------------------------------------------------------------------------------------
    def kernel_terms(self, ei: EdgeInfo) -> None:
        real, gen = self.sides(ei)
        r_srcs, r_groups = _side(self.p, real, ei.inputs)
        g_srcs, g_groups = _side(self.p, gen, ei.inputs)
        groups = r_groups | g_groups
        if not groups:
            raise self.err("a kernel test needs a generated side with parameters to train; nothing here depends on a network", ei.edge)
        bw = tuple(float(a) for a in ei.edge.kernel.args) or (1.0,)  # type: ignore[union-attr]

        def tup(srcs: list[Source]) -> Sym:
            return Sym.join([s.expr for s in srcs], ", ") if len(srcs) == 1 else Sym("(", "(") + Sym.join([s.expr for s in srcs], ", ") + Sym(")", ")")

        def dist(srcs: list[Source]) -> Sym:
            return Sym.join(list(dict.fromkeys(_factors(srcs))), " ", " \\, ")

        body = Sym("MMD²(", "\\mathrm{MMD}^2(") + tup(r_srcs) + Sym(" ∼ ", " \\sim ") + dist(r_srcs) + Sym(", ", ", ") + tup(g_srcs) + Sym(" ∼ ", " \\sim ") + dist(g_srcs) + Sym(")", ")")
        self.emit_expr(f"mmd:{ei.name}", groups, 1.0, 1, MMD2(ei, real, gen, bw, body), "mmd")

    # -- rule 7 ---------------------------------------------------------------------------------------------------
    def sleep_term(self, ei: EdgeInfo) -> None:
        e = ei.edge
        if ei.head is None:
            raise self.err("`no_reparam` trains the edge by the sleep phase, which scores log q as a density; a deterministic (hollow) edge has none", e)
        tgt = self.resolve("sleep", e.target, e)
        ins = [self.resolve("sleep", i, e) for i in ei.inputs]
        factors = expectation(tgt.factors + tuple(_factors(ins)))
        top = Mean(LogProb(ei, e.target, call(ei.sym, [tgt.expr], [s.expr for s in ins])), "sleep", factors)
        self.emit_expr(f"sleep:{ei.name}", frozenset([e.group]) if e.group else frozenset(), 1.0, -1, top, "sleep")


# -- adversarial forms -------------------------------------------------------------------------------------------
def _log_d(e: Sym, d: Sym) -> Sym:
    return e + LOG + d


def _log_1md(e: Sym, d: Sym) -> Sym:
    return e + Sym("log(1 − ", "\\log(1 - ") + d + Sym(")", ")")


_ADVERSARY = {
    # sign, (real form, generated form, joiner, generated coefficient)
    "non_saturating": (-1, ("log_d", "log_1md", Sym(" − ", " - "), 1.0)),
    "minimax": (-1, ("log_d", "log_1md", Sym(" − ", " - "), 1.0)),
    "least_squares": (1, ("half_sq_m1", "half_sq", Sym(" + ", " + "), 1.0)),
    "hinge": (1, ("hinge_real", "hinge_gen", Sym(" + ", " + "), 1.0)),
    "wasserstein": (1, ("id", "id", Sym(" − ", " - "), -1.0)),
}

_ADVERSARY_SYM: dict[str, tuple[Callable[[Sym, Sym], Sym], Callable[[Sym, Sym], Sym]]] = {
    "non_saturating": (_log_d, _log_1md),
    "minimax": (_log_d, _log_1md),
    "least_squares": (
        lambda e, d: Sym("½", "\\tfrac12 ") + e + Sym("(", "(") + d + Sym(" − 1)²", " - 1)^2"),
        lambda e, d: Sym("½", "\\tfrac12 ") + e + d + Sym("²", "^2"),
    ),
    "hinge": (
        lambda e, d: e + Sym("max(0, 1 − ", "\\max(0, 1 - ") + d + Sym(")", ")"),
        lambda e, d: e + Sym("max(0, 1 + ", "\\max(0, 1 + ") + d + Sym(")", ")"),
    ),
    "wasserstein": (lambda e, d: e + d, lambda e, d: e + d),
}


def _neg_mean(e: Sym, d: Sym) -> Sym:
    return Sym("−", "-") + e + d


_REVERSED = {
    # sign, (real-side piece, generated-side piece): the labels flipped
    "non_saturating": (-1, (_log_1md, _log_d)),
    "minimax": (1, (_log_d, _log_1md)),
    "least_squares": (1, (lambda e, d: Sym("½", "\\tfrac12 ") + e + d + Sym("²", "^2"), lambda e, d: Sym("½", "\\tfrac12 ") + e + Sym("(", "(") + d + Sym(" − 1)²", " - 1)^2"))),
    "hinge": (1, (lambda e, d: e + d, _neg_mean)),
    "wasserstein": (1, (lambda e, d: e + d, _neg_mean)),
}

_REVERSED_FORMS = {
    "non_saturating": ("log_1md", "log_d"),
    "minimax": ("log_d", "log_1md"),
    "least_squares": ("half_sq", "half_sq_m1"),
    "hinge": ("id", "neg"),
    "wasserstein": ("id", "neg"),
}

_iw_log_d = iw_log_d


class _Pooled(Pool):
    """The pool's formula in parentheses (its sign applies to both halves)."""

    def sym(self) -> Sym:
        return Sym("(", "(") + super().sym() + Sym(")", ")")


def derive(graph: SchematicGraph, planner: Planner, infos: list[EdgeInfo], priors: dict[str, Prior], err: Callable[..., SpecError], option_span: Callable[[str], object]) -> Compiled:
    """Read the objective off the graph."""
    return _Deriver(graph, planner, infos, priors, err, option_span).derive()

