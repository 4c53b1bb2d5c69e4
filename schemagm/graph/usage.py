"""Which options and per-edge settings a model uses: one function, read off the graph (no torch).

:func:`unused_settings` returns a warning, at its position, for every option written in the
``options`` block and every per-edge setting (``weight=``, ``distance=``, ``form=``) that none of
the model's terms reads, so that nothing a user writes is silently ignored (``gradient_penalty``
with the hinge form, ``beta`` or ``mi_weight`` on a plain GAN, ``distance`` on a stochastic edge).
It mirrors what the compiler reads (docs/design.md §4):

* ``adversarial``: the form of every red edge with a network that writes no ``form=``;
  ``gradient_penalty``: the Wasserstein games; ``discriminator_steps``: a red edge with a network;
* ``beta`` and ``kl``: a pair KL(q ‖ p) (a dashed stochastic factor into an untested node with a
  p-side: a prior or a solid producer);
* ``mi_weight``: a solid factor scored where its target was not data (InfoGAN's code);
* ``reconstruction``: a hollow solid edge that writes no ``distance=``;
* ``temperature``: a relaxed head; ``discrete``: a discrete dashed sample (categorical, bernoulli);
* ``distance=``: on a hollow solid edge; ``form=``: on a red edge with a network;
* ``weight=``: on a solid edge scored on its own (not the p-side of a pair, not inside an
  importance-weighted bound), on a red edge with a network or a kernel test, and on the dashed
  edge into a partially observed node (α of its supervised term, M2).

``importance_samples`` and ``walkback`` are not listed: a model that cannot use them is an error,
not a warning (the checker's, rule_check.py; the compiler keeps the same error as a last guard).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import Diagnostic, Span
from .branches import branches, serves
from .flow_check import uses_flows
from .model import Edge, Process, Role, SchematicGraph
from .rule_check import head_name, is_corruption

if TYPE_CHECKING:  # pragma: no cover
    from .check import Locations

__all__ = ["unused_settings", "used_options"]

_RELAXED = ("relaxed_categorical", "relaxed_bernoulli")


def _game(e: Edge) -> bool:
    """A red edge with a discriminator network (not a perfect adversary, not a kernel test)."""
    return e.adversarial and e.network is not None and e.kernel is None and not e.perfect


class _Usage:
    def __init__(self, graph: SchematicGraph) -> None:
        g = self.g = graph
        self.tested = {s for e in g.edges if e.adversarial for s in e.inputs(g)}
        self.branches = branches(g)
        dashed_red = any(e.adversarial and e.process is Process.inference for e in g.edges)
        self.scored = [b for b in self.branches if b.value == 0] if dashed_red else list(self.branches)

    def dashed_source(self, v: str, b: object) -> Edge | None:
        """The dashed edge that gives ``v`` its value in branch ``b`` (None: its own source)."""
        g = self.g
        into = [e for e in g.edges if e.target == v and e.process is Process.inference and not e.adversarial]
        serving = [e for e in into if serves(g, e, b)]  # type: ignore[arg-type]
        if serving:
            return serving[0]
        node = g.nodes[v]
        if node.role is Role.data or node.prior is not None:
            return None
        return into[0] if into else None

    def pair_of(self, v: str, b: object) -> Edge | None:
        """The dashed stochastic edge paired with v's p-side in branch ``b`` (a KL term), or None."""
        g = self.g
        q = self.dashed_source(v, b)
        if q is None or v in self.tested or q.deterministic or is_corruption(q) or q.invertible:
            return None
        node = g.nodes[v]
        producers = [
            e
            for e in g.edges
            if e.target == v and e.process is Process.generative and not e.adversarial and serves(g, e, b)  # type: ignore[arg-type]
        ]
        return q if (node.role is Role.latent and node.prior is not None) or producers else None

    def pairs(self) -> bool:
        return any(self.pair_of(v, b) is not None for b in self.scored for v in self.g.nodes)

    def scored_alone(self, e: Edge) -> list[object]:
        """The scored branches in which the solid edge ``e`` is a term of its own (not a pair's p-side)."""
        return [b for b in self.scored if serves(self.g, e, b) and self.pair_of(e.target, b) is None]

    def from_data(self, v: str, b: object) -> bool:
        return self.g.nodes[v].role is Role.data and self.dashed_source(v, b) is None

    # -- options -------------------------------------------------------------------------------------
    def options(self) -> dict[str, str | None]:
        """Each option's use: None where the model reads it, else why it does not."""
        g = self.g
        flows = uses_flows(g)
        games = [e for e in g.edges if _game(e)]
        forms = [e.form or g.options.adversarial for e in games]
        solid = [e for e in g.edges if e.process is Process.generative and not e.adversarial]
        heads = [head_name(e, g.nodes[e.target]) for e in g.edges if not e.adversarial and e.target in g.nodes]
        pairs = not flows and self.pairs()
        generated = any(
            not self.from_data(e.target, b) for e in solid if not e.deterministic for b in self.scored_alone(e)
        )
        out: dict[str, str | None] = {
            "adversarial": None
            if any(e.form is None for e in games)
            else (
                "every red edge with a discriminator writes its own `form=`"
                if games
                else "the model has no red edge with a discriminator network"
            ),
            "gradient_penalty": None
            if "wasserstein" in forms
            else "the gradient penalty belongs to the wasserstein form, which no game of this model plays",
            "discriminator_steps": None if games else "the model has no red edge with a discriminator network",
            "beta": None if pairs else "the model has no KL(q ‖ p) term (no dashed stochastic factor with a p-side)",
            "kl": None if pairs else "the model has no KL(q ‖ p) term (no dashed stochastic factor with a p-side)",
            "mi_weight": None
            if generated and not flows
            else "no solid factor of this model is scored on a generated sample (InfoGAN's code)",
            "reconstruction": None
            if any(e.deterministic and e.distance is None for e in solid)
            else (
                "every hollow solid edge writes its own `distance=`"
                if any(e.deterministic for e in solid)
                else "the model has no hollow solid edge to score by a reconstruction distance"
            ),
            "temperature": None if any(h in _RELAXED for h in heads) else "the model has no relaxed head",
            "discrete": None
            if any(
                e.process is Process.inference and head_name(e, g.nodes[e.target]) in ("categorical", "bernoulli")
                for e in g.edges
                if not e.adversarial and e.target in g.nodes
            )
            else "the model has no discrete dashed sample",
        }
        return out

    # -- per-edge settings ------------------------------------------------------------------------------
    def setting(self, e: Edge, key: str) -> str | None:
        """None where the edge's terms read the setting, else why they do not."""
        g = self.g
        if key == "distance":
            if e.process is Process.generative and e.deterministic and not e.adversarial and not e.invertible:
                return None
            return (
                "`distance=` is the reconstruction distance of a hollow solid edge (=>); "
                "this edge has no reconstruction term"
            )
        if key == "form":
            if _game(e):
                return None
            return (
                "`form=` is the adversarial form of a red edge with a discriminator network; "
                "this edge plays no such game"
            )
        if key == "weight":
            if e.adversarial:
                if e.perfect:
                    return "a perfect adversary has no term to weight"
                return None
            if e.process is Process.inference and g.nodes[e.target].partial:
                return None  # α of the supervised term on the rows where the target is observed (M2)
            if e.process is Process.inference:
                return "a dashed edge's factor is paired with its p-side (a KL term), which `weight=` does not scale"
            if e.invertible or uses_flows(g):
                return "`weight=` is not read in a model with flows"
            alone = self.scored_alone(e)
            if not alone:
                return "this solid edge is the p-side of a KL(q ‖ p) pair, which `weight=` does not scale"
            if g.options.importance_samples > 1 and self.pairs():
                return (
                    "under importance weighting the solid factors sit inside one bound, which `weight=` does not scale"
                )
            return None
        return None


def used_options(graph: SchematicGraph) -> dict[str, str | None]:
    """Each option's use by ``graph``: None where some term reads it, else the reason it is unused."""
    return _Usage(graph).options()


def unused_settings(graph: SchematicGraph, locations: Locations | None = None) -> list[Diagnostic]:
    """A warning for every written option and per-edge setting the model does not use, at its position."""
    usage = _Usage(graph)
    out: list[Diagnostic] = []
    names = list(type(graph.options).model_fields)
    written = sorted(graph.options.model_fields_set, key=names.index)
    reasons = usage.options()
    for key in written:
        why = reasons.get(key)
        if why is None:
            continue
        decl = locations.options.get(key) if locations is not None else None
        span: Span | None = (decl.key_span or decl.span) if decl is not None else None
        out.append(
            Diagnostic(
                f"the option '{key}' is not used: {why}", span, f"remove `{key} = ...` from the options", "warning"
            )
        )
    for i, e in enumerate(graph.edges):
        if not all(s in graph.nodes for s in (*e.sources, e.target)):
            continue
        for key in e.settings:
            why = usage.setting(e, key)
            if why is None:
                continue
            span = None
            if locations is not None and i < len(locations.edges) and locations.edges[i].body is not None:
                body = locations.edges[i].body
                setting = next((st for st in body.settings if st.key == key), None) if body is not None else None
                span = setting.key_span if setting is not None else None
            out.append(
                Diagnostic(
                    f"the setting '{key}' is not used: {why}",
                    span or e.span,
                    f"remove `{key}=...` from this edge",
                    "warning",
                )
            )
    return out
