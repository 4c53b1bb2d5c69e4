"""`schemagm eval` on a translation model: each direction's MMD² and cycle error.

On a briefly trained CycleGAN run (specs/extra/cyclegan.sgm) through the command line, the
report holds, per direction, the MMD² of the translated test rows against the target domain's
test rows and the mean L1 cycle error; both are recomputed here independently: the run's own
translators G and F applied to the test rows, a hand-written unbiased MMD² (Gaussian kernel at
the lower median pairwise distance of the pooled sample, as two_sample.py documents) and the L1
cycle error. A one-way translation says why it has no cycle; a model that translates nothing
says so too and its default metrics are unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import SPECS
from typer.testing import CliRunner

from schemagm.cli.app import _register_all, app
from schemagm.compiler import compile as compile_spec
from schemagm.evaluate.report import METRICS, EvalSettings, evaluate
from schemagm.train.data import get_dataset
from schemagm.train.run import load_run

if not app.registered_commands:
    _register_all()

SPEC = SPECS / "extra" / "cyclegan.sgm"
ONE_WAY = """model oneway "one-way translation"

data      x_a : real[2] from moons
data      x_b : real[2] from swissroll
indicator u

x_a, u ==> x_b : G_theta = mlp(16)
x_b -> u       : DB_phi  = mlp(16) adversarial
"""


def run(*args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "160"})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def cyclegan_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cyclegan") / "run"
    code, _, err = run("train", SPEC, "--out", out, "--steps", "30", "--batch-size", "32", "--no-progress")
    assert code == 0, err
    return out


def hand_mmd2(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Unbiased MMD², one Gaussian kernel at the lower median of the pooled pairwise distances."""
    z = np.concatenate([x, y]).astype(np.float64)
    m, n = len(x), len(y)
    d2 = ((z[:, None, :] - z[None, :, :]) ** 2).sum(-1)
    upper = np.sqrt(d2[np.triu_indices(len(z), 1)])
    upper = np.sort(upper[upper > 0])
    sigma = float(upper[(len(upper) - 1) // 2])
    k = np.exp(-d2 / (2 * sigma * sigma))
    kxx, kyy, kxy = k[:m, :m], k[m:, m:], k[:m, m:]
    sxx = (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
    syy = (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
    return float(sxx + syy - 2 * kxy.mean()), sigma


def test_eval_reports_each_direction_and_matches_an_independent_computation(cyclegan_run, tmp_path) -> None:
    report = tmp_path / "eval.json"
    n = 120
    code, out, err = run("eval", cyclegan_run, "--n-samples", n, "--permutations", 40, "--seed", 7, "--json", report)
    assert code == 0, err
    assert "Traceback" not in out + err
    for line in (
        "x_a -> x_b: MMD² =",
        "x_b -> x_a: MMD² =",
        "x_a -> x_b -> x_a: mean L1",
        "x_b -> x_a -> x_b: mean L1",
    ):
        assert line in out, out
    assert "sampling needs a value" not in out
    metrics = json.loads(report.read_text())["metrics"]
    assert metrics["mmd"]["status"] == "ok" and metrics["cycle"]["status"] == "ok"
    assert set(metrics["mmd"]["value"]) == {"x_a->x_b", "x_b->x_a"}

    loaded = load_run(cyclegan_run)
    test = loaded.data.test
    a, b = test["x_a"][:n], test["x_b"][:n]
    g, f = loaded.model.networks["G_theta"], loaded.model.networks["F_theta"]
    with torch.no_grad():
        gb, fa = g(a), f(b)
        cycle_a = float((f(gb) - a).abs().sum(1).mean())
        cycle_b = float((g(fa) - b).abs().sum(1).mean())
    for name, translated, target in (("x_a->x_b", gb, b), ("x_b->x_a", fa, a)):
        got = metrics["mmd"]["value"][name]
        want, sigma = hand_mmd2(translated.numpy(), target.numpy())
        assert got["n_x"] == n and got["n_y"] == n and got["permutations"] == 40
        assert got["bandwidths"] == pytest.approx([sigma], rel=1e-6)
        assert got["mmd2"] == pytest.approx(want, rel=1e-5, abs=1e-9)
        assert 0 < got["p_value"] <= 1
    assert metrics["cycle"]["value"]["x_a->x_b"] == {"l1": pytest.approx(cycle_a, rel=1e-5), "n": n}
    assert metrics["cycle"]["value"]["x_b->x_a"] == {"l1": pytest.approx(cycle_b, rel=1e-5), "n": n}
    assert cycle_a != pytest.approx(cycle_b)  # two directions, two cycles


def test_eval_of_a_translation_is_repeatable_and_asks_for_its_metrics(cyclegan_run) -> None:
    code, out, err = run("eval", cyclegan_run, "--metrics", "cycle", "--n-samples", 50, "--seed", 2)
    assert code == 0, err
    assert "cycle" in out and "mmd" not in out
    again = run("eval", cyclegan_run, "--metrics", "cycle", "--n-samples", 50, "--seed", 2)[1]
    assert again == out


def test_one_way_translation_has_mmd_and_says_why_it_has_no_cycle(tmp_path) -> None:
    spec = tmp_path / "oneway.sgm"
    spec.write_text(ONE_WAY)
    model = compile_spec(spec)
    data = get_dataset(None, model.graph)
    r = evaluate(model, model.graph, data, None, EvalSettings(n_samples=40, permutations=10))
    assert list(r.results) == [*METRICS, "cycle"]
    assert r.results["mmd"].status == "ok" and set(r.results["mmd"].value or {}) == {"x_a->x_b"}
    assert r.results["cycle"].status == "not applicable"
    assert r.results["cycle"].reason == (
        "the graph translates one way only (x_a -> x_b): there is no way back to close a cycle"
    )


def test_a_model_that_translates_nothing_keeps_its_metrics_and_has_no_cycle() -> None:
    model = compile_spec(SPECS / "gan.sgm")
    data = get_dataset(None, model.graph)
    s = EvalSettings(n_samples=40, permutations=10)
    r = evaluate(model, model.graph, data, None, s)
    assert list(r.results) == list(METRICS)  # no cycle row by default
    assert r.results["mmd"].status == "ok" and r.results["mmd"].summary.startswith("MMD² = ")
    cycle = evaluate(model, model.graph, data, ["cycle"], s).results["cycle"]
    assert cycle.status == "not applicable"
    assert "starts from no given data rows: it translates nothing" in (cycle.reason or "")
