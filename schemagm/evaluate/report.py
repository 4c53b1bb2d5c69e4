"""Run every metric that applies to a trained model; the results as a table and as JSON.

=============  ===================================================================  ============================
metric         what                                                                  applies when
=============  ===================================================================  ============================
``elbo``       test ELBO, nats per example (mean ± s.e.)                            the model has a bound
``iw``         k-sample importance-weighted bound (Burda et al.), nats              the model has a bound
``bpd``        exact test log-likelihood (else the iw bound), nats and bits/dim     the model has either
``mmd``        MMD² of samples against test data, permutation p-value               the model samples the data
               (a translation model: per direction, translated test rows vs the
               target domain's test rows)
``cycle``      per direction, mean L1 cycle error ‖back(forth(a)) − a‖₁              a translation model with
                                                                                     both directions
``modes``      modes covered and high-quality fraction (within 3 std)               the data are a mixture
``inception``  inception score of samples under the digits classifier              digits data, samples
``fid``        Fréchet distance of classifier features, samples vs test data       digits data, samples
``surgery``    average KL = I_q(x; z) + KL(q(z) ‖ p(z)) (Hoffman and Johnson)     a posterior q(z | x), a prior
=============  ===================================================================  ============================

Whether a metric applies is asked of the compiled model itself on two test
rows: a model without a bound, a posterior or a generative process says so
(a ``SpecError``), and its words become the reason shown for "not applicable".
Every random draw comes from ``seed``, so a report can be repeated.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..errors import SpecError
from ..graph.model import Role, SchematicGraph
from ..suggest import did_you_mean
from .likelihood import estimate, likelihood_bounds
from .modes import mode_coverage
from .surgery import surgery_of_model
from .translation import Translation, cycle_errors, is_translation_model, translation_mmd, translations
from .two_sample import mmd_test

__all__ = [
    "METRICS",
    "ALL_METRICS",
    "EvalSettings",
    "MetricResult",
    "EvalReport",
    "evaluate",
    "evaluate_run",
    "parse_metrics",
]

METRICS = ("elbo", "iw", "mmd", "modes", "inception", "fid", "surgery")
#: every metric a report can ask for; ``bpd`` joins the default set for models with an exact
#: density or a dequantization bound (flows, the kde and mixture references: ``model.exact``)
#: ``cycle`` joins it for translation models (CycleGAN: the generative process starts from given data rows)
ALL_METRICS = ("elbo", "iw", "bpd", "mmd", "modes", "inception", "fid", "surgery", "accuracy", "cycle")

Batch = dict[str, torch.Tensor]


@dataclass(frozen=True)
class EvalSettings:
    k: int = 50
    n_samples: int = 1000
    seed: int = 0
    batch_size: int = 256
    permutations: int = 200
    #: Gaussian kernel bandwidths of the MMD test; None: the median heuristic
    bandwidths: tuple[float, ...] | None = None
    surgery_points: int = 1000
    surgery_draws: int = 4
    classifier_dir: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items() if k != "classifier_dir"}


@dataclass
class MetricResult:
    name: str
    status: str  # "ok", "not applicable", "error"
    value: dict[str, Any] | None = None
    reason: str | None = None
    summary: str = ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status}
        if self.value is not None:
            out["value"] = self.value
        if self.reason is not None:
            out["reason"] = self.reason
        out["summary"] = self.summary
        return out


@dataclass
class EvalReport:
    model: str
    data: str
    settings: EvalSettings
    results: dict[str, MetricResult]
    run: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> list[str]:
        return [n for n, r in self.results.items() if r.status == "error"]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data; a number that is not finite (a standard error of one example) becomes null."""
        return _finite(
            {
                "run": self.run,
                "model": self.model,
                "data": self.data,
                "settings": self.settings.to_dict(),
                **self.extra,
                "metrics": {n: r.to_dict() for n, r in self.results.items()},
            }
        )

    def table(self) -> Any:
        from rich.table import Table

        t = Table(title=f"evaluation of {self.model}" + (f" ({self.run})" if self.run else ""), title_justify="left")
        t.add_column("metric", style="bold")
        t.add_column("result")
        style = {"ok": "", "not applicable": "dim", "error": "red"}
        for name, r in self.results.items():
            text = r.summary if r.status == "ok" else f"{r.status}: {r.reason}"
            t.add_row(name, text, style=style[r.status])
        return t


def _finite(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def parse_metrics(text: str | None) -> tuple[str, ...]:
    """``"elbo,iw"`` -> ("elbo", "iw"); None or ``"all"`` -> every metric. Unknown names are a SpecError."""
    if text is None or text.strip() in ("", "all"):
        return METRICS
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    unknown = [n for n in names if n not in ALL_METRICS]
    if unknown or not names:
        guess = did_you_mean(unknown[0], ALL_METRICS) if unknown else ""
        raise SpecError(
            f"unknown metric{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(map(repr, unknown)) or '(none given)'}; {guess}choose from {', '.join(ALL_METRICS)}"
        )
    return names


class NotApplicable(Exception):
    """The metric does not apply to this model or data; the message says why."""


def _reason(err: SpecError) -> str:
    return err.diagnostics[0].message


def _probe(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except SpecError as err:
        raise NotApplicable(_reason(err)) from None


def _data_node(graph: SchematicGraph, primary: str | None) -> str:
    nodes = graph.nodes_by_role(Role.data)
    names = [n.name for n in nodes]
    return primary if primary in names else names[0]


def _batches(test: Batch, size: int) -> list[Batch]:
    n = next(iter(test.values())).shape[0]
    return [{k: v[i : i + size] for k, v in test.items()} for i in range(0, n, size)]


class _Context:
    """What the metrics share: the model, the test split, one set of samples, the classifier."""

    def __init__(self, model: Any, graph: SchematicGraph, data: Any, settings: EvalSettings) -> None:
        self.model, self.graph, self.data, self.s = model, graph, data, settings
        self.test: Batch = data.test
        if not self.test or next(iter(self.test.values())).shape[0] < 2:
            raise SpecError(
                "the run's data have fewer than 2 test rows; train with a larger test fraction (--test-fraction)"
            )
        self.node = _data_node(graph, getattr(data, "primary", None))
        self.tiny = {k: v[:2] for k, v in self.test.items()}
        self._samples: torch.Tensor | None = None
        self._classifier: Any = None
        self._translations: list[Translation] | None = None

    def translations(self) -> list[Translation]:
        """Each direction of a translation model on the first ``n_samples`` test rows (once)."""
        if self._translations is None:
            self._translations = _probe(lambda: translations(self.model, self.test, self.s.n_samples, self.s.seed))
        return self._translations

    @property
    def sample_mean(self) -> bool:
        """Bounded data (pixels in [0, 1]) are compared as the decoder's mean; unbounded data as draws."""
        return self.graph.nodes[self.node].range is not None

    def samples(self) -> torch.Tensor:
        if self._samples is None:
            node = self.graph.nodes[self.node]
            if node.given is not None:
                raise NotApplicable(
                    f"data node '{self.node}' comes from two domains chosen by '{node.given}'; the model does "
                    "not generate it"
                )
            if node.value == "categorical":
                raise NotApplicable(f"data node '{self.node}' is categorical")
            out = _probe(lambda: self.model.sample(2, mean=self.sample_mean))
            if self.node not in out:
                raise NotApplicable(f"the model's generative process does not produce '{self.node}'")
            with torch.no_grad(), torch.random.fork_rng():
                torch.manual_seed(self.s.seed)
                x = self.model.sample(self.s.n_samples, mean=self.sample_mean)[self.node]
            self._samples = x.detach().float().cpu()
        return self._samples

    def test_x(self, n: int | None = None) -> torch.Tensor:
        x = self.test[self.node]
        return x if n is None else x[:n]

    def classifier(self) -> Any:
        node = self.graph.nodes[self.node]
        source = getattr(self.data, "sources", {}).get(self.node, getattr(self.data, "name", ""))
        if not str(source).startswith("digits") or node.size != 64 or node.value == "categorical":
            raise NotApplicable(
                f"needs 8x8 digits images in the data node (it holds {source or 'other data'}, {node.size} numbers)"
            )
        if self._classifier is None:
            from .classifier import load_classifier

            self._classifier = load_classifier(self.s.classifier_dir)
        return self._classifier


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _elbo(c: _Context) -> MetricResult:
    _probe(lambda: c.model.elbo(c.tiny))
    r = likelihood_bounds(c.model, _batches(c.test, c.s.batch_size), iw=False, seed=c.s.seed)
    e = r.elbo
    assert e is not None
    return MetricResult(
        "elbo", "ok", e.to_dict() | {"unit": "nats"}, summary=f"{e.mean:.3f} ± {e.stderr:.3f} nats (n = {e.n})"
    )


def _iw(c: _Context) -> MetricResult:
    _probe(lambda: c.model.iw_bound(c.tiny, 2))
    r = likelihood_bounds(
        c.model, _batches(c.test, max(1, c.s.batch_size // max(1, c.s.k // 8))), k=c.s.k, elbo=False, seed=c.s.seed
    )
    w = r.iw_bound
    assert w is not None
    return MetricResult(
        "iw",
        "ok",
        w.to_dict() | {"k": c.s.k, "unit": "nats"},
        summary=f"{w.mean:.3f} ± {w.stderr:.3f} nats (k = {c.s.k}, n = {w.n})",
    )


def _bpd(c: _Context) -> MetricResult:
    from .density import bits_per_dim

    exact = bool(getattr(c.model, "exact", False)) and callable(getattr(c.model, "log_likelihood", None))
    if exact:
        _probe(lambda: c.model.log_likelihood(c.tiny))
        with torch.no_grad(), torch.random.fork_rng():
            torch.manual_seed(c.s.seed)
            e = estimate(torch.cat([c.model.log_likelihood(b).detach() for b in _batches(c.test, c.s.batch_size)]))
    else:
        _probe(lambda: c.model.iw_bound(c.tiny, 2))
        w = likelihood_bounds(
            c.model, _batches(c.test, max(1, c.s.batch_size // max(1, c.s.k // 8))), k=c.s.k, elbo=False, seed=c.s.seed
        ).iw_bound
        assert w is not None
        e = w
    dims = int(c.model.data_dims()) if callable(getattr(c.model, "data_dims", None)) else c.graph.nodes[c.node].size
    bpd, se = bits_per_dim(e.mean, dims), e.stderr / (dims * math.log(2.0))
    what = "exact log-likelihood" if exact else f"iw bound (k = {c.s.k})"
    value = e.to_dict() | {"exact": exact, "bits_per_dim": bpd, "bits_per_dim_stderr": se, "dims": dims, "unit": "nats"}
    return MetricResult(
        "bpd", "ok", value, summary=f"{bpd:.4f} ± {se:.4f} bits/dim ({what} {e.mean:.3f} nats, D = {dims}, n = {e.n})"
    )


def _mmd(c: _Context) -> MetricResult:
    if is_translation_model(c.model):
        return _mmd_translations(c)
    x = c.samples()
    y = c.test_x(c.s.n_samples)
    r = mmd_test(x, y, c.s.bandwidths, permutations=c.s.permutations, seed=c.s.seed)
    return MetricResult(
        "mmd",
        "ok",
        r.to_dict() | {"sample_mean": c.sample_mean},
        summary=f"MMD² = {_fmt(r.mmd2)}, p = {r.p_value:.3f} ({r.n_x} samples vs {r.n_y} test rows, σ = "
        f"{', '.join(map(_fmt, r.bandwidths))})",
    )


def _mmd_translations(c: _Context) -> MetricResult:
    """Per direction source -> target: the translated test rows of the source against the target's test rows."""
    found = c.translations()
    results = translation_mmd(found, c.test, c.s.n_samples, c.s.bandwidths, c.s.permutations, c.s.seed)
    if not results:
        raise NotApplicable("the test data hold no target domain of the model's translations")
    parts = [
        f"{name.replace('->', ' -> ')}: MMD² = {_fmt(r.mmd2)}, p = {r.p_value:.3f} ({r.n_x} translated vs "
        f"{r.n_y} test rows, σ = {', '.join(map(_fmt, r.bandwidths))})"
        for name, r in results.items()
    ]
    return MetricResult("mmd", "ok", {n: r.to_dict() for n, r in results.items()}, summary="\n".join(parts))


def _cycle(c: _Context) -> MetricResult:
    if not is_translation_model(c.model):
        raise NotApplicable(
            "the model's generative process starts from no given data rows: it translates nothing "
            "(a cycle error needs a translation model, e.g. specs/extra/cyclegan.sgm)"
        )
    found = c.translations()
    errors = cycle_errors(c.model, found, c.test, c.s.n_samples, c.s.seed)
    if not errors:
        ways = ", ".join(f"{d.source} -> {d.target}" for d in found)
        raise NotApplicable(f"the graph translates one way only ({ways}): there is no way back to close a cycle")
    n = {d.name: len(d.rows) for d in found}
    parts = [
        f"{name.replace('->', ' -> ')} -> {name.split('->')[0]}: mean L1 cycle error {_fmt(e)} ({n[name]} test rows)"
        for name, e in errors.items()
    ]
    value = {name: {"l1": e, "n": n[name]} for name, e in errors.items()}
    return MetricResult("cycle", "ok", value, summary="\n".join(parts))


def _modes(c: _Context) -> MetricResult:
    modes, std = getattr(c.data, "modes", None), getattr(c.data, "std", None)
    if modes is None or std is None:
        raise NotApplicable(f"the data ({getattr(c.data, 'name', '?')}) are not a mixture with known modes")
    x = c.samples()
    r = mode_coverage(x.reshape(x.shape[0], -1), modes, std)
    return MetricResult(
        "modes",
        "ok",
        r.to_dict(),
        summary=(
            f"{r.modes_covered}/{r.n_modes} modes covered, high-quality fraction {r.high_quality_fraction:.3f}"
            f" ({r.modes_reached}/{r.n_modes} reached by nearest samples; {r.n_samples} samples,"
            f" ≥ {r.min_count} per mode)"
        ),
    )


def _inception(c: _Context) -> MetricResult:
    from .inception import inception_score

    clf = c.classifier()
    x = c.samples()
    with torch.no_grad():
        score, std = inception_score(clf.model.probs(x), splits=min(10, x.shape[0]))
        data_score, _ = inception_score(clf.model.probs(c.test_x()), splits=1)
    value = {
        "inception_score": score,
        "std": std,
        "splits": min(10, x.shape[0]),
        "test_data_inception_score": data_score,
        "classifier_test_accuracy": clf.test_accuracy,
    }
    return MetricResult(
        "inception",
        "ok",
        value,
        summary=f"{score:.3f} ± {std:.3f} (test data: {data_score:.3f}; classifier accuracy {clf.test_accuracy:.3f})",
    )


def _fid(c: _Context) -> MetricResult:
    from .inception import frechet_distance

    clf = c.classifier()
    x = c.samples()
    with torch.no_grad():
        fs, ft = clf.model.features(x), clf.model.features(c.test_x())
        fid = frechet_distance(fs, ft)
        train = getattr(c.data, "train", {}).get(c.node)
        floor = None if train is None else frechet_distance(clf.model.features(train[: c.s.n_samples]), ft)
    value = {"fid": fid, "train_vs_test_fid": floor, "n_samples": x.shape[0], "n_test": ft.shape[0]}
    extra = "" if floor is None else f" (training data vs test: {floor:.3f})"
    return MetricResult("fid", "ok", value, summary=f"{fid:.3f}{extra}")


def _surgery(c: _Context) -> MetricResult:
    _probe(lambda: c.model.posterior(c.tiny))
    try:
        r = surgery_of_model(
            c.model,
            _batches(c.test, c.s.batch_size),
            max_points=c.s.surgery_points,
            draws=c.s.surgery_draws,
            seed=c.s.seed,
        )
    except SpecError as err:
        raise NotApplicable(_reason(err)) from None
    ok = abs(r.residual) <= 4 * r.residual_stderr + 1e-6
    return MetricResult(
        "surgery",
        "ok",
        r.to_dict() | {"adds_up": ok},
        summary=(
            f"avg KL {r.average_kl:.3f} = I(x;z) {r.mutual_information:.3f} + KL(q(z)‖p(z)) {r.marginal_kl:.3f}"
            f" (residual {r.residual:+.3f} ± {r.residual_stderr:.3f}; I ≤ log N = {r.log_n:.2f})"
        ),
    )


def _accuracy(c: _Context) -> MetricResult:
    """The accuracy of each partially observed node's inferred value (the argmax of its dashed
    edge, from the other nodes) on the test rows where it is observed."""
    from ..graph.model import observed_key

    nodes = [n for n in c.graph.nodes.values() if n.partial and n.value == "categorical"]
    if not nodes:
        raise NotApplicable("the model has no partially observed categorical node")
    out: dict[str, Any] = {}
    parts = []
    for n in nodes:
        right, total = 0, 0
        with torch.no_grad():
            for b in _batches(c.test, c.s.batch_size):
                probs = c.model.infer(n.name, b)
                seen = b.get(observed_key(n.name), torch.ones(probs.shape[0], dtype=torch.bool)).bool()
                right += int((probs.argmax(-1) == b[n.name].reshape(-1).long())[seen].sum())
                total += int(seen.sum())
        if total == 0:
            raise NotApplicable(f"no test row has a value of '{n.name}' to compare with")
        acc = right / total
        out[n.name] = {"accuracy": acc, "n": total}
        parts.append(f"{n.name}: {acc:.3f} ({right}/{total} test rows)")
    return MetricResult("accuracy", "ok", out, summary="; ".join(parts))


_RUNNERS: dict[str, Callable[[_Context], MetricResult]] = {
    "accuracy": _accuracy,
    "elbo": _elbo,
    "iw": _iw,
    "bpd": _bpd,
    "mmd": _mmd,
    "modes": _modes,
    "inception": _inception,
    "fid": _fid,
    "surgery": _surgery,
    "cycle": _cycle,
}


def evaluate(
    model: Any,
    graph: SchematicGraph,
    data: Any,
    metrics: tuple[str, ...] | list[str] | None = None,
    settings: EvalSettings | None = None,
    *,
    run: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> EvalReport:
    """Every requested metric for ``model`` on ``data`` (with ``.test``, and ``.modes``/``.std`` for mixtures)."""
    s = settings or EvalSettings()
    if s.k < 1 or s.n_samples < 2:
        raise SpecError(f"need k ≥ 1 and at least 2 samples (got k = {s.k}, n-samples = {s.n_samples})")
    names = tuple(metrics) if metrics else METRICS
    default = names == METRICS
    if default and hasattr(model, "exact"):  # a flow (or a reference density): its bits/dim too
        names = ("elbo", "iw", "bpd", *METRICS[2:])
    if default and any(n.partial for n in graph.nodes.values()):  # the inferred label's accuracy too
        names = (*names, "accuracy")
    if default and is_translation_model(model):  # each direction's cycle error too
        names = (*names, "cycle")
    c = _Context(model, graph, data, s)
    was_training = model.training
    model.eval()
    results: dict[str, MetricResult] = {}
    try:
        for name in names:
            if progress:
                progress(name)
            try:
                results[name] = _RUNNERS[name](c)
            except NotApplicable as why:
                results[name] = MetricResult(name, "not applicable", reason=str(why))
            except SpecError as err:
                results[name] = MetricResult(name, "error", reason=_reason(err))
    finally:
        model.train(was_training)
    extra: dict[str, Any] = {"data_node": c.node}
    if c._classifier is not None:
        extra["classifier"] = {"path": str(c._classifier.path), "test_accuracy": c._classifier.test_accuracy}
    return EvalReport(graph.name, str(getattr(data, "name", "?")), s, results, run=run, extra=extra)


def evaluate_run(
    path: str | Path,
    metrics: tuple[str, ...] | list[str] | None = None,
    settings: EvalSettings | None = None,
    *,
    checkpoint: str | None = None,
    progress: Callable[[str], None] | None = None,
    reference: str | None = None,
    epsilon: float = 0.1,
) -> EvalReport:
    """Load a run directory (``schemagm.train.run.load_run``) and evaluate it; with ``reference``
    (``kde``, ``mixture``: :mod:`.density`), evaluate that reference model on the run's data instead."""
    from ..train.run import load_run

    r = load_run(path, checkpoint=checkpoint)
    model = r.model
    if reference is not None:
        from .density import reference_model

        node = _data_node(r.graph, getattr(r.data, "primary", None))
        model = reference_model(
            reference, node, r.data.train[node], r.model, epsilon=epsilon, bounds=r.graph.nodes[node].range
        )
    report = evaluate(model, r.graph, r.data, metrics, settings, run=str(r.path), progress=progress)
    if reference is not None:
        report.extra["reference"] = {"kind": reference, "epsilon": epsilon, "weight": getattr(model, "weight", None)}
        report.model = f"{r.graph.name} / reference {reference}"
    report.extra["step"] = r.step
    report.extra["checkpoint"] = str(r.checkpoint)
    return report
