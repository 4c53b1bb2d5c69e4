"""The score-function baselines (NVIL) are buffers of the model: a checkpoint saves them and a
resumed run goes on from them, exactly as an uninterrupted one."""

from __future__ import annotations

import torch

from schemagm.compiler import compile as compile_spec
from schemagm.train.checkpoint import check_compatible, load_checkpoint, rng_state, save_checkpoint

SBN = (
    "model sbn\ndata x : real[16] in [0, 1]\nlatent h : bernoulli[12]\n"
    "x --> h : q_eta = mlp(16) bernoulli\nh -> x : p_theta = mlp(16) bernoulli\n"
)


def batch(seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {"x": (torch.rand(8, 16, generator=g) > 0.5).float()}


def step(model, seed: int) -> torch.Tensor:
    torch.manual_seed(seed)
    model.losses(batch(seed))
    return model.last_baselines["nll:p_theta"].detach().clone()


def test_baselines_are_buffers_in_the_state_dict() -> None:
    torch.manual_seed(0)
    model = compile_spec(SBN)
    state = model.state_dict()
    assert torch.equal(state["score_baseline_0"], torch.zeros(2))  # unset: b = 0
    step(model, 1)
    b, seen = model.state_dict()["score_baseline_0"].tolist()
    assert seen == 1.0 and b != 0.0
    model.eval()
    with torch.no_grad():
        step(model, 2)  # evaluation does not move the baseline
    assert model.state_dict()["score_baseline_0"].tolist() == [b, seen]


def test_a_resumed_run_goes_on_from_the_saved_baseline(tmp_path) -> None:
    torch.manual_seed(0)
    straight = compile_spec(SBN)
    torch.manual_seed(0)
    first = compile_spec(SBN)
    for s in (1, 2, 3):
        step(straight, s)
        step(first, s)
    path = tmp_path / "last.pt"
    save_checkpoint(
        path,
        {
            "model_name": "sbn",
            "spec": SBN,
            "config": {},
            "step": 3,
            "epoch": 0,
            "stream": {"epoch": 0, "index": 2, "seed": 0, "batch_size": 8, "n": 24},
            "model": {k: v.detach().cpu() for k, v in first.state_dict().items()},
            "optimizers": {},
            "rng": rng_state(),
        },
    )
    torch.manual_seed(5)
    resumed = compile_spec(SBN)  # other weights, baseline unset
    ckpt = load_checkpoint(path)
    check_compatible(ckpt["model"], resumed, path)
    resumed.load_state_dict(ckpt["model"])
    assert torch.equal(resumed.score_baseline_0, straight.score_baseline_0)
    # the next call uses (and updates) the restored baseline, as the uninterrupted run does
    torch.testing.assert_close(step(resumed, 4), step(straight, 4), rtol=0, atol=0)
    torch.testing.assert_close(resumed.score_baseline_0, straight.score_baseline_0, rtol=0, atol=0)
    # a fresh model would have used b = 0 there
    torch.manual_seed(5)
    fresh = compile_spec(SBN)
    assert float(step(fresh, 4)) == 0.0
