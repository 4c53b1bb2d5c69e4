"""One call of a compiled model: the batch, the memo of values, distributions, network outputs and
logits, and the call's random draws -- each a function of one seed per call and the draw's
structural key, so draws do not depend on which terms a call evaluates.  The closures that
compute each value are planned once by :mod:`.planner`.

``last_draws`` keys: ``"<kind>:<name>:<context>"`` with kind ``prior`` (a prior draw, the value
itself; name = node), ``eps`` (standard noise of a reparameterised sample: N(0, I) for a normal,
Gumbel / logistic noise for relaxed heads; name = the edge's network key ``label_group``),
``sample`` (a sample without gradient, the value itself), ``noise`` (the draw of a corruption,
name = the edge key ``x->xn``), ``gp`` (the interpolation weights of a gradient penalty, name =
the red edge's key).  Under importance weighting with k samples a branch's draws have shape
``[k, n, ...]`` (sample i of row j at ``[i, j]``).
"""

from __future__ import annotations

import functools
import threading
import zlib
from typing import Any, cast

import torch
from torch import Tensor

from ..errors import SpecError
from ..graph.model import Role
from .distributions import Dist, Prior, one_hot
from .planner import EdgeInfo, Planner

__all__ = ["Run"]

_HASHES: dict[str, int] = {}
_LOCAL = threading.local()
_is_compiling = torch.compiler.is_compiling


def _generator(device: torch.device) -> torch.Generator:
    """A generator per thread and device, reseeded before every draw."""
    gens = getattr(_LOCAL, "gens", None)
    if gens is None:
        gens = _LOCAL.gens = {}
    gen = gens.get(device)
    if gen is None:
        gen = gens[device] = torch.Generator(device=device)
    return gen


def _eager_seed() -> int:
    """One seed per call, from torch's global generator (so ``torch.manual_seed`` fixes a call)."""
    return int(torch.randint(0, 2**62, (1,)).item())


def _key_hash(key: str) -> int:
    h = _HASHES.get(key)
    if h is None:
        h = _HASHES[key] = zlib.crc32(key.encode()) * 1_000_003
    return h


class Run:
    """One call: the batch, the memo of values, distributions and logits, and the draws."""

    __slots__ = (
        "model",
        "plan",
        "getters",
        "untiled",
        "nets",
        "batch",
        "values",
        "dists",
        "outputs",
        "logits",
        "draws",
        "given",
        "seed",
        "_gen",
        "_rows",
        "_data",
        "results",
        "n",
        "device",
        "dtype",
    )

    def __init__(
        self,
        model: Any,
        batch: dict[str, Tensor] | None,
        n: int | None = None,
        device: Any = None,
        given: dict[str, Tensor] | None = None,
    ) -> None:
        self.model = model
        plan: Planner = model._planner
        self.plan = plan
        self.getters = plan.getters  # the planned closures and tilings, read without a method call
        self.untiled = plan._untiled
        nets = model.__dict__.get("_net_modules")  # (model.networks._modules, without nn.Module.__getattr__)
        self.nets = nets if nets is not None else model.networks._modules
        self.batch = batch or {}
        self.values: dict[tuple[str, str], Tensor] = {}
        self.dists: dict[tuple[str, int], Dist] = {}
        self.outputs: dict[tuple[str, int], Tensor] = {}
        self.logits: dict[Any, Tensor] = {}
        self.draws: dict[str, Tensor] = {}
        self.given = given or {}
        # one seed per call from the global generator, taken at the call's first draw (a call
        # without draws leaves the generator alone); each draw's stream is a function of this
        # seed and the draw's key, so draws do not depend on which terms a call evaluates
        self.seed: int | None = None
        self._gen: torch.Generator | None = None
        self._rows: dict[Any, int] = {}
        self._data: dict[Any, Tensor] = {}
        self.results: dict[str, Tensor] = {}
        if n is None:
            for name in plan.data_nodes:  # the first data node in the batch gives the rows
                t = self.batch.get(name)
                if t is not None:
                    n = int(t.shape[0])
                    break
            else:
                n = self._batch_size()  # (raises: the batch has no data)
        self.n = n
        if device is None:
            for t in self.batch.values():
                if isinstance(t, Tensor):
                    device = t.device
                    break
            else:
                device = model.device
        self.device = device
        self.dtype = model._buffers["_anchor"].dtype
        model.__dict__["last_draws"] = self.draws  # (not nn.Module.__setattr__: this runs every call)

    def _batch_size(self) -> int:
        for name in self.plan.data_nodes:
            t = self.batch.get(name)
            if t is not None:
                return int(t.shape[0])
        raise SpecError(
            "the batch has no data: it needs a tensor for "
            + ", ".join(repr(n.name) for n in self.plan.graph.nodes.values() if n.role is Role.data)
        )

    # -- values ---------------------------------------------------------------------------------------------
    def value(self, ctx: str, node: str) -> Tensor:
        key = (ctx, node)
        v = self.values.get(key)
        if v is None:
            getter = self.getters.get(key)
            if getter is None:
                getter = self.plan.getter(ctx, node)
            v = self.values[key] = getter(self)
        return v

    def injected(self, ctx: str, node: str) -> Tensor:
        if node in self.given:
            return self._shape(self.plan.graph.nodes[node], self.given[node]).to(self.device)
        n = self.plan.graph.nodes[node]
        if n.value in ("categorical", "bernoulli"):  # a label with no producer: uniform
            prior = Prior(n.value, n.shape)
            return prior.sample(self.rows(self.plan.contexts[ctx]), self.device, self.dtype)
        raise SpecError(
            f"sampling needs a value for the data node '{node}' (it has no producer): pass given={{'{node}': tensor}}",
            span=n.span,
        )

    def rows(self, ctx: Any) -> int:
        if not self.plan.given:  # every branch has the batch's rows (k times under importance weighting)
            return self.n * ctx.tile
        key = (ctx.branch if ctx.kind != "sample" else "sample", ctx.tile)
        r = self._rows.get(key)
        if r is None:
            if ctx.kind != "sample" and self.plan.given and ctx.branch is not None:
                y = self.batch[cast(str, self.plan.indicator)]  # given data: the graph has an indicator
                r = int((y == ctx.branch).sum())
            else:
                r = self.n
            r *= ctx.tile
            self._rows[key] = r
        return r

    def _shape(self, node: Any, t: Tensor) -> Tensor:
        if node.value == "categorical":
            if t.dtype in (torch.long, torch.int, torch.int32, torch.int64, torch.int16, torch.uint8):
                return one_hot(t.reshape(t.shape[0]), node.shape[-1] if node.shape else 2, self.dtype)
        shape = node.shape or (1,)
        if t.shape[1:] != shape:  # (a batch already of the node's shape is used as it is)
            t = t.reshape(t.shape[0], *shape)
        return t if t.dtype == self.dtype else t.to(self.dtype)

    def data(self, node: Any, branch: int | None, tile: int) -> Tensor:
        key = (node.name, branch, tile)
        t = self._data.get(key)
        if t is None:
            if node.name not in self.batch:
                raise SpecError(f"the batch has no tensor for the data node '{node.name}'", span=node.span)
            if branch is not None:
                t = self._split(node, self.batch[node.name], branch)
            else:
                t = self._shape(node, self.batch[node.name])
            if tile > 1:
                t = t.repeat(tile, *([1] * (t.dim() - 1)))
            self._data[key] = t
        return t

    def _split(self, node: Any, src: Tensor, branch: int) -> Tensor:
        """The rows of ``src`` in the branch: ``src[y == branch]``, kept on the model for the next
        calls on the same batch (the phases of a training step) while neither tensor changes."""
        y = self.batch[cast(str, self.plan.indicator)]  # a branch split: the graph has an indicator
        cache = self.model._splits
        key = (node.name, branch, self.dtype)
        hit = cache.get(key)
        if hit is not None and hit[0] is src and hit[1] is y and hit[2] == (src._version, y._version, hit[3]._version):
            return hit[3]
        t = self._shape(node, src)[y == branch]
        if not (src.requires_grad or src.is_inference() or y.is_inference() or torch.compiler.is_compiling()):
            cache[key] = (src, y, (src._version, y._version, t._version), t)
        return t

    def draw_prior(self, ctx: Any, prior: Prior, key: str, sid: str) -> Tensor:
        z = prior.from_base(self.base(sid, prior.base_kind, (self.rows(ctx), *prior.shape)), fresh=True)
        self.record(key, z, ctx)
        return z

    def base(self, key: str, kind: str, shape: Any, dtype: torch.dtype | None = None) -> Tensor:
        """A standard normal or uniform draw for ``key`` (a structural id: kind, edge or node
        index, context): the same for the same call seed and key, whatever else the call
        evaluates, and whatever the nodes and networks are called."""
        if _is_compiling():
            return _compiled_base()(self, key, kind, shape, dtype)
        return self._base(key, kind, shape, dtype)

    def _base(self, key: str, kind: str, shape: Any, dtype: torch.dtype | None) -> Tensor:
        gen = self._gen
        if gen is None:
            gen = self._gen = _generator(self.device)
        seed = self.seed
        if seed is None:  # (under torch.compile this runs eagerly: compiled and eager calls draw the same)
            seed = self.seed = _eager_seed()
        h = _HASHES.get(key)
        gen.manual_seed((seed + (h if h is not None else _key_hash(key))) % (2**63 - 1))
        dtype = dtype or self.dtype
        if kind == "normal":
            return torch.randn(tuple(shape), generator=gen, device=self.device, dtype=dtype)
        return torch.rand(tuple(shape), generator=gen, device=self.device, dtype=dtype)

    def record(self, key: str, t: Tensor, ctx: Any) -> None:
        if ctx.tile > 1:
            t = t.reshape(ctx.tile, t.shape[0] // ctx.tile, *t.shape[1:])
        self.draws[key] = t.detach() if t.requires_grad else t

    # -- networks -----------------------------------------------------------------------------------------
    def net_input(self, ctx: str, ei: EdgeInfo, detach: bool = False) -> Tensor:
        inputs = ei.inputs
        if len(inputs) == 1:
            x = self.value(ctx, inputs[0])
            return x.detach() if detach else x
        vals = [self.value(ctx, i) for i in inputs]
        if detach:
            vals = [v.detach() for v in vals]
        if len(vals) == 1:
            return vals[0]
        return torch.cat([v.reshape(v.shape[0], -1) for v in vals], dim=1)

    def forward(self, ctx: str, ei: EdgeInfo) -> Tensor:
        key = (ctx, ei.index)
        out = self.outputs.get(key)
        if out is not None:
            return out
        untiled = self.untiled[key] if key in self.untiled else self.plan.untiled(ctx, ei)
        if untiled is not None:  # the inputs do not depend on the k draws: run once on n rows
            out = self.forward(untiled[0], ei)
            out = out.repeat(untiled[1], *([1] * (out.dim() - 1)))
        else:
            inputs = ei.inputs
            out = self.nets[ei.net_key](  # type: ignore[index]
                self.value(ctx, inputs[0]) if len(inputs) == 1 else self.net_input(ctx, ei)
            )
        self.outputs[key] = out
        return out

    def dist(self, ctx: str, ei: EdgeInfo) -> Dist:
        key = (ctx, ei.index)
        d = self.dists.get(key)
        if d is None:
            d = self.dists[key] = ei.head._make(self.forward(ctx, ei))  # type: ignore[union-attr]  # = ei.head(...)
        return d

    def logit(self, ctx: str, ei: EdgeInfo, detach: bool, frozen: bool = False) -> Tensor:
        """The red edge's logit of D(v) = q_phi(y = 1 | v) at the values of ``ctx``, ``[n]``.

        ``detach``: the samples carry no gradient (the owner's term); ``frozen``: the adversary's
        parameters carry none (the other groups' term: it does not update the owner, and its
        backward pass computes no gradient for the owner's weights)."""
        key = (ctx, ei.index, detach, frozen)
        out = self.logits.get(key)
        if out is None:
            x = self.net_input(ctx, ei, detach=detach)
            net = self.nets[ei.net_key]  # type: ignore[index]
            out = self.model._frozen(ei.net_key)(x) if frozen else net(x)
            out = out.reshape(x.shape[0])
            self.logits[key] = out
        return out


@functools.cache
def _compiled_base() -> Any:
    """``Run._base`` kept out of torch.compile's graph; made on first use under compilation, since
    ``torch.compiler.disable`` imports torch._dynamo (seconds) and plain runs never need it."""
    return torch.compiler.disable(Run._base)
