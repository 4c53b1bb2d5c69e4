"""Rules 3 to 7 of the walk: the adversarial games of the red edges (owner and reversed terms,
every form, the gradient penalty, the pool of a dashed red edge), the kernel test and the sleep phase."""

from __future__ import annotations

from collections.abc import Callable

from ..errors import SpecError
from .derive_base import _DeriverBase, _factors, _side
from .ir import Expr, LogProb, Mean
from .ir_games import MMD2, GradPenalty, IWSide, Side, Sum
from .planner import Context, EdgeInfo, Source, Unresolved
from .terms import LOG, Sym, call, expectation

__all__: list[str] = []


class _Games(_DeriverBase):
    def pool_context(self, red: EdgeInfo) -> str:
        name = "y=0:gen"
        if name not in self.p.contexts:
            overrides = {}
            for v in red.inputs:
                g = self.resolve("gen", v, red.edge)
                overrides[v] = Source(
                    "copy", v, name, parent="gen", detach=True, expr=g.expr, factors=g.factors, signature=g.signature
                )
            self.p.add(Context(name, "pool", 0, parent="y=0", overrides=overrides))
        return name

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
        gen0 = self.p.branch_context(e.target, 0)  # the branch where this red edge's indicator is 0
        several = len(self.p.branches) > 2
        for generated in (
            (gen0,) if several else (gen0, "gen")
        ):  # a dashed producer for y = 0, else the ancestral sample
            sig = signatures(generated)
            if sig is not None and sig != sig1:
                return real, generated
        tested = ", ".join(ei.inputs)
        if several:
            raise self.err(
                f"this red edge compares {tested} in the real branch and in the branch {gen0}, "
                f"but {tested} has the same value in both",
                e,
                hint=f"give '{tested}' a dashed producer for the branch {gen0} "
                f"(`..., {e.target} ==> {tested} : G_theta = ...`)",
            )
        raise self.err(
            f"this red edge compares the real and the generated branch of {tested}, but {tested} has the same "
            "value in both branches",
            e,
            hint="give the tested node a dashed producer for the generated branch (`z, y ==> x : G_theta = "
            "...`) or a solid producer",
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
            raise self.err(
                "nothing learns from this adversary: neither the real nor the generated side depends on parameters",
                ei.edge,
            )
        form = ei.edge.form or self.o.adversarial
        w = ei.edge.weight if ei.edge.weight is not None else 1.0
        k = self.o.importance_samples
        iw = k > 1
        if iw:
            if form != "non_saturating" or not g_groups:
                raise SpecError(
                    "importance weighting of the generator's adversarial loss needs adversarial = "
                    "non_saturating and a generated side with parameters",
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
                s = (
                    eg
                    + Sym(f"Σ_{{i=1..{k}}} w̄_i log ", f"\\sum_{{i=1}}^{{{k}}} \\bar w_i \\log ")
                    + call(ei.sym, [Sym(s_.expr.u + "_i", s_.expr.tex + "_i") for s_ in g_srcs])
                )
                parts.append((1.0, IWSide(ei, gen, k, s)))
            else:
                parts.append((1.0, Side(gform, ei, gen, False, True, gpart(eg, dg))))
        joiner = Sym(" − ", " - ") if sign < 0 else Sym(" + ", " + ")
        top = _weighted(Sum(parts, joiner), w, sign)
        self.emit_expr(f"reversed:{ei.name}", groups, w, sign, top, "reversed", None, _wname(ei))

    def adversary_term(self, ei: EdgeInfo, real: str, gen: str) -> None:
        """phi's term: -[E_real log D(v) + E_gen log(1 - D(v))] at detached samples (or another form)."""
        r_srcs, r_groups = _side(self.p, real, ei.inputs)
        g_srcs, g_groups = _side(self.p, gen, ei.inputs)
        dr, dg = self.d_sym(ei, r_srcs), self.d_sym(ei, g_srcs)
        er, eg = expectation(_factors(r_srcs)), expectation(_factors(g_srcs))
        form = ei.edge.form or self.o.adversarial
        w = ei.edge.weight if ei.edge.weight is not None else 1.0
        sign, (rform, gform, joiner, gen_coef) = _ADVERSARY[form]
        detach_r, detach_g = bool(r_groups), bool(g_groups)
        real_side = Side(rform, ei, real, detach_r, False, _ADVERSARY_SYM[form][0](er, dr))
        gen_side = Side(gform, ei, gen, detach_g, False, _ADVERSARY_SYM[form][1](eg, dg))
        if form == "wasserstein":  # printed and summed generated side first: 𝔼 D(G) − 𝔼 D(x)
            top = Sum([(1.0, gen_side), (-1.0, real_side)], joiner)
        else:
            top = Sum([(1.0, real_side), (gen_coef, gen_side)], joiner)
        group = frozenset([ei.edge.group]) if ei.edge.group else frozenset()
        self.emit_expr(f"adversary:{ei.name}", group, w, sign, _weighted(top, w, sign), "adversary", None, _wname(ei))
        if form == "wasserstein" and self.o.gradient_penalty > 0:
            hat = call(ei.sym, [Sym("x̂", "\\hat{x}")])
            body = Sym("𝔼_{x̂} (‖∇ ", "\\mathbb{E}_{\\hat{x}} (\\|\\nabla ") + hat + Sym("‖ − 1)²", "\\| - 1)^2")
            gp = self.o.gradient_penalty
            self.emit_expr(
                f"gradient_penalty:{ei.name}",
                group,
                gp * w,
                1,
                GradPenalty(ei, real, gen, body),
                "gradient_penalty",
                None,
                "gradient_penalty",
                Sym(f"{gp * w:g}·", f"{gp * w:g} \\cdot "),
            )

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
            raise self.err(
                "a kernel test needs a generated side with parameters to train; nothing here depends on a network",
                ei.edge,
            )
        bw = tuple(float(a) for a in ei.edge.kernel.args) or (1.0,)  # type: ignore[union-attr]

        def tup(srcs: list[Source]) -> Sym:
            return (
                Sym.join([s.expr for s in srcs], ", ")
                if len(srcs) == 1
                else Sym("(", "(") + Sym.join([s.expr for s in srcs], ", ") + Sym(")", ")")
            )

        def dist(srcs: list[Source]) -> Sym:
            return Sym.join(list(dict.fromkeys(_factors(srcs))), " ", " \\, ")

        body = (
            Sym("MMD²(", "\\mathrm{MMD}^2(")
            + tup(r_srcs)
            + Sym(" ∼ ", " \\sim ")
            + dist(r_srcs)
            + Sym(", ", ", ")
            + tup(g_srcs)
            + Sym(" ∼ ", " \\sim ")
            + dist(g_srcs)
            + Sym(")", ")")
        )
        w = ei.edge.weight if ei.edge.weight is not None else 1.0
        self.emit_expr(f"mmd:{ei.name}", groups, w, 1, MMD2(ei, real, gen, bw, body), "mmd", None, _wname(ei))

    # -- rule 7 ---------------------------------------------------------------------------------------------------
    def sleep_term(self, ei: EdgeInfo) -> None:
        e = ei.edge
        if ei.head is None:
            raise self.err(
                "`no_reparam` trains the edge by the sleep phase, which scores log q as a density; a "
                "deterministic (hollow) edge has none",
                e,
            )
        tgt = self.resolve("sleep", e.target, e)
        ins = [self.resolve("sleep", i, e) for i in ei.inputs]
        factors = expectation(tgt.factors + tuple(_factors(ins)))
        top = Mean(LogProb(ei, e.target, call(ei.sym, [tgt.expr], [s.expr for s in ins])), "sleep", factors)
        self.emit_expr(f"sleep:{ei.name}", frozenset([e.group]) if e.group else frozenset(), 1.0, -1, top, "sleep")


class _Bracketed(Sum):
    """A game's parts under a weight, in brackets: ``−10·[𝔼 log D(x) + 𝔼 log(1 − D(G(z)))]``."""

    def sym(self) -> Sym:
        return Sym("[", "\\left[") + super().sym() + Sym("]", "\\right]")


def _weighted(top: Sum, w: float, sign: int) -> Sum:
    """The game's sum as printed under a weight ``w`` (its sign no longer distributed over the parts)."""
    if w == 1.0 or len(top.parts) < 2:
        return top
    return _Bracketed(top.parts, Sym(" + ", " + ") if sign < 0 else top.joiner)


def _wname(ei: EdgeInfo) -> str | None:
    """The weight's name on a red edge's terms: ``weight`` where the edge sets one."""
    return "weight" if ei.edge.weight is not None else None


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
    "least_squares": (
        1,
        (
            lambda e, d: Sym("½", "\\tfrac12 ") + e + d + Sym("²", "^2"),
            lambda e, d: Sym("½", "\\tfrac12 ") + e + Sym("(", "(") + d + Sym(" − 1)²", " - 1)^2"),
        ),
    ),
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
