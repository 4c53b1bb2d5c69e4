"""The trainer's endless, resumable stream of batches.

Epoch ``e`` visits the training rows in the order ``randperm(n)`` drawn from a
generator seeded with ``(seed, e)`` -- so the order of every epoch is a pure
function of the seed and the epoch, and a run resumed from a checkpoint that
stored ``(epoch, index)`` sees exactly the batches the uninterrupted run would
have seen.  Batches are full (the tail of an epoch is dropped).

Data parallelism: each global batch of ``batch_size`` rows is cut into
``world_size`` equal, consecutive shards and rank ``r`` gets shard ``r``; the
ranks together see exactly the global batch a single process sees.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from ...errors import SpecError

__all__ = ["BatchStream"]


class BatchStream:
    def __init__(
        self,
        data: Mapping[str, torch.Tensor],
        batch_size: int,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        self.data = dict(data)
        self.n = int(next(iter(self.data.values())).shape[0])
        if batch_size < 1:
            raise SpecError(f"batch size must be at least 1, got {batch_size}")
        if batch_size > self.n:
            raise SpecError(
                f"batch size {batch_size} is larger than the training split ({self.n} rows)", hint="lower --batch-size"
            )
        if batch_size % world_size:
            raise SpecError(
                f"batch size {batch_size} does not split evenly over {world_size} processes",
                hint=f"use a multiple of {world_size}",
            )
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.per_epoch = self.n // batch_size
        self.epoch = 0
        self.index = 0  # batches already taken in this epoch
        self._order: torch.Tensor | None = None

    def _permutation(self, epoch: int) -> torch.Tensor:
        key = int(np.random.SeedSequence([self.seed, epoch]).generate_state(1, dtype=np.uint64)[0] >> 1)
        return torch.randperm(self.n, generator=torch.Generator().manual_seed(key))

    def next(self) -> dict[str, torch.Tensor]:
        """The next batch (this rank's shard of it); moves to the next epoch after the last one."""
        if self._order is None:
            self._order = self._permutation(self.epoch)
        start = self.index * self.batch_size
        idx = self._order[start : start + self.batch_size]
        if self.world_size > 1:
            shard = self.batch_size // self.world_size
            idx = idx[self.rank * shard : (self.rank + 1) * shard]
        self.index += 1
        if self.index == self.per_epoch:
            self.epoch += 1
            self.index = 0
            self._order = None
        return {k: v[idx] for k, v in self.data.items()}

    @property
    def consumed(self) -> int:
        """Batches taken since the start of the run."""
        return self.epoch * self.per_epoch + self.index

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "index": self.index, "seed": self.seed, "batch_size": self.batch_size, "n": self.n}

    def load_state_dict(self, state: Mapping[str, int]) -> None:
        if int(state["n"]) != self.n or int(state["batch_size"]) != self.batch_size:
            raise SpecError(
                f"the checkpoint's data stream had {state['n']} rows in batches of {state['batch_size']}; "
                f"this run has {self.n} rows in batches of {self.batch_size}",
                hint="resume with the data and batch size of the original run",
            )
        self.epoch = int(state["epoch"])
        self.index = int(state["index"])
        self.seed = int(state["seed"])
        self._order = None
