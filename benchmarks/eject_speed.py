"""Step time of an ejected script against the compiled model and a hand-written step.

For each spec, one full training step (every phase in order, one Adam per group, backward +
step) of three implementations with the same networks and weights, on the same batch: the
script of ``schemagm eject`` (its own ``train_step``), the compiled model (``phase_loss``), and
the hand-written textbook step of benchmarks/step_overhead.py.  The three are interleaved in one
process (the order rotates every repeat) and the medians are printed with their ratios.

    python benchmarks/eject_speed.py                      # vae, gan, iwae, aae, dae; CPU, batch 64
    python benchmarks/eject_speed.py --only vae --repeats 300
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from eject_support import load_script, networks_like  # noqa: E402
from reference.batches import batch_for  # noqa: E402
from step_overhead import Hand, compiled_step  # noqa: E402

import schemagm  # noqa: E402
from schemagm.eject import eject  # noqa: E402


def ejected_step(module, model, batch, lr: float):
    nets = networks_like(module, model)
    optimizers = {g: torch.optim.Adam(module.parameters(nets, g), lr=lr) for g in module.GROUPS}
    batches = itertools.repeat(batch)

    def step() -> None:
        module.train_step(nets, optimizers, batches)

    return step


def time_all(steps: list, repeats: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        for f in steps:
            f()
    times: list[list[float]] = [[] for _ in steps]
    for r in range(repeats):
        k = r % len(steps)
        for i in [*range(k, len(steps)), *range(k)]:
            t0 = time.perf_counter()
            steps[i]()
            times[i].append(time.perf_counter() - t0)
    return [statistics.median(t) for t in times]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--only", nargs="*", default=["vae", "gan", "iwae", "aae", "dae"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    lr = 1e-4
    folder = Path(tempfile.mkdtemp())
    print(f"{'spec':10s} {'ejected ms':>10s} {'compiled ms':>11s} {'hand ms':>8s} {'ej/comp':>8s} {'ej/hand':>8s}")
    for name in args.only:
        path = ROOT / "specs" / f"{name}.sgm"
        torch.manual_seed(0)
        model = schemagm.compile(path)
        batch = batch_for(model.graph, n=args.batch_size)
        module = load_script(eject(model), folder, name)
        hand = getattr(Hand(model, batch, lr), name)()
        steps = [ejected_step(module, model, batch, lr), compiled_step(model, batch, lr), hand]
        t_ej, t_comp, t_hand = time_all(steps, args.repeats, args.warmup)
        print(
            f"{name:10s} {1e3 * t_ej:10.3f} {1e3 * t_comp:11.3f} {1e3 * t_hand:8.3f} "
            f"{t_ej / t_comp:8.3f} {t_ej / t_hand:8.3f}"
        )


if __name__ == "__main__":
    main()
