"""Train and evaluate one cell: a variant of a table, with one seed and one budget.

The spec is the catalog's file with the variant's text substitutions; it is trained by the
project's trainer (:class:`schemagm.train.trainer.Trainer`, one update of every phase per step,
no run directory) and evaluated by the project's metrics (:mod:`schemagm.evaluate`).  The result
is plain data (:mod:`.store` writes it): the numbers, the training curve and, for the tables with
pictures, a few samples rounded for the figures.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import torch

from .. import __version__
from ..errors import SpecError
from ..evaluate.report import EvalReport, EvalSettings, evaluate
from ..graph.build import parse
from ..train.config import TrainConfig
from ..train.data import DataSource, get_dataset
from ..train.launch import seed_everything
from ..train.trainer import Trainer, TrainingDiverged
from .store import FORMAT, PROTOCOL, cell_key, spec_hash
from .tables import Table, Variant, cell_budget

__all__ = ["CellInput", "cell_input", "run_cell", "mnist_images"]

#: samples kept in a result file for the figures
_KEEP_DIGITS = 32
_KEEP_POINTS = 500


class CellInput:
    """What a cell trains: the spec text as trained, its data, its budget and its key."""

    def __init__(
        self, table: Table, variant: Variant, seed: int, profile: str, text: str, data: str, source: str | None
    ) -> None:
        self.table, self.variant, self.seed, self.profile = table, variant, seed, profile
        self.text, self.data, self.source = text, data, source
        self.budget = cell_budget(table, variant, profile)
        self.key = cell_key(text, self.budget, seed, data, __version__)


def mnist_images(folder: Path) -> Path:
    """The MNIST training images in ``folder`` (``train-images-idx3-ubyte``, optionally ``.gz``)."""
    for name in ("train-images-idx3-ubyte", "train-images.idx3-ubyte", "train-images-idx3-ubyte.gz"):
        if (folder / name).is_file():
            return folder / name
    raise SpecError(
        f"--mnist folder '{folder}' has no train-images-idx3-ubyte (or .gz)",
        hint="download the four MNIST IDX files into one folder and pass that folder",
    )


def _substitute(text: str, variant: Variant, spec: str) -> str:
    for old, new in variant.replace:
        if old not in text:
            raise SpecError(f"{spec}: the reproduction's variant '{variant.id}' expects the text '{old}' in the spec")
        text = text.replace(old, new)
    return text


def cell_input(
    table: Table, variant: Variant, seed: int, profile: str, root: Path, mnist: Path | None = None
) -> CellInput:
    spec = root / variant.spec
    try:
        text = spec.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"cannot read the spec '{spec}': {exc.strerror or exc}") from None
    text = _substitute(text, variant, variant.spec)
    if mnist is None or not table.digits:
        return CellInput(table, variant, seed, profile, text, "digits" if table.digits else "builtin", None)
    images = mnist_images(mnist)
    for old, new in (("real[64] in [0, 1] from digits", "real[784] in [0, 1]"), ("dequantize(16)", "dequantize(255)")):
        text = text.replace(old, new)
    if "real[784]" not in text:
        raise SpecError(f"{variant.spec}: cannot turn this spec into one for MNIST (no 'real[64] ... from digits')")
    return CellInput(table, variant, seed, profile, text, "mnist", str(images))


def _subset(data: DataSource, fraction: float) -> DataSource:
    n = len(data)
    keep = max(1, math.ceil(fraction * n))
    train = {k: v[:keep] for k, v in data.train.items()}
    return DataSource(data.name, train, data.test, data.primary, data.modes, data.std, dict(data.sources))


def _train(cell: CellInput, threads: int) -> tuple[Any, Any, DataSource, dict[str, Any]]:
    b = cell.budget
    torch.set_num_threads(threads)
    graph = parse(cell.text, file=cell.variant.spec)
    seed_everything(cell.seed)
    from ..compiler import compile as compile_graph

    model = compile_graph(graph)
    data = get_dataset(cell.source, graph, seed=0, test_fraction=0.1)
    if b.get("fraction", 1.0) < 1.0:
        data = _subset(data, b["fraction"])
    config = TrainConfig.model_validate(
        {
            "spec": cell.variant.spec,
            "steps": b["steps"],
            "batch_size": min(b["batch_size"], len(data)),
            "lr": b["lr"],
            "betas": tuple(b.get("betas", (0.9, 0.999))),
            "seed": cell.seed,
            "samples": 0,
            "progress": False,
        }
    )
    torch.manual_seed(10_007 * cell.seed + 1)  # the training noise, apart from the weights' draw
    trainer = Trainer(model, data, config, run=None, spec_text=cell.text, model_name=graph.name)
    every = max(1, b["steps"] // 50)
    curve: dict[str, list[float]] = {"step": []}
    window: dict[str, list[float]] = {}
    status, message = "finished", ""
    t0 = time.perf_counter()
    try:
        while trainer.step < b["steps"]:
            trainer.train_step()
            for phase, value in trainer.last_phase_losses.items():
                window.setdefault(phase, []).append(value)
            if trainer.step % every == 0 or trainer.step == b["steps"]:
                curve["step"].append(trainer.step)
                for phase, values in window.items():
                    curve.setdefault(phase, []).append(_round(sum(values) / len(values), 5))
                window = {}
    except TrainingDiverged as exc:
        status, message = "diverged", exc.message
    info = {
        "status": status,
        "message": message,
        "steps": trainer.step,
        "train_rows": len(data),
        "batch_size": config.batch_size,
        "train_seconds": round(time.perf_counter() - t0, 2),
        "curve": curve,
    }
    model.eval()
    return model, graph, data, info


def _round(x: float, digits: int) -> float:
    return float(f"{x:.{digits}g}") if math.isfinite(x) else x


def _value(rep: EvalReport, name: str) -> dict[str, Any]:
    r = rep.results[name]
    if r.status != "ok" or r.value is None:
        raise _NotMeasured(name, f"{r.status}: {r.reason}")
    return r.value


class _NotMeasured(Exception):
    def __init__(self, metric: str, reason: str) -> None:
        super().__init__(reason)
        self.metric, self.reason = metric, reason


def _keep(x: torch.Tensor, n: int, decimals: int = 3) -> list[list[float]]:
    flat = x[:n].detach().reshape(min(n, x.shape[0]), -1).double()
    return [[round(float(v), decimals) for v in row] for row in flat]


def _samples(model: Any, node: str, n: int, seed: int, **kw: Any) -> torch.Tensor:
    with torch.no_grad(), torch.random.fork_rng():
        torch.manual_seed(seed)
        return model.sample(n, **kw)[node].detach().float()


# -- the evaluations, one per table ---------------------------------------------------------------------------
def _eval_gan_iwgan(model: Any, graph: Any, data: DataSource, b: dict[str, Any], seed: int) -> dict[str, Any]:
    out: dict[str, Any] = {"samples": _keep(_samples(model, data.primary, _KEEP_DIGITS, seed + 1), _KEEP_DIGITS)}
    rep = evaluate(model, graph, data, ["inception", "fid"], EvalSettings(n_samples=b["n_samples"], seed=seed))
    inc, fid = _value(rep, "inception"), _value(rep, "fid")
    out["metrics"] = {
        "inception_score": inc["inception_score"],
        "inception_split_std": inc["std"],
        "test_data_inception_score": inc["test_data_inception_score"],
        "fid": fid["fid"],
        "train_vs_test_fid": fid["train_vs_test_fid"],
    }
    return out


def _eval_vae_aavae(model: Any, graph: Any, data: DataSource, b: dict[str, Any], seed: int) -> dict[str, Any]:
    rep = evaluate(model, graph, data, ["iw", "elbo"], EvalSettings(k=b["k"], seed=seed))
    iw, elbo = _value(rep, "iw"), _value(rep, "elbo")
    return {"metrics": {"iw": iw["mean"], "iw_stderr": iw["stderr"], "elbo": elbo["mean"], "n_test": iw["n"]}}


def _eval_ring8(model: Any, graph: Any, data: DataSource, b: dict[str, Any], seed: int) -> dict[str, Any]:
    rep = evaluate(
        model, graph, data, ["modes", "mmd"], EvalSettings(n_samples=b["n_samples"], seed=seed, permutations=100)
    )
    modes, mmd = _value(rep, "modes"), _value(rep, "mmd")
    x = _samples(model, data.primary, _KEEP_POINTS, seed, mean=False)
    return {
        "metrics": {
            "modes_covered": modes["modes_covered"],
            "modes_reached": modes["modes_reached"],
            "high_quality_fraction": modes["high_quality_fraction"],
            "mmd2": mmd["mmd2"],
        },
        "samples": _keep(x, _KEEP_POINTS, 4),
        "modes": [[round(float(v), 4) for v in m] for m in (data.modes if data.modes is not None else [])],
        "mode_std": data.std,
    }


def _unsure(x: torch.Tensor, below: float) -> float:
    from ..evaluate.classifier import load_classifier

    with torch.no_grad():
        p = load_classifier().model.probs(x)
    return float((p.max(dim=1).values < below).double().mean())


def _eval_dae(model: Any, graph: Any, data: DataSource, b: dict[str, Any], seed: int) -> dict[str, Any]:
    from ..evaluate.two_sample import mmd_test

    x = _samples(model, data.primary, b["n_samples"], seed, steps=b["chain_steps"])
    test = data.test[data.primary]
    metrics: dict[str, Any] = {}
    if data.name == "digits":
        metrics["unsure_share"] = _unsure(x, b["unsure_below"])
        metrics["test_data_unsure_share"] = _unsure(test, b["unsure_below"])
    r = mmd_test(x, test, None, permutations=100, seed=seed)
    metrics |= {"mmd2": r.mmd2, "mmd_p_value": r.p_value}
    return {"metrics": metrics, "samples": _keep(x, _KEEP_DIGITS)}


def _eval_beta_vae(model: Any, graph: Any, data: DataSource, b: dict[str, Any], seed: int) -> dict[str, Any]:
    beta = float(graph.options.beta)
    test = data.test
    with torch.no_grad(), torch.random.fork_rng():
        torch.manual_seed(seed)
        terms = model.terms(test)
    rep = evaluate(
        model,
        graph,
        data,
        ["surgery", "elbo"],
        EvalSettings(seed=seed, surgery_points=len(test[data.primary]), surgery_draws=b["surgery_draws"]),
    )
    s, elbo = _value(rep, "surgery"), _value(rep, "elbo")
    return {
        "metrics": {
            "beta": beta,
            "reconstruction": float(terms["nll:p_theta"]),
            "kl": float(terms["kl:q_eta"]) / beta,
            "elbo": elbo["mean"],
            "average_kl": s["average_kl"],
            "mutual_information": s["mutual_information"],
            "marginal_kl": s["marginal_kl"],
            "residual": s["residual"],
            "residual_stderr": s["residual_stderr"],
            "log_n": s["log_n"],
        }
    }


def _eval_flows(model: Any, graph: Any, data: DataSource, b: dict[str, Any], seed: int) -> dict[str, Any]:
    rep = evaluate(model, graph, data, ["bpd"], EvalSettings(k=b["k"], seed=seed))
    v = _value(rep, "bpd")
    x = _samples(model, data.primary, _KEEP_DIGITS, seed + 1)
    return {
        "metrics": {
            "bits_per_dim": v["bits_per_dim"],
            "bits_per_dim_stderr": v["bits_per_dim_stderr"],
            "nats": v["mean"],
        },
        "samples": _keep(x, _KEEP_DIGITS),
    }


_EVALUATE = {
    "gan_iwgan": _eval_gan_iwgan,
    "vae_aavae": _eval_vae_aavae,
    "ring8": _eval_ring8,
    "dae": _eval_dae,
    "beta_vae": _eval_beta_vae,
    "flows": _eval_flows,
}


def run_cell(cell: CellInput, threads: int = 1) -> dict[str, Any]:
    """Train and evaluate a cell; its result file's contents."""
    model, graph, data, info = _train(cell, threads)
    result: dict[str, Any] = {
        "format": FORMAT,
        "protocol": PROTOCOL,
        "key": cell.key,
        "table": cell.table.name,
        "variant": cell.variant.id,
        "seed": cell.seed,
        "profile": cell.profile,
        "data": cell.data,
        "spec": cell.variant.spec,
        "spec_sha256": spec_hash(cell.text),
        "budget": cell.budget,
        "schemagm": __version__,
        "torch": torch.__version__.split("+")[0],
        "threads": threads,
        **info,
        "metrics": {},
        "not_measured": {},
    }
    if info["status"] != "finished":
        return result
    t0 = time.perf_counter()
    try:
        out = _EVALUATE[cell.table.name](model, graph, data, cell.budget, cell.seed)
    except _NotMeasured as why:
        result["not_measured"][why.metric] = why.reason
        out = {}
    result["eval_seconds"] = round(time.perf_counter() - t0, 2)
    metrics = out.pop("metrics", {})
    result["metrics"] = {k: (_round(float(v), 6) if isinstance(v, float) else v) for k, v in metrics.items()}
    result |= out
    return result
