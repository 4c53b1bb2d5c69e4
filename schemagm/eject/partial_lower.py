"""Eject partially observed data nodes (``data c : categorical[10] from digits.label partial(0.1)``):
the lowering of the IR's partial-node names (:mod:`schemagm.compiler.partial`: ``observed``,
``observed_value``, ``enum_value``) to the batch's mask ``batch["c.observed"]``, the observed
values and the enumerated values, and the value of such a node in a branch (the batch's where
observed, its planned source where missing: the planner's ``mixed_getter``); and, for the
script's test report, ``infer_<c>`` and the accuracy of the inferred label."""

from __future__ import annotations

from typing import Any

from ..errors import SpecError
from ..graph.model import observed_key

__all__ = ["PartialLowering", "inferred_functions"]


class PartialLowering:
    """Mixed into :class:`.lower.Lowering`: the partially observed nodes' names and values."""

    graph: Any
    plan: Any
    helpers: set[str]
    values: dict[tuple[str, str], str]
    rows_of: dict[Any, str]

    # the Lowering's (declared for the type checker)
    def fresh(self, base: str) -> str:  # pragma: no cover - Lowering's
        raise NotImplementedError

    def emit(self, line: str) -> None:  # pragma: no cover - Lowering's
        raise NotImplementedError

    def enter(self, ctx_name: str) -> None:  # pragma: no cover - Lowering's
        raise NotImplementedError

    def slug(self, ctx_name: str) -> str:  # pragma: no cover - Lowering's
        raise NotImplementedError

    def computed(self, ctx_name: str, v: str, src: Any) -> str:  # pragma: no cover - Lowering's
        raise NotImplementedError

    def prior_draw(self, ctx_name: str, v: str, name: str) -> None:  # pragma: no cover - Lowering's
        raise NotImplementedError

    @staticmethod
    def constant(value: Any) -> str:
        """A small constant tensor as source (one value of an enumerated node)."""
        vals = value.reshape(-1).tolist()
        if value.dim() == 1:
            return f"torch.tensor({vals!r})"
        return f"torch.tensor({vals!r}).reshape({', '.join(map(str, value.shape))})"

    def all_rows(self) -> str:
        """The number of rows of the batch (a variable, emitted once)."""
        name = self.rows_of.get((None, 1))
        if name is None:
            name = self.fresh("n")
            self.emit(f"{name} = batch[{self.plan.data_nodes[0]!r}].shape[0]")
            self.rows_of[(None, 1)] = name
        return name

    def _enum_index(self, v: str, value: Any) -> int:
        import torch

        from ..compiler.distributions import support

        node = self.graph.nodes[v]
        values = support(node.value, node.shape)
        return next(k for k, one in enumerate(values) if torch.equal(one.to(value.dtype), value))

    # -- partially observed nodes (compiler/partial.py) -----------------------------------------------------
    def _partial_rows(self, ctx_name: str, v: str) -> int:
        ctx = self.plan.contexts[ctx_name]
        if self.plan.given and ctx.branch is not None:
            raise SpecError(
                f"the partially observed '{v}' in a graph whose data is split by a given indicator has no emitted form",
                span=self.graph.nodes[v].span,
            )
        return int(ctx.tile)

    def observed(self, v: str, tile: int = 1, dims: int = 0) -> str:
        """The mask of ``v`` (True where observed), bool ``[n]``; ``tile`` copies of the rows, and
        ``dims`` trailing axes of size 1 (to select whole values)."""
        key = ("observed", f"{v}:{tile}:{dims}")
        if key in self.values:
            return self.values[key]
        if tile == 1 and dims == 0:
            name = self.fresh(f"m_{v}")
            self.emit(f"# m_{v}: the rows where {v} is observed")
            self.emit(f"{name} = batch[{observed_key(v)!r}].bool()")
        else:
            base = self.observed(v)
            name = self.fresh(f"m_{v}" + (f"_k{tile}" if tile > 1 else "") + ("_rows" if dims else ""))
            expr = base if tile == 1 else f"{base}.repeat({tile})"
            if dims:
                expr = f"{expr}[:, None]" if dims == 1 else f"{expr}.reshape(-1, {', '.join(['1'] * dims)})"
            self.emit(f"{name} = {expr}")
        self.values[key] = name
        return name

    def observed_value(self, v: str, tile: int = 1) -> str:
        """The batch's value of ``v`` on every row (one-hot for a categorical; 0 where missing)."""
        key = ("observed_value", f"{v}:{tile}")
        if key in self.values:
            return self.values[key]
        node = self.graph.nodes[v]
        if tile == 1:
            expr = f"batch[{v!r}]"
            if node.value == "categorical":
                self.helpers.add("one_hot")
                expr = f"one_hot({expr}, {node.shape[-1] if node.shape else 2})"
            name = self.fresh(f"{v}_observed")
        else:
            ones = ", ".join(["1"] * len(node.shape or (1,)))
            expr = f"{self.observed_value(v)}.repeat({tile}, {ones})"
            name = self.fresh(f"{v}_observed_k{tile}")
        self.emit(f"{name} = {expr}")
        self.values[key] = name
        return name

    def enum_value(self, v: str, k: int) -> str:
        """The k-th value of the enumerated ``v`` on every row."""
        key = ("enum_value", f"{v}:{k}")
        if key in self.values:
            return self.values[key]
        from ..compiler.distributions import support

        node = self.graph.nodes[v]
        one = support(node.value, node.shape)[k]
        name = self.fresh(f"{v}_is_{k}")
        rows = self.all_rows()
        if node.value == "categorical" and one.dim() == 1:  # one class: a one-hot row per row
            self.helpers.add("one_hot")
            self.emit(f"{name} = one_hot(torch.full(({rows},), {k}), {one.shape[0]})")
        else:
            self.emit(f"{name} = {self.constant(one)}.expand({rows}, {', '.join(map(str, one.shape))})")
        self.values[key] = name
        return name

    def mixed(self, ctx_name: str, v: str, src: Any) -> str:
        """A partially observed node's value in a branch: the batch's where observed, its planned
        source (the dashed producer's value, an enumerated value, or a prior draw) where missing."""
        tile = self._partial_rows(ctx_name, v)
        if src.kind == "data":  # missing rows: a draw of the prior p(v)
            inner = self.fresh(f"{v}_prior{self.slug(ctx_name)}")
            self.enter(ctx_name)
            self.prior_draw(ctx_name, v, inner)
        else:
            inner = self.computed(ctx_name, v, src)
            del self.values[(ctx_name, v)]
        dims = len(self.graph.nodes[v].shape or (1,))
        mask, seen = self.observed(v, tile, dims), self.observed_value(v, tile)
        name = self.fresh(f"{v}{self.slug(ctx_name)}_mixed")
        self.emit(f"# {v}: the batch's where observed, else {'its prior' if src.kind == 'data' else 'inferred'}")
        self.emit(f"{name} = torch.where({mask}, {seen}, {inner})")
        self.values[(ctx_name, v)] = name
        return name


def inferred_functions(model: Any, helpers: set[str]) -> tuple[str, str]:
    """For each partially observed categorical node: ``infer_<v>``, its class probabilities from
    the other data (the mean of the dashed edge that infers it, as ``model.infer``), and the
    lines of ``evaluate`` that report its accuracy on the test rows where it is observed."""
    from .flow_lower import FlowView
    from .lower import ACT, Lowering, ident

    fns, report = [], []
    if isinstance(model, FlowView):
        return "", ""
    for v, node in model.graph.nodes.items():
        if not (node.partial and node.value == "categorical"):
            continue
        for ctx in ("y=1", "y=0") if model._planner.indicator else ("y=1",):
            src = model._planner.source(ctx, v)
            if src.kind == "edge":
                break
        else:
            continue
        ei = model._infos[src.edge]
        low = Lowering(model, helpers)
        if ei.head is not None:
            probs = low.mean(low.dist(ctx, ei))
            what = f"the mean of {ei.sym.u}"
        else:
            out = low.forward(ctx, ei)
            act = ACT[ei.activation]
            probs = act.format(out) if act else out
            what = f"{ei.sym.u}"
        body = "\n".join(f"    {line}" for line in low.lines if not line.startswith("#"))
        fns.append(
            f"def infer_{ident(v)}(nets, batch, noise):\n"
            f'    """The class probabilities of {v} from the other data: {what}."""\n'
            f"{body}\n    return {probs}\n"
        )
        report.append(
            f"    # the accuracy of the inferred {v} (its most probable class) where it is observed\n"
            "    with torch.no_grad():\n"
            f"        guess = infer_{ident(v)}(nets, batch, Noise()).argmax(-1)\n"
            f"        seen = batch[{observed_key(v)!r}].bool()\n"
            f"        right = (guess == batch[{v!r}].reshape(-1))[seen]\n"
            f'    result["accuracy_{ident(v)}"] = float(right.float().mean())\n'
        )
    return "\n\n".join(fns), "".join(report)
