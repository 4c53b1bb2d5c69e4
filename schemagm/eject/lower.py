"""Lower the objective IR to plain PyTorch lines.

Each term's expression tree gives its Python source (:meth:`Expr.py`, over the names of
:func:`schemagm.compiler.ir.namespace`); this module parses that source and replaces every call
into the namespace (``value``, ``dist``, ``forward``, ``logit_at``, ...) by local variables, emitting
the lines that compute them from the planner's sources (the sampling of each branch) as they are
first needed.  Nothing here knows a model: it reads the tree, the planner and the edges.
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from ..compiler.ir import Expr, Opaque, Score
from ..errors import SpecError
from .helpers import HELPERS
from .partial_lower import PartialLowering

__all__ = ["EjectError", "Lowering", "ident"]

EjectError = SpecError

# the output activations of a deterministic edge, as source
ACT = {
    None: None,
    "sigmoid": "torch.sigmoid({})",
    "tanh": "torch.tanh({})",
    "relu": "torch.relu({})",
    "softplus": "F.softplus({})",
    "softmax": "torch.softmax({}, -1)",
}


def net_ref(key: str) -> str:
    """The script's reference to the network ``key``: ``nets.G_theta``, or ``getattr(nets, 'x->y')``
    for a network without a label (an edge's key is no Python name)."""
    return f"nets.{key}" if key.isidentifier() else f"getattr(nets, {key!r})"


def ident(text: str) -> str:
    """A Python identifier from a term or node name (``kl:q_eta:y=1`` -> ``kl_q_eta_y1``)."""
    out = re.sub(r"[^0-9a-zA-Z_]+", "_", text.replace("=", "")).strip("_")
    return out if out and not out[0].isdigit() else f"v_{out}"


@dataclass
class DistVars:
    """A distribution of the script: its family and the variables holding its parameters."""

    kind: str  # normal | bernoulli | categorical | relaxed_bernoulli | relaxed_categorical
    params: tuple[str, ...]  # normal: (loc, std); the others: (logits,)
    temperature: float = 1.0

    @property
    def density(self) -> str:
        return self.kind.replace("relaxed_", "")


@dataclass(eq=False)
class _Hole(Expr):
    """A placeholder for a node the lowering handles itself (a score-function surrogate)."""

    index: int

    def py(self, ctx: str) -> str:
        return f"__hole__({self.index}, {ctx!r})"


def _substitute(e: Expr, holes: list[Expr]) -> Expr:
    """A copy of the tree with every :class:`Score` node replaced by a :class:`_Hole`."""
    if isinstance(e, (Score, Opaque)):
        holes.append(e)
        return _Hole(len(holes) - 1)
    if not dataclasses.is_dataclass(e):
        return e
    out = copy.copy(e)
    for f in dataclasses.fields(e):
        v = getattr(e, f.name)
        if isinstance(v, Expr):
            setattr(out, f.name, _substitute(v, holes))
        elif isinstance(v, list) and v and all(isinstance(p, tuple) and len(p) == 2 for p in v):
            setattr(out, f.name, [(c, _substitute(p, holes)) if isinstance(p, Expr) else (c, p) for c, p in v])
    return out


class Lowering(PartialLowering):
    """One function body: the lines computing the values its terms need, and the terms."""

    def __init__(self, model: Any, helpers: set[str]) -> None:
        self.model = model
        self.plan = model._planner
        self.infos = model._infos
        self.graph = model.graph
        self.helpers = helpers  # names of the helper functions the script needs (shared by all bodies)
        self.lines: list[str] = []
        # names a local variable must not take: the function's arguments, modules, module-level names
        self.taken: set[str] = {"nets", "batch", "noise", "torch", "F", "math", "np", "nn", "t"}
        self.taken |= set(HELPERS) | {"Noise", "terms", "losses", "frozen", "LOG_2PI", "GROUPS"}
        self.values: dict[tuple[str, str], str] = {}
        self.outputs: dict[tuple[str, int], str] = {}
        self.dists: dict[tuple[str, int], DistVars] = {}
        self.logits: dict[tuple[str, int, bool, bool], str] = {}
        self.rows_of: dict[Any, str] = {}
        self.holes: list[Expr] = []
        self.seen: set[str] = set()
        self.chain: tuple[Any, int] | None = None  # (the denoiser, k) of a walkback term being lowered

    # -- names ----------------------------------------------------------------------------------------------
    def fresh(self, base: str) -> str:
        base = ident(base)
        name, k = base, 2
        while name in self.taken:
            name, k = f"{base}_{k}", k + 1
        self.taken.add(name)
        return name

    def slug(self, ctx: str) -> str:
        if ctx == "y=1" and not self.plan.indicator:
            return ""
        out = ctx.replace("=", "").replace("|", "_").replace("*", "_k").replace(":", "_")
        return "_" + ident(out)

    def emit(self, line: str) -> None:
        self.lines.append(line)

    def enter(self, ctx_name: str) -> None:
        """A comment the first time a body computes a value of a context: which one it is."""
        if ctx_name in self.seen:
            return
        self.seen.add(ctx_name)
        ctx = self.plan.contexts[ctx_name]
        if ctx.kind == "branch" and ctx.tile > 1:
            text = f"branch y = {ctx.branch}, each row {ctx.tile} times (importance samples)"
        elif ctx.kind == "branch":
            text = f"branch y = {ctx.branch}" if self.plan.indicator else "the data branch"
        elif ctx.kind == "gen":
            text = "the generated side: an ancestral sample of the solid process"
        elif ctx.kind == "sleep":
            text = "the sleep phase: an ancestral sample of the solid process, without gradient"
        elif ctx.kind == "pool":
            text = f"branch y = {ctx.branch} with the tested node from the generated side"
        elif "|" in ctx_name:
            text = f"{ctx_name.split('|', 1)[1]}: one value of the enumerated node"
        else:
            text = f"round {ctx_name.rsplit('=', 1)[-1]} of the walkback chain"
        self.emit(f"# {text}")

    # -- rows and draws ---------------------------------------------------------------------------------------
    def rows(self, ctx_name: str) -> str:
        ctx = self.plan.contexts[ctx_name]
        split = self.plan.given and ctx.branch is not None and ctx.kind != "sample"
        key = (ctx.branch if split else None, ctx.tile)
        name = self.rows_of.get(key)
        if name is None:
            if split:
                base = f"int((batch[{self.plan.indicator!r}] == {ctx.branch}).sum())"
            else:
                base = f"batch[{self.plan.data_nodes[0]!r}].shape[0]"
            expr = base if ctx.tile == 1 else f"{ctx.tile} * {base}"
            name = self.fresh("n" + (f"_{ctx.branch}" if split else "") + (f"_k{ctx.tile}" if ctx.tile > 1 else ""))
            self.emit(f"{name} = {expr}")
            self.rows_of[key] = name
        return name

    def take(self, ctx_name: str, key: str, fresh: str) -> str:
        """``noise.take(key, fresh)``; a tiled context's draws are kept as ``[k, n, ...]``."""
        ctx = self.plan.contexts[ctx_name]
        if ctx.tile > 1:
            return f"noise.take({key!r}, lambda: {fresh}.unflatten(0, ({ctx.tile}, -1))).flatten(0, 1)"
        return f"noise.take({key!r}, lambda: {fresh})"

    # -- values of nodes ----------------------------------------------------------------------------------------
    def value(self, ctx_name: str, v: str) -> str:
        key = (ctx_name, v)
        if key in self.values:
            return self.values[key]
        src = self.plan.source(ctx_name, v)
        if self.graph.nodes[v].partial and src.kind != "copy" and self.plan.contexts[src.ctx].kind != "sample":
            return self.mixed(ctx_name, v, src)
        return self.computed(ctx_name, v, src)

    def computed(self, ctx_name: str, v: str, src: Any) -> str:
        """The value of ``v`` in the context from its planned source (:meth:`value` without the
        mixing of a partially observed node)."""
        key = (ctx_name, v)
        if src.kind == "copy":
            parent = self.value(src.parent, v)
            if src.detach:
                name = self.fresh(f"{v}{self.slug(ctx_name)}")
                self.enter(ctx_name)
                self.emit(f"{name} = {parent}.detach()")
            else:
                name = parent
            self.values[key] = name
            return name
        ctx = self.plan.contexts[ctx_name]
        node = self.graph.nodes[v]
        self.enter(ctx_name)
        if src.kind == "data":
            split = self.plan.given and ctx.branch is not None
            expr = f"batch[{v!r}]"
            if node.value == "categorical":
                self.helpers.add("one_hot")
                expr = f"one_hot({expr}, {node.shape[-1] if node.shape else 2})"
            if split:
                expr = f"{expr}[batch[{self.plan.indicator!r}] == {ctx.branch}]"
            if ctx.tile > 1:
                expr = f"{expr}.repeat({ctx.tile}, {', '.join(['1'] * len(node.shape or (1,)))})"
            name = self.fresh(f"{v}{self.slug(ctx_name)}")
            self.emit(f"{name} = {expr}")
            self.values[key] = name
            return name
        name = self.fresh(f"{v}{self.slug(ctx_name)}")
        self.values[key] = name
        if src.kind == "prior":
            self.prior_draw(ctx_name, v, name)
            return name
        if src.kind == "enum":
            # a discrete node's k-th value is shared with its supervised terms (partial_lower.py); a node
            # declared real but drawn by a discrete head (`--> z : ... bernoulli`) takes the value itself
            discrete = self.graph.nodes[v].value in ("categorical", "bernoulli")
            if discrete and ctx.tile == 1 and not (self.plan.given and ctx.branch is not None):
                self.taken.discard(name)
                name = self.values[key] = self.enum_value(v, self._enum_index(v, src.value))
                return name
            shape = ", ".join(map(str, src.value.shape))
            self.emit(f"{name} = {self.constant(src.value)}.expand({self.rows(ctx_name)}, {shape})")
            return name
        if src.kind == "inject":
            raise EjectError(f"the value of '{v}' in {ctx_name} is injected by the caller: it has no emitted form")
        ei = self.infos[src.edge]
        mode = src.mode
        sid = f"{mode}:{ei.index}:{ctx.name}"
        if mode == "corrupt":
            x = self.value(ctx_name, ei.inputs[0])
            c = ei.corruption
            kind = type(c).__name__
            base = f"noise.base({sid!r}, {c.noise_kind!r}, {x}.shape)"
            eps = self.fresh(f"noise_{v}{self.slug(ctx_name)}")
            self.emit(f"{eps} = {self.take(ctx_name, f'noise:{ei.name}:{ctx.tag}', base)}")
            if kind == "_GaussianNoise":
                self.emit(f"{name} = {x} + {c.std!r} * {eps}")
            elif kind == "_Masking":
                self.emit(f"{name} = {x} * ({eps} >= {c.p!r}).float()")
            elif kind == "_SaltAndPepper":
                half = c.p / 2
                self.emit(f"{name} = torch.where({eps} < {half!r}, 0.0, torch.where({eps} < {c.p!r}, 1.0, {x}))")
            else:
                raise EjectError(f"the corruption {kind} has no emitted form", span=ei.edge.span)
            return name
        if mode == "det":
            out = self.forward(ctx_name, ei)
            act = ACT[ei.activation]
            expr = act.format(out) if act else out
            self.emit(f"{name} = {expr}" + (".detach()" if src.detach else ""))
            return name
        d = self.dist(ctx_name, ei)
        if mode == "mean":
            self.emit(f"{name} = {self.mean(d)}")
            return name
        shape = f"{d.params[0]}.shape"
        if mode == "rsample":
            draw_key = f"eps:{ei.name}:{ctx.tag}"
            if d.kind == "normal":
                eps = self.fresh(f"eps_{v}{self.slug(ctx_name)}")
                fresh = f"noise.base({sid!r}, 'normal', {shape})"
                self.emit(f"{eps} = {self.take(ctx_name, draw_key, fresh)}")
                self.emit(f"{name} = {d.params[0]} + {d.params[1]} * {eps}")
            else:
                noise_fn = "gumbel" if d.kind == "relaxed_categorical" else "logistic"
                self.helpers.add(noise_fn)
                eps = self.fresh(f"g_{v}{self.slug(ctx_name)}")
                fresh = f"{noise_fn}(noise.base({sid!r}, 'uniform', {shape}))"
                self.emit(f"{eps} = {self.take(ctx_name, draw_key, fresh)}")
                squash = "torch.softmax({}, -1)" if d.kind == "relaxed_categorical" else "torch.sigmoid({})"
                self.emit(f"{name} = {squash.format(f'({d.params[0]} + {eps}) / {d.temperature!r}')}")
            return name
        # a sample without gradient (recorded as the value itself)
        fresh = self.sample_fresh(d, sid, v)
        self.emit(f"{name} = {self.take(ctx_name, f'sample:{ei.name}:{ctx.tag}', fresh)}")
        return name

    def prior_draw(self, ctx_name: str, v: str, name: str) -> None:
        """``name = `` a draw of v's prior in the context (keyed as the compiler keys it)."""
        ctx = self.plan.contexts[ctx_name]
        prior = self.plan.priors[v]
        sid = f"prior:{list(self.graph.nodes).index(v)}:{ctx.name}"
        shape = ", ".join([self.rows(ctx_name), *map(str, prior.shape)])
        base = f"noise.base({sid!r}, {prior.base_kind!r}, ({shape}))"
        if prior.kind == "normal":
            fresh = base
        elif prior.kind == "uniform":
            fresh = f"{prior.low!r} + {prior.high - prior.low!r} * {base}"
        elif prior.kind == "categorical":
            self.helpers.update(("gumbel", "one_hot"))
            fresh = f"one_hot(gumbel({base}).argmax(-1), {prior.shape[-1]})"
        else:
            fresh = f"({base} < 0.5).float()"
        self.emit(f"{name} = {self.take(ctx_name, f'prior:{v}:{ctx.tag}', fresh)}")

    def sample_fresh(self, d: DistVars, sid: str, v: str) -> str:
        """A sample of ``d`` without gradient, from the base draw ``sid``."""
        shape = f"{d.params[0]}.shape"
        if d.density == "normal":
            return f"({d.params[0]} + {d.params[1]} * noise.base({sid!r}, 'normal', {shape})).detach()"
        if d.density == "bernoulli":
            return f"(noise.base({sid!r}, 'uniform', {shape}) < torch.sigmoid({d.params[0]}.detach())).float()"
        self.helpers.update(("gumbel", "one_hot"))
        k = self.graph.nodes[v].shape[-1]
        return f"one_hot(({d.params[0]}.detach() + gumbel(noise.base({sid!r}, 'uniform', {shape}))).argmax(-1), {k})"

    def walkback(self, ei: Any, ctx_name: str, k: int) -> str:
        """Rule 9: k rounds of corrupt / denoise from one data point, each scored against it: the
        chain's point of round r is a sample of the denoiser at round r − 1."""
        a = ei.edge.target
        rounds = [ctx_name] + [f"{ctx_name}:r={r}" for r in range(2, k + 1)]
        target = self.value(ctx_name, a)
        scores = [self.log_prob(self.dist(ctx_name, ei), target)]
        for r in range(1, k):
            prev = rounds[r - 1]
            d = self.dist(prev, ei)
            point = self.fresh(f"{a}{self.slug(rounds[r])}")
            fresh = self.sample_fresh(d, f"chain:{ei.index}:{prev}", a)
            tag = self.plan.contexts[prev].tag
            self.emit(f"{point} = {self.take(prev, f'sample:{ei.name}:{tag}', fresh)}")
            self.values[(rounds[r], a)] = point
            scores.append(self.log_prob(self.dist(rounds[r], ei), target))
        total = self.fresh(f"log_p_chain_{ei.name}")
        self.emit(f"{total} = " + " + ".join(scores))
        return f"({total} / {k})"

    # -- networks -------------------------------------------------------------------------------------------
    def net_input(self, ctx_name: str, ei: Any, detach: bool = False) -> str:
        vals = [self.value(ctx_name, i) for i in ei.inputs]
        if detach:
            vals = [f"{v}.detach()" for v in vals]
        if len(vals) == 1:
            return vals[0]
        return "torch.cat([" + ", ".join(f"{v}.flatten(1)" for v in vals) + "], 1)"

    def forward(self, ctx_name: str, ei: Any) -> str:
        key = (ctx_name, ei.index)
        if key in self.outputs:
            return self.outputs[key]
        untiled = self.plan.untiled(ctx_name, ei)
        if untiled is not None:
            base = self.forward(untiled[0], ei)
            name = self.fresh(f"out_{ei.name}{self.slug(ctx_name)}")
            ones = ", ".join(["1"] * len(self.graph.nodes[ei.edge.target].shape or (1,)))
            self.emit(f"{name} = {base}.repeat({untiled[1]}, {ones})")
        else:
            name = self.fresh(f"out_{ei.name}{self.slug(ctx_name)}")
            self.emit(f"{name} = {net_ref(ei.net_key)}({self.net_input(ctx_name, ei)})")
        self.outputs[key] = name
        return name

    def dist(self, ctx_name: str, ei: Any) -> DistVars:
        key = (ctx_name, ei.index)
        if key in self.dists:
            return self.dists[key]
        head = ei.head
        if head is None:
            raise EjectError("a deterministic edge has no distribution", span=ei.edge.span)
        out = self.forward(ctx_name, ei)
        tail = self.slug(ctx_name)
        t = ei.edge.target
        if head.kind == "normal":
            loc = self.fresh(f"loc_{t}{tail}")
            std = self.fresh(f"std_{t}{tail}")
            if head.std is None:
                logvar = self.fresh(f"logvar_{t}{tail}")
                self.emit(f"{loc}, {logvar} = {out}.chunk(2, dim=1)")
                self.emit(f"{std} = torch.exp(0.5 * {logvar})")
            else:
                self.emit(f"{loc} = {out}")
                self.emit(f"{std} = torch.full_like({loc}, {head.std!r})")
            d = DistVars("normal", (loc, std))
        else:
            d = DistVars(head.kind, (out,), head.temperature)
        self.dists[key] = d
        return d

    def mean(self, d: DistVars) -> str:
        if d.density == "normal":
            return d.params[0]
        if d.density == "bernoulli":
            return f"torch.sigmoid({d.params[0]})"
        return f"torch.softmax({d.params[0]}, -1)"

    def log_prob(self, d: DistVars, value: str) -> str:
        fn = f"{d.density}_log_prob"
        self.helpers.add(fn)
        return f"{fn}({value}, {', '.join(d.params)})"

    def logit(self, ctx_name: str, ei: Any, detach: bool, frozen: bool) -> str:
        key = (ctx_name, ei.index, detach, frozen)
        if key in self.logits:
            return self.logits[key]
        x = self.net_input(ctx_name, ei, detach)
        name = self.fresh(f"logit_{ei.name}{self.slug(ctx_name)}" + ("_sg" if detach else ""))
        if frozen:
            self.helpers.add("frozen")
            self.emit(f"{name} = frozen({net_ref(ei.net_key)}, {x}).squeeze(1)")
        else:
            self.emit(f"{name} = {net_ref(ei.net_key)}({x}).squeeze(1)")
        self.logits[key] = name
        return name

    # -- expressions ----------------------------------------------------------------------------------------
    def expr(self, e: Expr, ctx: str | None = None) -> str:
        """The source of a tree over this body's variables (emitting what it needs first)."""
        for node in _walk(e):
            if isinstance(node, Opaque) and self.chain is None:
                raise EjectError(f"the term's expression holds a planned closure ({node.s.u}) with no source form")
        tree = _substitute(e, self.holes)
        src = tree.py(ctx) if ctx is not None else tree.py()  # type: ignore[call-arg]
        parsed = ast.parse(src, mode="eval")
        out = _Rewrite(self).visit(parsed)
        ast.fix_missing_locations(out)
        return ast.unparse(out)

    def hole(self, index: int, ctx: str) -> str:
        """A score-function surrogate ``f + (f̄ − b) · (log q − log q̄)`` and its baseline's update."""
        s = self.holes[index]
        if isinstance(s, Opaque):  # the walkback chain of the term being lowered
            assert self.chain is not None
            return self.walkback(self.chain[0], ctx, self.chain[1])
        assert isinstance(s, Score)
        f = self.fresh(f"f_{s.key}")
        self.emit("# score function (NVIL): the value f, the gradient ∇f + (f − b)·∇log q")
        self.emit(f"{f} = {self.expr(s.body, ctx)}")
        lq = " + ".join(self.expr(q, ctx) for q in s.logq)
        logq = self.fresh(f"logq_{s.key}")
        self.emit(f"{logq} = {lq}")
        b = self.fresh(f"b_{s.key}")
        self.emit(f"{b} = nets.{s.buffer}[0]")
        self.helpers.add("update_baseline")
        self.emit(f"update_baseline(nets, {s.buffer!r}, {f}, {s.decay!r})")
        return f"({f} + ({f}.detach() - {b}) * ({logq} - {logq}.detach()))"


def _walk(e: Expr):
    yield e
    for c in e.children():
        yield from _walk(c)


def _const(node: ast.AST) -> Any:
    if not isinstance(node, ast.Constant):
        raise EjectError(f"the emitter expected a constant, found {ast.unparse(node)}")
    return node.value


def _name(text: str) -> ast.expr:
    return ast.parse(text, mode="eval").body


class _Rewrite(ast.NodeTransformer):
    """Calls into the IR's namespace -> the body's variables (and the helpers they need)."""

    def __init__(self, low: Lowering) -> None:
        self.low = low

    def _dist_of(self, node: ast.AST) -> DistVars | None:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dist":
            ctx, i = (_const(a) for a in node.args)
            return self.low.dist(ctx, self.low.infos[i])
        return None

    def visit_Attribute(self, node: ast.Attribute) -> Any:
        d = self._dist_of(node.value)
        if d is not None and node.attr == "mean":
            return _name(self.low.mean(d))
        return self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> Any:
        low = self.low
        f = node.func
        if isinstance(f, ast.Attribute) and f.attr == "log_prob":
            d = self._dist_of(f.value)
            if d is not None:
                return _name(low.log_prob(d, ast.unparse(self.visit(node.args[0]))))
            if (
                isinstance(f.value, ast.Subscript)
                and isinstance(f.value.value, ast.Name)
                and f.value.value.id == "prior"
            ):
                v = _const(f.value.slice)
                return _name(self.prior_log_prob(v, ast.unparse(self.visit(node.args[0]))))
        if isinstance(f, ast.Call) and isinstance(f.func, ast.Name) and f.func.id == "act":
            act = ACT[low.infos[_const(f.args[0])].activation]
            arg = self.visit(node.args[0])
            return _name(act.format(ast.unparse(arg))) if act else arg
        if isinstance(f, ast.Attribute) and f.attr == "to" and len(node.args) == 1:
            arg = node.args[0]
            if isinstance(arg, ast.Name) and arg.id == "dtype":  # the model's float type: the script's float32
                return _name(f"{ast.unparse(self.visit(f.value))}.float()")
        if isinstance(f, ast.Lambda):  # (lambda t: t)(x): the identity
            return self.visit(node.args[0])
        if not isinstance(f, ast.Name):
            return self.generic_visit(node)
        name = f.id
        if name == "value":
            ctx, v = (_const(a) for a in node.args)
            return _name(low.value(ctx, v))
        if name == "forward":
            ctx, i = (_const(a) for a in node.args)
            return _name(low.forward(ctx, low.infos[i]))
        if name == "logit":
            ctx, i = (_const(a) for a in node.args)
            return _name(low.logit(ctx, low.infos[i], False, False))
        if name == "logit_at":
            ctx, i, detach, frozen = (_const(a) for a in node.args)
            return _name(low.logit(ctx, low.infos[i], detach, frozen))
        if name == "kl_closed":
            q = self._dist_of(node.args[0])
            assert q is not None
            p_node = node.args[1]
            if isinstance(p_node, ast.Subscript):
                return _name(self.kl_prior(q, _const(p_node.slice)))
            p = self._dist_of(p_node)
            assert p is not None
            fn = f"kl_{q.density}_pair"
            low.helpers.add(fn)
            return _name(f"{fn}({', '.join(q.params)}, {', '.join(p.params)})")
        if name == "reconstruction":
            pred, target, kind = node.args[0], node.args[1], _const(node.args[2])
            logits = _const(node.keywords[0].value) if node.keywords else False
            fn = {"bce": "bce_with_logits" if logits else "bce", "mse": "sum_of_squares", "l1": "sum_of_absolutes"}[
                kind
            ]
            low.helpers.add(fn)
            return _name(f"{fn}({ast.unparse(self.visit(pred))}, {ast.unparse(self.visit(target))})")
        if name == "side":
            ctx, i = (_const(a) for a in node.args)
            ei = low.infos[i]
            vals = [low.value(ctx, v) for v in ei.inputs]
            if len(vals) == 1:
                return _name(f"{vals[0]}.flatten(1)")
            return _name("torch.cat([" + ", ".join(f"{v}.flatten(1)" for v in vals) + "], 1)")
        if name == "grad_penalty":
            return _name(self.grad_penalty(_const(node.args[0]), _const(node.args[1]), low.infos[_const(node.args[2])]))
        if name == "observed":
            return _name(low.observed(_const(node.args[0])))
        if name == "observed_value":
            return _name(low.observed_value(_const(node.args[0])))
        if name == "enum_value":
            return _name(low.enum_value(_const(node.args[0]), _const(node.args[1])))
        if name in ("mmd2", "iw_log_d"):
            low.helpers.add(name)
            return self.generic_visit(node)
        if name == "__hole__":
            return _name(low.hole(_const(node.args[0]), _const(node.args[1])))
        if name in ("F", "torch"):
            return self.generic_visit(node)
        raise EjectError(f"the emitter has no form for '{name}' (a name of the objective's source form)")

    def visit_Name(self, node: ast.Name) -> Any:
        if node.id not in ("F", "torch", "math", "mmd2", "iw_log_d"):
            raise EjectError(f"the emitter has no form for '{node.id}' (a name of the objective's source form)")
        return node

    def prior_log_prob(self, v: str, value: str) -> str:
        prior = self.low.plan.priors[v]
        if prior.kind == "normal":
            self.low.helpers.add("standard_normal_log_prob")
            return f"standard_normal_log_prob({value})"
        import math

        size = math.prod(prior.shape)
        if prior.kind == "uniform":
            c = -size * math.log(prior.high - prior.low)
        elif prior.kind == "categorical":
            per = math.prod(prior.shape[:-1]) if len(prior.shape) > 1 else 1
            c = -per * math.log(prior.shape[-1])
        else:
            c = -size * math.log(2.0)
        return f"{value}.new_full(({value}.shape[0],), {c!r})"

    def kl_prior(self, q: DistVars, v: str) -> str:
        prior = self.low.plan.priors[v]
        fn = f"kl_{q.density}_prior"
        self.low.helpers.add(fn)
        if q.density == "categorical":
            import math

            per = math.prod(prior.shape[:-1]) if len(prior.shape) > 1 else 1
            return f"{fn}({q.params[0]}, {per * math.log(prior.shape[-1])!r})"
        return f"{fn}({', '.join(q.params)})"

    def grad_penalty(self, real: str, gen: str, red: Any) -> str:
        low = self.low
        low.helpers.add("gradient_penalty")
        reals = [low.value(real, v) for v in red.inputs]
        gens = [low.value(gen, v) for v in red.inputs]
        m = f"min({reals[0]}.shape[0], {gens[0]}.shape[0])"
        eps = low.fresh(f"eps_gp_{red.name}")
        sid = f"gp:{red.index}:{gen}"
        low.emit(f"{eps} = noise.take({f'gp:{red.name}:{gen}'!r}, lambda: noise.base({sid!r}, 'uniform', ({m},)))")
        return f"gradient_penalty({net_ref(red.net_key)}, [{', '.join(reals)}], [{', '.join(gens)}], {eps})"
