"""One call of a flow graph (:class:`.flow_model.FlowModel`): the dashed pass over a batch, with
its values, distributions, log-determinants and draws memoised per context, read by the IR trees
(:mod:`.ir`, :mod:`.ir_flows`) and by their Python source (:func:`.ir.namespace`).

Contexts: ``y=1`` (the dashed pass over the batch), ``y=1*k`` (the same with every data row
repeated k times: the importance-weighted bound, row ``i·n + j`` is sample i of row j), and
``<ctx>|<v>=support`` (row ``i·N + j``: row i of ``ctx`` with the empirical latent ``v`` at the
j-th of its N points; see :class:`.ir_flows.Marginal`).

``last_draws`` keys (as before the IR): ``eps:<net>`` (the N(0, I) noise of a reparameterised
dashed sample), ``noise:<key>`` (the base draw of a dequantization), ``prior:<node>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ..errors import SpecError

__all__ = ["FlowRun"]


@dataclass
class _Plan:
    """What :func:`.ir.namespace` reads off a call's plan: the edges by index and the priors."""

    infos: list[Any]
    priors: dict[str, Any]


def _flat(t: Tensor) -> Tensor:
    return t.reshape(t.shape[0], -1)


class FlowRun:
    """A call's state; ``results`` memoises each term's contribution."""

    def __init__(self, model: Any, batch: dict[str, Tensor]) -> None:
        self.model = model
        self.plan = _Plan(model._edges, model._priors)
        self.nets = model.networks._modules
        self.batch = batch
        self.values: dict[tuple[str, str], Tensor] = {}
        self.dists: dict[tuple[str, int], Any] = {}
        self.outputs: dict[tuple[str, int], Tensor] = {}
        self.logdets: dict[tuple[str, int], Tensor] = {}
        self.log_qs: dict[tuple[str, int], Tensor] = {}
        self.noises: dict[tuple[str, int], Tensor] = {}
        self.draws: dict[str, Tensor] = {}
        self.results: dict[str, Tensor] = {}
        self.dtype = model._anchor.dtype  # the IR namespace reads it as the planner's Run does
        self._filled: set[str] = set()
        model.__dict__["last_draws"] = self.draws

    # -- contexts -------------------------------------------------------------------------------------------
    @staticmethod
    def _parse(ctx: str) -> tuple[str, str | None, slice]:
        """``(the context without its marginal part, the empirical latent summed over or None, the
        slice of its points)``."""
        if "|" in ctx:
            base, _, rest = ctx.partition("|")
            node, _, part = rest.partition("=")
            if "[" in part:
                lo, hi = part[part.index("[") + 1 : -1].split(":")
                return base, node, slice(int(lo), int(hi))
            return base, node, slice(None)
        return ctx, None, slice(None)

    def rows(self, ctx: str) -> int:
        """The rows of a context (the batch's, times its tile)."""
        return int(self.value(self._parse(ctx)[0], self.model._data[0].name).shape[0])

    @staticmethod
    def _tile(ctx: str) -> int:
        return int(ctx.split("*")[1]) if "*" in ctx else 1

    def _fill(self, ctx: str) -> None:
        """Every node the dashed pass gives a value, in declaration order (the draws' order)."""
        if ctx in self._filled:
            return
        self._filled.add(ctx)
        for v in self.model.graph.nodes:
            if not self.model._on_support(v):
                self.value(ctx, v)

    # -- values ---------------------------------------------------------------------------------------------
    def value(self, ctx: str, v: str) -> Tensor:
        key = (ctx, v)
        out = self.values.get(key)
        if out is not None:
            return out
        base, over, part = self._parse(ctx)
        m = self.model
        if over is not None:
            pts = self.support(over)[part]
            n = pts.shape[0]
            if v == over:
                out = pts.repeat(self.rows(base), *([1] * (pts.dim() - 1)))
            elif not m._on_support(v):
                out = self.value(base, v).repeat_interleave(n, 0)
            else:
                out = self._compute(ctx, v)
        else:
            if ctx not in self._filled:
                self._fill(ctx)
                out = self.values.get(key)
                if out is not None:
                    return out
            out = self._compute(ctx, v)
        self.values[key] = out
        return out

    def _data(self, ctx: str, v: str) -> Tensor:
        node = self.model.graph.nodes[v]
        if v not in self.batch:
            raise SpecError(f"the batch has no data for '{v}' (it has {', '.join(self.batch) or 'nothing'})")
        x = self.batch[v].to(self.model.device)
        x = x.reshape(x.shape[0], *(node.shape or (1,)))
        if not x.is_floating_point():
            x = x.to(torch.get_default_dtype())
        tile = self._tile(ctx)
        return x.repeat(tile, *([1] * (x.dim() - 1))) if tile > 1 else x

    def _compute(self, ctx: str, v: str) -> Tensor:
        m = self.model
        node = m.graph.nodes[v]
        how, i = m._how[v]
        if how == "data":
            return self._data(ctx, v)
        if how == "support":
            raise SpecError(f"'{v}' is summed over its points; it has no single value in the dashed pass")
        if how == "prior":
            rows = self.value(ctx, m._data[0].name).shape[0]
            out = m._priors[v].sample(rows, device=m.device)
            self.draws[f"prior:{v}"] = out.detach()
            return out  # type: ignore[no-any-return]
        assert i is not None
        ei = m._edges[i]
        net = self.nets[ei.key]
        if how == "inverse":
            t = _flat(self.value(ctx, ei.edge.target))
            base, ladj = net.inverse(t, self.context(ctx, ei))
            self.logdets[(ctx, i)] = ladj  # log |det ∂f⁻¹/∂t| = log p(t | b)
            return base.reshape(base.shape[0], *(node.shape or (1,)))  # type: ignore[no-any-return]
        if ei.kind == "flow":
            b = _flat(self.value(ctx, ei.inputs[0]))
            t, ladj = net(b, self.context(ctx, ei))
            self.logdets[(ctx, i)] = ladj  # log |det ∂f/∂b| = −log q(t | b)
            return t.reshape(t.shape[0], *(node.shape or (1,)))  # type: ignore[no-any-return]
        if ei.kind == "dequantize":
            x = self.value(ctx, ei.inputs[0])
            noise = net.noise(x)
            self.noises[(ctx, i)] = noise
            self.draws[f"noise:{ei.key}"] = noise.detach()
            out, log_q = net.rsample_with(x, noise)
            self.log_qs[(ctx, i)] = log_q
            return out.reshape(out.shape[0], *(node.shape or (1,)))  # type: ignore[no-any-return]
        d = self.dist(ctx, ei)
        noise = d.noise()
        self.draws[f"eps:{ei.key}"] = noise.detach()
        return d.rsample_with(noise) if d.has_rsample else d.sample()  # type: ignore[no-any-return]

    # -- what the IR reads ----------------------------------------------------------------------------------
    def context(self, ctx: str, ei: Any) -> Tensor | None:
        """The context of a flow: its sources after the base, flattened side by side."""
        rest = ei.inputs[1:]
        if not rest:
            return None
        return torch.cat([_flat(self.value(ctx, s)) for s in rest], 1)

    def forward(self, ctx: str, ei: Any) -> Tensor:
        key = (ctx, ei.index)
        out = self.outputs.get(key)
        if out is None:
            vals = [self.value(ctx, s) for s in ei.inputs]
            x = vals[0] if len(vals) == 1 else torch.cat([_flat(t) for t in vals], 1)
            out = self.outputs[key] = self.nets[ei.key](x)
        return out

    def dist(self, ctx: str, ei: Any) -> Any:
        key = (ctx, ei.index)
        d = self.dists.get(key)
        if d is None:
            d = self.dists[key] = ei.head(self.forward(ctx, ei))
        return d

    def logdet(self, ctx: str, ei: Any) -> Tensor:
        key = (ctx, ei.index)
        if key not in self.logdets:  # computed with the value it comes with
            self.value(ctx, ei.inputs[0] if ei.edge.process.value == "generative" else ei.edge.target)
        return self.logdets[key]

    def dequant_log_q(self, ctx: str, ei: Any) -> Tensor:
        key = (ctx, ei.index)
        if key not in self.log_qs:
            self.value(ctx, ei.edge.target)
        return self.log_qs[key]

    def noise(self, ctx: str, ei: Any) -> Tensor:
        key = (ctx, ei.index)
        if key not in self.noises:
            self.value(ctx, ei.edge.target)
        return self.noises[key]

    def support(self, v: str) -> Tensor:
        """The points of an empirical latent (its training points, set by ``fit``)."""
        return self.model._priors[v].points_for(self.model.device)
