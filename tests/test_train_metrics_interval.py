"""A metrics line's per-group losses are the means of the steps' own losses over its interval.

The reference values come from the independent hand-written losses (tests/reference/catalog.py,
which never imports the compiler), evaluated on each phase step's own batch and draws
(``model.last_draws``) with the weights that step saw, before its update.  Also: a metrics line
runs no forward pass of its own (so it cannot move a buffer such as NVIL's baseline: the weights
do not depend on ``log_every``), and a run resumed from a checkpoint in the middle of an interval
writes exactly the lines of the uninterrupted run.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from conftest import SPECS
from reference.catalog import REFERENCES

from schemagm.compiler import compile as compile_graph
from schemagm.train.checkpoint import load_checkpoint, save_checkpoint
from schemagm.train.config import load_config
from schemagm.train.launch import train

FLAGS = {"batch_size": 32, "progress": False, "samples": 0, "threads": 1}


def _config(spec: Path, out: Path, **kw):
    return load_config(None, {"spec": str(spec), "out": str(out), **FLAGS, **kw})


def _lines(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def _recording(name: str, record: list[tuple[str, dict[str, float]]]):
    """A compile function whose model records, for every phase step, the reference losses of that
    step's batch and draws (computed right after the step's own forward pass, before its update)."""

    def compile_fn(graph):
        model = compile_graph(graph)
        batches: list[dict[str, torch.Tensor]] = []
        run, phase_loss = model.run, model.phase_loss

        def remembering_run(batch):
            batches.append(batch)
            return run(batch)

        def recorded(phase, call):
            loss = phase_loss(phase, call)
            batch = call if isinstance(call, dict) else batches[-1]
            expected = REFERENCES[name](model, batch)  # no draws of its own: the step's, from last_draws
            record.append((phase, {g: float(v.detach()) for g, v in expected.items()}))
            return loss

        model.run, model.phase_loss = remembering_run, recorded
        return model

    return compile_fn


@pytest.mark.parametrize("name", ["vae", "gan", "iwgan"])
def test_a_metrics_line_holds_the_means_of_the_steps_own_group_losses(name, tmp_path):
    record: list[tuple[str, dict[str, float]]] = []
    launched = train(
        _config(SPECS / f"{name}.sgm", tmp_path / "run", steps=7, log_every=3), compile_fn=_recording(name, record)
    )
    model_phases = [(p.name, list(p.groups), p.steps) for p in compile_graph(launched.run.spec).objective.phases]
    per_step = sum(steps for _, _, steps in model_phases)
    assert len(record) == 7 * per_step
    lines = _lines(launched.run.path)
    assert [r["step"] for r in lines] == [3, 6, 7]
    first = 0
    for line in lines:
        calls = record[first * per_step : line["step"] * per_step]
        for phase, groups, _ in model_phases:
            for g in groups:
                values = [losses[g] for p, losses in calls if p == phase]
                assert line["losses"][g] == pytest.approx(sum(values) / len(values), rel=1e-5, abs=1e-5), (line, g)
        first = line["step"]
    # each group's loss is the sum of its terms' means
    objective = compile_graph(launched.run.spec).objective
    for line in lines:
        for g, value in line["losses"].items():
            parts = [line["terms"][t.name] for t in objective.terms if g in t.groups]
            assert value == pytest.approx(sum(parts), rel=1e-6, abs=1e-6)
    assert launched.result.group_losses == lines[-1]["losses"]


def test_the_adversary_mean_runs_over_all_its_steps(tmp_path):
    spec = tmp_path / "gan3.sgm"
    text = (SPECS / "gan.sgm").read_text()
    spec.write_text(
        text.replace("adversarial = non_saturating", "adversarial = non_saturating\n  discriminator_steps = 3")
    )
    record: list[tuple[str, dict[str, float]]] = []
    launched = train(_config(spec, tmp_path / "run", steps=4, log_every=2), compile_fn=_recording("gan", record))
    assert [p for p, _ in record[:4]] == ["adversary"] * 3 + ["model"]
    lines = _lines(launched.run.path)
    phi = [losses["phi"] for p, losses in record[:8] if p == "adversary"]
    assert len(phi) == 6
    assert lines[0]["losses"]["phi"] == pytest.approx(sum(phi) / 6, rel=1e-5, abs=1e-5)
    theta = [losses["theta"] for p, losses in record[:8] if p == "model"]
    assert lines[0]["losses"]["theta"] == pytest.approx(sum(theta) / 2, rel=1e-5, abs=1e-5)


def test_a_metrics_line_runs_no_forward_pass_so_the_weights_do_not_depend_on_log_every(tmp_path, monkeypatch):
    from schemagm.compiler.model import CompiledModel

    def refuse(*args, **kwargs):
        raise AssertionError("a metrics line evaluated the model again")

    monkeypatch.setattr(CompiledModel, "losses_and_terms", refuse)
    monkeypatch.setattr(CompiledModel, "losses", refuse)
    monkeypatch.setattr(CompiledModel, "terms", refuse)
    spec = SPECS / "extra" / "sbn.sgm"  # NVIL: a forward pass in training mode moves the score baseline
    for every in (1, 1000):
        train(_config(spec, tmp_path / f"every{every}", steps=6, log_every=every))
    a = load_checkpoint(tmp_path / "every1" / "checkpoints" / "last.pt")
    b = load_checkpoint(tmp_path / "every1000" / "checkpoints" / "last.pt")
    assert "score_baseline_0" in a["model"]
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    assert len(_lines(tmp_path / "every1")) == 6 and len(_lines(tmp_path / "every1000")) == 1


def _resumed_from(run: Path, copy: Path, step: int, steps: int, drop_interval: bool = False) -> Path:
    shutil.copytree(run, copy)
    ckpt = copy / "checkpoints" / f"step-{step:07d}.pt"
    if drop_interval:  # a checkpoint written before the sums travelled in it
        state = load_checkpoint(ckpt)
        del state["metrics_interval"]
        for key in ("format", "version", "checksum"):
            state.pop(key, None)
        save_checkpoint(copy / "checkpoints" / "last.pt", state)
    else:
        shutil.copy(ckpt, copy / "checkpoints" / "last.pt")
    train(load_config(copy / "config.toml", {"steps": steps, "progress": False}), resume=copy)
    return copy


def _without_time(lines: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "time"} for r in lines]


def test_a_resume_in_the_middle_of_an_interval_writes_the_lines_of_the_uninterrupted_run(tmp_path):
    full = tmp_path / "full"
    train(_config(SPECS / "vae.sgm", full, steps=8, log_every=4, checkpoint_every=3))
    state = load_checkpoint(full / "checkpoints" / "step-0000006.pt")
    assert state["metrics_interval"]["counts"] == {"model": 2}  # steps 5 and 6 of the line at step 8
    again = _resumed_from(full, tmp_path / "again", 6, 8)
    assert _without_time(_lines(again)) == _without_time(_lines(full))
    assert [r["step"] for r in _lines(again)] == [4, 8]


def test_a_checkpoint_without_the_interval_sums_resumes_with_a_shorter_first_interval(tmp_path):
    full = tmp_path / "full"
    train(_config(SPECS / "vae.sgm", full, steps=8, log_every=4, checkpoint_every=3))
    again = _resumed_from(full, tmp_path / "again", 6, 8, drop_interval=True)
    a, b = _lines(full), _lines(again)
    assert [r["step"] for r in b] == [4, 8] and b[0] == a[0]
    assert b[1]["losses"] != a[1]["losses"]  # the mean of steps 7 and 8 only
    for k in a[-1]["phase_losses"]:
        assert b[1]["phase_losses"][k] == a[1]["phase_losses"][k]  # the training itself is the same


def test_the_interval_folds_its_waiting_steps_and_its_means_are_exact(monkeypatch):
    """Steps wait, detached, at most FOLD_EVERY at a time; the means are those of float64 sums."""
    from schemagm.train import interval as interval_module
    from schemagm.train.interval import IntervalMeans

    monkeypatch.setattr(interval_module, "FOLD_EVERY", 4)
    model = compile_graph(SPECS / "vae.sgm")
    means = IntervalMeans(model.objective, list(model.groups))
    names = means.names["model"]
    gen = torch.Generator().manual_seed(0)
    steps = [torch.randn(len(names), generator=gen, dtype=torch.float32) * 100 for _ in range(11)]
    w = torch.ones((), requires_grad=True)
    for values in steps:
        assert means.add("model", {n: v * w for n, v in zip(names, values, strict=True)})  # with a graph
        assert len(means.pending["model"]) < 4
        assert all(not t.requires_grad for row in means.pending["model"] for t in row)
    saved = means.state_dict()  # folds what waits: a checkpoint holds the whole interval
    assert means.pending["model"] == [] and saved["counts"]["model"] == 11
    expected = {n: sum(float(v[i]) for v in steps) / 11 for i, n in enumerate(names)}
    _, terms = means.read()
    assert terms == pytest.approx(expected, rel=1e-15)
    means.reset()
    assert means.pending["model"] == [] and means.sums["model"] is None
