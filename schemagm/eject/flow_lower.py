"""Eject a flow graph (:class:`schemagm.compiler.flow_model.FlowModel`): its zuko flows and
dequantizations as ``nn.Module`` classes, and its dashed pass and flow factors (the IR's
:mod:`~schemagm.compiler.ir_flows` nodes: ``net``, ``flat``, ``context``, ``noise``) as plain lines.

The script builds the same zuko flows with the same arguments as :mod:`schemagm.compiler.flows`,
so the state dicts match; the values, log-determinants and dequantization draws are computed in
the order the compiler's :class:`~schemagm.compiler.flow_run.FlowRun` computes them."""

from __future__ import annotations

import ast
from types import SimpleNamespace
from typing import Any

from ..errors import SpecError
from .lower import Lowering, _const, _name, _Rewrite, net_ref

__all__ = ["FLOW_CLASSES", "FlowLowering", "FlowView", "flow_network_class", "flow_refusal"]

FLOW_CLASSES = {
    "Flow": '''
class Flow(nn.Module):
    """A bijection t = f(b; c) of zuko's: its lazy transform T_c runs from t to b, so
    f = T_c⁻¹."""

    def __init__(self, lazy, context):
        super().__init__()
        self.lazy = lazy
        self.context = context

    def forward(self, b, context=None):
        """t = f(b; c) and log |det ∂t/∂b| per row."""
        return self.lazy(context if self.context else None).inv.call_and_ladj(b)

    def inverse(self, t, context=None):
        """b = f⁻¹(t; c) and log |det ∂b/∂t| per row."""
        return self.lazy(context if self.context else None).call_and_ladj(t)
''',
    "Dequantization": '''
class Dequantization(nn.Module):
    """q(v | x) of data on a grid of step 1/scale: v = x + u / scale, u ∈ [0, 1)^D;
    uniform (u ~ U[0, 1)) or variational (u = sigmoid(s), s = f(e; x), e ~ N(0, I))."""

    def __init__(self, features, scale, flow=None):
        super().__init__()
        self.features, self.scale, self.flow = features, scale, flow

    def noise(self, x):
        """The base draw per entry of x: U[0, 1) (uniform) or N(0, I) (variational)."""
        x = x.reshape(x.shape[0], -1)
        return torch.rand_like(x) if self.flow is None else torch.randn_like(x)

    def rsample_with(self, x, noise):
        """v and log q(v | x) per row at the base draw."""
        xf = x.reshape(x.shape[0], -1)
        u, log_q = self.u(xf, noise)
        return (xf + u / self.scale).reshape(x.shape), log_q

    def u(self, xf, noise):
        const = self.features * math.log(self.scale)
        if self.flow is None:
            return noise, xf.new_full((xf.shape[0],), const)
        s, ladj = self.flow(noise, xf)
        log_sigmoid_prime = -F.softplus(-s) - F.softplus(s)
        log_n = -0.5 * (noise * noise).sum(-1) - 0.5 * noise.shape[-1] * LOG_2PI
        return torch.sigmoid(s), log_n - ladj - log_sigmoid_prime.sum(-1) + const
''',
}


class FlowView:
    """A FlowModel seen the way the script printer reads a planned model: ``_infos`` (its edges),
    one phase holding every term, and the terms of each group."""

    def __init__(self, model: Any) -> None:
        self._model = model
        self._infos = model._edges
        self._planner = SimpleNamespace(priors=model._priors, indicator=None)
        names = [t.name for t in model.objective.terms]
        self._phase_terms = {p.name: names for p in model.objective.phases}
        self._group_terms = {g: [t.name for t in model.objective.terms if g in t.groups] for g in model.groups}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


def flow_refusal(model: Any) -> tuple[str, Any] | None:
    """Why a flow graph cannot be printed yet (and the edge or node to point at), or None."""
    g = model.graph
    for v, (how, _) in model._how.items():
        if how == "prior" and model._priors[v].kind != "normal":
            return f"the prior of '{v}' ({model._priors[v].kind}) has no emitted form in a flow graph", g.nodes[v]
    for ei in model._edges:
        if (
            ei.kind == "stochastic"
            and ei.head.kind != "normal"
            and model._how.get(ei.edge.target, ("",))[1] == ei.index
        ):
            return f"the dashed sample of '{ei.edge.target}' ({ei.head.kind}) has no emitted form", ei.edge
    for t in model.objective.terms:
        if t.kind == "iw_bound":
            where = SimpleNamespace(span=model._option_span("importance_samples"))
            return "its importance-weighted bound (importance_samples) has no emitted form yet", where
    return None


def _hidden(call: Any) -> tuple[int, ...]:
    return tuple(int(h) for h in call.args) or (64, 64)


def _zuko(flow: Any, call: Any) -> str:
    """The zuko constructor of a compiled :class:`schemagm.compiler.flows.Flow`, from its edge's call."""
    kw = call.kw
    transforms = int(kw.get("transforms", 4))
    args = f"{flow.features}, {flow.context}, transforms={transforms}"
    hidden = f"hidden_features={_hidden(call)!r}"
    if flow.kind == "realnvp":
        return f"zuko.flows.RealNVP({args}, {hidden}).transform"
    if flow.kind == "nsf":
        return f"zuko.flows.NSF({args}, bins={int(kw.get('bins', 8))}, {hidden}).transform"
    maf = f"zuko.flows.MAF({args}, {hidden}).transform"
    return f"zuko.flows.LazyInverse({maf})" if flow.kind == "iaf" else maf


def flow_network_class(name: str, module: Any, ei: Any, doc: str, extra: set[str]) -> str | None:
    """``class f_theta(Flow)`` / ``class q_eta(Dequantization)``, or None for a registry network."""
    e = ei.edge
    if ei.kind == "flow":
        extra.add("Flow")
        body = f"super().__init__({_zuko(module, e.network)}, {module.context})"
        base = "Flow"
    elif ei.kind == "dequantize":
        extra.add("Dequantization")
        if module.flow is None:
            body = f"super().__init__({module.features}, {module.scale!r})"
        else:
            extra.add("Flow")
            flow = f"Flow({_zuko(module.flow, e.network)}, {module.flow.context})"
            body = f"super().__init__({module.features}, {module.scale!r}, {flow})"
        base = "Dequantization"
    else:
        return None
    return f'class {name}({base}):\n    """{doc}"""\n\n    def __init__(self):\n        {body}\n'


class FlowLowering(Lowering):
    """The dashed pass of a flow graph, and its terms, as lines (one context: the batch, ``y=1``)."""

    def __init__(self, model: Any, helpers: set[str]) -> None:
        super().__init__(model, helpers)
        self.flow_model = model
        self.logdets: dict[tuple[str, int], str] = {}
        self.log_qs: dict[tuple[str, int], str] = {}
        self.noises: dict[tuple[str, int], str] = {}

    def slug(self, ctx_name: str) -> str:
        return ""

    def enter(self, ctx_name: str) -> None:
        if ctx_name not in self.seen:
            self.seen.add(ctx_name)
            self.emit("# the dashed pass over the batch")

    def rows(self, ctx_name: str) -> str:
        name = self.rows_of.get(None)
        if name is None:
            name = self.fresh("n")
            self.emit(f"{name} = batch[{self.flow_model._data[0].name!r}].shape[0]")
            self.rows_of[None] = name
        return name

    def flat(self, x: str, v: str) -> str:
        shape = self.graph.nodes[v].shape or (1,)
        return x if len(shape) == 1 else f"{x}.flatten(1)"

    def shaped(self, x: str, v: str) -> str:
        shape = self.graph.nodes[v].shape or (1,)
        return x if len(shape) == 1 else f"{x}.reshape({x}.shape[0], {', '.join(map(str, shape))})"

    def context(self, ctx_name: str, ei: Any) -> str:
        rest = ei.inputs[1:]
        if not rest:
            return "None"
        vals = [self.flat(self.value(ctx_name, s), s) for s in rest]
        return vals[0] if len(vals) == 1 else "torch.cat([" + ", ".join(vals) + "], 1)"

    def args(self, ctx_name: str, ei: Any, x: str) -> str:
        c = self.context(ctx_name, ei)
        return x if c == "None" else f"{x}, {c}"

    def points(self, v: str) -> str:
        """The memorised points of the empirical latent ``v`` (the buffer ``support_<v>``)."""
        return f"nets.support_{v}"

    def marginal_value(self, ctx_name: str, v: str) -> str:
        """A value in ``<ctx>|<v>=support``: row i·N + j is row i of ctx with the empirical latent
        at its j-th point (:class:`schemagm.compiler.ir_flows.Marginal`)."""
        key = (ctx_name, v)
        if key in self.values:
            return self.values[key]
        base, _, rest = ctx_name.partition("|")
        over, _, part = rest.partition("=")
        if part != "support" or base != "y=1":
            raise SpecError(f"the context {ctx_name} of a flow graph has no emitted form")
        pts = self.points(over)
        if v == over:
            ones = ", ".join(["1"] * len(self.graph.nodes[v].shape or (1,)))
            name = self.fresh(f"{v}_j")
            self.emit(f"# each row with every point {v}_j of {v} in turn: row i·N + j")
            self.emit(f"{name} = {pts}.repeat({self.rows(base)}, {ones})")
        elif self.flow_model._on_support(v):
            raise SpecError(f"'{v}' summed with '{over}' over their points has no emitted form")
        else:
            name = self.fresh(f"{v}_each")
            self.emit(f"{name} = {self.value(base, v)}.repeat_interleave({pts}.shape[0], 0)")
        self.values[key] = name
        return name

    def value(self, ctx_name: str, v: str) -> str:
        if "|" in ctx_name:
            return self.marginal_value(ctx_name, v)
        if ctx_name != "y=1":
            raise SpecError(f"the context {ctx_name} of a flow graph has no emitted form")
        key = (ctx_name, v)
        if key in self.values:
            return self.values[key]
        m = self.flow_model
        if ctx_name not in self.seen:  # the whole dashed pass, in declaration order (the draws' order)
            self.enter(ctx_name)
            for u in self.graph.nodes:
                if m._how.get(u, ("",))[0] != "support":
                    self.value(ctx_name, u)
            return self.values[key]
        how, i = m._how[v]
        name = self.fresh(v)
        if how == "data":
            self.emit(f"{name} = batch[{v!r}]")
            self.values[key] = name
            return name
        if how == "prior":
            shape = ", ".join([self.rows(ctx_name), *map(str, m._priors[v].shape)])
            self.emit(f"{name} = noise.take({f'prior:{v}'!r}, lambda: torch.randn({shape}))")
            self.values[key] = name
            return name
        assert i is not None
        ei = m._edges[i]
        net = net_ref(ei.key)
        if how == "inverse":
            t = ei.edge.target
            x = self.flat(self.value(ctx_name, t), t)
            ld = self.fresh(f"log_det_{ei.key}")
            self.emit(f"# {v} = {ei.sym.u}⁻¹({t}): the flow's inverse, and log |det ∂{v}/∂{t}|")
            self.emit(f"{name}, {ld} = {net}.inverse({self.args(ctx_name, ei, x)})")
            self.logdets[(ctx_name, i)] = ld
        elif ei.kind == "flow":
            b = ei.inputs[0]
            x = self.flat(self.value(ctx_name, b), b)
            ld = self.fresh(f"log_det_{ei.key}")
            self.emit(f"# {v} = {ei.sym.u}({b}): the flow, and log |det ∂{v}/∂{b}|")
            self.emit(f"{name}, {ld} = {net}({self.args(ctx_name, ei, x)})")
            self.logdets[(ctx_name, i)] = ld
        elif ei.kind == "dequantize":
            x = self.value(ctx_name, ei.inputs[0])
            eps = self.fresh(f"noise_{v}")
            lq = self.fresh(f"log_q_{v}")
            self.emit(f"# {v} ~ q({v} | {ei.inputs[0]}): dequantization from its base draw")
            self.emit(f"{eps} = noise.take({f'noise:{ei.key}'!r}, lambda: {net}.noise({x}))")
            self.emit(f"{name}, {lq} = {net}.rsample_with({x}, {eps})")
            self.noises[(ctx_name, i)] = eps
            self.log_qs[(ctx_name, i)] = lq
        else:
            d = self.dist(ctx_name, ei)
            eps = self.fresh(f"eps_{v}")
            self.emit(f"{eps} = noise.take({f'eps:{ei.key}'!r}, lambda: torch.randn_like({d.params[0]}))")
            self.emit(f"{name} = {d.params[0]} + {d.params[1]} * {eps}")
            self.values[key] = name
            return name
        self.values[key] = name
        shaped = self.shaped(name, v)
        if shaped != name:
            self.emit(f"{name} = {shaped}")
        return name

    def forward(self, ctx_name: str, ei: Any) -> str:
        key = (ctx_name, ei.index)
        if key not in self.outputs:
            name = self.fresh(f"out_{ei.key}")
            self.emit(f"{name} = {net_ref(ei.key)}({self.net_input(ctx_name, ei)})")
            self.outputs[key] = name
        return self.outputs[key]

    def logdet(self, ctx_name: str, i: int) -> str:
        if (ctx_name, i) not in self.logdets:
            ei = self.flow_model._edges[i]
            self.value(ctx_name, ei.inputs[0] if ei.edge.process.value == "generative" else ei.edge.target)
        return self.logdets[(ctx_name, i)]

    def log_q(self, ctx_name: str, i: int) -> str:
        if (ctx_name, i) not in self.log_qs:
            self.value(ctx_name, self.flow_model._edges[i].edge.target)
        return self.log_qs[(ctx_name, i)]

    def expr(self, e: Any, ctx: str | None = None) -> str:
        src = e.py(ctx) if ctx is not None else e.py("y=1")
        out = _FlowRewrite(self).visit(ast.parse(src, mode="eval"))
        ast.fix_missing_locations(out)
        return ast.unparse(out)


def _net_index(node: ast.AST) -> int | None:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "net":
        return int(_const(node.args[0]))
    return None


def _ctx_of(call: ast.Call) -> str:
    """The context named by a flow call's last argument (``context(ctx, i)`` / ``noise(ctx, i)``)."""
    last = call.args[-1]
    assert isinstance(last, ast.Call)
    return str(_const(last.args[0]))


class _FlowRewrite(_Rewrite):
    """The flow factors' calls (``net(i).inverse(...)[1]``, ``net(i)(...)[1]``, ``net(i).log_q``)."""

    low: FlowLowering

    def visit_Subscript(self, node: ast.Subscript) -> Any:
        call = node.value
        if isinstance(call, ast.Call) and _const(node.slice) == 1:
            f = call.func
            i = _net_index(f.value) if isinstance(f, ast.Attribute) and f.attr == "inverse" else _net_index(f)
            if i is not None:
                return _name(self.low.logdet(_ctx_of(call), i))
        return self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> Any:
        f = node.func
        if isinstance(f, ast.Name) and f.id == "support":
            return _name(self.low.points(str(_const(node.args[0]))))
        if isinstance(f, ast.Attribute) and f.attr == "log_q":
            i = _net_index(f.value)
            if i is not None:
                return _name(self.low.log_q(_ctx_of(node), i))
        return super().visit_Call(node)
