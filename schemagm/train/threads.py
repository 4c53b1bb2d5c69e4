"""The default number of CPU threads of a training process, chosen from the model's size.

Measured (benchmarks/threads.py and docs/benchmarks.md), two training processes in parallel on
a shared 2-core machine: one intra-op thread per process was fastest for every model tried --
the catalog VAE (64-256-8, 0.05M parameters, batch 64: 13 ms a step with 1 thread against
505 ms with 2) up to a 64-1024-1024-8 VAE (3.2M parameters, batch 256: 0.3 s against 3.4 s).
Two threads on small tensors spin and wait for each other, and on a machine whose cores are
busy with other work they wait for the cores too.  So a model below :data:`LARGE_MODEL`
parameters gets 1 thread; only a larger one keeps torch's choice (its cores), where the
arithmetic of one step is large enough to be split.  ``--threads N`` overrides the choice, and
the run's config.toml records the number used.
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["LARGE_MODEL", "default_threads", "parameter_count"]

#: parameters from which a model keeps torch's own thread count (ten times the largest measured)
LARGE_MODEL = 30_000_000


def parameter_count(model: Any) -> int:
    return sum(p.numel() for p in model.parameters())


def default_threads(model: Any) -> int:
    """1 for a model under :data:`LARGE_MODEL` parameters, else torch's thread count."""
    return 1 if parameter_count(model) < LARGE_MODEL else max(1, torch.get_num_threads())
