"""Flows: schemagm against a hand-written zuko script, dequantization, flow priors and posteriors.

1. ``moons``: specs/extra/flow2d.sgm (RealNVP, 6 coupling layers of 64-64) trained by
   ``schemagm train`` (the trainer: Adam, batch 64) against a hand-written loop over the same
   zuko RealNVP, the same train/test split, the same batches and the same number of steps.
   Prints test NLL (nats) of each and the ratios of training time and NLL, measured in this run.
2. ``dequant``: bits/dim on digits (test split), uniform vs variational dequantization
   (specs/extra/dequant_flow.sgm, vdequant_flow.sgm), k-sample importance-weighted bound.
3. ``vae``: test IW bound on digits of the plain VAE (specs/vae.sgm) against a VAE with a flow
   prior (vae_flow_prior.sgm) and one with an IAF posterior (vae_iaf.sgm).

    python benchmarks/flows.py [--steps 2000] [--seeds 0 1 2] [--parts moons dequant vae]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import zuko  # noqa: E402

from schemagm.graph.build import parse_file  # noqa: E402
from schemagm.train.config import load_config  # noqa: E402
from schemagm.train.data import get_dataset  # noqa: E402
from schemagm.train.launch import train  # noqa: E402
from schemagm.train.run import Run, load_run  # noqa: E402

SPECS = ROOT / "specs"


def run_schemagm(
    spec: Path, steps: int, seed: int, out: Path, batch_size: int = 64, lr: float = 1e-3
) -> tuple[float, Run]:
    config = load_config(
        overrides={
            "spec": str(spec),
            "steps": steps,
            "seed": seed,
            "out": str(out),
            "batch_size": batch_size,
            "lr": lr,
            "progress": False,
            "samples": 0,
            "checkpoint_every": 10**9,
        }
    )
    launched = train(config, force=True)
    return launched.result.seconds, load_run(out)


def hand_written_moons(
    train_x: torch.Tensor, steps: int, seed: int, batch_size: int = 64, lr: float = 1e-3
) -> tuple[float, torch.nn.Module]:
    """The same RealNVP written directly with zuko: a plain Adam loop over shuffled epochs."""
    torch.manual_seed(seed)
    flow = zuko.flows.RealNVP(2, 0, transforms=6, hidden_features=(64, 64))
    opt = torch.optim.Adam(flow.parameters(), lr=lr)
    n = train_x.shape[0]
    gen = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    step = 0
    while step < steps:
        order = torch.randperm(n, generator=gen)
        for i in range(0, n - batch_size + 1, batch_size):
            x = train_x[order[i : i + batch_size]]
            loss = -flow().log_prob(x).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            if step == steps:
                break
    return time.perf_counter() - t0, flow


def moons(steps: int, seeds: list[int], tmp: Path) -> None:
    spec = SPECS / "extra" / "flow2d.sgm"
    data = get_dataset(None, parse_file(spec), seed=0, test_fraction=0.1)
    train_x, test_x = data.train["x"].float(), data.test["x"].float()
    print(
        f"\n## RealNVP on moons ({train_x.shape[0]} train / {test_x.shape[0]} test rows, {steps} steps of 64, Adam "
        "1e-3)"
    )
    print("| seed | schemagm NLL | hand-written NLL | NLL ratio | schemagm s | hand-written s | time ratio |")
    print("|---|---|---|---|---|---|---|")
    ratios = []
    for seed in seeds:
        t_s, r = run_schemagm(spec, steps, seed, tmp / f"flow2d-{seed}")
        with torch.no_grad():
            nll_s = -float(r.model.log_likelihood({"x": test_x}).mean())
        t_h, flow = hand_written_moons(train_x, steps, seed)
        with torch.no_grad():
            nll_h = -float(flow().log_prob(test_x).mean())
        ratios.append(t_s / t_h)
        print(f"| {seed} | {nll_s:.4f} | {nll_h:.4f} | {nll_s / nll_h:.3f} | {t_s:.1f} | {t_h:.1f} | {t_s / t_h:.2f} |")
    print(f"median time ratio schemagm / hand-written: {statistics.median(ratios):.2f}")


def iw(model: Any, test: dict, k: int) -> float:
    with torch.no_grad():
        torch.manual_seed(0)
        return float(
            torch.cat(
                [
                    model.iw_bound({n: v[i : i + 64] for n, v in test.items()}, k)
                    for i in range(0, next(iter(test.values())).shape[0], 64)
                ]
            ).mean()
        )  # type: ignore[attr-defined]


def dequant(steps: int, seeds: list[int], tmp: Path, k: int) -> None:
    print(f"\n## Digits: bits/dim of the 17-level data, uniform vs variational dequantization ({steps} steps, k = {k})")
    print("| seed | uniform bits/dim | variational bits/dim | uniform s | variational s |")
    print("|---|---|---|---|---|")
    got: dict[str, list[float]] = {"u": [], "v": []}
    for seed in seeds:
        row = []
        times = []
        for tag, name in (("u", "dequant_flow"), ("v", "vdequant_flow")):
            t, r = run_schemagm(SPECS / "extra" / f"{name}.sgm", steps, seed, tmp / f"{name}-{seed}")
            bound = iw(r.model, r.data.test, k)
            bpd = -bound / (64 * math.log(2))
            got[tag].append(bpd)
            row.append(bpd)
            times.append(t)
        print(f"| {seed} | {row[0]:.4f} | {row[1]:.4f} | {times[0]:.0f} | {times[1]:.0f} |")
    print(f"mean: uniform {statistics.mean(got['u']):.4f}, variational {statistics.mean(got['v']):.4f} bits/dim")


def vae(steps: int, seeds: list[int], tmp: Path, k: int) -> None:
    print(
        f"\n## Digits: test IW bound (k = {k}, nats) of the VAE, a VAE with a flow prior, a VAE with an IAF posterior "
        f"({steps} steps)"
    )
    print("| seed | VAE | flow prior | IAF posterior |")
    print("|---|---|---|---|")
    got: dict[str, list[float]] = {}
    for seed in seeds:
        row = []
        for spec in (SPECS / "vae.sgm", SPECS / "extra" / "vae_flow_prior.sgm", SPECS / "extra" / "vae_iaf.sgm"):
            _, r = run_schemagm(spec, steps, seed, tmp / f"{spec.stem}-{seed}")
            b = iw(r.model, r.data.test, k)
            got.setdefault(spec.stem, []).append(b)
            row.append(b)
        print(f"| {seed} | {row[0]:.2f} | {row[1]:.2f} | {row[2]:.2f} |")
    print("mean: " + ", ".join(f"{n} {statistics.mean(v):.2f}" for n, v in got.items()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--k", type=int, default=20)
    ap.add_argument("--parts", nargs="+", default=["moons", "dequant", "vae"], choices=["moons", "dequant", "vae"])
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, zuko {zuko.__version__}, 1 thread; steps {args.steps}, seeds {args.seeds}")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if "moons" in args.parts:
            moons(args.steps, args.seeds, tmp)
        if "dequant" in args.parts:
            dequant(args.steps, args.seeds, tmp, args.k)
        if "vae" in args.parts:
            vae(args.steps, args.seeds, tmp, args.k)


if __name__ == "__main__":
    main()
