"""The report: which metrics apply, wiring to the metric functions, JSON form."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from schemagm.errors import SpecError
from schemagm.evaluate.report import METRICS, EvalSettings, evaluate, parse_metrics
from schemagm.graph.build import parse_file
from schemagm.train.data import get_dataset

SPECS = Path(__file__).resolve().parent.parent / "specs"
ANGLES = torch.arange(8) * 2 * math.pi / 8
RING = 2.0 * torch.stack([torch.cos(ANGLES), torch.sin(ANGLES)], 1)


class RingSampler(torch.nn.Module):
    """A stand-in generator: exact points on chosen modes of the ring; no bound, no posterior."""

    def __init__(self, modes: list[int]) -> None:
        super().__init__()
        self.modes = modes

    def sample(self, n: int, mean: bool = True) -> dict[str, torch.Tensor]:
        idx = torch.tensor(self.modes).repeat(n // len(self.modes) + 1)[:n]
        return {"x": RING[idx], "z": torch.zeros(n, 8)}

    def elbo(self, batch):
        raise SpecError("'stub' has no inference edge from data to a latent node: nothing to encode")

    iw_bound = posterior = lambda self, *a: self.elbo(None)  # noqa: E731


@pytest.fixture(scope="module")
def ring_graph_and_data():
    graph = parse_file(SPECS / "extra" / "gan2d.sgm")
    return graph, get_dataset(None, graph)


def test_modes_and_mmd_on_a_stub_generator(ring_graph_and_data) -> None:
    graph, data = ring_graph_and_data
    s = EvalSettings(n_samples=240, permutations=50)
    three = evaluate(RingSampler([0, 3, 5]), graph, data, settings=s)
    assert three.results["modes"].value["counts"] == [80, 0, 0, 80, 0, 80, 0, 0]  # type: ignore[index]
    assert three.results["modes"].value["modes_covered"] == 3  # type: ignore[index]
    assert three.results["modes"].value["high_quality_fraction"] == 1.0  # type: ignore[index]
    assert three.results["mmd"].value["p_value"] < 0.05  # type: ignore[index]
    full = evaluate(RingSampler(list(range(8))), graph, data, ["modes"], s)
    assert full.results["modes"].value["modes_covered"] == 8  # type: ignore[index]
    assert list(full.results) == ["modes"]
    for name in ("elbo", "iw", "surgery"):
        r = three.results[name]
        assert (r.status, r.reason) == (
            "not applicable",
            "'stub' has no inference edge from data to a latent node: nothing to encode",
        )
    assert "digits" in three.results["inception"].reason  # type: ignore[operator]


def test_json_form_and_table(ring_graph_and_data) -> None:
    graph, data = ring_graph_and_data
    rep = evaluate(RingSampler([1]), graph, data, ["modes", "elbo"], EvalSettings(n_samples=10))
    d = rep.to_dict()
    assert d["model"] == "gan2d" and d["data"] == "ring8" and d["data_node"] == "x"
    assert d["metrics"]["modes"]["status"] == "ok" and d["metrics"]["elbo"]["status"] == "not applicable"
    json.dumps(d, allow_nan=False)
    from rich.console import Console

    console = Console(record=True, width=200)
    console.print(rep.table())
    text = console.export_text()
    assert "1/8 modes covered" in text and "not applicable" in text


def test_non_finite_numbers_become_null() -> None:
    from schemagm.evaluate.report import EvalReport, MetricResult

    rep = EvalReport(
        "m", "d", EvalSettings(), {"elbo": MetricResult("elbo", "ok", {"mean": 1.0, "stderr": float("nan")})}
    )
    assert rep.to_dict()["metrics"]["elbo"]["value"] == {"mean": 1.0, "stderr": None}


def test_parse_metrics() -> None:
    assert parse_metrics(None) == METRICS and parse_metrics("all") == METRICS
    assert parse_metrics("iw, elbo,iw") == ("iw", "elbo")
    with pytest.raises(SpecError, match="unknown metric 'x'; choose from elbo"):
        parse_metrics("elbo,x")


def test_too_few_test_rows_is_a_spec_error(ring_graph_and_data) -> None:
    graph, _ = ring_graph_and_data
    data = SimpleNamespace(test={"x": RING[:1]}, name="ring8")
    with pytest.raises(SpecError, match="fewer than 2 test rows"):
        evaluate(RingSampler([0]), graph, data)


#: which catalog models have a likelihood bound and a posterior (SEMANTICS.md section 3): the ones
#: with a dashed stochastic edge from the data into a latent with a prior and a density scoring the data
BOUND = {"vae", "beta_vae", "iwae", "aavae", "wake_sleep"}
#: which cannot generate their data node: no prior-to-data producer (AE), or data from two domains (ADA)
NO_SAMPLES = {"ae", "ada"}


@pytest.mark.parametrize("name", sorted(p.stem for p in SPECS.glob("*.sgm")))
def test_catalog_applicability(name: str) -> None:
    from schemagm.compiler import compile

    torch.manual_seed(0)
    model = compile(SPECS / f"{name}.sgm")
    data = get_dataset(None, model.graph)
    rep = evaluate(
        model,
        model.graph,
        data,
        ["elbo", "iw", "mmd", "modes", "surgery"],
        EvalSettings(n_samples=40, k=3, permutations=10),
    )
    status = {k: r.status for k, r in rep.results.items()}
    bound = "ok" if name in BOUND else "not applicable"
    assert status == {
        "elbo": bound,
        "iw": bound,
        "mmd": "not applicable" if name in NO_SAMPLES else "ok",
        "modes": "not applicable",
        "surgery": bound,
    }
    for r in rep.results.values():
        assert (r.reason is None) == (r.status == "ok")
