"""The compiler: from a SchematicGraph to PyTorch networks and one objective derived by the rule.

``compile(spec) -> CompiledModel`` (a path, a spec text or a graph); ``load(path)`` compiles a
spec file (or the ``spec.sgm`` of a run directory).

Terms (docs/design.md section 4), named ``<kind>:<edge>`` where ``<edge>`` is the network key
``label_group`` (``p_theta``) or, for an edge without parameters, its key (``x->y``); a suffix
``:y=<b>`` only where the same edge is scored in both branches:

=================  ==============================================================
``nll:E``          ``−𝔼 log p(target | inputs)`` of a solid edge (rule 1; mean over
                   walkback rounds for a denoiser, rule 9)
``recon:E``        reconstruction distance of a solid hollow edge (rule 1)
``kl:E``           ``β·KL(q ‖ p)`` of a dashed factor and its p-side (prior or solid producer; rule 2)
``adversary:E``    the red edge's owner's term, detached samples (rules 3, 4)
``reversed:E``     the other groups' term with flipped labels (rule 3)
``gradient_penalty:E``  wasserstein form only
``mmd:E``          MMD² of a kernel red edge (rule 6)
``sleep:E``        the sleep phase of a ``no_reparam`` edge (rule 7)
``iw_bound``       the importance-weighted bound replacing nll + kl (rule 8)
=================  ==============================================================

The catalog (``specs/``), with ``losses``' term names and ``last_draws`` keys of one call of
``losses(batch)`` (see :mod:`.run` for the key grammar):

* ae: ``recon:G_theta`` [theta, eta]; draws: none.
* dae (walkback k=3): ``nll:p_theta`` [theta]; draws ``noise:x->xn:y=1`` (round 1),
  ``noise:x->xn:y=1:r=2``, ``noise:x->xn:y=1:r=3`` (N(0, I) noise of rounds 2, 3),
  ``sample:p_theta:y=1`` and ``sample:p_theta:y=1:r=2`` (the chain's point after rounds 1, 2).
* vae / beta_vae: ``nll:p_theta`` [theta, eta], ``kl:q_eta`` [eta]; draws ``eps:q_eta:y=0``.
* iwae (k=5): ``iw_bound`` [theta, eta]; draws ``eps:q_eta:y=0`` of shape ``[k, n, 8]``.
* gan / iwgan: ``adversary:D_phi`` [phi], ``reversed:D_phi`` [theta]; draws ``prior:z:y=0``.
* infogan: ``nll:Q_eta`` [eta, theta] (weight mi_weight), ``adversary:D_phi``,
  ``reversed:D_phi``; draws ``prior:z:y=0``.
* aae: ``nll:p_theta`` [theta, eta], ``adversary:D_phi`` [phi],
  ``reversed:D_phi`` [eta]; draws ``prior:z:y=1`` (the prior codes, the real side).
* ada: ``adversary:D_phi`` [phi], ``reversed:D_phi`` [theta]; no draws (source rows of the
  batch are y = 1, target rows y = 0).
* aavae: ``nll:p_theta`` [theta, eta], ``kl:q_eta`` [eta] (both pooled over real and generated x,
  weighted by stopgrad D(x)), ``adversary:D_phi`` [phi]; draws ``eps:q_eta:y=0`` (real x),
  ``prior:z:gen`` (z of the generated x = sigmoid(p_theta logits), detached),
  ``eps:q_eta:y=0:gen`` (q on the generated x).
* wake_sleep: ``nll:p_theta`` [theta], ``sleep:q_lambda`` [lambda]; draws
  ``sample:q_lambda:y=1`` (wake h), ``prior:h:sleep``, ``sample:p_theta:sleep`` (sleep x).
* mmd_net: ``mmd:x->y`` [theta]; draws ``prior:z:y=0``.
* extra/ali: ``adversary:D_phi`` [phi], ``reversed:D_phi`` [eta, theta]; draws ``prior:z:y=0``.
* extra/hvae: ``nll:g_theta`` [eta, theta], ``kl:q_eta`` [eta, theta] (log q_eta(z1|x) - log p_theta(z1|z2)
  at the sample), ``kl:r_eta`` [eta]; draws ``eps:q_eta:y=0``, ``eps:r_eta:y=0``.
* extra/gmm, extra/cat_vae: ``nll:p_theta`` [eta, theta] (c summed out), ``kl:q_eta`` [eta]; no draws.
* extra/sbn: ``nll:p_theta`` [eta, theta] (score function; ``model.last_baselines["nll:p_theta"]``),
  ``kl:q_eta`` [eta]; draws ``sample:q_eta:y=1``.
* extra/vae_gan: ``nll:p_theta``, ``kl:q_eta``, ``adversary:D_phi``, ``reversed:D_phi`` [theta];
  draws ``eps:q_eta:y=0``, ``prior:z:gen``.

Each draw is seeded by one per-call seed (taken from torch's global generator) and the draw's
place in the graph, so the same ``torch.manual_seed`` gives the same draws whichever terms a
call evaluates (``losses`` or one ``phase_loss``) and whatever the nodes are called.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..graph.flow_check import uses_flows
from .model import CompiledModel, build_graph
from .terms import Objective, Phase, Term

__all__ = ["compile", "load", "CompiledModel", "Objective", "Term", "Phase"]


def compile(spec: Any) -> CompiledModel:  # noqa: A001 - the stage's verb
    """Compile a spec (a ``.sgm`` path, its text, or a SchematicGraph) into a CompiledModel."""
    graph = build_graph(spec)
    if uses_flows(graph):  # flows and dequantization: the factor-by-factor rule of .flow_model
        from .flow_model import FlowModel

        return FlowModel(graph)
    return CompiledModel(graph)


def load(path: str | Path) -> CompiledModel:
    """Compile a spec file, or the ``spec.sgm`` of a run directory (weights are the trainer's)."""
    p = Path(path)
    if p.is_dir() and (p / "spec.sgm").is_file():
        p = p / "spec.sgm"
    return compile(p)
