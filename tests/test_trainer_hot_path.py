"""What the trainer's faster paths must keep: the same parameters and the same random streams.

The trainer steps each group with torch's multi-tensor ("foreach") optimisers and seeds its
pictures and metrics lines on the CPU generator alone; both must give exactly what the plain
one-tensor-at-a-time optimiser and ``torch.random.fork_rng`` + ``torch.manual_seed`` give.
"""

from __future__ import annotations

import pytest
import torch

from schemagm.train.config import TrainConfig
from schemagm.train.trainer import _side_rng, make_optimizers


class TwoGroups(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
        self.b = torch.nn.Linear(3, 2)
        self.groups = ["theta", "eta"]

    def parameters_of(self, group: str) -> list[torch.nn.Parameter]:
        return list((self.a if group == "theta" else self.b).parameters())


@pytest.mark.parametrize("optimizer", ["adam", "rmsprop", "sgd"])
def test_the_trainers_optimisers_give_bitwise_the_parameters_of_torchs_default_ones(optimizer):
    torch.manual_seed(0)
    model = TwoGroups()
    twin = TwoGroups()
    twin.load_state_dict(model.state_dict())
    config = TrainConfig(spec="x.sgm", optimizer=optimizer, lr=1e-2, group_lr={"eta": 3e-3})
    mine = make_optimizers(model, config)
    plain = {
        "adam": lambda ps, lr: torch.optim.Adam(ps, lr=lr, betas=config.betas),
        "rmsprop": lambda ps, lr: torch.optim.RMSprop(ps, lr=lr),
        "sgd": lambda ps, lr: torch.optim.SGD(ps, lr=lr),
    }[optimizer]
    theirs = {g: plain(twin.parameters_of(g), config.lr_of(g)) for g in twin.groups}
    for _ in range(30):
        x = torch.randn(8, 5)
        for net, opts in ((model, mine), (twin, theirs)):
            for opt in opts.values():
                opt.zero_grad(set_to_none=True)
            (net.b(net.a(x)) ** 2).mean().backward()
            for opt in opts.values():
                opt.step()
    for p, q in zip(model.parameters(), twin.parameters(), strict=True):
        assert torch.equal(p, q)


def test_side_stream_on_the_cpu_draws_as_manual_seed_and_leaves_the_training_stream_alone():
    torch.manual_seed(123)
    expected_next = torch.rand(4)
    torch.manual_seed(7)
    expected_side = torch.randn(6)
    torch.manual_seed(123)
    with _side_rng(torch.device("cpu"), 7):
        side = torch.randn(6)
    assert torch.equal(side, expected_side)  # the side stream is torch.manual_seed(7)'s
    assert torch.equal(torch.rand(4), expected_next)  # and the training stream goes on as before


def test_side_stream_restores_the_training_stream_after_an_error():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    with pytest.raises(RuntimeError), _side_rng(torch.device("cpu"), 99):
        torch.rand(10)
        raise RuntimeError("a picture failed")
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("group_lr", [{"eta": 3e-3}, {}], ids=["eta-own-lr", "one-lr"])
@pytest.mark.parametrize("name", ["vae", "aae"])
def test_a_phase_steps_its_groups_as_one_optimiser_bitwise_as_each_group_its_own(name, group_lr, tmp_path, monkeypatch):
    import copy
    import functools

    from conftest import SPECS

    from schemagm.compiler import compile as compile_spec
    from schemagm.train import optim
    from schemagm.train.checkpoint import load_checkpoint
    from schemagm.train.config import load_config
    from schemagm.train.data import get_dataset
    from schemagm.train.data.stream import BatchStream
    from schemagm.train.rundir import create_run_dir
    from schemagm.train.trainer import Trainer

    torch.manual_seed(0)
    model = compile_spec(SPECS / f"{name}.sgm")
    twin = copy.deepcopy(model)
    data = get_dataset(None, model.graph)
    config = load_config(None, {"spec": "x.sgm", "batch_size": 16, "group_lr": group_lr})
    run, _ = create_run_dir(tmp_path / "run")
    trainer = Trainer(model, data, config, run=run, spec_text="", model_name=name)
    calls = []
    update = optim.adam_update

    @functools.wraps(update)
    def counted(params, *args, **kwargs):
        calls.append(len(params))
        return update(params, *args, **kwargs)

    monkeypatch.setattr(optim, "adam_update", counted)
    plain = {g: torch.optim.Adam(twin.parameters_of(g), lr=config.lr_of(g), betas=config.betas) for g in twin.groups}
    stream = BatchStream(data.train, 16, config.seed)
    torch.manual_seed(1)
    for _ in range(6):
        trainer.train_step()
    # a phase's groups with equal settings are one update call (theta and eta of the model phase, when
    # they share a learning rate), each other group its own
    phase_steps = sum(phase.steps for phase in twin.objective.phases)
    if group_lr:  # the model phase's theta and eta apart, every other phase one call
        assert len(calls) == 6 * (phase_steps + 1)
    else:
        assert len(calls) == 6 * phase_steps
    torch.manual_seed(1)
    for _ in range(6):
        for phase in twin.objective.phases:
            for _ in range(phase.steps):
                loss = twin.phase_loss(phase.name, stream.next())
                for opt in plain.values():
                    opt.zero_grad(set_to_none=True)
                loss.backward()
                for g in phase.groups:
                    plain[g].step()
    for (k, p), q in zip(model.state_dict().items(), twin.state_dict().values(), strict=True):
        assert torch.equal(p, q), k
    # the checkpoint holds each group's state as its own optimiser gives it
    trainer.save()
    saved = load_checkpoint(run.last)["optimizers"]
    for g, opt in plain.items():
        theirs = opt.state_dict()
        assert saved[g]["state"].keys() == theirs["state"].keys()
        for i, s in theirs["state"].items():
            for key, v in s.items():
                assert torch.equal(saved[g]["state"][i][key], v), (g, i, key)
        mine_groups = [{k: v for k, v in pg.items() if k != "foreach"} for pg in saved[g]["param_groups"]]
        assert mine_groups == [{k: v for k, v in pg.items() if k != "foreach"} for pg in theirs["param_groups"]]
    # and loads it back into the phase's optimiser: a fresh trainer goes on exactly as this one
    torch.manual_seed(0)
    other = Trainer(compile_spec(SPECS / f"{name}.sgm"), data, config, run=None, spec_text="", model_name=name)
    other.load_state(load_checkpoint(run.last), "last.pt")
    assert other._optimizer_states().keys() == saved.keys()
    for g in saved:
        for i, s in saved[g]["state"].items():
            for key, v in s.items():
                assert torch.equal(other._optimizer_states()[g]["state"][i][key], v)
