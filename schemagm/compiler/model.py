"""CompiledModel: the networks of a schematic graph and its objective, as one ``nn.Module``.

Compilation walks the graph once: it builds every edge's network (registry factories, sizes
read off the nodes), plans where each node's value comes from in each context
(:mod:`.planner`) and derives the terms (:mod:`.objective`).  A call (``losses``, ``terms``,
``phase_loss``) then only evaluates closures, computing lazily what its terms need and
memoising every value within the call.
"""

from __future__ import annotations

import functools
import math
import re
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from .. import registry
from ..errors import Span, SpecError
from ..graph.build import UNIFORM_DEFAULT_RANGE
from ..graph.model import Edge, Process, Role, SchematicGraph
from . import networks as nets
from .distributions import Dist, Prior, kl_to_prior, make_head
from .objective import derive
from .planner import ACTIVATIONS, Context, EdgeInfo, Planner, Unresolved
from .run import Run
from .terms import Objective, net_sym
from .twins import Slots, make_twin, same_tensors

__all__ = ["CompiledModel", "build_graph"]


def _features(node: Any) -> nets.Features:
    if node.is_image:
        return tuple(node.shape)
    return node.size


class CompiledModel(nn.Module):
    """A schematic graph compiled into PyTorch (docs/design.md section 6)."""

    _anchor: Tensor  # a buffer: the model's device and dtype

    def __init__(self, graph: SchematicGraph) -> None:
        super().__init__()
        self.graph = graph
        self.networks = nn.ModuleDict()
        self._net_modules = self.networks._modules  # the networks by key, as a call reads them (run.Run)
        self.register_buffer("_anchor", torch.zeros(()), persistent=False)
        self.last_draws: dict[str, Tensor] = {}
        self._splits: dict[
            tuple[str, int, torch.dtype], tuple[Tensor, Tensor, tuple[int, int, int], Tensor]
        ] = {}  # batch rows by branch (Run._split)
        self._shadows: dict[str, tuple[nn.Module, Slots]] = {}  # the frozen twins (twins.py)
        self._trunks: dict[tuple[str, bool], tuple[nn.Module, nn.Module]] = {}  # shared trunks (_trunk)
        self._infos = self._build_networks()
        self._priors = {
            n.name: Prior(n.prior, n.shape, *(n.range if n.range is not None else UNIFORM_DEFAULT_RANGE))
            for n in graph.nodes.values()
            if n.prior is not None
        } | {n.name: Prior(n.missing_prior, n.shape) for n in graph.nodes.values() if n.missing_prior is not None}
        self._planner = Planner(graph, self._infos, self._priors, self._err)
        compiled = derive(graph, self._planner, self._infos, self._priors, self._err, self._option_span)
        self.objective: Objective = compiled.objective
        self._values = compiled.values
        self._exprs = compiled.exprs
        self.last_baselines: dict[str, Any] = {}  # the baselines the last call used, by term name
        self._register_baselines()
        self._coef = compiled.coefficients
        self.groups: list[str] = list(graph.groups)
        for key in list(self._planner.sources):  # build every closure now, not during a call
            if self._planner.sources[key] is not None:
                self._planner.getter(*key)
        self._phase_terms = {
            p.name: [t.name for t in self.objective.terms if t.groups & set(p.groups)] for p in self.objective.phases
        }
        self._group_terms = {g: [t.name for t in self.objective.terms if g in t.groups] for g in self.groups}
        #: per phase, each term's (name, value, coefficient): what phase_loss evaluates, read without lookups
        self._phase_plans = {
            p: [(n, self._values[n], self._coef[n]) for n in names] for p, names in self._phase_terms.items()
        }

    def _register_baselines(self) -> None:
        """One buffer per score-function term (NVIL's moving-average baseline and whether it is set),
        so that a checkpoint saves it and a resumed run goes on from it."""
        from .ir import Score, walk

        k = 0
        for top in self._exprs.values():
            for node in walk(top):
                if isinstance(node, Score) and not node.buffer:
                    node.buffer = f"score_baseline_{k}"
                    self.register_buffer(node.buffer, torch.zeros(2))  # (b, 1 once set)
                    k += 1

    # -- errors ----------------------------------------------------------------------------------------------
    def _err(self, message: str, edge: Edge | None = None, hint: str | None = None) -> SpecError:
        return SpecError(
            message,
            span=edge.span if edge is not None else None,
            hint=hint,
            source=self.graph.source,
            file=self.graph.file,
        )

    def _option_span(self, key: str) -> Span | None:
        text = self.graph.source
        if not text:
            return None
        for i, line in enumerate(text.splitlines(), 1):
            m = re.match(rf"(\s*)({re.escape(key)})\s*=", line.split("#", 1)[0])
            if m:
                return Span(i, len(m.group(1)) + 1, i, len(m.group(1)) + 1 + len(key), self.graph.file)
        return None

    # -- networks ----------------------------------------------------------------------------------------------
    def _build_networks(self) -> list[EdgeInfo]:
        g = self.graph
        infos: list[EdgeInfo] = []
        made: dict[str, tuple[Any, ...]] = {}
        heads: list[tuple[EdgeInfo, nets.Features]] = []
        for i, e in enumerate(g.edges):
            for s in (*e.sources, e.target):
                if s not in g.nodes:
                    raise self._err(f"unknown node '{s}'", e)
            inputs = e.inputs(g)
            target = g.nodes[e.target]
            ei = EdgeInfo(i, e, inputs)
            ei.name = f"{e.label or e.key}_{e.group}" if e.group else e.key
            ei.sym = net_sym(e.label or ("D" if e.adversarial else "f"), e.group)
            infos.append(ei)
            if e.adversarial and (e.kernel is not None or e.group is None):
                continue  # a kernel test or a perfect adversary: no network
            call = e.network
            if call is not None and call.name in registry.CORRUPTIONS:
                if e.group is not None:
                    raise self._err(f"the corruption '{call.name}' has no parameters, so it takes no group", e)
                try:
                    ei.corruption = registry.CORRUPTIONS[call.name].resolve()(*call.args, **call.kw)
                except (TypeError, ValueError) as exc:
                    raise self._err(f"cannot build the corruption {call}: {exc}", e) from None
                if len(inputs) != 1 or g.nodes[inputs[0]].shape != target.shape:
                    raise self._err(
                        f"a corruption maps one node to a node of the same shape; here {', '.join(inputs)} -> "
                        f"{e.target}",
                        e,
                    )
                ei.sym = net_sym("q", None)
                continue
            if e.group is None:
                entry = registry.lookup("network", call.name) if call is not None else None
                if entry is None or entry.parametric:
                    raise self._err(
                        "this edge has a network with parameters but no parameter group (write it as `G_theta = ...`)",
                        e,
                    )
            if not inputs:
                raise self._err("this edge has no input node for its network", e)
            in_f = nets.feature_shape([_features(g.nodes[s]) for s in inputs])
            if e.adversarial:
                out_f: nets.Features = 1
            elif e.deterministic:
                ei.activation = e.output.name if e.output is not None else None
                if ei.activation not in ACTIVATIONS:
                    raise self._err(
                        "a deterministic edge ends with an activation "
                        f"({', '.join(a for a in ACTIVATIONS if a)}), not '{ei.activation}'",
                        e,
                    )
                out_f = _features(target)
            else:
                head_name = (
                    e.output.name
                    if e.output is not None
                    else {"categorical": "categorical", "bernoulli": "bernoulli"}.get(target.value, "normal")
                )
                if head_name not in registry.DISTRIBUTIONS:
                    raise self._err(
                        f"a stochastic edge ends with a distribution ({', '.join(registry.DISTRIBUTIONS)}), "
                        f"not '{head_name}'",
                        e,
                    )
                ei.head = make_head(head_name, e.output.kw if e.output is not None else {}, g.options.temperature)
                tf = _features(target)
                out_f = tuple([tf[0] * ei.head.blocks, *tf[1:]]) if isinstance(tf, tuple) else tf * ei.head.blocks
            net_call = call
            name = net_call.name if net_call is not None else "mlp"
            args = tuple(net_call.args) if net_call is not None else ()
            kwargs = dict(net_call.kw) if net_call is not None else {}
            entry = registry.lookup("network", name)
            if entry is None:
                raise self._err(
                    f"unknown network '{name}'", e, hint="known networks: " + ", ".join(registry.network_names())
                )
            if entry.accepts == "image" and not isinstance(in_f, tuple):
                raise self._err(
                    f"'{name}' takes one image [C, H, W] as input, but this edge feeds it {in_f} numbers", e
                )
            if entry.accepts == "categorical" and not (len(inputs) == 1 and g.nodes[inputs[0]].value == "categorical"):
                raise self._err(f"'{name}' takes one categorical node as input", e)
            if entry.produces == "image" and not isinstance(out_f, tuple):
                raise self._err(f"'{name}' produces an image, but this edge needs {out_f} numbers", e)
            key = ei.name
            spec = (name, args, tuple(sorted(kwargs.items())), in_f, out_f)
            if name == registry.HEAD:  # built once every trunk exists (its input is the trunk's width)
                if key not in made:
                    heads.append((ei, out_f))
                elif made[key] != spec:
                    raise self._err(f"the network {key} is used on two edges with different sizes or architectures", e)
                made[key] = spec
                ei.net_key = key
                continue
            if key in made:
                if made[key] != spec:
                    raise self._err(f"the network {key} is used on two edges with different sizes or architectures", e)
                ei.net_key = key
                continue
            try:
                module = entry.resolve()(in_f, out_f, *args, **kwargs)
            except (TypeError, ValueError, RuntimeError) as exc:
                raise self._err(f"cannot build {name} for {in_f} inputs and {out_f} outputs: {exc}", e) from None
            if not isinstance(module, nn.Module):
                raise self._err(
                    f"the network factory '{name}' returned {type(module).__name__}, not a torch.nn.Module", e
                )
            self.networks[key] = module
            made[key] = spec
            ei.net_key = key
        for ei, out_f in heads:
            self._build_head(ei, out_f, infos)
        count: dict[str, int] = {}
        for ei in infos:  # the edges of a tied network name their draws apart: G_theta[1], G_theta[2]
            count[ei.name] = count.get(ei.name, 0) + 1
        seen: dict[str, int] = {}
        for ei in infos:
            if count[ei.name] > 1 and ei.net_key is not None:
                seen[ei.name] = seen.get(ei.name, 0) + 1
                ei.draw = f"{ei.name}[{seen[ei.name]}]"
        return infos

    def _build_head(self, ei: EdgeInfo, out_f: nets.Features, infos: list[EdgeInfo]) -> None:
        """``Q_eta = head(D_phi)``: Q's own affine map on D_phi's trunk (every layer of D_phi's network
        but its last), applied live where Q's group is D_phi's and frozen otherwise (docs/semantics.md
        §2.1: a term through Q updates Q's group, never the trunk's other group)."""
        e = ei.edge
        assert e.network is not None
        trunk_key = str(e.network.args[0]) if e.network.args else ""
        owner = next((o for o in infos if o.net_key == trunk_key and o.net_key in self.networks), None)
        if owner is None or registry.HEAD == (owner.edge.network.name if owner.edge.network else None):
            raise self._err(f"'{e.network}' names no network with a trunk on another edge", e)
        try:
            cut, width = nets.trunk_cut(self.networks[trunk_key])
        except ValueError as exc:
            raise self._err(f"cannot share the trunk of {trunk_key}: {exc}", e) from None
        module = nets.head(width, out_f)
        live = owner.edge.group == e.group
        module.trunk = functools.partial(self._trunk, trunk_key, cut, live)
        self.networks[str(ei.net_key)] = module
        ei.trunk = (trunk_key, cut, live)

    def _trunk(self, key: str, cut: int, live: bool) -> nn.Module:
        """The first ``cut`` layers of network ``key``: its own layers (live) or its frozen twin's."""
        net = self.networks[key] if live else self._frozen(key)
        entry = self._trunks.get((key, live))
        if entry is None or entry[0] is not net:
            entry = self._trunks[(key, live)] = (net, nets.trunk_layers(net, cut))
        return entry[1]

    # -- parameters and device -------------------------------------------------------------------------------
    def parameters_of(self, group: str) -> list[nn.Parameter]:
        """The parameters of one group (theta, eta, phi, lambda, ...), each once."""
        seen: set[int] = set()
        out: list[nn.Parameter] = []
        for ei in self._infos:
            if ei.edge.group == group and ei.net_key is not None:
                for p in self.networks[ei.net_key].parameters():
                    if id(p) not in seen:
                        seen.add(id(p))
                        out.append(p)
        return out

    def _frozen(self, key: str) -> nn.Module:
        """A twin of a network whose parameters are detached views of the network's own and whose
        buffers are the network's own tensors: it computes the same function, sends gradients to
        its input only, and follows in-place updates (optimiser steps, ``load_state_dict``,
        BatchNorm running statistics, ``buffer.fill_``); rebuilt when a tensor is replaced
        (``.to()``, ``load_state_dict(assign=True)``, a buffer reassigned) or after a copy."""
        net = self._net_modules[key]  # (self.networks[key] without nn.Module.__getattr__: every call reads it)
        entry = self._shadows.get(key)
        if entry is None or not same_tensors(entry[1]):
            entry = self._shadows[key] = make_twin(net)
        shadow = entry[0]
        if shadow.training != net.training:
            shadow.train(net.training)
        return shadow

    @property
    def device(self) -> torch.device:
        return self._anchor.device

    # -- the objective ---------------------------------------------------------------------------------------
    def run(self, batch: dict[str, Tensor]) -> Run:
        """A call's state: evaluate several phases on one batch with shared draws and values
        (``model.run(batch)`` then :meth:`phase_loss_of`)."""
        return Run(self, batch)

    def _contribution(self, run: Run, name: str) -> Tensor:
        out = run.results.get(name)
        if out is None:
            coef = self._coef[name]
            value = self._values[name](run)
            out = value if coef == 1.0 else (-value if coef == -1.0 else coef * value)
            run.results[name] = out
        return out

    def terms(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """Each term's contribution ``sign * weight * value`` (what its formula shows)."""
        run = Run(self, batch)
        return {t.name: self._contribution(run, t.name) for t in self.objective.terms}

    def losses_and_terms(self, batch: dict[str, Tensor]) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        """:meth:`losses` and :meth:`terms` from one evaluation (the same draws): a metrics line."""
        run = Run(self, batch)
        terms = {t.name: self._contribution(run, t.name) for t in self.objective.terms}
        return self._losses_of(run), terms

    def losses(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """The loss of every group: the sum of the contributions of the terms that update it."""
        return self._losses_of(Run(self, batch))

    def _losses_of(self, run: Run) -> dict[str, Tensor]:
        out: dict[str, Tensor] = {}
        for g, names in self._group_terms.items():
            total = None
            for n in names:
                c = self._contribution(run, n)
                total = c if total is None else total + c
            out[g] = total if total is not None else self._anchor.new_zeros(())
        return out

    def phase_loss(self, phase: str, batch: dict[str, Tensor] | Run) -> Tensor:
        """The sum of the distinct terms that update any group of the phase (one backward pass)."""
        run = batch if isinstance(batch, Run) else Run(self, batch)
        plan = self._phase_plans.get(phase)
        if plan is None:
            raise SpecError(f"no phase named '{phase}' (phases: {', '.join(self._phase_terms)})")
        total = None
        results = run.results
        for name, value, coef in plan:  # as _contribution, inlined
            c = results.get(name)
            if c is None:
                v = value(run)
                c = results[name] = v if coef == 1.0 else (-v if coef == -1.0 else coef * v)
            total = c if total is None else total + c
        return total if total is not None else self._anchor.new_zeros(())

    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        return self.losses(batch)

    # -- the generative process ----------------------------------------------------------------------------------
    def sample(
        self, n: int, mean: bool = True, given: dict[str, Tensor] | None = None, steps: int = 10
    ) -> dict[str, Tensor]:
        """Sample ``n`` points of the generative process: every node from its dashed producer for
        y = 0, else its solid producer, else its own source (prior); data nodes as the mean of
        their distribution when ``mean``.  A data node with no producer takes ``given[name]``
        (labels are drawn uniformly when not given); a latent node in ``given`` takes that value
        in place of its prior or producer (the process runs from it: :meth:`decode`), and so does
        a data node that the process would otherwise make (CycleGAN given x_b makes x_a = F(x_b),
        the reverse of its translation from x_a: :meth:`needs_data`).  A
        denoising graph (a corruption x --> x~ and a denoiser x~ -> x) samples by a Markov chain
        of ``steps`` corrupt/denoise rounds."""
        given = given or {}
        unknown = [v for v in given if v not in self.graph.nodes]
        if unknown:
            raise SpecError(
                f"sample: given names no node of '{self.graph.name}': {', '.join(unknown)}",
                hint="nodes: " + ", ".join(self.graph.nodes),
            )
        latents = tuple(sorted(v for v in given if self._replaces_producer(v, mean)))
        ctx = self._planner.sample_context(mean, latents)
        run = Run(self, None, n=n, device=self.device, given=given)
        out: dict[str, Tensor] = {}
        order = [v for v, nd in self.graph.nodes.items() if nd.role is Role.data] + [
            v for v, nd in self.graph.nodes.items() if nd.role is Role.latent
        ]
        for v in order:
            try:
                src = self._planner.source(ctx, v)
                if src.kind == "inject" and v not in given:
                    chain = self._chain(v)
                    if chain is not None:
                        out[v] = self._chain_sample(run, v, chain, n, mean, steps, given)
                        continue
            except Unresolved as exc:
                if self.graph.nodes[v].role is Role.data:
                    chain = self._chain(v)
                    if chain is not None:
                        out[v] = self._chain_sample(run, v, chain, n, mean, steps, given)
                        continue
                    raise SpecError(f"cannot sample '{v}': {exc}") from None
                continue
            out[v] = run.value(ctx, v)
        return out

    def _replaces_producer(self, v: str, mean: bool) -> bool:
        """Does a value given for ``v`` replace how the generative process makes it?  A latent's always
        does; a data node's where the process would not take it as given anyway."""
        role = self.graph.nodes[v].role
        if role is Role.latent:
            return True
        if role is not Role.data:
            return False
        try:
            return self._planner.source(self._planner.sample_context(mean), v).kind != "inject"
        except Unresolved:
            return True

    def needs_data(self) -> list[str]:
        """The real-valued data nodes that the generative process takes as given (they have no
        producer in it): :meth:`sample` needs ``given`` for them (CycleGAN translates given rows)."""
        if "_planner" not in self.__dict__:  # a flow model samples by its own walk
            return []
        ctx = self._planner.sample_context(True)
        out = []
        for v, nd in self.graph.nodes.items():
            if nd.role is not Role.data or nd.value in ("categorical", "bernoulli") or self._chain(v) is not None:
                continue
            try:
                if self._planner.source(ctx, v).kind == "inject":
                    out.append(v)
            except Unresolved:
                continue
        return out

    def decode(
        self, z: Tensor | dict[str, Tensor], mean: bool = True, given: dict[str, Tensor] | None = None
    ) -> Tensor:
        """The data the generative process makes from given codes: ``z`` for the latent that
        :meth:`encode` infers (or ``{latent: tensor}``), other nodes as in :meth:`sample` (data
        nodes without a producer from ``given``); the first data node, its mean by default."""
        codes = z if isinstance(z, dict) else {self._code()[2]: z}
        n = int(next(iter(codes.values())).shape[0])
        out = self.sample(n, mean=mean, given={**(given or {}), **codes})
        data = [
            v
            for v, nd in self.graph.nodes.items()
            if nd.role is Role.data and v in out and v not in codes and v not in (given or {})
        ]
        if not data:
            raise SpecError(f"'{self.graph.name}' generates no data node from {', '.join(codes)}: nothing to decode")
        return out[data[0]]

    def _chain(self, v: str) -> tuple[EdgeInfo, EdgeInfo] | None:
        for ei in self._infos:
            e = ei.edge
            if (
                e.process is Process.generative
                and not e.adversarial
                and e.target == v
                and ei.head is not None
                and len(ei.inputs) == 1
            ):
                b = ei.inputs[0]
                for c in self._infos:
                    if (
                        c.edge.process is Process.inference
                        and c.edge.target == b
                        and c.inputs == (v,)
                        and not c.edge.adversarial
                    ):
                        return c, ei
        return None

    def _chain_sample(
        self,
        run: Run,
        v: str,
        chain: tuple[EdgeInfo, EdgeInfo],
        n: int,
        mean: bool,
        steps: int,
        given: dict[str, Tensor] | None,
    ) -> Tensor:
        corrupt, denoise = chain
        node = self.graph.nodes[v]
        lo, hi = node.range if node.range is not None else (0.0, 1.0)
        x = (
            given[v].to(self.device)
            if given and v in given
            else lo + (hi - lo) * torch.rand(n, *(node.shape or (1,)), device=self.device)
        )
        run.draws[f"start:{v}:sample"] = x.detach()
        for _ in range(max(1, steps)):
            xt = self._apply_edge(corrupt, [x])
            d = self._dist(denoise, [xt])
            x = d.sample()
        return self._dist(denoise, [xt]).mean if mean else x

    def _input(self, vals: list[Tensor]) -> Tensor:
        return vals[0] if len(vals) == 1 else torch.cat([t.reshape(t.shape[0], -1) for t in vals], 1)

    def _dist(self, ei: EdgeInfo, vals: list[Tensor]) -> Dist:
        return ei.head(self.networks[ei.net_key](self._input(vals)))  # type: ignore[misc,index]

    def _apply_edge(self, ei: EdgeInfo, vals: list[Tensor]) -> Tensor:
        if ei.corruption is not None:
            return ei.corruption(vals[0])
        if ei.head is None:
            return ACTIVATIONS[ei.activation](self.networks[ei.net_key](self._input(vals)))  # type: ignore[index]
        d = self._dist(ei, vals)
        return d.rsample_with(d.noise()) if d.has_rsample else d.sample()

    # -- inference helpers ---------------------------------------------------------------------------------------
    def _code(self) -> tuple[str, EdgeInfo, str]:
        """The branch, the inference edge and the latent it infers from data: (ctx, edge, latent)."""
        branches = ("y=0", "y=1") if self._planner.indicator else ("y=1",)
        for ctx in branches:
            for v, node in self.graph.nodes.items():
                if node.role is not Role.latent:
                    continue
                try:
                    src = self._planner.source(ctx, v)
                except Unresolved:
                    continue
                if src.kind == "edge" and src.mode != "corrupt":
                    ei = self._infos[src.edge]  # type: ignore[index]
                    if ei.edge.process is Process.inference and any(
                        self._planner.source(ctx, i).from_data for i in ei.inputs
                    ):
                        return ctx, ei, v
        raise SpecError(f"'{self.graph.name}' has no inference edge from data to a latent node: nothing to encode")

    def _as_batch(self, x: Tensor | dict[str, Tensor]) -> dict[str, Tensor]:
        if isinstance(x, dict):
            return x
        data = [v for v, n in self.graph.nodes.items() if n.role is Role.data]
        return {data[0]: x}

    def _unlabelled(self, batch: Tensor | dict[str, Tensor]) -> dict[str, Tensor]:
        """The batch without the values of partially observed nodes: the bounds are bounds on the
        other data, the partial nodes inferred (sampled from their dashed edge) on every row."""
        out = self._as_batch(batch)
        partial = [v for v, n in self.graph.nodes.items() if n.partial]
        return {k: t for k, t in out.items() if k.split(".")[0] not in partial} if partial else out

    def encode(self, x: Tensor | dict[str, Tensor]) -> Tensor:
        """The code of data: the mean of q(z | x), or the encoder's value for a hollow edge."""
        ctx, ei, v = self._code()
        run = Run(self, self._as_batch(x))
        return run.dist(ctx, ei).mean if ei.head is not None else run.value(ctx, v)

    def infer(self, node: str, batch: Tensor | dict[str, Tensor]) -> Tensor:
        """The mean of the dashed edge that infers the partially observed ``node`` (a categorical:
        the class probabilities ``[n, K]``), from the batch's other nodes (``node`` itself unread)."""
        nd = self.graph.nodes.get(node)
        if nd is None or not nd.partial:
            raise SpecError(f"'{node}' is not a partially observed node of '{self.graph.name}'")
        data = {k: v for k, v in self._as_batch(batch).items() if k != node and not k.startswith(f"{node}.")}
        for ctx in ("y=1", "y=0") if self._planner.indicator else ("y=1",):
            src = self._planner.source(ctx, node)
            if src.kind == "edge":
                ei = self._infos[src.edge]  # type: ignore[index]
                run = Run(self, data)
                return run.dist(ctx, ei).mean if ei.head is not None else run.value(ctx, node)
        raise SpecError(f"no dashed edge infers '{node}' from the other nodes")

    def posterior(self, batch: Tensor | dict[str, Tensor]) -> torch.distributions.Distribution:
        """q(z | x) as a ``torch.distributions`` object."""
        ctx, ei, v = self._code()
        if ei.head is None:
            raise self._err("the inference edge is deterministic (hollow): it has no posterior distribution", ei.edge)
        run = Run(self, self._as_batch(batch))
        return run.dist(ctx, ei).torch()  # type: ignore[attr-defined]

    def reconstruct(self, x: Tensor | dict[str, Tensor]) -> Tensor:
        """The mean of the solid producer of the data at the code's mean (or deterministic value)."""
        ctx, enc, v = self._code()
        batch = self._as_batch(x)
        run = Run(self, batch)
        code = run.dist(ctx, enc).mean if enc.head is not None else run.value(ctx, v)
        for ei in self._infos:
            e = ei.edge
            if (
                e.process is Process.generative
                and not e.adversarial
                and v in ei.inputs
                and self.graph.nodes[e.target].role is Role.data
            ):
                vals = [code if i == v else run.value(ctx, i) for i in ei.inputs]
                if ei.head is None:
                    return ACTIVATIONS[ei.activation](self.networks[ei.net_key](self._input(vals)))  # type: ignore[index]
                return self._dist(ei, vals).mean
        raise SpecError(
            f"'{self.graph.name}' has no solid edge from '{v}' back to the data: nothing to reconstruct with"
        )

    def _bound_parts(self, ctx: str) -> tuple[list[EdgeInfo], list[tuple[str, EdgeInfo]]]:
        b = self._planner.contexts[ctx].branch
        scored = []
        for ei in self._infos:
            e = ei.edge
            if e.process is Process.generative and not e.adversarial and e.branch in (b, None):
                try:
                    for s in (*ei.inputs, e.target):
                        self._planner.source(ctx, s)
                except Unresolved:
                    continue
                if ei.head is None:
                    raise self._err(
                        "the bound needs log p as a density, but this solid edge is deterministic (hollow)", e
                    )
                scored.append(ei)
        dashed = []
        for v in self.graph.nodes:
            try:
                src = self._planner.source(ctx, v)
            except Unresolved:
                continue
            if src.kind == "edge" and self._infos[src.edge].edge.process is Process.inference and src.mode != "corrupt":  # type: ignore[index]
                ei = self._infos[src.edge]  # type: ignore[index]
                if ei.head is None:
                    raise self._err(
                        f"the bound needs the density q({v} | ...), but this dashed edge is deterministic (hollow)",
                        ei.edge,
                    )
                dashed.append((v, ei))
        if not dashed or not scored:
            raise SpecError(
                "the bound needs a dashed edge with a density into a latent node with a prior and solid edges "
                "scoring the data"
            )
        produced = {ei.edge.target for ei in scored}
        for v, ei in dashed:
            if v not in self._priors and v not in produced:
                raise self._err(f"the bound needs a p-side for '{v}': a prior, or a solid edge into it", ei.edge)
        return scored, dashed

    def elbo(self, batch: Tensor | dict[str, Tensor]) -> Tensor:
        """Per-row evidence lower bound ``[n]``, factor by factor: log p of every solid factor at the
        dashed samples (a latent's solid p-side included), minus log q of every dashed factor plus
        its prior, as KL(q || prior) in closed form where the pair has one (discrete latents: one
        sample, not enumerated)."""
        ctx, _, _ = self._code()
        scored, dashed = self._bound_parts(ctx)
        run = Run(self, self._unlabelled(batch))
        total: Tensor | float = 0.0
        for ei in scored:
            total = total + run.dist(ctx, ei).log_prob(run.value(ctx, ei.edge.target))
        for v, ei in dashed:  # each dashed factor with its prior (a solid p-side is scored above)
            d = run.dist(ctx, ei)
            prior = self._priors.get(v)
            kl = kl_to_prior(d, prior) if prior is not None else None
            if kl is None:
                z = run.value(ctx, v)
                kl = d.log_prob(z) - (prior.log_prob(z) if prior is not None else 0.0)
            total = total - kl
        return total  # type: ignore[return-value]

    def iw_bound(self, batch: Tensor | dict[str, Tensor], k: int) -> Tensor:
        """Per-row importance-weighted bound ``[n]`` with ``k`` samples (Burda et al. 2016)."""
        if k < 1:
            raise SpecError(f"k must be at least 1, got {k}")
        ctx, _, _ = self._code()
        scored, dashed = self._bound_parts(ctx)
        tiled = f"{ctx}*{k}"
        if tiled not in self._planner.contexts:
            base = self._planner.contexts[ctx]
            self._planner.add(Context(tiled, "branch", base.branch, tile=k, tag=ctx, indicator=base.indicator))
        run = Run(self, self._unlabelled(batch))
        log_w: Tensor | float = 0.0
        for ei in scored:
            log_w = log_w + run.dist(tiled, ei).log_prob(run.value(tiled, ei.edge.target))
        for v, ei in dashed:
            z = run.value(tiled, v)
            if v in self._priors:
                log_w = log_w + self._priors[v].log_prob(z)
            log_w = log_w - run.dist(tiled, ei).log_prob(z)
        lw = log_w.reshape(k, -1)  # type: ignore[union-attr]
        return torch.logsumexp(lw, 0) - math.log(k)

    def extra_repr(self) -> str:
        return f"graph={self.graph.name!r}, groups={self.groups}, terms={[t.name for t in self.objective.terms]}"


def build_graph(spec: Any) -> SchematicGraph:
    """A checked graph from a path, a text or a graph."""
    if isinstance(spec, SchematicGraph):
        try:
            from ..graph.check import check
        except ImportError:  # pragma: no cover - the checker is another stage
            return spec
        problems = [d for d in check(spec) if d.severity == "error"]
        if problems:
            raise SpecError(problems, source=spec.source, file=spec.file)
        return spec
    from ..graph.build import parse, parse_file

    if isinstance(spec, Path):
        return parse_file(spec)
    if isinstance(spec, str):
        if "\n" not in spec and (spec.endswith(".sgm") or Path(spec).is_file()):
            return parse_file(spec)
        return parse(spec)
    raise TypeError(f"compile takes a path, a spec text or a SchematicGraph, not {type(spec).__name__}")
