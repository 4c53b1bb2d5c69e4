"""ELBO surgery (Hoffman and Johnson, 2016).

Over a data set {x_n}, n = 1..N, the average KL term of the ELBO splits as

    (1/N) Σ_n KL(q(z | x_n) || p(z))  =  I_q(x; z)  +  KL(q(z) || p(z))

where q(z) = (1/N) Σ_n q(z | x_n) is the aggregate posterior and I_q(x; z) the
mutual information between the index n (uniform) and z under q.  Both parts
are estimated by Monte Carlo with the mixture of posteriors:

    draw z ~ q(z | x_n) for every n,   log q(z) = logsumexp_m log q(z | x_m) - log N,
    I_q       ≈ mean[ log q(z | x_n) - log q(z) ],
    KL(q ‖ p) ≈ mean[ log q(z) - log p(z) ].

The average KL is computed analytically where torch knows KL(q ‖ p) (else by
Monte Carlo on separate draws), so that the identity is a real check: the
residual avg KL - (I + KL) must vanish within its Monte Carlo error.  Also
0 ≤ I_q ≤ log N.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, cast

import torch
from torch import distributions as D

from ..errors import SpecError
from ..graph.model import Process, Role, SchematicGraph

__all__ = ["SurgeryResult", "elbo_surgery", "prior_of", "posterior_latent", "surgery_of_model"]


@dataclass(frozen=True)
class SurgeryResult:
    #: (1/N) Σ_n KL(q(z | x_n) || p(z)), analytic where available
    average_kl: float
    #: I_q(x; z), Monte Carlo with the mixture of posteriors
    mutual_information: float
    #: KL(q(z) || p(z)) of the aggregate posterior, Monte Carlo
    marginal_kl: float
    #: average_kl - (mutual_information + marginal_kl)
    residual: float
    #: Monte Carlo standard error of the residual
    residual_stderr: float
    #: log N, the upper bound of I_q(x; z)
    log_n: float
    n_points: int
    draws: int
    analytic_kl: bool

    def to_dict(self) -> dict:
        return asdict(self)


def _reducer(q: D.Distribution) -> int:
    """How many trailing dims of ``q.log_prob`` are latent dimensions still to be summed."""
    lp = q.log_prob(q.sample())
    return lp.dim() - 1


def _sum_tail(lp: torch.Tensor, tail: int) -> torch.Tensor:
    return lp.sum(dim=tuple(range(lp.dim() - tail, lp.dim()))) if tail else lp


def elbo_surgery(
    q: D.Distribution, prior: D.Distribution, *, draws: int = 1, seed: int = 0, chunk: int = 256
) -> SurgeryResult:
    """ELBO surgery for posteriors ``q`` of N points (batch dim first) against ``prior``.

    ``prior`` must broadcast against a latent sample (e.g. ``Normal(0, 1)`` or a
    distribution with the sample's trailing shape).
    """
    if draws < 1:
        raise SpecError(f"draws must be at least 1, got {draws}")
    tail = _reducer(q)
    n = q.batch_shape[0] if q.batch_shape else 1
    if n < 2:
        raise SpecError("ELBO surgery needs the posteriors of at least 2 data points")
    gen_state = torch.random.fork_rng()
    with gen_state, torch.no_grad():
        torch.manual_seed(seed)
        z = q.sample((draws,))  # [S, N, ...]
        log_q_own = _sum_tail(q.log_prob(z), tail)  # [S, N]
        prior_tail = _sum_tail(prior.log_prob(z), 0)
        log_p = prior_tail.reshape(draws, n, -1).sum(-1)  # [S, N]
        # log q(z_{s,n} | x_m) for every m, a chunk of draws at a time against the whole batch of posteriors
        flat = z.reshape(draws * n, *z.shape[2:])
        log_agg = torch.cat(
            [
                torch.logsumexp(_sum_tail(q.log_prob(flat[i : i + chunk].unsqueeze(1)), tail), dim=1)
                for i in range(0, flat.shape[0], chunk)
            ]
        ).reshape(draws, n) - math.log(n)
        mi_terms = (log_q_own - log_agg).double()
        kl_terms = (log_agg - log_p).double()
        try:
            per_point = D.kl_divergence(q, _expand_prior(prior, q))
            avg_kl_terms = _sum_tail(per_point, per_point.dim() - 1).double()
            analytic = True
            # residual per point: analytic KL_n minus its MC estimate at the shared draws
            resid = avg_kl_terms.unsqueeze(0) - (mi_terms + kl_terms)
        except NotImplementedError:
            torch.manual_seed(seed + 1)
            z2 = q.sample((draws,))
            lq2 = _sum_tail(q.log_prob(z2), tail)
            lp2 = _sum_tail(prior.log_prob(z2), 0).reshape(draws, n, -1).sum(-1)
            avg_kl_terms = (lq2 - lp2).double().mean(0)
            analytic = False
            resid = (lq2 - lp2).double() - (mi_terms + kl_terms)
    avg_kl = float(avg_kl_terms.mean())
    mi, mkl = float(mi_terms.mean()), float(kl_terms.mean())
    flat = resid.reshape(-1)
    return SurgeryResult(
        average_kl=avg_kl,
        mutual_information=mi,
        marginal_kl=mkl,
        residual=avg_kl - (mi + mkl),
        residual_stderr=float(flat.std(unbiased=True) / math.sqrt(flat.numel())),
        log_n=math.log(n),
        n_points=n,
        draws=draws,
        analytic_kl=analytic,
    )


def _expand_prior(prior: D.Distribution, q: D.Distribution) -> D.Distribution:
    """The prior in the same form as q (same batch/event shapes), for the analytic KL."""
    if isinstance(q, D.Independent):
        base = _expand_prior(prior, q.base_dist)
        return D.Independent(base, q.reinterpreted_batch_ndims)
    return prior.expand(q.batch_shape)


def prior_of(graph: SchematicGraph, node: str) -> D.Distribution:
    """p(z) of a latent node, as a torch distribution over one coordinate (broadcasts)."""
    v = graph.nodes[node]
    if v.value == "normal":
        return D.Normal(torch.tensor(0.0), torch.tensor(1.0))
    if v.value == "uniform":
        lo, hi = v.range or (0.0, 1.0)
        return D.Uniform(torch.tensor(float(lo)), torch.tensor(float(hi)))
    if v.value == "bernoulli":
        return D.Bernoulli(probs=torch.tensor(0.5))
    raise SpecError(f"ELBO surgery: latent '{node}' has no prior with a density per coordinate (its type is {v.value})")


def posterior_latent(graph: SchematicGraph) -> str:
    """The latent node that a dashed stochastic edge from the data infers and that has a prior."""
    data = {n.name for n in graph.nodes_by_role(Role.data)}
    for e in graph.edges:
        node = graph.nodes[e.target]
        if (
            e.process is Process.inference
            and not e.deterministic
            and not e.adversarial
            and node.role is Role.latent
            and node.prior is not None
            and data & set(e.sources)
        ):
            return node.name
    raise SpecError(
        f"ELBO surgery needs a dashed stochastic edge from the data into a latent with a prior; '{graph.name}' has none"
    )


def surgery_of_model(
    model: torch.nn.Module,
    batches: Iterable[Mapping[str, torch.Tensor]],
    *,
    max_points: int = 1000,
    draws: int = 4,
    seed: int = 0,
) -> SurgeryResult:
    """ELBO surgery of a compiled model over (up to ``max_points`` examples of) a test split."""
    graph: SchematicGraph = model.graph  # type: ignore[assignment]
    latent = posterior_latent(graph)
    prior = prior_of(graph, latent)
    parts: dict[str, list[torch.Tensor]] = {}
    total = 0
    for batch in batches:
        for key, value in batch.items():
            parts.setdefault(key, []).append(value)
        total += next(iter(batch.values())).shape[0]
        if total >= max_points:
            break
    if not parts:
        raise SpecError("no test examples for ELBO surgery")
    full = {key: torch.cat(v)[:max_points] for key, v in parts.items()}
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            # nn.Module types an attribute it does not know as Tensor | Module
            q = cast(Callable[..., Any], model.posterior)(full)
        if isinstance(q, Mapping):
            q = q[latent]
    finally:
        model.train(was_training)
    return elbo_surgery(q, prior, draws=draws, seed=seed)
