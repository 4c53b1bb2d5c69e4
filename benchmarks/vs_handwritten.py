"""A whole ``schemagm train`` process against a hand-written training script, in one run.

Both train the same VAE (64-512-8 on digits: encoder and decoder one hidden layer of 512, a
normal q(z|x), a bernoulli p(x|z), a standard normal prior) on the same training rows, with
batch 100, Adam lr 1e-3, the same number of epochs, one CPU thread each, one process each.
``schemagm train`` runs with its default pictures, metrics and checkpoints; the hand-written
script (written out below, plain torch, no schemagm import) only trains.  The two processes
alternate, ``--repeats`` times; the table gives the medians of

* the training clock: schemagm's own (``time`` of its last metrics line, which includes its
  pictures, metrics and checkpoints) against the script's timed loop;
* the wall time of each process, start-up and writing included;

and the test ELBO of each final model (single-sample ELBO over the run's test split, mean
± standard error, from the same estimator code for both).  Targets: training clock <= 1.05,
wall <= 1.10, test ELBOs equal within their standard errors.

    python benchmarks/vs_handwritten.py                  # 50 epochs, 3 repeats
    python benchmarks/vs_handwritten.py --epochs 20 --repeats 1
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SPEC = """model vae512 "VAE 64-512-8"

data      x : real[64] in [0, 1] from digits
latent    z : normal[8]
indicator y

x, y --> z : q_eta   = mlp(512) normal
z, y -> x  : p_theta = mlp(512) bernoulli
x --> y    : perfect adversarial
"""

HANDWRITTEN = r"""
import json, sys, time
import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

torch.set_num_threads(1)
train_file, test_file, epochs, batch, seed, out = sys.argv[1:7]
epochs, batch, seed = int(epochs), int(batch), int(seed)
train_x = torch.from_numpy(np.load(train_file))
test_x = torch.from_numpy(np.load(test_file))
torch.manual_seed(seed)
enc = nn.Sequential(nn.Linear(64, 512), nn.ReLU(), nn.Linear(512, 16))
dec = nn.Sequential(nn.Linear(8, 512), nn.ReLU(), nn.Linear(512, 64))
opt = torch.optim.Adam([*enc.parameters(), *dec.parameters()], lr=1e-3)

def elbo(x):
    mu, logstd = enc(x).chunk(2, dim=1)
    std = logstd.exp()
    z = mu + std * torch.randn_like(std)
    rec = -F.binary_cross_entropy_with_logits(dec(z), x, reduction="none").sum(1)
    kl = 0.5 * (mu ** 2 + std ** 2 - 1).sum(1) - logstd.sum(1)
    return rec - kl

order = torch.Generator().manual_seed(seed)
start = time.perf_counter()
for epoch in range(epochs):
    perm = torch.randperm(len(train_x), generator=order)
    for i in range(0, len(perm) - batch + 1, batch):
        loss = -elbo(train_x[perm[i:i + batch]]).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
clock = time.perf_counter() - start
with torch.no_grad():
    torch.manual_seed(seed + 1)
    values = elbo(test_x)
json.dump({"clock": clock, "elbo": values.tolist()}, open(out, "w"))
"""


def mean_se(values: list[float]) -> tuple[float, float]:
    return statistics.mean(values), statistics.stdev(values) / math.sqrt(len(values))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=50)
    ap.add_argument("--batch-size", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    from schemagm.graph.build import parse
    from schemagm.train.data import get_dataset

    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        spec = work / "vae512.sgm"
        spec.write_text(SPEC)
        data = get_dataset(None, parse(SPEC), seed=0, test_fraction=0.1)
        np.save(work / "train.npy", data.train["x"].numpy())
        np.save(work / "test.npy", data.test["x"].numpy())
        script = work / "handwritten.py"
        script.write_text(HANDWRITTEN)
        rows = []
        for r in range(args.repeats):
            run = work / f"run{r}"
            cmd = [sys.executable, "-m", "schemagm", "train", str(spec), "--epochs", str(args.epochs)]
            cmd += ["--batch-size", str(args.batch_size), "--threads", "1", "--seed", str(args.seed)]
            cmd += ["--out", str(run), "--no-progress"]
            t0 = time.perf_counter()
            subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
            sgm_wall = time.perf_counter() - t0
            lines = (run / "metrics.jsonl").read_text().splitlines()
            sgm_clock = json.loads(lines[-1])["time"]
            out = work / f"hand{r}.json"
            t0 = time.perf_counter()
            hand_cmd = [sys.executable, str(script), str(work / "train.npy"), str(work / "test.npy")]
            hand_cmd += [str(args.epochs), str(args.batch_size), str(args.seed), str(out)]
            subprocess.run(hand_cmd, env=env, check=True)
            hand_wall = time.perf_counter() - t0
            hand = json.loads(out.read_text())
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "schemagm",
                    "eval",
                    str(run),
                    "--metrics",
                    "elbo",
                    "--json",
                    str(work / f"e{r}.json"),
                ],
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
            )
            sgm_eval = json.loads((work / f"e{r}.json").read_text())
            rows.append((sgm_clock, hand["clock"], sgm_wall, hand_wall, sgm_eval, mean_se(hand["elbo"])))
            print(
                f"repeat {r}: training clock {sgm_clock:.2f} s vs {hand['clock']:.2f} s, "
                f"wall {sgm_wall:.2f} s vs {hand_wall:.2f} s",
                flush=True,
            )
    clock = statistics.median(a / b for a, b, *_ in rows)
    wall = statistics.median(c / d for _, _, c, d, *_ in rows)
    print(f"\nVAE 64-512-8 on digits, {args.epochs} epochs, batch {args.batch_size}, 1 thread, {args.repeats} repeats")
    print(f"training clock ratio (schemagm / hand-written): {clock:.3f}  (target <= 1.05)")
    print(f"wall time ratio      (schemagm / hand-written): {wall:.3f}  (target <= 1.10)")
    for r, row in enumerate(rows):
        sgm, (hand_mean, hand_se) = row[4]["metrics"]["elbo"]["value"], row[5]
        gap = abs(sgm["mean"] - hand_mean) / math.hypot(sgm["stderr"], hand_se)
        print(
            f"repeat {r}: test ELBO schemagm {sgm['mean']:.3f} ± {sgm['stderr']:.3f}, hand-written "
            f"{hand_mean:.3f} ± {hand_se:.3f} nats (difference {gap:.2f} standard errors)"
        )


if __name__ == "__main__":
    main()
