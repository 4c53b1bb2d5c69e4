"""Eject a flow graph with an empirical latent (``latent m : empirical[D]``, a kernel density:
specs/extra/kde.sgm): the memorised points as a registered buffer of ``Networks`` (saved in the
checkpoint, sized from it when loaded), ``fit`` that fills it as the compiler's
:meth:`schemagm.compiler.flow_empirical.FlowPoints.fit` does (the training rows of the data node
the latent generates, once, before any step), ``log_likelihood`` lowered from the model's per-row
log-weight (the IR's :class:`~schemagm.compiler.ir_flows.Marginal`: the exact sum over the points)
and ``sample``, the ancestral walk of :class:`~schemagm.compiler.flow_sampling.FlowSampling`."""

from __future__ import annotations

from typing import Any

from ..errors import SpecError
from ..graph.model import Process
from .flow_lower import FlowLowering
from .lower import net_ref

__all__ = ["points_buffers", "points_functions", "LOAD_POINTS"]

LOAD_POINTS = '''
    def load_state_dict(self, state, strict=True, assign=False):
        """The memorised points are as many as the training rows: their buffers take the
        checkpoint's size before it is loaded."""
        for name in [b for b, _ in self.named_buffers() if b.startswith("support_")]:
            if name in state:
                setattr(self, name, torch.empty_like(state[name]))
        return super().load_state_dict(state, strict, assign)
'''


def points_buffers(model: Any) -> list[str]:
    """``register_buffer`` lines of the points of every empirical latent (empty until ``fit``)."""
    out = []
    for v in getattr(model, "_support_of", {}):
        shape = ", ".join(map(str, model.graph.nodes[v].shape or (1,)))
        out.append(f"        # the memorised points of {v} (none until fit)")
        out.append(f"        self.register_buffer('support_{v}', torch.zeros(0, {shape}))")
    return out


def _fit(model: Any) -> str:
    lines = []
    for v, x in model._support_of.items():
        shape = ", ".join(map(str, model.graph.nodes[v].shape or (1,)))
        lines.append(f"    nets.support_{v} = data[{x!r}].float().reshape(-1, {shape}).clone()")
    kept = ", ".join(f"{v} (the rows of {x})" for v, x in model._support_of.items())
    return f'def fit(nets, data):\n    """Memorise the training points of {kept}."""\n' + "\n".join(lines) + "\n"


def _log_likelihood(model: Any, helpers: set[str]) -> str:
    low = FlowLowering(model, helpers)
    expr = low.expr(model._log_w, "y=1")
    body = "\n".join(f"    {line}" for line in low.lines)
    formula = model.log_likelihood_sym().u
    return (
        "def log_likelihood(nets, batch, noise):\n"
        f'    """log p(x) per row, exact: {formula}."""\n'
        f"{body}\n"
        f"    return {expr}\n"
    )


def _sample(model: Any) -> str | None:
    """The ancestral walk over the solid edges (None where a node has no printed form here)."""
    g = model.graph
    lines: list[str] = []
    names: dict[str, str] = {}

    def gen(v: str) -> str:
        if v in names:
            return names[v]
        node = g.nodes[v]
        for ei in model._edges:
            if ei.edge.target != v or ei.edge.process is not Process.generative:
                continue
            if ei.kind != "stochastic" or ei.head.kind != "normal":
                raise SpecError(f"the solid edge into '{v}' has no printed sample here")
            ins = [gen(s) for s in ei.inputs]
            x = ins[0] if len(ins) == 1 else "torch.cat([" + ", ".join(f"{i}.flatten(1)" for i in ins) + "], 1)"
            out = f"out_{v}"
            lines.append(f"{out} = {net_ref(ei.key)}({x})")
            if ei.head.std is None:
                lines.append(f"loc_{v}, logvar_{v} = {out}.chunk(2, dim=1)")
                lines.append(f"std_{v} = torch.exp(0.5 * logvar_{v})")
            else:
                lines.append(f"loc_{v}, std_{v} = {out}, torch.full_like({out}, {ei.head.std!r})")
            lines.append(f"{v} = noise.take({f'sample:{v}'!r}, lambda: loc_{v} + std_{v} * torch.randn_like(loc_{v}))")
            names[v] = v
            return v
        if v in model._support_of:
            lines.append(f"# {v}: one of its memorised points, each with probability 1/N")
            lines.append(
                f"j_{v} = noise.take({f'index:{v}'!r}, lambda: torch.randint(nets.support_{v}.shape[0], (n,)))"
            )
            lines.append(f"{v} = nets.support_{v}[j_{v}]")
            names[v] = v
            return v
        if node.prior is not None and model._priors[v].kind == "normal":
            shape = ", ".join(map(str, model._priors[v].shape))
            lines.append(f"{v} = noise.take({f'prior:{v}'!r}, lambda: torch.randn(n, {shape}))")
            names[v] = v
            return v
        raise SpecError(f"'{v}' has no printed sample here")

    try:
        for v in g.nodes:
            gen(v)
    except SpecError:
        return None
    body = "\n".join(f"    {line}" for line in lines)
    returned = ", ".join(f"{v!r}: {v}" for v in g.nodes)
    return (
        "@torch.no_grad()\n"
        "def sample(nets, n, noise):\n"
        '    """n ancestral samples of the solid process, every node (from torch\'s stream:\n'
        '    a seed gives the compiled model\'s `sample(n, mean=False)`)."""\n'
        f"{body}\n"
        f"    return {{{returned}}}\n"
    )


def points_functions(model: Any, helpers: set[str]) -> str:
    """``fit``, ``log_likelihood`` and ``sample`` of a graph with an empirical latent ("" without)."""
    if not getattr(model, "_support_of", None):
        return ""
    parts = [_fit(model), _log_likelihood(model, helpers)]
    sample = _sample(model)
    if sample is not None:
        parts.append(sample)
    return "\n\n".join(parts)
