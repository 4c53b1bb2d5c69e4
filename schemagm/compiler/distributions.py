"""Output heads, priors, analytic KLs, the MMD kernel statistic and reconstruction distances.

Conventions (every density is *summed over the dimensions of one sample*, so a
``log_prob`` returns shape ``[n]``):

* ``normal``: the network outputs ``2 * size`` numbers: the mean, then log sigma^2
  (std = exp(logvar / 2)); ``normal(std=s)`` outputs the mean only.  Reparameterised:
  ``z = mean + std * eps``, the draw recorded is ``eps ~ N(0, I)``.
* ``bernoulli`` / ``categorical``: the network outputs logits; a sample has no
  gradient (the draw recorded is the sample); the mean is sigmoid / softmax.
* ``relaxed_categorical`` / ``relaxed_bernoulli``: Gumbel-softmax (binary concrete)
  samples, ``softmax((logits + g) / T)`` with Gumbel noise g, ``sigmoid((logits + l) / T)``
  with logistic noise l (the draw recorded is g or l); scored with the categorical /
  Bernoulli density at the relaxed value.
* priors p(v) of latent nodes: ``normal`` N(0, I), ``uniform`` on the node's range
  (default [-1, 1], ``schemagm.graph.build.UNIFORM_DEFAULT_RANGE``), ``categorical`` uniform over K classes
  (values one-hot), ``bernoulli`` with p = 1/2.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "Dist",
    "Normal",
    "Bernoulli",
    "Categorical",
    "RelaxedCategorical",
    "RelaxedBernoulli",
    "Head",
    "make_head",
    "Prior",
    "kl_to_prior",
    "kl_pair",
    "support",
    "mmd2",
    "reconstruction",
    "flat_sum",
    "one_hot",
]

LOG_2PI = math.log(2 * math.pi)


def flat_sum(t: Tensor) -> Tensor:
    """Sum over every dimension but the first: ``[n, ...] -> [n]``."""
    if t.dim() == 2:  # already [n, d]: the reshape would be a view with the same strides (the same sum)
        return t.sum(1)
    return t.reshape(t.shape[0], -1).sum(1)


def one_hot(index: Tensor, classes: int, dtype: torch.dtype = torch.float32) -> Tensor:
    return F.one_hot(index.long(), classes).to(dtype)


# -- distributions of an edge's target, given the network's output -----------------------------------
class Dist:
    """A diagonal (factorised) distribution over one node's value, batched over rows.

    Randomness comes from a *base* draw of the shape of the value: ``noise_kind`` (for a
    reparameterised sample, ``rsample_with(noise_from(base))``) and ``sample_kind`` (for a
    sample without gradient, ``sample_with(base)``), each ``"normal"`` or ``"uniform"``.
    """

    has_rsample = False
    noise_kind = "normal"
    sample_kind = "uniform"

    def noise_from(self, base: Tensor) -> Tensor:
        return base

    def sample_with(self, base: Tensor) -> Tensor:
        raise NotImplementedError

    @property
    def shape(self) -> torch.Size:
        raise NotImplementedError

    def noise(self) -> Tensor:
        raise NotImplementedError

    def rsample_with(self, noise: Tensor) -> Tensor:
        raise NotImplementedError

    def sample(self) -> Tensor:
        raise NotImplementedError

    @property
    def mean(self) -> Tensor:
        raise NotImplementedError

    def log_prob(self, value: Tensor) -> Tensor:
        raise NotImplementedError


class Normal(Dist):
    has_rsample = True
    sample_kind = "normal"

    @property
    def shape(self) -> torch.Size:
        return self.loc.shape

    def sample_with(self, base: Tensor) -> Tensor:
        return (self.loc + self.std * base).detach()

    def __init__(self, loc: Tensor, std: Tensor, log_std: Tensor | None = None) -> None:
        """``log_std``: ``log std`` where the network gives it (a learned head's ``logvar / 2``),
        so that densities and KLs use it as it is rather than ``log(exp(·))``."""
        self.loc, self.std = loc, std
        self._log_std = log_std

    @property
    def log_std(self) -> Tensor:
        if self._log_std is None:
            self._log_std = torch.log(self.std)
        return self._log_std

    def noise(self) -> Tensor:
        return torch.randn_like(self.loc)

    def rsample_with(self, noise: Tensor) -> Tensor:
        return self.loc + self.std * noise

    def sample(self) -> Tensor:
        with torch.no_grad():
            return self.rsample_with(self.noise())

    @property
    def mean(self) -> Tensor:
        return self.loc

    def log_prob(self, value: Tensor) -> Tensor:
        return flat_sum(-0.5 * ((value - self.loc) / self.std) ** 2 - self.log_std - 0.5 * LOG_2PI)

    def torch(self) -> torch.distributions.Distribution:
        return torch.distributions.Independent(torch.distributions.Normal(self.loc, self.std), self.loc.dim() - 1)


class _Logits(Dist):
    """A distribution given by the logits a network outputs."""

    def __init__(self, logits: Tensor) -> None:
        self.logits = logits

    @property
    def shape(self) -> torch.Size:
        return self.logits.shape


class Bernoulli(_Logits):
    def sample_with(self, base: Tensor) -> Tensor:
        """1 where u < sigmoid(logits)."""
        # no gradient: nothing recorded; p > u written into the fresh p (as (u < p).to(dtype), one op less)
        return torch.sigmoid(self.logits.detach()).gt_(base)

    def sample(self) -> Tensor:
        with torch.no_grad():
            return torch.bernoulli(torch.sigmoid(self.logits))

    @property
    def mean(self) -> Tensor:
        return torch.sigmoid(self.logits)

    def log_prob(self, value: Tensor) -> Tensor:
        return -flat_sum(F.binary_cross_entropy_with_logits(self.logits, value, reduction="none"))

    def torch(self) -> torch.distributions.Distribution:
        return torch.distributions.Independent(torch.distributions.Bernoulli(logits=self.logits), self.logits.dim() - 1)


class Categorical(_Logits):
    """One categorical over the last dimension; values are one-hot (or relaxed) vectors."""

    def sample_with(self, base: Tensor) -> Tensor:
        """Gumbel-max: one-hot of argmax(logits + g), g = -log(-log u)."""
        idx = torch.argmax(self.logits.detach() + _gumbel(base), -1)
        return one_hot(idx, self.logits.shape[-1], self.logits.dtype)

    def sample(self) -> Tensor:
        with torch.no_grad():
            idx = torch.distributions.Categorical(logits=self.logits).sample()
            return one_hot(idx, self.logits.shape[-1], self.logits.dtype)

    @property
    def mean(self) -> Tensor:
        return torch.softmax(self.logits, -1)

    def log_prob(self, value: Tensor) -> Tensor:
        return flat_sum(value * torch.log_softmax(self.logits, -1))

    def torch(self) -> torch.distributions.Distribution:
        return torch.distributions.OneHotCategorical(logits=self.logits)


def _gumbel(u: Tensor) -> Tensor:
    u = u.clamp(1e-10, 1.0 - 1e-7)
    return -torch.log(-torch.log(u))


def _logistic(u: Tensor) -> Tensor:
    u = u.clamp(1e-7, 1.0 - 1e-7)
    return torch.log(u) - torch.log1p(-u)


class _Relaxed:
    """A relaxed (concrete) sample ``squash((logits + noise) / temperature)`` with the density of
    the discrete distribution it relaxes; ``noise`` is a transform of uniform draws."""

    has_rsample = True
    noise_kind = "uniform"
    logits: Tensor
    _noise: Callable[[Tensor], Tensor]  # uniform draws -> noise (set per family)
    _squash: Callable[[Tensor], Tensor]  # relaxed logits -> a value (set per family)

    def __init__(self, logits: Tensor, temperature: float) -> None:
        super().__init__(logits)  # type: ignore[call-arg]
        self.temperature = temperature

    def noise_from(self, base: Tensor) -> Tensor:
        return self._noise(base)

    def noise(self) -> Tensor:
        return self._noise(torch.rand_like(self.logits))

    def rsample_with(self, noise: Tensor) -> Tensor:
        return self._squash((self.logits + noise) / self.temperature)


class RelaxedCategorical(_Relaxed, Categorical):
    _noise = staticmethod(_gumbel)  # Gumbel(0, 1)
    _squash = staticmethod(lambda t: torch.softmax(t, -1))


class RelaxedBernoulli(_Relaxed, Bernoulli):
    _noise = staticmethod(_logistic)  # Logistic(0, 1)
    _squash = staticmethod(torch.sigmoid)


class Head:
    """The output head of a stochastic edge: how many blocks of outputs per target entry, and how
    to turn the network's raw output into a :class:`Dist`."""

    def __init__(self, kind: str, std: float | None = None, temperature: float = 0.5) -> None:
        self.kind = kind
        self.std = std
        self.temperature = temperature
        self.blocks = 2 if kind == "normal" and std is None else 1
        self._bind()

    @property
    def density(self) -> str:
        """The family whose density scores this head's values."""
        return {"relaxed_categorical": "categorical", "relaxed_bernoulli": "bernoulli"}.get(self.kind, self.kind)

    @property
    def reparameterised(self) -> bool:
        return self.kind in ("normal", "relaxed_categorical", "relaxed_bernoulli")

    def __call__(self, raw: Tensor) -> Dist:
        return self._make(raw)

    def _make(self, raw: Tensor) -> Dist:  # replaced per kind in __init__ (one call per use)
        raise ValueError(f"unknown output distribution '{self.kind}'")  # pragma: no cover - checked earlier

    def _bind(self) -> None:
        kind, std, t = self.kind, self.std, self.temperature
        if kind == "normal" and std is not None:
            self._make = lambda raw: Normal(raw, torch.full_like(raw, std))  # type: ignore[method-assign]
        elif kind == "normal":

            def learned(raw: Tensor) -> Dist:
                loc, logvar = raw.chunk(2, dim=1)
                log_std = 0.5 * logvar
                return Normal(loc, torch.exp(log_std), log_std)

            self._make = learned  # type: ignore[method-assign]
        elif kind in ("bernoulli", "categorical"):
            self._make = Bernoulli if kind == "bernoulli" else Categorical  # type: ignore[method-assign,assignment]
        elif kind in ("relaxed_categorical", "relaxed_bernoulli"):
            cls = RelaxedCategorical if kind == "relaxed_categorical" else RelaxedBernoulli
            self._make = lambda raw: cls(raw, t)  # type: ignore[method-assign]

    def __repr__(self) -> str:
        return f"Head({self.kind!r}, std={self.std}, temperature={self.temperature})"


def make_head(kind: str, kwargs: dict, temperature: float) -> Head:
    return Head(kind, std=kwargs.get("std"), temperature=float(kwargs.get("temperature", temperature)))


# -- priors of latent nodes ----------------------------------------------------------------------------
class Prior:
    """p(v) of a latent node: ``normal``, ``uniform`` (on ``low, high``), ``categorical``, ``bernoulli``."""

    def __init__(self, kind: str, shape: tuple[int, ...], low: float = 0.0, high: float = 1.0) -> None:
        self.kind = kind
        self.shape = tuple(shape) or (1,)
        self.low, self.high = float(low), float(high)

    @property
    def base_kind(self) -> str:
        return "normal" if self.kind == "normal" else "uniform"

    def from_base(self, base: Tensor, fresh: bool = False) -> Tensor:
        """A draw from a base draw of ``[n, *shape]`` (normal for a normal prior, else uniform);
        ``fresh``: ``base`` is read by nothing else, so the draw may be written into it (the same
        numbers, without a new tensor)."""
        if self.kind == "normal":
            return base
        if self.kind == "uniform":
            if fresh:
                return base.mul_(self.high - self.low).add_(self.low)
            return self.low + (self.high - self.low) * base
        if self.kind == "categorical":
            idx = torch.argmax(_gumbel(base), -1)
            return one_hot(idx, self.shape[-1], base.dtype)
        if self.kind == "bernoulli":
            return base.lt_(0.5) if fresh else (base < 0.5).to(base.dtype)
        raise ValueError(f"unknown prior '{self.kind}'")  # pragma: no cover

    def sample(self, n: int, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32) -> Tensor:
        shape = (n, *self.shape)
        if self.kind == "normal":
            return torch.randn(shape, device=device, dtype=dtype)
        if self.kind == "uniform":
            return self.low + (self.high - self.low) * torch.rand(shape, device=device, dtype=dtype)
        if self.kind == "categorical":
            idx = torch.randint(self.shape[-1], shape[:-1], device=device)
            return one_hot(idx, self.shape[-1], dtype)
        if self.kind == "bernoulli":
            return torch.bernoulli(torch.full(shape, 0.5, device=device, dtype=dtype))
        raise ValueError(f"unknown prior '{self.kind}'")  # pragma: no cover

    def log_prob(self, value: Tensor) -> Tensor:
        if self.kind == "normal":
            return flat_sum(-0.5 * value**2 - 0.5 * LOG_2PI)
        size = math.prod(self.shape)
        n = value.shape[0]
        if self.kind == "uniform":  # inside the range
            return value.new_full((n,), -size * math.log(self.high - self.low))
        if self.kind == "categorical":
            per = math.prod(self.shape[:-1]) if len(self.shape) > 1 else 1
            return value.new_full((n,), -per * math.log(self.shape[-1]))
        if self.kind == "bernoulli":
            return value.new_full((n,), -size * math.log(2.0))
        raise ValueError(f"unknown prior '{self.kind}'")  # pragma: no cover

    def __repr__(self) -> str:
        return f"Prior({self.kind!r}, {self.shape})"


def kl_to_prior(dist: Dist, prior: Prior) -> Tensor | None:
    """Analytic KL(q || p(v)) per row, or None where there is no closed form here.

    * normal || N(0, I): 1/2 sum(mean^2 + std^2 - 1 - log std^2);
    * categorical || uniform(K): sum p log p + log K;
    * bernoulli || Bernoulli(1/2): sum p log p + (1 - p) log(1 - p) + log 2.
    Relaxed heads use the KL of the distribution whose density scores them.
    """
    if isinstance(dist, Normal) and prior.kind == "normal":
        return flat_sum(0.5 * (dist.loc**2 + dist.std**2 - 1.0) - dist.log_std)
    if isinstance(dist, Categorical) and prior.kind == "categorical":
        logp = torch.log_softmax(dist.logits, -1)
        return flat_sum(logp.exp() * logp) + (math.prod(prior.shape[:-1]) if len(prior.shape) > 1 else 1) * math.log(
            prior.shape[-1]
        )
    if isinstance(dist, Bernoulli) and prior.kind == "bernoulli":
        p = torch.sigmoid(dist.logits)
        return flat_sum(p * F.logsigmoid(dist.logits) + (1 - p) * F.logsigmoid(-dist.logits) + math.log(2.0))
    return None


def kl_pair(q: Dist, p: Dist) -> Tensor | None:
    """Analytic KL(q || p) per row between two distributions of the same family (normal/normal,
    categorical/categorical, bernoulli/bernoulli), or None where there is no closed form here.
    Relaxed heads use the KL of the distribution whose density scores them."""
    if isinstance(q, Normal) and isinstance(p, Normal):
        var_ratio = (q.std / p.std) ** 2
        return flat_sum(0.5 * (var_ratio + ((q.loc - p.loc) / p.std) ** 2 - 1.0) - (q.log_std - p.log_std))
    if isinstance(q, Categorical) and isinstance(p, Categorical):
        lq, lp = torch.log_softmax(q.logits, -1), torch.log_softmax(p.logits, -1)
        return flat_sum(lq.exp() * (lq - lp))
    if isinstance(q, Bernoulli) and isinstance(p, Bernoulli):
        pq = torch.sigmoid(q.logits)
        a = F.logsigmoid(q.logits) - F.logsigmoid(p.logits)
        b = F.logsigmoid(-q.logits) - F.logsigmoid(-p.logits)
        return flat_sum(pq * a + (1 - pq) * b)
    return None


def support(kind: str, shape: tuple[int, ...]) -> list[Tensor]:
    """Every value of a discrete node, each a tensor of ``shape`` (one-hot for a categorical), in
    the order of their index (for a categorical [K]: class 0, 1, ...; bernoulli: binary counting
    with the first entry the most significant bit)."""
    import itertools

    shape = tuple(shape) or (1,)
    if kind == "categorical":
        k, m = shape[-1], math.prod(shape[:-1]) if len(shape) > 1 else 1
        eye = torch.eye(k)
        return [eye[list(c)].reshape(shape) for c in itertools.product(range(k), repeat=m)]
    if kind == "bernoulli":
        d = math.prod(shape)
        return [torch.tensor(c, dtype=torch.float32).reshape(shape) for c in itertools.product((0.0, 1.0), repeat=d)]
    raise ValueError(f"'{kind}' has no finite support")  # pragma: no cover


# -- a fixed kernel two-sample test ----------------------------------------------------------------------
def mmd2(a: Tensor, b: Tensor, *bandwidths: float) -> Tensor:
    """Biased (V-statistic) MMD^2 between the rows of ``a`` and ``b`` with the kernel
    k(u, v) = sum_s exp(-|u - v|^2 / (2 s^2)): mean k(a, a) + mean k(b, b) - 2 mean k(a, b).

    The three blocks are computed separately, so a block whose rows need no gradient (the data)
    is not differentiated, and the bandwidths are summed one at a time (no [s, n, n] stack)."""
    scales = [-0.5 / (s * s) for s in (bandwidths or (1.0,))]
    a = a.reshape(a.shape[0], -1)
    b = b.reshape(b.shape[0], -1)
    sq_a, sq_b = (a * a).sum(1), (b * b).sum(1)

    def kernel_mean(u: Tensor, sq_u: Tensor, v: Tensor, sq_v: Tensor) -> Tensor:
        d2 = (sq_u[:, None] + sq_v[None, :] - 2.0 * u @ v.T).clamp_min(0.0)
        k = torch.exp(d2 * scales[0])
        for c in scales[1:]:
            k = k + torch.exp(d2 * c)
        return k.mean()

    return kernel_mean(a, sq_a, a, sq_a) + kernel_mean(b, sq_b, b, sq_b) - 2.0 * kernel_mean(a, sq_a, b, sq_b)


# -- reconstruction distances of a deterministic (hollow) solid edge -----------------------------------
def reconstruction(prediction: Tensor, target: Tensor, kind: str, logits: bool = False) -> Tensor:
    """Per-row distance, summed over dimensions: ``bce`` (of probabilities, or of logits when the
    edge has no output activation), ``mse`` (the sum of squared differences: the setting
    ``distance=l2``) or ``l1`` (the sum of absolute differences)."""
    if kind == "bce":
        if logits:
            return flat_sum(F.binary_cross_entropy_with_logits(prediction, target, reduction="none"))
        return flat_sum(F.binary_cross_entropy(prediction, target, reduction="none"))
    if kind == "mse":
        return flat_sum((prediction - target) ** 2)
    if kind == "l1":
        return flat_sum((prediction - target).abs())
    raise ValueError(f"unknown reconstruction '{kind}'")  # pragma: no cover


def bandwidths_of(args: Sequence[float]) -> tuple[float, ...]:
    return tuple(float(a) for a in args) or (1.0,)
