"""Every flow spec of specs/extra through every command: check, fmt, compile, render, train,
sample and eval (exact likelihood / bound in bits per dimension); the kde and noise-mixture
references of `schemagm eval`."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from conftest import SPECS
from typer.testing import CliRunner

from schemagm.cli.app import _register_all, app
from schemagm.evaluate.density import KernelDensity, NoiseMixture, reference_model

if not app.registered_commands:
    _register_all()

FLOWS = ["flow2d", "dequant_flow", "vdequant_flow", "vae_flow_prior", "vae_iaf"]


def run(*args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("name", FLOWS)
def test_every_command_on_a_flow_spec(name: str, tmp_path: Path) -> None:
    spec = SPECS / "extra" / f"{name}.sgm"
    code, out, err = run("check", spec)
    assert code == 0 and "ok" in out, err
    code, out, _ = run("fmt", spec)
    assert code == 0 and out == spec.read_text()
    code, out, _ = run("compile", spec)
    assert code == 0 and "loss(θ)" in out and ("logdet:" in out)
    svg = tmp_path / f"{name}.svg"
    code, _, err = run("render", spec, "-o", svg)
    assert code == 0 and svg.read_text().startswith("<?xml"), err
    run_dir = tmp_path / "run"
    code, out, err = run(
        "train", spec, "--out", run_dir, "--steps", "3", "--batch-size", "16", "--no-progress", "--samples", "0"
    )
    assert code == 0, err
    png = tmp_path / "s.png"
    code, out, err = run("sample", run_dir, "-n", "8", "-o", png)
    assert code == 0 and png.stat().st_size > 0, err
    report = tmp_path / "eval.json"
    code, out, err = run("eval", run_dir, "--metrics", "elbo,iw,bpd", "--k", "3", "--json", report)
    assert code == 0, err
    metrics = json.loads(report.read_text())["metrics"]
    bpd = metrics["bpd"]["value"]
    assert metrics["bpd"]["status"] == "ok" and math.isfinite(bpd["bits_per_dim"])
    assert bpd["exact"] == (name == "flow2d")
    assert abs(bpd["bits_per_dim"] + bpd["mean"] / (bpd["dims"] * math.log(2))) < 1e-9
    if name == "flow2d":  # exact: the ELBO, the IW bound and the log-likelihood coincide
        assert abs(metrics["elbo"]["value"]["mean"] - bpd["mean"]) < 1e-4
        assert abs(metrics["iw"]["value"]["mean"] - bpd["mean"]) < 1e-4


def test_eval_references_on_a_run(tmp_path: Path) -> None:
    spec = SPECS / "extra" / "flow2d.sgm"
    run_dir = tmp_path / "run"
    assert run("train", spec, "--out", run_dir, "--steps", "2", "--no-progress", "--samples", "0")[0] == 0
    out = tmp_path / "kde.json"
    code, text, err = run(
        "eval",
        run_dir,
        "--reference",
        "kde",
        "--epsilon",
        "0.05",
        "--metrics",
        "bpd,mmd",
        "--json",
        out,
        "--n-samples",
        "200",
        "--permutations",
        "20",
    )
    assert code == 0, err
    data = json.loads(out.read_text())
    assert data["reference"]["kind"] == "kde" and data["metrics"]["bpd"]["value"]["exact"]
    code, _, err = run("eval", run_dir, "--reference", "nope", "--metrics", "bpd")
    assert code == 1 and "unknown reference model 'nope'" in err and "Traceback" not in err


def test_kernel_density_by_hand() -> None:
    g = torch.Generator().manual_seed(0)
    train = torch.randn(7, 3, generator=g)
    test = torch.randn(4, 3, generator=g)
    eps = 0.3
    kde = KernelDensity("x", train, eps)
    by_hand = []
    for t in test:
        dens = sum(
            math.prod(
                math.exp(-((float(t[j]) - float(p[j])) ** 2) / (2 * eps**2)) / (eps * math.sqrt(2 * math.pi))
                for j in range(3)
            )
            for p in train
        )
        by_hand.append(math.log(dens / 7))
    torch.testing.assert_close(kde.log_likelihood({"x": test}), torch.tensor(by_hand), rtol=1e-5, atol=1e-5)
    s = kde.sample(1000)["x"]
    nearest = torch.cdist(s, train).min(1).values
    assert float(nearest.mean()) < 4 * eps  # samples are training points plus noise of width ε
    with pytest.raises(Exception, match="positive"):
        KernelDensity("x", train, 0.0)


def test_noise_mixture_loses_at_most_log_100_nats_and_samples_mostly_noise() -> None:
    g = torch.Generator().manual_seed(1)
    train = torch.rand(50, 2, generator=g) * 0.1 + 0.45
    kde = KernelDensity("x", train, 0.01)
    mix = NoiseMixture("x", kde, torch.zeros(2), torch.ones(2), weight=0.01)
    test = train[:10] + 0.001
    ll_kde, ll_mix = kde.log_likelihood({"x": test}), mix.log_likelihood({"x": test})
    assert bool((ll_mix >= ll_kde + math.log(0.01) - 1e-5).all()) and bool((ll_mix <= ll_kde).all())
    by_hand = torch.logaddexp(
        ll_kde.double() + math.log(0.01), torch.full((10,), math.log(0.99), dtype=torch.float64)
    )  # U[0,1]²: density 1
    torch.testing.assert_close(ll_mix.double(), by_hand, rtol=1e-5, atol=1e-5)
    torch.manual_seed(0)
    s = mix.sample(2000)["x"]
    near = (torch.cdist(s, train).min(1).values < 0.03).float().mean()
    assert 0.0 < float(near) < 0.05  # about 1% of samples (plus the noise that lands near) come from the model
    assert reference_model("mixture", "x", train, None, epsilon=0.01, bounds=(0.0, 1.0)).weight == 0.01
