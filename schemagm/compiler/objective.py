"""The rule: walk the graph once and emit the objective's terms, each with the expression tree that
gives its value and its formula (docs/design.md section 4).  This module holds the walk and the
rule's factors (rules 1, 2: every branch's KL and likelihood terms, discrete samples); the bounds
(rules 8, 9) are in bounds.py, the games of the red edges, the kernel test and the sleep phase
(rules 3 to 7) in games.py, the shared emitters in derive_base.py.

Nothing here looks at the model's name, its node names or its network labels: only at roles,
priors, solid/dashed, hollow/filled, red, networks present or not, branches and options.
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import Span, SpecError
from ..graph.model import Edge, Process, Role, SchematicGraph
from ..graph.rule_check import ENUMERATE_MAX, support_size  # noqa: F401 - ENUMERATE_MAX: the largest support summed over exactly
from .bounds import _Bounds
from .derive_base import ADVERSARY, MODEL, Compiled, PerSample, Value, _DeriverBase, _factors, _Part, _prefix, _side  # noqa: F401 - public names stay here
from .distributions import Prior, support
from .games import _Games
from .ir import KL, Diff, EnumSum, Expect, Expr, LogPrior, LogProb, Mean, Neg, Opaque, Pool, Recon, Score
from .ir_games import iw_log_d
from .partial import CodeLogLik, Observed, ObservedMean, PartialEnumSum, supervised_weight
from .planner import ACTIVATIONS, EdgeInfo, Planner, Source, Unresolved
from .terms import LOG, Objective, Phase, Sym, call, expectation, node_sym

__all__ = ["Compiled", "derive"]

_iw_log_d = iw_log_d


class _Deriver(_Bounds, _Games):
    # -- the rule --------------------------------------------------------------------------------------------
    def derive(self) -> Compiled:
        g, p = self.g, self.p
        dashed_red = [ei for ei in self.infos if ei.edge.adversarial and ei.edge.process is Process.inference]
        solid_red = [ei for ei in self.infos if ei.edge.adversarial and ei.edge.process is Process.generative]
        pool: EdgeInfo | None = None
        if dashed_red:
            for ei in dashed_red:
                if ei.edge.kernel is not None:
                    raise self.err(
                        "a kernel test belongs on a solid red edge (the generated side is tested against data)", ei.edge
                    )
                for v in ei.inputs:
                    src = self.resolve("y=0", v, ei.edge)
                    if src.kind != "data":
                        raise self.err(
                            f"a dashed red edge re-weights the generated branch by the adversary, so '{v}' "
                            "must be data in the branch y=0",
                            ei.edge,
                        )
            with_net = [ei for ei in dashed_red if ei.net_key]
            if len(with_net) > 1:
                raise self.err(
                    "only one dashed red edge with a network can re-weight the generated branch", with_net[1].edge
                )
            pool = with_net[0] if with_net else None
            scored = [br.name for br in p.branches if br.value == 0]
        else:
            scored = [br.name for br in p.branches]
        solid = [ei for ei in self.infos if ei.edge.process is Process.generative and not ei.edge.adversarial]
        for ctx in scored:
            self.branch_terms(ctx, solid, scored, pool)
        for ei in solid_red:
            if ei.edge.kernel is not None:
                self.kernel_terms(ei)
            elif ei.net_key:
                self.adversarial_terms(ei)
            else:
                raise self.err(
                    "a perfect adversary on a solid red edge would give the generator log 0: only a dashed red "
                    "edge can be perfect",
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
                f"importance_samples = {k} has nothing to weight: importance weighting needs a dashed edge "
                f"with a density into a latent node with a prior, or a red edge with a discriminator{what}",
                span=self.option_span("importance_samples"),
                hint="remove the option, or draw the inference edge as stochastic (`-->` with a distribution)",
            )
        if self.o.walkback > 1 and not self.used_walkback:
            raise SpecError(
                f"walkback = {self.o.walkback} needs a dashed edge a --> b and a solid edge b -> a (a "
                "corruption and its denoiser)",
                span=self.option_span("walkback"),
            )
        phases = []
        model_groups = [gr for gr in g.groups if gr not in self.owners]
        for phase_name in dict.fromkeys(self.owner_phase.values()):  # one adversary phase per game
            owners = tuple(gr for gr in self.owners if self.owner_phase[gr] == phase_name)
            phases.append(Phase(phase_name, owners, self.o.discriminator_steps))
        if model_groups:
            phases.append(Phase(MODEL, tuple(model_groups), 1))
        obj = Objective(self.terms, phases)
        coefs = {t.name: t.sign * t.weight for t in self.terms}
        return Compiled(obj, self.values, self.exprs, coefs)

    # -- rules 1, 2, 8, 9 (+ 4, 5: the pool of a dashed red edge) ----------------------------------------------
    def branch_terms(self, ctx: str, solid: list[EdgeInfo], scored: list[str], pool: EdgeInfo | None) -> None:
        """The terms of one branch (SEMANTICS §2, rule 2): every dashed stochastic factor
        +𝔼 log q(v | pa) paired with v's p-side (its prior or its solid producer) into one term
        KL(q ‖ p), every other solid factor −𝔼 log p(v | pa); or the importance-weighted bound."""
        o = self.o
        p = self.p
        b = p.contexts[ctx].branch
        assert b is not None
        multi = len(scored) > 1
        serving = [ei for ei in solid if p.serves(ei.edge, p.contexts[ctx])]
        solid_into: dict[str, list[EdgeInfo]] = {}
        for ei in serving:
            solid_into.setdefault(ei.edge.target, []).append(ei)

        def several(ei: EdgeInfo) -> bool:  # scored in more than one branch: its terms name the branch
            return sum(p.serves(ei.edge, p.contexts[c]) for c in scored) > 1

        # the dashed stochastic factors of the branch and their p-sides
        pairs: list[
            tuple[str, EdgeInfo, Source, EdgeInfo | None]
        ] = []  # (v, q edge, v's source, solid p-side or None: prior)
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
            discrete = (
                src.mode == "sample"
                and ei.edge.reparameterize
                and ei.head is not None
                and ei.head.density in ("categorical", "bernoulli")
            )
            if v in self.tested:
                if discrete and (ei.edge.group or src.groups):
                    raise self.err(
                        f"'{v}' is a discrete sample without a reparameterisation, and a red edge tests it: "
                        f"the adversary's gradient cannot reach {ei.name}",
                        ei.edge,
                        hint="draw it with a relaxed head (`relaxed_categorical`, `relaxed_bernoulli`)",
                    )
                continue
            producers = solid_into.get(v, [])
            has_prior = (node.role is Role.latent and node.prior is not None) or node.missing_prior is not None
            if not has_prior and not producers:
                if ei.head is not None and ei.corruption is None and ei.edge.group and ei.edge.reparameterize:
                    raise self.err(
                        f"'{v}' is inferred by the stochastic {ei.name}, but the generative process has no "
                        f"factor for it: q({v} | ...) has no p-side to be matched with",
                        ei.edge,
                        hint=f"give '{v}' a prior (`latent {v} : normal[...]`) or a solid producer, or make "
                        "the arrow hollow (==>) for a deterministic code",
                    )
                continue  # no p-side: a fixed corruption (DAE) or a deterministic code (AE)
            p_name = f"p({v})" if has_prior else f"p({v} | ...)"
            if has_prior and producers:
                raise self.err(
                    f"'{v}' has a prior and a solid producer, so its p-side would be counted twice: p({v}) and "
                    f"{producers[0].name}",
                    producers[0].edge,
                    hint="a hierarchical latent takes its p-side from its solid producer: remove the prior of "
                    f"'{v}' (write `latent {v} : real[...]`)",
                )
            if ei.corruption is not None:
                raise self.err(
                    f"'{v}' has a p-side {p_name}, so its dashed producer needs a density for KL(q || "
                    f"{p_name}), but a corruption has none",
                    ei.edge,
                )
            if ei.edge.deterministic:
                raise self.err(
                    f"'{v}' has a {'prior' if has_prior else 'solid producer'} but its dashed producer is "
                    f"deterministic (hollow): an implicit distribution has no density for KL(q || {p_name})",
                    ei.edge,
                    hint=f"draw it stochastic (`-->` with a distribution), or test '{v}' against its "
                    f"{'prior' if has_prior else 'generative side'} with a red edge "
                    f"(`{v} -> y : D_phi = mlp(...) adversarial`)",
                )
            if len(producers) > 1:
                raise self.err(f"'{v}' has two solid producers in the branch y={b}", producers[1].edge)
            if not ei.edge.reparameterize:
                # rule 7: the wake phase scores the p-side at detached samples; the q-side is the sleep phase's
                if producers:
                    wake_only.add(producers[0].index)
                    continue
                ins = [p.source(ctx, i) for i in ei.inputs]
                if (
                    frozenset([ei.edge.group] if ei.edge.group else []) | frozenset().union(*(s.groups for s in ins))
                ) <= {ei.edge.group}:
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
            suffix = f":{ctx}" if several(ei) else ""
            weight, wname = (1.0, None) if tgt.from_data else (o.mi_weight, "mi_weight")
            if e.weight is not None:  # the edge's own setting: a factor on its term (CycleGAN's λ)
                weight, wname = weight * e.weight, "weight" if wname is None else "weight·mi_weight"
            over = list(tgt.factors) + _factors(ins)
            nodes = (e.target, *ei.inputs)
            if ei.corruption is not None:
                raise self.err("a corruption has no density to score on a solid edge", e)
            if e.deterministic:
                kind = self.recon_kind(e, ei)
                s = call(Sym(kind, f"\\mathrm{{{kind}}}"), [tgt.expr, call(ei.sym, [s_.expr for s_ in ins])])
                logits = ei.activation is None and kind == "bce"
                body: Expr = Recon(ei, e.target, kind, ACTIVATIONS[None if logits else ei.activation], logits, s)
                parts.append(
                    _Part(f"recon:{ei.name}{suffix}", groups, weight, 1, body, over, nodes, "reconstruction", wname)
                )
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
                parts.append(
                    _Part(
                        f"nll:{ei.name}{suffix}",
                        groups,
                        weight,
                        -1,
                        LogProb(ei, e.target, dens),
                        over,
                        nodes,
                        "score",
                        wname,
                    )
                )
            density_terms.append(ei)
        node_of = self.g.nodes.__getitem__
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
                groups = (
                    groups
                    | frozenset([prod.edge.group] if prod.edge.group else [])
                    | frozenset().union(*(s.groups for s in p_ins))
                )
                pside = LogProb(prod, v, call(prod.sym, [src.expr], [s.expr for s in p_ins]))
                p_family = prod.head.density if prod.head is not None else ""
            coupled = any(v in p.depends(ctx, i) for i in (prod.inputs if prod is not None else ()))
            closed = (
                not coupled
                and o.kl == "analytic"
                and ei.head is not None
                and ei.head.density == p_family
                and p_family in ("normal", "categorical", "bernoulli")
            )
            non_data = [f for s in (*ins, *p_ins) if not s.from_data for f in s.factors]
            if coupled:
                kbody: Expr = Diff(q, pside)
                over = [f for s in ins for f in s.factors] + list(src.factors) + _factors(p_ins)
            else:
                kbody = KL(q, pside, analytic=closed)
                over = non_data
            if node_of(v).partial:  # observed rows: the prior's factor; missing rows: the KL
                kbody = Observed(v, Neg(LogPrior(v, self.priors[v], call(Sym("p", "p"), [src.expr]))), kbody)
            nodes = (*ei.inputs, *(prod.inputs if prod is not None else ())) + (() if closed else (v,))
            wsym = Sym("β·", "\\beta \\cdot ") if o.beta == 1.0 else None
            parts.append(
                _Part(
                    f"kl:{ei.name}" + (f":{ctx}" if several(ei) else ""),
                    groups,
                    o.beta,
                    1,
                    kbody,
                    over,
                    nodes,
                    "kl",
                    "beta",
                    wsym,
                )
            )
        # rule 8: importance weighting of the bound
        if o.importance_samples > 1 and kls:
            if special:
                v = next(iter(special))
                raise self.err(
                    f"importance weighting of the bound needs reparameterised samples, but '{v}' is discrete",
                    special[v][1].edge,
                    hint="remove importance_samples, or draw the edge with a relaxed head "
                    "(`relaxed_categorical`, `relaxed_bernoulli`)",
                )
            parts = self.iw_parts(
                b, ctx, parts, density_terms, hollow, kls, pool, multi, [self.infos[i] for i in consumed | wake_only]
            )
        for part in parts:
            body, groups = part.body, part.groups
            deps = [v for v in special if any(v in p.depends(ctx, n) for n in part.nodes)]
            deps.sort(key=lambda v: len(p.depends(ctx, v)))
            scores = [v for v in deps if special[v][0] == "score"]
            for v in deps:
                qe = special[v][1]
                groups = (
                    groups
                    | frozenset([qe.edge.group] if qe.edge.group else [])
                    | frozenset().union(*(p.source(ctx, i).groups for i in qe.inputs))
                )
            summed = [v for v in deps if special[v][0] == "enumerate"]
            if summed and part.kind == "walkback":
                # the chain runs once, at the branch's own values: summing it over v's values would weight
                # one value by q(v | ...), whose weights sum to one -- no gradient would reach q
                qe = special[summed[0]][1]
                raise self.err(
                    f"walkback = {o.walkback} runs one chain, so it cannot be summed over the values of the "
                    f"enumerated '{summed[0]}': {qe.name} would get no gradient from it",
                    qe.edge,
                    hint="use `discrete = score` (the chain at a sample of "
                    f"'{summed[0]}', with a score-function gradient), or remove walkback",
                )
            if scores:
                body = Score(body, [LogProb(special[v][1], v, Sym("", "")) for v in scores], part.name)
            over = part.over
            for v in reversed(summed):
                qe = special[v][1]
                qsym = call(qe.sym, [node_sym(v)], [p.source(ctx, i).expr for i in qe.inputs])
                inner = self.downstream_factors(ctx, v, part.nodes)
                if inner:
                    body = Expect(body, expectation(inner))
                body = (PartialEnumSum if node_of(v).partial else EnumSum)(v, qe, special[v][2], body, p, qsym)
                over = [f for f in over if f != qsym and f not in inner]  # summed exactly, not sampled
            if pool is not None:
                top: Expr = self.pooled(body, pool)
            else:
                top = Mean(body, ctx, expectation(over))
            self.emit_expr(part.name, groups, part.weight, part.sign, top, part.kind, b, part.wname, part.wsym)
        for v, node in self.g.nodes.items():
            if node.partial:
                src = p.source(ctx, v)
                if src.kind == "edge" and self.infos[src.edge].edge.process is Process.inference:  # type: ignore[index]
                    self.supervised_term(ctx, b, v, self.infos[src.edge], src, pool)  # type: ignore[index]

    def supervised_term(self, ctx: str, b: int, v: str, ei: EdgeInfo, src: Source, pool: EdgeInfo | None) -> None:
        """M2's α-weighted classification on the rows where the partially observed ``v`` is
        observed: α·𝔼_observed[−log q(v° | pa)] (compiler/partial.py)."""
        if pool is not None or self.o.importance_samples > 1:
            raise self.err(
                f"the partially observed '{v}' cannot be combined with "
                + ("a dashed red edge with a network" if pool is not None else "importance weighting"),
                ei.edge,
            )
        alpha = supervised_weight(ei.edge)
        if alpha == 0.0 or ei.index in self.supervised:
            return
        self.supervised.add(ei.index)
        ins = [self.p.source(ctx, i) for i in ei.inputs]
        groups = frozenset([ei.edge.group] if ei.edge.group else []) | frozenset().union(*(s.groups for s in ins))
        q: Expr
        if ei.head is not None:
            q = LogProb(ei, v, call(ei.sym, [node_sym(v)], [s.expr for s in ins]))
        elif ei.activation in ("softmax", "sigmoid") and ei.net_key:
            q = CodeLogLik(ei, v, call(ei.sym, [node_sym(v)], [s.expr for s in ins]))
        else:
            raise self.err(
                f"the hollow edge into the partially observed '{v}' needs `-> softmax` (a categorical code) "
                "or `-> sigmoid` (a bernoulli one) for its supervised term",
                ei.edge,
            )
        data = ", ".join([*(i for i, s_ in zip(ei.inputs, ins, strict=True) if s_.from_data), f"{v}°"])
        tex = data.replace("°", "^\\circ")
        over = expectation(
            [Sym(f"p_data({data})", f"p_{{\\mathrm{{data}}}}({tex})")]
            + [f for s_ in ins if not s_.from_data for f in s_.factors]
        )
        self.emit_expr(f"supervised:{ei.name}", groups, alpha, -1, ObservedMean(q, ctx, v, over), "supervised", b)

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
        if node.partial and choice != "enumerate":
            raise self.err(
                f"the partially observed '{v}' is summed over where missing, but "
                + (f"it takes {size} values, more than {ENUMERATE_MAX}" if choice == "auto" else "discrete = score"),
                ei.edge,
                hint="a partially observed node is enumerated: give it at most 64 values "
                "(and `discrete = auto` or `enumerate`)",
            )
        if choice == "enumerate":
            if size is None or size > ENUMERATE_MAX:
                raise SpecError(
                    f"discrete = enumerate: '{v}' takes {size} values, more than the {ENUMERATE_MAX} this "
                    "compiler sums over",
                    span=self.option_span("discrete"),
                    hint="use `discrete = score` (a score-function estimator with a baseline) or a relaxed head",
                )
            return ("enumerate", ei, support(kind, node.shape))
        return ("score", ei, [])

    def recon_kind(self, e: Edge, ei: EdgeInfo) -> str:
        kind: str = self.o.reconstruction
        if e.distance is not None:  # the edge's own setting: l1, l2 (printed mse: a sum of squares) or bce
            kind = {"l1": "l1", "l2": "mse", "bce": "bce"}[e.distance]
        if kind == "auto":
            node = self.g.nodes[e.target]
            lo_hi = node.range
            unit = node.value == "bernoulli" or (lo_hi is not None and lo_hi[0] >= 0.0 and lo_hi[1] <= 1.0)
            kind = "bce" if unit else "mse"
        if kind == "bce" and ei.activation not in (None, "sigmoid"):
            raise self.err(
                f"bce reconstruction needs probabilities, but this edge ends with '{ei.activation}'",
                e,
                hint="end it with `-> sigmoid`, or set `reconstruction = mse`",
            )
        return kind

    def pooled(self, body: Expr, red: EdgeInfo) -> Expr:
        """Rule 4: mean_real(w * l) + mean_gen(w * l) with w = stopgrad(D(v))."""
        gen_ctx = self.pool_context(red)
        real_srcs = [self.p.source("y=0", v) for v in red.inputs]
        gen_srcs = [self.p.source(gen_ctx, v) for v in red.inputs]
        return _Pooled(
            body,
            red,
            "y=0",
            gen_ctx,
            expectation(_factors(real_srcs)),
            expectation(_factors(gen_srcs)),
            call(red.sym, [s.expr for s in real_srcs]),
            call(red.sym, [s.expr for s in gen_srcs]),
        )

    # -- rule 9 -------------------------------------------------------------------------------------------------


class _Pooled(Pool):
    """The pool's formula in parentheses (its sign applies to both halves)."""

    def sym(self) -> Sym:
        return Sym("(", "(") + super().sym() + Sym(")", ")")


def derive(
    graph: SchematicGraph,
    planner: Planner,
    infos: list[EdgeInfo],
    priors: dict[str, Prior],
    err: Callable[..., SpecError],
    option_span: Callable[[str], Span | None],
) -> Compiled:
    """Read the objective off the graph."""
    return _Deriver(graph, planner, infos, priors, err, option_span).derive()
