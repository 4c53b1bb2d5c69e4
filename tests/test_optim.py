"""The trainer's optimisers (schemagm/train/optim.py) against torch's own ``torch.optim`` classes:
the same settings, bitwise the same parameters (each group alone, or several in one call), state
dicts that load both ways, clear errors for a state that does not fit, and no torch._dynamo."""

from __future__ import annotations

import copy
import functools
import os
import subprocess
import sys

import pytest
import torch
from conftest import ROOT, SPECS

from schemagm.train import optim
from schemagm.train.optim import GroupOptimizer, step_together

TORCH = {"adam": torch.optim.Adam, "rmsprop": torch.optim.RMSprop, "sgd": torch.optim.SGD}
# settings the trainer uses, and others the update must honour as torch does
CASES = [
    ("adam", {"lr": 1e-2, "betas": (0.5, 0.999), "foreach": True}),
    ("adam", {"lr": 3e-3, "weight_decay": 0.1, "amsgrad": True}),
    ("rmsprop", {"lr": 1e-2, "foreach": True}),
    ("rmsprop", {"lr": 1e-3, "momentum": 0.9, "centered": True}),
    ("sgd", {"lr": 1e-2, "foreach": True}),
    ("sgd", {"lr": 1e-2, "momentum": 0.9, "nesterov": True}),
]


def nets(seed: int = 0) -> tuple[torch.nn.Module, torch.nn.Module]:
    torch.manual_seed(seed)
    a = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    b = torch.nn.Linear(3, 2)
    return a, b


def twin(a: torch.nn.Module, b: torch.nn.Module) -> tuple[torch.nn.Module, torch.nn.Module]:
    c, d = nets(1)
    c.load_state_dict(a.state_dict())
    d.load_state_dict(b.state_dict())
    return c, d


def loss(a: torch.nn.Module, b: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    return (b(a(x)) ** 2).mean() + b.weight.abs().sum()


def train(a, b, step, zero, steps: int, seed: int = 3) -> None:
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        zero()
        loss(a, b, torch.randn(8, 5, generator=gen)).backward()
        step()


@pytest.mark.parametrize(("kind", "settings"), CASES, ids=[f"{k}{i}" for i, (k, _) in enumerate(CASES)])
def test_settings_are_those_torch_stores_in_its_parameter_group(kind, settings):
    a, _ = nets()
    theirs = TORCH[kind](a.parameters(), **settings).param_groups[0]
    mine = GroupOptimizer(kind, a.parameters(), **settings).param_groups[0]
    assert {k: v for k, v in mine.items() if k != "params"} == {k: v for k, v in theirs.items() if k != "params"}
    assert mine["params"] == theirs["params"]


@pytest.mark.parametrize(("kind", "settings"), CASES, ids=[f"{k}{i}" for i, (k, _) in enumerate(CASES)])
def test_two_groups_stepped_together_give_bitwise_torchs_parameters_and_state(kind, settings, monkeypatch):
    a, b = nets()
    c, d = twin(a, b)
    mine = [GroupOptimizer(kind, a.parameters(), **settings), GroupOptimizer(kind, b.parameters(), **settings)]
    theirs = [TORCH[kind](c.parameters(), **settings), TORCH[kind](d.parameters(), **settings)]
    calls = []
    update = getattr(optim, f"{kind}_update")  # torch's functional update, counted

    @functools.wraps(update)  # its signature: the settings passed are those it knows
    def counted(params, *args, **kwargs):
        calls.append(len(params))
        return update(params, *args, **kwargs)

    monkeypatch.setattr(optim, f"{kind}_update", counted)
    train(a, b, lambda: step_together(mine), lambda: [o.zero_grad() for o in mine], 25)
    train(c, d, lambda: [o.step() for o in theirs], lambda: [o.zero_grad() for o in theirs], 25)
    assert calls == [6] * 25  # one update call over both groups' six tensors, each step
    for p, q in zip([*a.parameters(), *b.parameters()], [*c.parameters(), *d.parameters()], strict=True):
        assert torch.equal(p, q)
    for m, t in zip(mine, theirs, strict=True):
        sm, st = m.state_dict(), t.state_dict()
        assert sm["param_groups"] == st["param_groups"]
        assert sm["state"].keys() == st["state"].keys()
        for i, s in st["state"].items():
            assert s.keys() == sm["state"][i].keys()
            for key, v in s.items():
                assert torch.equal(sm["state"][i][key], v), (i, key)
                assert sm["state"][i][key].dtype == v.dtype and sm["state"][i][key].device == v.device


def test_groups_with_different_settings_or_shared_parameters_are_stepped_apart_as_torch_would():
    a, b = nets()
    c, d = twin(a, b)
    shared = list(b.parameters())
    mine = [
        GroupOptimizer("adam", a.parameters(), lr=1e-2),
        GroupOptimizer("adam", b.parameters(), lr=3e-3),  # another learning rate
        GroupOptimizer("adam", shared, lr=3e-3),  # the same tensors as the group before: its own moments
    ]
    theirs = [
        torch.optim.Adam(c.parameters(), lr=1e-2),
        torch.optim.Adam(d.parameters(), lr=3e-3),
        torch.optim.Adam(list(d.parameters()), lr=3e-3),
    ]
    train(a, b, lambda: step_together(mine), lambda: [o.zero_grad() for o in mine], 10)
    train(c, d, lambda: [o.step() for o in theirs], lambda: [o.zero_grad() for o in theirs], 10)
    for p, q in zip([*a.parameters(), *b.parameters()], [*c.parameters(), *d.parameters()], strict=True):
        assert torch.equal(p, q)


def test_a_parameter_without_a_gradient_is_left_alone_and_gets_no_state():
    a, b = nets()
    opt = GroupOptimizer("adam", [*a.parameters(), *b.parameters()], lr=1e-2)
    before = b.weight.detach().clone()
    (a(torch.randn(4, 5)) ** 2).sum().backward()
    opt.step()
    assert torch.equal(b.weight, before)
    assert sorted(opt.state_dict()["state"]) == [0, 1, 2, 3]  # a's four tensors only, as torch keeps it


@pytest.mark.parametrize(("kind", "settings"), CASES, ids=[f"{k}{i}" for i, (k, _) in enumerate(CASES)])
def test_state_dicts_load_both_ways_and_training_goes_on_bitwise(kind, settings):
    a, b = nets()
    mine = GroupOptimizer(kind, [*a.parameters(), *b.parameters()], **settings)
    train(a, b, mine.step, mine.zero_grad, 5)
    # ours -> torch: torch's optimiser takes our state dict and goes on as ours does
    c, d = twin(a, b)
    theirs = TORCH[kind]([*c.parameters(), *d.parameters()], **settings)
    theirs.load_state_dict(copy.deepcopy(mine.state_dict()))  # as a checkpoint file gives it: its own tensors
    train(a, b, mine.step, mine.zero_grad, 5, seed=9)
    train(c, d, theirs.step, theirs.zero_grad, 5, seed=9)
    for p, q in zip([*a.parameters(), *b.parameters()], [*c.parameters(), *d.parameters()], strict=True):
        assert torch.equal(p, q)
    # torch -> ours, in float64 parameters: the moments are cast to the parameter's dtype, step is not
    e, f = twin(c, d)
    e.double(), f.double()
    back = GroupOptimizer(kind, [*e.parameters(), *f.parameters()], **settings)
    back.load_state_dict(copy.deepcopy(theirs.state_dict()))
    for s in back.state:
        for key, v in s.items():
            assert v.dtype == (torch.float32 if key == "step" else torch.float64), key


def test_a_state_that_does_not_fit_is_a_value_error_saying_what():
    a, b = nets()
    opt = GroupOptimizer("adam", a.parameters(), lr=1e-2)
    other = torch.optim.Adam([*a.parameters(), *b.parameters()], lr=1e-2)
    with pytest.raises(ValueError, match="the state has 6 parameters, the group 4"):
        opt.load_state_dict(other.state_dict())
    two = {"state": {}, "param_groups": [opt.state_dict()["param_groups"][0]] * 2}
    with pytest.raises(ValueError, match="2 parameter groups"):
        opt.load_state_dict(two)
    stray = opt.state_dict()
    stray["state"] = {7: {"step": torch.tensor(1.0)}}
    with pytest.raises(ValueError, match="parameter 7"):
        opt.load_state_dict(stray)


def test_training_never_imports_torch_dynamo(tmp_path):
    """``torch.optim.Optimizer`` imports torch._dynamo (and sympy, torch.distributed behind it) on
    its first ``add_param_group``, ``step`` and ``state_dict``; a whole ``schemagm train`` does not."""
    code = (
        "import sys\n"
        "from schemagm.cli.app import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "print(sorted(m for m in sys.modules if m.startswith(('torch._dynamo', 'sympy'))))"
    )
    args = ["train", str(SPECS / "gan.sgm"), "--steps", "3", "--out", str(tmp_path / "run"), "--no-progress"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"
    assert (tmp_path / "run" / "checkpoints" / "last.pt").is_file()  # it did train and checkpoint


def test_a_state_saved_without_a_newer_setting_takes_its_default_as_torch_does():
    a, b = nets()
    opt = GroupOptimizer("adam", a.parameters(), lr=1e-2)
    old = opt.state_dict()
    del old["param_groups"][0]["decoupled_weight_decay"]  # a setting older torch releases do not save
    other = GroupOptimizer("adam", a.parameters(), lr=5e-2)
    other.load_state_dict(old)
    assert other.settings == opt.settings  # the saved lr, and the default for what was not saved
    theirs = torch.optim.Adam(a.parameters(), lr=5e-2)
    theirs.load_state_dict(old)
    assert {k: v for k, v in theirs.param_groups[0].items() if k != "params"} == other.settings
