"""CycleGAN on two 2-D domains (specs/extra/cyclegan.sgm: moons <-> swiss roll), compiled by the rule.

Trains the spec (Adam per group, lr 1e-3, betas (0.5, 0.999), batch 128, the phases in the
objective's order) and reports on the test split, per direction:

* the cycle error, mean ‖F(G(a)) − a‖₁ (A -> B -> A) and mean ‖G(F(b)) − b‖₁;
* the two-sample MMD² (unbiased, Gaussian kernel at the median distance) between the
  translations and the other domain's test points, G(a) against b and F(b) against a; next to
  it two references measured in the same run: no translation at all (a against b) and the noise
  floor of the statistic (the domain's training points against its test points).

    nice -n 10 python benchmarks/cyclegan.py [--steps 3000] [--seeds 0 1 2]

The translation figure docs/figures/cyclegan_translation.png is drawn by the command line from
a run trained with the same settings (benchmarks/cyclegan.toml; docs/quality.md section 7):

    schemagm train -c benchmarks/cyclegan.toml --out runs/cyclegan
    schemagm sample runs/cyclegan --compare -n 500 -o docs/figures/cyclegan_translation.png --force
    schemagm eval runs/cyclegan                 # the same cycle error and MMD² per direction
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from schemagm.compiler import compile as compile_spec  # noqa: E402
from schemagm.evaluate.two_sample import mmd2  # noqa: E402
from schemagm.train.data import get_dataset  # noqa: E402

SPEC = ROOT / "specs" / "extra" / "cyclegan.sgm"


def train(seed: int, steps: int, batch: int = 128) -> tuple[object, object]:
    torch.manual_seed(seed)
    model = compile_spec(SPEC)
    data = get_dataset(None, model.graph, seed=seed)
    opts = {g: torch.optim.Adam(model.parameters_of(g), lr=1e-3, betas=(0.5, 0.999)) for g in model.groups}
    batches = data.iter_batches(batch, "train")
    for _ in range(steps):
        try:
            b = next(batches)
        except StopIteration:
            batches = data.iter_batches(batch, "train")
            b = next(batches)
        run = model.run(b)
        for phase in model.objective.phases:
            for g in phase.groups:
                opts[g].zero_grad(set_to_none=True)
            model.phase_loss(phase.name, run).backward()
            for g in phase.groups:
                opts[g].step()
    return model, data


def l1(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().sum(1).mean())


def measure(model, data, n: int = 1000) -> dict[str, float]:
    test = data.take(n, "test")
    train = data.take(n, "train")
    a, b = test["x_a"], test["x_b"]
    g, f = model.networks["G_theta"], model.networks["F_theta"]
    with torch.no_grad():
        gb, fa = g(a), f(b)
        return {
            "cycle_ab": l1(f(gb), a),
            "cycle_ba": l1(g(fa), b),
            "mmd_ab": mmd2(gb, b),
            "mmd_ba": mmd2(fa, a),
            "none_ab": mmd2(a, b),
            "floor_b": mmd2(train["x_b"], b),
            "floor_a": mmd2(train["x_a"], a),
        }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = ap.parse_args()
    torch.set_num_threads(1)
    rows = []
    for seed in args.seeds:
        t = time.perf_counter()
        model, data = train(seed, args.steps)
        m = measure(model, data)
        rows.append(m)
        print(
            f"seed {seed}: " + ", ".join(f"{k} {v:.4f}" for k, v in m.items()) + f" ({time.perf_counter() - t:.0f} s)"
        )
    print(f"\n{args.steps} steps, {len(rows)} seeds (mean ± std):")
    for k in rows[0]:
        vals = [r[k] for r in rows]
        sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
        print(f"  {k:9s} {statistics.mean(vals):.4f} ± {sd:.4f}")


if __name__ == "__main__":
    main()
