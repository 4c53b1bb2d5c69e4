"""Overhead of the trainer's step against a bare loop over the same compiled model.

``Trainer.train_step`` adds to the compiled model's own work: taking the next
batch from the resumable, shard-aware stream, the NaN/inf check of every phase
loss, clearing every group's gradients, stepping the phase's optimisers and adding the
step's term values to the running sums of the next metrics line.
This script times it against a bare loop that does only the unavoidable part
(phase_loss, backward, optimiser steps) on pre-sliced batches, for the same
model (two copies with the same weights), interleaved (alternating which goes
first), and prints the median CPU time per step of each and their ratio.
Target: ratio <= 1.05.  A second table times the periodic extras (a metrics
line, a checkpoint, a picture), which happen every ``log_every`` /
``checkpoint_every`` steps / at epochs 1, 2, 5, 10, 20, 50, ... and are reported in ms per call
(wall), and as their share of a default 50-epoch run on digits (CPU time of the extras of such a
run against that of its steps; target: at most 5 %).  A metrics line reads the means of the
steps' own losses and terms (schemagm/train/interval.py), which the trainer's step accumulates.

    python benchmarks/trainer_overhead.py                       # CPU, batch 64, 1 thread
    python benchmarks/trainer_overhead.py --repeats 400 --batch-size 128
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from schemagm.compiler import compile as compile_spec  # noqa: E402
from schemagm.train.config import load_config  # noqa: E402
from schemagm.train.data import get_dataset  # noqa: E402
from schemagm.train.rundir import create_run_dir  # noqa: E402
from schemagm.train.trainer import Trainer, make_optimizers  # noqa: E402

SPECS = ["vae", "gan", "aae", "wake_sleep"]


def bare_step(model, optimizers, phases, batches) -> None:
    for phase in phases:
        for _ in range(phase.steps):
            batch = next(batches)
            loss = model.phase_loss(phase.name, batch)
            for o in optimizers.values():
                o.zero_grad(set_to_none=True)
            loss.backward()
            for g in phase.groups:
                if g in optimizers:
                    optimizers[g].step()


def endless(data, batch_size):
    while True:
        yield from data.iter_batches(batch_size, "train", drop_last=True)


def measure(name: str, batch_size: int, repeats: int) -> tuple[float, float, dict[str, float]]:
    spec = ROOT / "specs" / f"{name}.sgm"
    torch.manual_seed(0)
    model = compile_spec(spec)
    twin = copy.deepcopy(model)
    data = get_dataset(None, model.graph)
    with tempfile.TemporaryDirectory() as tmp:
        run, _ = create_run_dir(Path(tmp) / "run")
        config = load_config(None, {"spec": str(spec), "batch_size": batch_size, "progress": False, "samples": 64})
        trainer = Trainer(model, data, config, run=run, spec_text=spec.read_text(), model_name=name)
        optimizers = make_optimizers(twin, config)
        batches = endless(data, batch_size)
        phases = list(twin.objective.phases)
        for _ in range(10):  # warm-up
            trainer.train_step()
            bare_step(twin, optimizers, phases, batches)
        ours: list[float] = []
        theirs: list[float] = []
        for i in range(repeats):
            order = [("ours", trainer.train_step), ("bare", lambda: bare_step(twin, optimizers, phases, batches))]
            for label, fn in order if i % 2 == 0 else order[::-1]:
                t = time.process_time()
                fn()
                (ours if label == "ours" else theirs).append(time.process_time() - t)
        extras: dict[str, float] = {}
        batch = {k: v[:batch_size] for k, v in data.train.items()}
        for label, fn in (
            ("log line", lambda: trainer._log(batch)),
            ("checkpoint", trainer.save),
            ("picture", lambda: trainer._picture("bench.png", 1)),
        ):
            walls, cpus = [], []
            for _ in range(5):
                trainer.train_step()  # a metrics line reads the means of the steps since the last one
                t, c = time.perf_counter(), time.process_time()
                fn()
                walls.append(time.perf_counter() - t)
                cpus.append(time.process_time() - c)
            extras[label] = statistics.median(walls) * 1e3
            extras[label + " cpu"] = statistics.median(cpus) * 1e3
        # the share of the extras in a default run of 50 epochs (log_every 10, checkpoint_every 500, pictures
        # at epochs 1, 2, 5, 10, 20, 50 and the end), against the steps' own CPU time
        steps = 50 * trainer.stream.per_epoch // sum(p.steps for p in phases)
        pictures, lines = 7, steps // 10 + (steps % 10 != 0)
        checkpoints = 2 + 2 * (steps // 500)  # the initial and final last.pt; step-N.pt and last.pt every 500
        cost = (
            lines * extras["log line cpu"] + checkpoints * extras["checkpoint cpu"] + pictures * extras["picture cpu"]
        )
        extras["share"] = cost / (steps * statistics.median(ours) * 1e3)
    return statistics.median(ours), statistics.median(theirs), extras


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(
        f"{'spec':<12}{'trainer ms':>12}{'bare ms':>10}{'ratio':>8}   "
        f"{'log line':>9}{'checkpoint':>11}{'picture':>9}  (wall ms per call){'extras':>9}"
    )
    for name in SPECS:
        ours, bare, extras = measure(name, args.batch_size, args.repeats)
        print(
            f"{name:<12}{ours * 1e3:>12.3f}{bare * 1e3:>10.3f}{ours / bare:>8.3f}   "
            f"{extras['log line']:>9.2f}{extras['checkpoint']:>11.2f}{extras['picture']:>9.2f}"
            f"{'':>19}{extras['share'] * 100:>8.2f}%"
        )


if __name__ == "__main__":
    main()
