"""The kernel density model as a spec (specs/extra/kde.sgm): an empirical latent, the training
points, summed out exactly.  Its exact log-likelihood against a hand-written logsumexp of
Gaussians (tests/reference/flows.py), and every command: check, fmt, compile, render, train
(memorising the points), sample and eval."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from conftest import SPECS
from reference import flows as ref
from test_flow_cli import run

from schemagm.compiler import compile as compile_spec
from schemagm.errors import SpecError

KDE = SPECS / "extra" / "kde.sgm"


def _points(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 2, generator=g)


def test_the_exact_log_likelihood_is_a_logsumexp_of_gaussians() -> None:
    m = compile_spec(KDE)
    assert m.groups == [] and m.objective.terms == [] and m.exact and m.nonparametric
    train, test = _points(40, 0), _points(9, 1)
    assert "memorised 40 points of 'x'" in m.fit({"x": train})
    with torch.no_grad():
        ll = m.log_likelihood({"x": test})
        torch.testing.assert_close(ll, ref.kernel_density(train, test, 0.05), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(m.elbo({"x": test}), ll)
        torch.testing.assert_close(m.iw_bound({"x": test}, 4), ll)
    wide = compile_spec(KDE.read_text().replace("std=0.05", "std=0.7"))  # the bandwidth is the head's std
    wide.fit({"x": train})
    torch.testing.assert_close(
        wide.log_likelihood({"x": test}), ref.kernel_density(train, test, 0.7), rtol=1e-5, atol=1e-5
    )
    assert m.log_likelihood_sym().u == "log (1/N) Σ_j f(x|m_j)"


def test_samples_are_training_points_plus_noise_of_width_epsilon() -> None:
    m = compile_spec(KDE)
    train = _points(30, 2)
    m.fit({"x": train})
    torch.manual_seed(0)
    s = m.sample(500, mean=False)["x"]
    nearest = torch.cdist(s, train).min(1).values
    assert s.shape == (500, 2) and float(nearest.mean()) < 4 * 0.05
    assert float(nearest.mean()) > 0.01  # noise, not copies
    means = m.sample(50)["x"]  # the mean of p(x | m) is m itself: a training point
    assert float((means[:, None] - train[None]).abs().sum(-1).min(1).values.max()) < 1e-6


def test_state_dict_carries_the_points() -> None:
    m = compile_spec(KDE)
    train = _points(25, 3)
    m.fit({"x": train})
    other = compile_spec(KDE)
    other.load_state_dict(m.state_dict())
    test = _points(5, 4)
    torch.testing.assert_close(other.log_likelihood({"x": test}), m.log_likelihood({"x": test}))


def test_before_fit_and_bad_graphs_are_clear_errors() -> None:
    m = compile_spec(KDE)
    with pytest.raises(SpecError, match="no points yet: train the model first"):
        m.log_likelihood({"x": _points(3, 0)})
    text = KDE.read_text()
    bad = text.replace("data   x : real[2] from ring8", "data   x : empirical[2] from ring8")
    code, _, err = run("check", _write(bad))
    assert code == 1 and "'empirical' is the prior of a latent node" in err and "Traceback" not in err
    line = next(i for i, s in enumerate(bad.splitlines(), 1) if s.startswith("data"))
    assert f":{line}:" in err
    dashed = text.replace(
        "m -> x : identity normal(std=0.05)", "m -> x : identity normal(std=0.05)\nx --> m : q_eta = mlp(8) normal"
    )
    with pytest.raises(SpecError, match="'m' is an empirical latent .* no edge produces it") as info:
        compile_spec(dashed)
    assert info.value.span is not None and info.value.span.line == len(dashed.splitlines())
    read = text.replace("latent m", "latent w : real[2]\nlatent m") + "m --> w : q_eta = mlp(8) normal\n"
    with pytest.raises(SpecError, match="only solid edges with a density may read it"):
        compile_spec(read)


def _write(text: str) -> Path:
    import tempfile

    f = Path(tempfile.mkdtemp()) / "bad.sgm"
    f.write_text(text)
    return f


def test_every_command_on_the_kde_spec(tmp_path: Path) -> None:
    code, out, err = run("check", KDE)
    assert code == 0 and "ok" in out, err
    code, out, _ = run("fmt", KDE)
    assert code == 0 and out == KDE.read_text()
    code, out, _ = run("compile", KDE)
    assert code == 0 and "none: log p = log (1/N) Σ_j f(x|m_j)" in out
    svg = tmp_path / "kde.svg"
    code, _, err = run("render", KDE, "-o", svg)
    assert code == 0 and svg.read_text().startswith("<?xml"), err
    run_dir = tmp_path / "run"
    code, out, err = run("train", KDE, "--out", run_dir, "--steps", "3", "--no-progress", "--samples", "0")
    assert code == 0, err
    assert "'kde' has no parameters to train: 'm' memorised" in out and "no gradient steps" in out
    assert (run_dir / "checkpoints" / "last.pt").is_file()
    png = tmp_path / "s.png"
    code, out, err = run("sample", run_dir, "-n", "16", "-o", png)
    assert code == 0 and png.stat().st_size > 0, err
    report = tmp_path / "eval.json"
    code, out, err = run("eval", run_dir, "--metrics", "elbo,iw,bpd", "--k", "3", "--json", report)
    assert code == 0, err
    bpd = json.loads(report.read_text())["metrics"]["bpd"]["value"]
    assert bpd["exact"] and math.isfinite(bpd["bits_per_dim"])
    # the spec and the `--reference kde` of schemagm eval are the same model on the same points
    ref_report = tmp_path / "ref.json"
    code, _, err = run(
        "eval", run_dir, "--reference", "kde", "--epsilon", "0.05", "--metrics", "bpd", "--json", ref_report
    )
    assert code == 0, err
    other = json.loads(ref_report.read_text())["metrics"]["bpd"]["value"]
    assert abs(other["mean"] - bpd["mean"]) < 1e-4


def test_the_sum_over_points_in_chunks_is_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    """Memory stays bounded on a large training set: the points are summed a chunk at a time."""
    from schemagm.compiler import ir_flows

    m = compile_spec(KDE)
    train, test = _points(37, 5), _points(6, 6)
    m.fit({"x": train})
    whole = m.log_likelihood({"x": test})
    monkeypatch.setattr(ir_flows, "CHUNK", 6 * 2 * 5)  # five points at a time: 8 chunks, the last of 2
    chunked = m.log_likelihood({"x": test})
    torch.testing.assert_close(chunked, whole, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(chunked, ref.kernel_density(train, test, 0.05), rtol=1e-5, atol=1e-5)


LEARNED = """model lk "a kernel density through a learned map"

data   x : real[2] from ring8
latent m : empirical[2]

m -> x : f_theta = linear normal(std=0.5)
"""


def test_a_learned_kernel_is_one_term_of_the_exact_marginal() -> None:
    """With parameters on the kernel, the term is −E log (1/N) Σ_j N(x; f_θ(x_j), ε² I): value and
    gradient against a hand-written logsumexp; its source form evaluates to its value."""
    from reference.compare import assert_same_losses_and_gradients

    from schemagm.compiler.ir import namespace

    torch.manual_seed(0)
    m = compile_spec(LEARNED)
    train, x = _points(20, 7), _points(8, 8)
    m.fit({"x": train})
    got = m.losses({"x": x})
    assert [t.name for t in m.objective.terms] == ["marginal:m"]
    f = m.networks["f_theta"]
    d = x.shape[1]
    sq = ((x[:, None, :] - f(train)[None, :, :]) ** 2).sum(-1)
    by_hand = torch.logsumexp(-0.5 * sq / 0.25 - d * math.log(0.5) - 0.5 * d * math.log(2 * math.pi), 1) - math.log(20)
    assert_same_losses_and_gradients(m, got, {"theta": -by_hand.mean()}, "learned kernel")
    run = m.run({"x": x})
    expr = m._exprs["marginal:m"]
    torch.testing.assert_close(-eval(expr.py(), namespace(run)), m._contribution(run, "marginal:m"))  # noqa: S307
