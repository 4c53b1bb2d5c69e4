"""Data-parallel training on ``torch.distributed`` (gloo on CPU, NCCL on GPU).

``torchrun --nproc_per_node N -m schemagm train SPEC ...`` starts N processes
with ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` in their environment.  Every
rank builds the same model from the same seed (and rank 0's weights are
broadcast to be sure), takes its shard of each global batch
(:class:`~schemagm.train.data.BatchStream`), and after each backward pass the
gradients of the phase's groups are averaged with one ``all_reduce`` over a
flat buffer -- the explicit form of DistributedDataParallel, which fits a model
with several optimisers and alternating phases.  Since every loss is a mean
over its batch and the shards are equal, the averaged gradient is the gradient
of the whole global batch: N processes take the steps one process would take
(exactly so for a model without noise; with noise, each rank draws its own).
Only rank 0 writes files.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.distributed as dist

from ..errors import SpecError

__all__ = [
    "DistInfo",
    "init_distributed",
    "resolve_device",
    "average_gradients",
    "broadcast_module",
    "mean_across",
    "gather_objects",
    "shutdown",
]


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """``cpu``, ``cuda`` or ``cuda:N``; a clear error where there is no GPU."""
    try:
        device = torch.device(name)
    except RuntimeError:
        raise SpecError(f"--device {name}: not a device name", hint="use cpu, cuda or cuda:N") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise SpecError(
                f"--device {name}: no CUDA GPU is available on this machine", hint="train with --device cpu"
            )
        index = device.index if device.index is not None else local_rank
        if index >= torch.cuda.device_count():
            raise SpecError(f"--device {name}: this machine has {torch.cuda.device_count()} GPU(s)")
        device = torch.device("cuda", index)
    elif device.type != "cpu":
        raise SpecError(f"--device {name}: only cpu and cuda are supported")
    return device


def init_distributed(device_name: str) -> tuple[DistInfo, torch.device]:
    """Join the process group when started by torchrun (WORLD_SIZE > 1); returns the rank info and device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    info = DistInfo(rank, world, local)
    device = resolve_device(device_name, local)
    if info.enabled and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend=backend)
    return info, device


def broadcast_module(module: torch.nn.Module) -> None:
    """Give every rank rank 0's parameters and buffers."""
    for tensor in module.state_dict().values():
        dist.broadcast(tensor, src=0)


def average_gradients(params: Iterable[torch.nn.Parameter], world_size: int) -> None:
    """Average the gradients of ``params`` over the ranks (one all_reduce of a flat buffer)."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat /= world_size
    offset = 0
    for g in grads:
        n = g.numel()
        g.copy_(flat[offset : offset + n].view_as(g))
        offset += n


def mean_across(value: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """The mean of a scalar over the ranks (itself when not distributed)."""
    if not info.enabled:
        return value.detach()
    v = value.detach().clone().reshape(1)
    dist.all_reduce(v, op=dist.ReduceOp.SUM)
    return v[0] / info.world_size


def gather_objects(obj: object, info: DistInfo) -> list[object]:
    if not info.enabled:
        return [obj]
    out: list[object] = [None] * info.world_size
    dist.all_gather_object(out, obj)
    return out


def shutdown(barrier: bool = True) -> None:
    """Leave the process group; after an error, without waiting for the other ranks (torchrun stops them)."""
    if dist.is_initialized():
        if barrier:
            dist.barrier()
        dist.destroy_process_group()
