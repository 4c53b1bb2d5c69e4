"""importance_weight: the importance-weighted form of a GAN's generator loss or a VAE's bound.

Sets the ``importance_samples`` option to k.  It applies where the compiler has
something to weight (docs/design.md §4, items 3 and 8): a red edge with a
discriminator testing samples that a parametrised edge generates (IWGAN), or a
dashed edge with a density into a latent node with a prior (IWAE).  k = 1 is the
unweighted model.
"""

from __future__ import annotations

from ..graph.model import Process, Role, SchematicGraph
from ..graph.options import Options
from .common import adversary_kind, finish, not_applicable, rebuild

__all__ = ["importance_weight", "importance_targets"]


def importance_targets(graph: SchematicGraph) -> list[str]:
    """What importance weighting would act on, in words (empty: it does not apply)."""
    found = []
    for e in graph.edges:
        if adversary_kind(e) == "learned":
            tested = [s for s in e.sources if graph.nodes[s].role is not Role.indicator]
            if any(p.group for s in tested for p in graph.in_edges(s)):
                found.append(f"the generator loss against {e.label}_{e.group}")
        elif e.process is Process.inference and not e.deterministic and not e.adversarial:
            target = graph.nodes[e.target]
            if target.prior is not None:
                found.append(f"the bound through q({e.target} | {', '.join(e.sources)})")
    return found


def importance_weight(graph: SchematicGraph, k: int, *, check: bool = True) -> SchematicGraph:
    """Set ``importance_samples = k`` (GAN -> IWGAN, VAE -> IWAE)."""
    name = f"importance_weight({k})"
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise not_applicable(graph, name, f"k must be a whole number of samples, at least 1; got {k!r}")
    if not importance_targets(graph):
        raise not_applicable(
            graph,
            name,
            "there is nothing to weight: the model has neither a discriminator testing generated samples "
            "nor a dashed edge with a density into a latent node with a prior",
        )
    options = Options(
        **{**graph.options.model_dump(exclude_unset=True), "importance_samples": k}
    )  # keeps what was written
    return finish(graph, rebuild(graph, options=options), name, check)
