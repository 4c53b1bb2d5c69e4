"""The networks of a flow graph (:class:`.flow_model.FlowModel`): a zuko flow per invertible edge,
a dequantization (uniform, or variational with its conditional flow) per ``dequantize`` edge,
and a registry network with its head per stochastic edge; each edge as the flow path sees it
(:class:`_E`, which the IR reads by index like the planner's ``EdgeInfo``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from .. import registry
from ..graph.model import Edge, SchematicGraph
from . import networks as nets
from .distributions import Head, make_head
from .flows import Dequantization
from .model import _features
from .terms import Sym, net_sym

__all__ = ["FlowNetworks"]


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
    activation: str | None = None

    @property
    def net_key(self) -> str:
        return self.key


class FlowNetworks:
    """Mixed into FlowModel: building the networks, and the parameters of a group."""

    graph: SchematicGraph
    networks: nn.ModuleDict
    _edges: list[_E]
    _err: Any  # CompiledModel's

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

    def _edge_dist(self, ei: _E, values: dict[str, Tensor]) -> Any:
        """The distribution of a stochastic edge at given input values (the generative process)."""
        vals = [values[s] for s in ei.inputs]
        x = vals[0] if len(vals) == 1 else torch.cat([t.reshape(t.shape[0], -1) for t in vals], 1)
        return ei.head(self._net(ei.key)(x))  # type: ignore[misc]
