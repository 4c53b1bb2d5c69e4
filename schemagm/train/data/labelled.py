"""Balanced batches for a spec with a partially observed node (``--labelled-batch N``).

With 10% of the labels a plain batch of 64 holds about 6 labelled rows; Kingma et al. (2014)
instead give every step a batch of unlabelled rows together with a batch of labelled rows.  Here
each step's batch is ``batch_size`` rows drawn from the unlabelled training rows exactly as
:class:`~.stream.BatchStream` draws them (an epoch is one pass over the unlabelled rows), followed
by ``N`` labelled rows that cycle through the labelled rows: pass ``p`` visits them in the order
``randperm`` drawn from a generator seeded with ``(seed, p, 1)``, so every labelled row is visited
once per pass and a batch may run on into the next pass (N may exceed the number of labelled rows).
The position ``(pass, offset)`` is stored in the checkpoint with the unlabelled stream's, so a
resumed run sees exactly the batches of the uninterrupted run.

A row is *labelled* where it is observed on a partially observed node (on any of them, if the spec
has several); the others are the unlabelled rows.  With several processes each rank takes its
shard of both parts (N must then split evenly too).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from ...errors import SpecError
from .stream import BatchStream

__all__ = ["LabelledBatchStream", "NoPartialNode"]


class NoPartialNode(SpecError):
    """``--labelled-batch`` on a spec without a partially observed node (a usage error)."""


class LabelledBatchStream:
    def __init__(
        self,
        data: Mapping[str, torch.Tensor],
        masks: Sequence[str],
        batch_size: int,
        labelled_batch: int,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if not masks:
            raise NoPartialNode(
                f"--labelled-batch {labelled_batch}: the spec has no partially observed node, so it has no "
                "labelled rows to balance",
                hint="leave out --labelled-batch (or set labelled_batch = 0), or mark a data node `partial`",
            )
        self.data = dict(data)
        seen = torch.zeros(int(next(iter(self.data.values())).shape[0]), dtype=torch.bool)
        for key in masks:
            seen |= self.data[key].to(torch.bool).reshape(-1)
        self.labelled = torch.nonzero(seen).reshape(-1)
        unlabelled = torch.nonzero(~seen).reshape(-1)
        nodes = ", ".join(k.removesuffix(".observed") for k in masks)
        if len(self.labelled) == 0:
            raise SpecError(
                f"--labelled-batch {labelled_batch}: no training row is observed on {nodes}, so there are no "
                "labelled rows to draw",
                hint="give the data a mask with observed rows, or leave out --labelled-batch",
            )
        if batch_size > len(unlabelled):
            raise SpecError(
                f"batch size {batch_size} is larger than the unlabelled training rows ({len(unlabelled)} of "
                f"{len(seen)}; the rest are observed on {nodes})",
                hint="lower --batch-size",
            )
        if labelled_batch % world_size:
            raise SpecError(
                f"--labelled-batch {labelled_batch} does not split evenly over {world_size} processes",
                hint=f"use a multiple of {world_size}",
            )
        self.unlabelled = BatchStream(
            {k: v[unlabelled] for k, v in self.data.items()}, batch_size, seed, rank, world_size
        )
        self.labelled_batch = labelled_batch
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.passes = 0  # completed passes over the labelled rows
        self.offset = 0  # labelled rows already taken in this pass
        self._order: torch.Tensor | None = None

    # what the trainer reads of a stream
    @property
    def epoch(self) -> int:
        return self.unlabelled.epoch

    @property
    def per_epoch(self) -> int:
        return self.unlabelled.per_epoch

    @property
    def consumed(self) -> int:
        return self.unlabelled.consumed

    @property
    def batch_size(self) -> int:
        return self.unlabelled.batch_size

    def _permutation(self, p: int) -> torch.Tensor:
        key = int(np.random.SeedSequence([self.seed, p, 1]).generate_state(1, dtype=np.uint64)[0] >> 1)
        return self.labelled[torch.randperm(len(self.labelled), generator=torch.Generator().manual_seed(key))]

    def _take_labelled(self) -> torch.Tensor:
        parts = []
        need = self.labelled_batch
        while need:
            if self._order is None:
                self._order = self._permutation(self.passes)
            part = self._order[self.offset : self.offset + need]
            parts.append(part)
            need -= len(part)
            self.offset += len(part)
            if self.offset == len(self.labelled):
                self.passes += 1
                self.offset = 0
                self._order = None
        idx = torch.cat(parts)
        shard = self.labelled_batch // self.world_size
        return idx[self.rank * shard : (self.rank + 1) * shard]

    def next(self) -> dict[str, torch.Tensor]:
        """The next batch: this rank's shard of ``batch_size`` unlabelled rows, then of N labelled rows."""
        rows = self.unlabelled.next()
        idx = self._take_labelled()
        return {k: torch.cat([rows[k], v[idx]]) for k, v in self.data.items()}

    def state_dict(self) -> dict[str, Any]:
        return {
            **self.unlabelled.state_dict(),
            "labelled": {
                "passes": self.passes,
                "offset": self.offset,
                "n": len(self.labelled),
                "batch": self.labelled_batch,
            },
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        lab = state.get("labelled")
        if lab is None or int(lab["n"]) != len(self.labelled) or int(lab["batch"]) != self.labelled_batch:
            was = "no labelled batches" if lab is None else f"{lab['batch']} of {lab['n']} labelled rows per step"
            raise SpecError(
                f"the checkpoint's data stream had {was}; this run draws {self.labelled_batch} of "
                f"{len(self.labelled)} labelled rows per step",
                hint="resume with the data and --labelled-batch of the original run",
            )
        self.unlabelled.load_state_dict(state)
        self.passes = int(lab["passes"])
        self.offset = int(lab["offset"])
        self._order = None
