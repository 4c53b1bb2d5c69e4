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
