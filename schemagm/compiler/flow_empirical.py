"""Empirical latents (``latent m : empirical[D]``): the training points, each with probability
1/N, summed out exactly by the flow path (:class:`.ir_flows.Marginal`).  A kernel density is
``m -> x : identity normal(std=ε)`` (specs/extra/kde.sgm).  Such a model has no parameters: it
learns by :meth:`FlowPoints.fit`, which memorises the points in a buffer ``support_<m>``."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from ..errors import SpecError
from ..graph.model import Process, Role, SchematicGraph

__all__ = ["Empirical", "FlowPoints"]


class Empirical:
    """p(v) = (1/N) Σ_j δ(v − v_j) of an empirical latent: its points are the model's buffer
    ``support_<v>`` (empty until :meth:`FlowModel.fit`)."""

    kind = "empirical"

    def __init__(self, model: nn.Module, node: str, shape: tuple[int, ...]) -> None:
        self._model = [model]  # not a submodule
        self.node = node
        self.shape = tuple(shape) or (1,)
        self.buffer = f"support_{node}"

    def points_for(self, device: Any) -> Tensor:
        pts: Tensor = getattr(self._model[0], self.buffer)
        if pts.shape[0] == 0:
            raise SpecError(
                f"the empirical latent '{self.node}' has no points yet: train the model first (`schemagm train` "
                "memorises the training set)"
            )
        return pts.to(device)

    def sample(self, n: int, device: Any = None, dtype: Any = None) -> Tensor:
        pts = self.points_for(device)
        return pts[torch.randint(pts.shape[0], (n,), device=pts.device)]

    def __repr__(self) -> str:
        return f"Empirical({self.node!r}, {self.shape})"


class FlowPoints:
    """Mixed into FlowModel: where an empirical latent's points come from, and ``fit``."""

    graph: SchematicGraph
    device: Any
    _anchor: Tensor
    _edges: list[Any]
    _how: dict[str, tuple[str, int | None]]
    _support_of: dict[str, str]
    _err: Any  # CompiledModel's

    def _on_support(self, v: str) -> bool:
        """Is ``v`` an empirical latent summed over its points (no single value in the dashed pass)?"""
        return self._how.get(v, ("",))[0] == "support"

    def _check_empirical(self) -> None:
        """An empirical latent is summed out exactly: it feeds solid stochastic edges only, and its
        points are the training set of the one data node of its size that it generates."""
        for v, how in self._how.items():
            if how[0] != "support":
                continue
            node = self.graph.nodes[v]
            readers = [ei for ei in self._edges if v in ei.inputs]
            for ei in readers:
                if ei.edge.process is not Process.generative or ei.kind != "stochastic":
                    raise self._err(
                        f"the empirical latent '{v}' is summed over its points, so only solid edges with a density "
                        "may read it",
                        ei.edge,
                    )
            data = [
                ei.edge.target
                for ei in readers
                if self.graph.nodes[ei.edge.target].role is Role.data
                and self.graph.nodes[ei.edge.target].shape == node.shape
            ]
            if len(data) != 1:
                raise SpecError(
                    f"the empirical latent '{v}' takes its points from the data it generates: it needs one solid "
                    "edge into a data node of its shape",
                    span=node.span,
                    source=self.graph.source,
                    file=self.graph.file,
                    hint=f"e.g. `{v} -> x : identity normal(std=0.05)` for `data x : real[...]` of the same shape",
                )
            self._support_of[v] = data[0]

    # -- a non-parametric model: its points ------------------------------------------------------------------
    @property
    def nonparametric(self) -> bool:
        """Does the model learn by memorising data (an empirical latent) rather than by gradients?"""
        return bool(self._support_of)

    def fit(self, batch: dict[str, Tensor]) -> str:
        """Memorise the training points of every empirical latent (the rows of the data node it
        generates); returns what was done, in words."""
        done = []
        for v, x in self._support_of.items():
            if x not in batch:
                raise SpecError(f"fit: the batch has no data for '{x}', whose points '{v}' memorises")
            node = self.graph.nodes[v]
            dtype: torch.dtype = self._anchor.dtype  # type: ignore[assignment]
            pts = batch[x].to(dtype).reshape(batch[x].shape[0], *(node.shape or (1,)))
            setattr(self, f"support_{v}", pts.to(self.device).clone())
            done.append(f"'{v}' memorised {pts.shape[0]} points of '{x}'")
        return "; ".join(done)

    def accept_state_shapes(self, state: dict[str, Any], prefix: str = "") -> None:
        """Size the points' buffers as a state dict has them (their count is the training set's)."""
        for v in self._support_of:
            key = f"{prefix}support_{v}"
            if key in state and state[key].shape[1:] == getattr(self, f"support_{v}").shape[1:]:
                setattr(self, f"support_{v}", torch.empty_like(state[key], device=self.device))

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any, **kwargs: Any) -> None:
        self.accept_state_shapes(state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)  # type: ignore[misc]
