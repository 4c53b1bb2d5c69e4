"""The generative process of a flow graph (:class:`.flow_model.FlowModel`): ancestral sampling
along the solid edges, a flow run forward (``t = f(b; c)``), priors drawn, and data that was
dequantized in the dashed process quantized back (``x = floor(s·v)/s``); encoding by the dashed
pass (a solid flow's inverse, or a draw of q)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ..errors import SpecError
from ..graph.model import Process, Role

__all__ = ["FlowSampling"]


class FlowSampling:
    """Mixed into FlowModel: ``sample``, ``decode``, ``encode`` and the refusals of a flow graph."""

    graph: Any
    device: Any
    _edges: list[Any]
    _priors: dict[str, Any]
    _data: list[Any]
    _how: dict[str, Any]
    _as_batch: Any  # CompiledModel's

    @property
    def exact(self) -> bool:  # pragma: no cover - FlowModel's
        raise NotImplementedError

    def _net(self, key: str) -> Any:  # pragma: no cover - FlowModel's
        raise NotImplementedError

    def _edge_dist(self, ei: Any, values: dict[str, Tensor]) -> Any:  # pragma: no cover - FlowModel's
        raise NotImplementedError

    def run(self, batch: dict[str, Tensor]) -> Any:  # pragma: no cover - FlowModel's
        raise NotImplementedError

    @staticmethod
    def _flat(t: Tensor) -> Tensor:
        return t.reshape(t.shape[0], -1)

    def sample(
        self, n: int, mean: bool = True, given: dict[str, Tensor] | None = None, steps: int = 10
    ) -> dict[str, Tensor]:
        given = {k: v.to(self.device) for k, v in (given or {}).items()}
        unknown = [v for v in given if v not in self.graph.nodes]
        if unknown:
            raise SpecError(f"sample: given names no node of '{self.graph.name}': {', '.join(unknown)}")
        out: dict[str, Tensor] = dict(given)
        for v in self.graph.nodes:
            self._generate(v, n, mean, out, frozenset())
        return {v: t for v, t in out.items() if v not in given}

    def _generate(self, v: str, n: int, mean: bool, out: dict[str, Tensor], visiting: frozenset[str]) -> Tensor | None:
        if v in out:
            return out[v]
        if v in visiting:
            return None
        visiting = visiting | {v}
        g = self.graph
        node = g.nodes[v]
        shape = (n, *(node.shape or (1,)))
        for ei in self._edges:
            e = ei.edge
            if e.target != v or e.process is not Process.generative:
                continue
            vals = [self._generate(s, n, mean, out, visiting) for s in ei.inputs]
            if any(t is None for t in vals):
                continue
            if ei.kind == "flow":
                ctx = torch.cat([self._flat(t) for t in vals[1:]], 1) if len(vals) > 1 else None  # type: ignore[arg-type]
                t, _ = self._net(ei.key)(self._flat(vals[0]), ctx)  # type: ignore[arg-type]
                out[v] = t.reshape(shape)
            else:
                d = self._edge_dist(ei, dict(zip(ei.inputs, vals, strict=True)))  # type: ignore[arg-type]
                out[v] = d.mean if (mean and node.role is Role.data) else d.sample()
            return out[v]
        if node.role is Role.data:
            for ei in self._edges:
                if ei.kind == "dequantize" and ei.inputs[0] == v:
                    dv = self._generate(ei.edge.target, n, mean, out, visiting)
                    if dv is not None:
                        out[v] = self._net(ei.key).quantize(dv).reshape(shape)
                        return out[v]
            return None
        if node.prior is not None:
            out[v] = self._priors[v].sample(n, device=self.device)
            return out[v]
        return None

    def decode(
        self, z: Tensor | dict[str, Tensor], mean: bool = True, given: dict[str, Tensor] | None = None
    ) -> Tensor:
        codes = z if isinstance(z, dict) else {self._code_node(): z}
        n = int(next(iter(codes.values())).shape[0])
        out = self.sample(n, mean=mean, given={**(given or {}), **codes})
        data = [d.name for d in self._data if d.name in out]
        if not data:
            raise SpecError(f"'{self.graph.name}' generates no data node from {', '.join(codes)}")
        return out[data[0]]

    def _code_node(self) -> str:
        for v, node in self.graph.nodes.items():
            if node.prior is not None and self._how.get(v, ("prior",))[0] != "prior":
                return v
        raise SpecError(f"'{self.graph.name}' infers no latent node with a prior from data: nothing to encode")

    def encode(self, x: Tensor | dict[str, Tensor]) -> Tensor:
        """The code of data in the dashed process (the flow's inverse, or a draw of q)."""
        v = self._code_node()
        return self.run(self._as_batch(x)).value("y=1", v)

    def posterior(self, batch: Tensor | dict[str, Tensor]) -> torch.distributions.Distribution:
        raise SpecError(f"'{self.graph.name}' has no posterior in closed form (a flow or dequantization graph)")

    def reconstruct(self, x: Tensor | dict[str, Tensor]) -> Tensor:
        if self.exact and not any(n.value == "empirical" for n in self.graph.nodes.values()):
            raise SpecError(f"'{self.graph.name}' is a bijection of its data: a reconstruction is the data itself")
        if self.exact:
            raise SpecError(
                f"'{self.graph.name}' has no encoder: its latent is the memorised training set, "
                "so there is nothing to reconstruct with"
            )
        raise SpecError(f"'{self.graph.name}' has no reconstruction here (a flow or dequantization graph)")
