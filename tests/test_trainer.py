"""The trainer's loop against a hand-written test double of a CompiledModel.

``TinyAdversarialDouble`` is NOT a compiled spec: it is a two-group model
(generator theta, discriminator phi) written by hand with the CompiledModel
interface the trainer uses (groups, parameters_of, objective.phases,
phase_loss, losses, terms, sample), so that the loop's own behaviour -- phase
order and ratio, fresh batches, which optimisers step, NaN stop, resume -- is
checked with no dependence on the compiler.  tests/test_trainer_catalog.py
trains the real compiled specs.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from PIL import Image

from schemagm.errors import SpecError
from schemagm.train.checkpoint import load_checkpoint
from schemagm.train.config import load_config
from schemagm.train.data import get_dataset
from schemagm.train.launch import train
from schemagm.train.trainer import Trainer

SPEC = """model double "a 2-D GAN (the trainer's test double stands in for its compiled form)"
data      x : real[2] from ring8
latent    z : normal[4]
indicator y
z, y ==> x : G_theta = mlp(8)
x -> y     : D_phi   = mlp(8) adversarial
"""


class TinyAdversarialDouble(torch.nn.Module):
    """Test double: the CompiledModel interface over a linear generator and discriminator."""

    def __init__(self, graph, d_steps: int = 2, nan_at_call: int | None = None) -> None:
        super().__init__()
        self.graph = graph
        self.G = torch.nn.Linear(4, 2)
        self.D = torch.nn.Linear(2, 1)
        self.groups = ["theta", "phi"]
        self.objective = SimpleNamespace(
            phases=[
                SimpleNamespace(name="adversary", groups=["phi"], steps=d_steps),
                SimpleNamespace(name="model", groups=["theta"], steps=1),
            ]
        )
        self.calls: list[tuple[str, float]] = []
        self.nan_at_call = nan_at_call

    def parameters_of(self, group):
        return list((self.G if group == "theta" else self.D).parameters())

    def _fake(self, n):
        return self.G(torch.randn(n, 4))

    def terms(self, batch):
        x = batch["x"]
        fake = self._fake(len(x))
        bce = torch.nn.functional.binary_cross_entropy_with_logits
        real_logit, fake_logit = self.D(x), self.D(fake.detach())
        return {
            "D": bce(real_logit, torch.ones_like(real_logit)) + bce(fake_logit, torch.zeros_like(fake_logit)),
            "G": bce(self.D(fake), torch.ones_like(real_logit)),
        }

    def losses(self, batch):
        t = self.terms(batch)
        return {"phi": t["D"], "theta": t["G"]}

    def phase_loss(self, phase, batch):
        self.calls.append((phase, float(batch["x"].sum())))
        loss = self.terms(batch)["D" if phase == "adversary" else "G"]
        if self.nan_at_call is not None and len(self.calls) == self.nan_at_call:
            loss = loss * float("nan")
        return loss

    def sample(self, n, mean=True):
        return {"x": self._fake(n), "z": torch.randn(n, 4)}


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    p = tmp_path / "double.sgm"
    p.write_text(SPEC)
    return p


def _run(spec_file, out, doubles, **kw):
    d_steps = kw.pop("d_steps", 2)
    nan_at = kw.pop("nan_at_call", None)
    resume = kw.pop("resume", None)
    force = kw.pop("force", False)
    base = {"spec": str(spec_file), "out": str(out), "batch_size": 16, "progress": False, "samples": 16}
    base.update(kw)
    config = load_config(None, base)

    def make(graph):
        doubles.append(TinyAdversarialDouble(graph, d_steps, nan_at))
        return doubles[-1]

    return train(config, resume=resume, force=force, compile_fn=make)


def test_phases_run_in_order_with_their_ratio_each_on_a_fresh_batch(spec_file, tmp_path):
    doubles: list = []
    launched = _run(spec_file, tmp_path / "run", doubles, steps=3, d_steps=2)
    calls = doubles[0].calls
    assert [c[0] for c in calls] == ["adversary", "adversary", "model"] * 3
    assert len({c[1] for c in calls}) == len(calls)  # every phase step saw its own batch
    assert launched.result.status == "finished" and launched.result.step == 3


def test_only_the_phase_groups_are_stepped_and_each_group_has_its_lr(spec_file, tmp_path):
    doubles: list = []

    launched = _run(spec_file, tmp_path / "run", doubles, steps=1, lr=0.5, group_lr={"phi": 0.25})
    ckpt = load_checkpoint(launched.run.last)
    lrs = {g: s["param_groups"][0]["lr"] for g, s in ckpt["optimizers"].items()}
    assert lrs == {"theta": 0.5, "phi": 0.25}
    # phase by phase: the adversary phase leaves theta alone, the model phase leaves phi alone
    model = doubles[0]
    trainer = Trainer(
        model, get_dataset(None, model.graph), launched.config, run=None, spec_text=SPEC, model_name="double"
    )
    g0 = [p.clone() for p in model.G.parameters()]
    d0 = [p.clone() for p in model.D.parameters()]
    trainer.phases = trainer.phases[:1]
    trainer.train_step()
    assert all(torch.equal(a, b) for a, b in zip(g0, model.G.parameters(), strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(d0, model.D.parameters(), strict=True))
    d1 = [p.clone() for p in model.D.parameters()]
    trainer.phases = [model.objective.phases[1]]
    trainer.train_step()
    assert all(torch.equal(a, b) for a, b in zip(d1, model.D.parameters(), strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(g0, model.G.parameters(), strict=True))


def test_run_directory_files_are_really_written(spec_file, tmp_path):
    doubles: list = []
    # 9000 train rows of ring8 / 16 = 562 batches per epoch; 3 batches per step -> 1 epoch ends at step 188
    launched = _run(spec_file, tmp_path / "run", doubles, steps=190, log_every=50, checkpoint_every=100)
    run = launched.run
    lines = [json.loads(line) for line in run.metrics.read_text().splitlines()]
    assert [r["step"] for r in lines] == [50, 100, 150, 190]
    for r in lines:
        assert set(r) == {"step", "epoch", "phase_losses", "losses", "terms", "time"}
        assert set(r["losses"]) == {"theta", "phi"} and set(r["terms"]) == {"D", "G"}
        assert all(isinstance(v, float) for v in r["losses"].values())
    assert lines[-1]["epoch"] == 1 and lines[0]["epoch"] == 0
    assert sorted(p.name for p in run.checkpoints.iterdir()) == ["last.pt", "step-0000100.pt"]
    assert load_checkpoint(run.periodic(100))["step"] == 100 and load_checkpoint(run.last)["step"] == 190
    assert sorted(p.name for p in run.samples.iterdir()) == ["epoch-0001.png", "last.png"]
    with Image.open(run.samples / "epoch-0001.png") as im:
        assert im.size == (480, 480)
    assert run.spec.read_text() == SPEC
    stored = load_config(run.config)
    assert stored.steps == 190 and stored.batch_size == 16 and stored.out == str(run.path)


def test_resume_continues_exactly_where_the_run_stopped(spec_file, tmp_path):
    full: list = []
    _run(spec_file, tmp_path / "full", full, steps=8, log_every=2)
    part: list = []
    _run(spec_file, tmp_path / "part", part, steps=3, log_every=2)
    again: list = []
    launched = _run(spec_file, tmp_path / "ignored", again, steps=8, log_every=2, resume=tmp_path / "part")
    assert launched.resumed_from == 3 and launched.result.step == 8
    a = load_checkpoint(tmp_path / "full" / "checkpoints" / "last.pt")
    b = load_checkpoint(tmp_path / "part" / "checkpoints" / "last.pt")
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    assert torch.equal(a["rng"]["torch"], b["rng"]["torch"])
    # the resumed run saw the batches the uninterrupted run saw in steps 4..8
    assert again[0].calls == full[0].calls[3 * 3 :]
    steps = [json.loads(line)["step"] for line in (tmp_path / "part" / "metrics.jsonl").read_text().splitlines()]
    assert steps == [2, 3, 4, 6, 8]  # 3: the last step of the first part


def test_a_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(spec_file, tmp_path):
    doubles: list = []
    # 3 phase calls per step; call 14 is the 2nd adversary step of step 5
    launched = _run(spec_file, tmp_path / "run", doubles, steps=20, checkpoint_every=2, nan_at_call=14)
    result = launched.result
    assert result.status == "diverged" and result.step == 4
    assert "step 5" in result.message and "'adversary'" in result.message and "nan" in result.message
    assert "last.pt" in result.message
    ckpt = load_checkpoint(launched.run.last)
    assert ckpt["step"] == 4
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values())


def test_nan_before_any_checkpoint_still_leaves_the_initial_state(spec_file, tmp_path):
    doubles: list = []
    launched = _run(spec_file, tmp_path / "run", doubles, steps=5, nan_at_call=1)
    assert launched.result.status == "diverged" and launched.result.step == 0
    assert load_checkpoint(launched.run.last)["step"] == 0


def test_an_existing_run_is_not_overwritten_without_force(spec_file, tmp_path):
    doubles: list = []
    _run(spec_file, tmp_path / "run", doubles, steps=1)
    before = (tmp_path / "run" / "checkpoints" / "last.pt").read_bytes()
    with pytest.raises(SpecError, match="already exists; it is not overwritten") as err:
        _run(spec_file, tmp_path / "run", doubles, steps=2)
    assert "--force" in str(err.value)
    assert (tmp_path / "run" / "checkpoints" / "last.pt").read_bytes() == before
    launched = _run(spec_file, tmp_path / "run", doubles, steps=2, force=True)
    assert launched.replaced and load_checkpoint(launched.run.last)["step"] == 2
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    with pytest.raises(SpecError, match="--force will not delete them"):
        _run(spec_file, tmp_path / "mine", doubles, steps=1, force=True)
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "precious"


def test_learning_rate_for_an_unknown_group_is_refused_before_anything_is_written(spec_file, tmp_path):
    with pytest.raises(SpecError, match=r"(?s)group\(s\) eta .*parameter groups: theta, phi"):
        _run(spec_file, tmp_path / "run", [], steps=1, group_lr={"eta": 1e-3})
    with pytest.raises(SpecError, match="larger than the training split"):
        _run(spec_file, tmp_path / "run", [], steps=1, batch_size=10**6)
    assert not (tmp_path / "run").exists()


def test_resume_refuses_to_change_the_batch_size(spec_file, tmp_path):
    from schemagm.train.launch import resume_config

    _run(spec_file, tmp_path / "run", [], steps=1)
    with pytest.raises(SpecError, match="cannot change batch_size"):
        resume_config(tmp_path / "run", {"batch_size": 32, "steps": 5})
    assert resume_config(tmp_path / "run", {"steps": 5}).steps == 5


def test_ctrl_c_finishes_the_step_saves_and_resumes_exactly(spec_file, tmp_path):
    import os
    import signal

    class Interrupted(TinyAdversarialDouble):
        def phase_loss(self, phase, batch):
            if len(self.calls) == 7:  # inside step 3 (3 phase calls per step)
                os.kill(os.getpid(), signal.SIGINT)
            return super().phase_loss(phase, batch)

    full: list = []
    _run(spec_file, tmp_path / "full", full, steps=6)
    base = {
        "spec": str(spec_file),
        "out": str(tmp_path / "cut"),
        "batch_size": 16,
        "progress": False,
        "samples": 16,
        "steps": 6,
    }
    launched = train(load_config(None, base), compile_fn=lambda g: Interrupted(g))
    assert launched.result.status == "interrupted" and launched.result.step == 3
    assert "interrupted after step 3" in launched.result.message
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is put back
    assert load_checkpoint(tmp_path / "cut" / "checkpoints" / "last.pt")["step"] == 3
    _run(spec_file, tmp_path / "x", [], steps=6, resume=tmp_path / "cut")
    a = load_checkpoint(tmp_path / "full" / "checkpoints" / "last.pt")["model"]
    b = load_checkpoint(tmp_path / "cut" / "checkpoints" / "last.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_after_a_crash_drops_a_half_written_metrics_line(spec_file, tmp_path):
    _run(spec_file, tmp_path / "r", [], steps=2, log_every=1)
    metrics = tmp_path / "r" / "metrics.jsonl"
    with open(metrics, "a") as f:
        f.write('{"step": 3, "epoch": 0, "los')  # the process died while writing
    _run(spec_file, tmp_path / "x", [], steps=4, log_every=1, resume=tmp_path / "r")
    assert [json.loads(line)["step"] for line in metrics.read_text().splitlines()] == [1, 2, 3, 4]
