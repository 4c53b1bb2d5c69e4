"""Rules 8 and 9 of the walk: the importance-weighted bound (IWAE) and the walkback chain of a
corruption and its denoiser (DAE)."""

from __future__ import annotations

from torch import Tensor

from ..errors import SpecError
from ..graph.model import Process, Role
from .derive_base import PerSample, _DeriverBase, _factors, _Part
from .ir import Expr, LogPrior, LogProb
from .ir_games import LogMeanExp, Sum
from .planner import Context, EdgeInfo, Source, Unresolved
from .run import Run
from .terms import Sym, call, expectation

__all__: list[str] = []


class _Bounds(_DeriverBase):
    def score_fn(self, ei: EdgeInfo, target_ctx: str | None = None) -> PerSample:
        target = ei.edge.target

        def fn(run: Run, ctx: str) -> Tensor:
            return run.dist(ctx, ei).log_prob(run.value(target_ctx or ctx, target))

        return fn

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
                self.p.add(
                    Context(name, "round", b, parent=ctx, overrides={a: src}, indicator=self.p.contexts[ctx].indicator)
                )
            rounds.append(name)
        score = self.score_fn(ei, target_ctx=ctx)
        key = f"sample:{ei.name}:"

        def fn(run: Run, base: str) -> Tensor:
            if base != rounds[0]:  # the chain is planned from one context: never its value at another
                raise SpecError(
                    f"internal error: the walkback chain of {ei.name}, planned in {rounds[0]}, was read in {base}",
                    hint="please report the spec",
                )
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
    def iw_parts(
        self,
        b: int,
        ctx: str,
        parts: list,
        density_terms: list[EdgeInfo],
        hollow: list[EdgeInfo],
        kls: list,
        pool: EdgeInfo | None,
        multi: bool,
        p_sides: list[EdgeInfo],
    ) -> list:
        """Rule 8: one term -E log (1/k) sum_i p(x, z_i) / q(z_i | x) in place of the branch's scores and KLs."""
        k = self.o.importance_samples
        if pool is not None:
            raise SpecError(
                "importance weighting of the bound together with a dashed red edge with a network is not supported",
                span=self.option_span("importance_samples"),
            )
        for e in hollow:
            raise self.err(
                f"importance weighting scores p({e.edge.target} | ...) as a density, but this edge is "
                "deterministic (hollow)",
                e.edge,
                hint="draw it with a distribution (`->` with bernoulli or normal), or remove importance_samples",
            )
        self.used_iw = True
        tiled = f"{ctx}*{k}"
        if tiled not in self.p.contexts:
            self.p.add(Context(tiled, "branch", b, tile=k, tag=ctx, indicator=self.p.contexts[ctx].indicator))
        groups = frozenset().union(*(t.groups for t in parts))
        density_terms = density_terms + p_sides
        dashed = [(v, ei) for v, ei, _ in kls]
        stochastic_dashed = []
        for v, _node in self.g.nodes.items():
            try:
                src = self.p.source(tiled, v)
            except Unresolved:
                continue
            if (
                src.kind == "edge"
                and src.edge is not None
                and self.infos[src.edge].head is not None
                and self.infos[src.edge].edge.process is Process.inference
            ):
                stochastic_dashed.append((v, self.infos[src.edge]))
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
        return (
            expectation(facs)
            + Sym(f"log (1/{k}) Σ_{{i=1..{k}}} ", f"\\log \\frac{{1}}{{{k}}} \\sum_{{i=1}}^{{{k}}} ")
            + ratio
        )
