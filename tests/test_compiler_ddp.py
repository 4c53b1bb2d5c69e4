"""A CompiledModel is an ordinary nn.Module: it can be wrapped in DistributedDataParallel.

(The trainer's own data parallelism is tested in test_ddp.py with two processes; this checks the
plain-PyTorch route a user would take: DDP(model), forward -> {group: loss}, backward.)"""

from __future__ import annotations

import copy
import socket

import pytest
import torch
import torch.distributed as dist
from conftest import SPECS
from torch.nn.parallel import DistributedDataParallel as DDP

import schemagm


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def single_process_group():
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{_free_port()}", rank=0, world_size=1)
    yield
    dist.destroy_process_group()


@pytest.mark.parametrize("spec", ["vae", "gan"])
def test_ddp_wrapped_model_gives_the_same_losses_and_gradients(spec, single_process_group):
    torch.manual_seed(0)
    model = schemagm.load(SPECS / f"{spec}.sgm")
    twin = copy.deepcopy(model)
    wrapped = DDP(twin, find_unused_parameters=True)
    batch = {"x": torch.rand(16, 64)}

    torch.manual_seed(1)
    plain = model(batch)
    torch.manual_seed(1)
    through_ddp = wrapped(batch)
    assert plain.keys() == through_ddp.keys()
    for group in plain:
        torch.testing.assert_close(through_ddp[group], plain[group])

    group = next(g for g in model.groups if g != "phi")  # a generator-side group
    plain[group].backward()
    through_ddp[group].backward()
    for (name, p), q in zip(model.named_parameters(), twin.parameters(), strict=True):
        if p.grad is None:
            assert q.grad is None or torch.count_nonzero(q.grad) == 0, name
        else:
            torch.testing.assert_close(q.grad, p.grad, msg=name)
    assert any(p.grad is not None and torch.count_nonzero(p.grad) > 0 for p in model.parameters_of(group))
