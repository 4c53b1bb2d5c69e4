"""The transformations by the names the command line uses (``schemagm transform NAME``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..graph.model import SchematicGraph
from .adversary import activate_adversary, degenerate_adversary
from .edges import remove_edge
from .nodes import swap_nodes
from .processes import swap_processes
from .weighting import importance_weight

__all__ = ["Transformation", "TRANSFORMATIONS", "get"]


@dataclass(frozen=True)
class Transformation:
    name: str  # as on the command line
    function: Callable[..., SchematicGraph]
    summary: str
    example: str
    structural: bool  # changes the structure (explain searches over it) or only options


TRANSFORMATIONS: dict[str, Transformation] = {
    t.name: t
    for t in [
        Transformation(
            "swap-processes",
            swap_processes,
            "solid <-> dashed on every edge (generative <-> inference)",
            "schemagm transform swap-processes specs/infogan.sgm",
            True,
        ),
        Transformation(
            "swap-nodes",
            swap_nodes,
            "two node names trade places in every edge; declarations stay with their names",
            "schemagm transform swap-nodes specs/infogan.sgm x z",
            True,
        ),
        Transformation(
            "activate-adversary",
            activate_adversary,
            "give a perfect red edge (q_*) a discriminator network",
            'schemagm transform activate-adversary specs/vae.sgm --network "mlp(256)"',
            True,
        ),
        Transformation(
            "degenerate-adversary",
            degenerate_adversary,
            "take the discriminator off a red edge: the perfect adversary q_*",
            "schemagm transform degenerate-adversary specs/aavae.sgm",
            True,
        ),
        Transformation(
            "remove-edge",
            remove_edge,
            "drop one edge (named by its network or as 'sources -> target')",
            "schemagm transform remove-edge specs/infogan.sgm Q_eta",
            True,
        ),
        Transformation(
            "importance-weight",
            importance_weight,
            "set importance_samples = K (GAN -> IWGAN, VAE -> IWAE)",
            "schemagm transform importance-weight specs/gan.sgm 8",
            False,
        ),
    ]
}


def get(name: str) -> Transformation:
    return TRANSFORMATIONS[name]
