"""A whole ``schemagm train`` process against a hand-written training script, in one run.

Both train the same VAE (64-512-8 on digits: encoder and decoder one hidden layer of 512, a
normal q(z|x), a bernoulli p(x|z), a standard normal prior) on the same training rows, with
batch 100, Adam lr 1e-3, the same number of epochs, one CPU thread each, one process each.
Three processes take turns, ``--repeats`` times (the order rotating each repeat):

* ``schemagm``: ``schemagm train`` with its default pictures, metrics and checkpoints;
* ``bare``: ``schemagm train`` with all of them off (``--samples 0``, one metrics line and the
  first and last checkpoints only);
* ``hand``: the hand-written script below (plain torch, no schemagm import), which only trains.

Each schemagm process is the command line itself (``schemagm.cli.entry.main``), started by a
three-line wrapper that also reads the CPU time of ``Trainer.fit``.  The table gives medians of

* the training clock: schemagm's own (``time`` of its last metrics line, which includes its
  pictures, metrics and checkpoints) against the script's timed loop, as wall time and as the
  process's CPU time (steadier on a busy machine: waiting for a core is not counted);
* the wall time and the CPU time (user + system) of each whole process, start-up included;

the ratios schemagm / hand (targets: training clock <= 1.05, wall <= 1.10) and schemagm / bare
(the cost of pictures, metrics and checkpoints; target <= 1.05), and the test ELBO of each final
model (single-sample ELBO over the run's test split, mean ± standard error, from the same
estimator code for both; target: equal within their standard errors).  The load average is
printed before and after: on a shared machine every figure moves with it.

    python benchmarks/vs_handwritten.py                  # 50 epochs, 5 repeats
    python benchmarks/vs_handwritten.py --epochs 20 --repeats 3

Python runs as an installed package does, with its compiled bytecode kept (in a temporary
``PYTHONPYCACHEPREFIX``, even where the environment sets ``PYTHONDONTWRITEBYTECODE``), after
one short warm-up run of each script.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
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
start, cpu_start = time.perf_counter(), time.process_time()
for epoch in range(epochs):
    perm = torch.randperm(len(train_x), generator=order)
    for i in range(0, len(perm) - batch + 1, batch):
        loss = -elbo(train_x[perm[i:i + batch]]).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
clock, cpu = time.perf_counter() - start, time.process_time() - cpu_start
with torch.no_grad():
    torch.manual_seed(seed + 1)
    values = elbo(test_x)
json.dump({"clock": clock, "cpu": cpu, "elbo": values.tolist()}, open(out, "w"))
"""


#: ``schemagm`` as its command line, with the CPU time of ``Trainer.fit`` written to $SGM_FIT_CPU
WRAPPER = r"""
import os, sys, time
from schemagm.train import trainer
fit = trainer.Trainer.fit
def timed(self):
    start = time.process_time()
    try:
        return fit(self)
    finally:
        open(os.environ["SGM_FIT_CPU"], "w").write(repr(time.process_time() - start))
trainer.Trainer.fit = timed
from schemagm.cli.entry import main
sys.argv = ["schemagm", *sys.argv[1:]]
main()
"""

#: flags of the ``bare`` runs: no pictures, one metrics line (the last), checkpoints at the start and end only
BARE = ["--samples", "0", "--log-every", str(10**9), "--checkpoint-every", str(10**9)]


def mean_se(values: list[float]) -> tuple[float, float]:
    return statistics.mean(values), statistics.stdev(values) / math.sqrt(len(values))


def timed_run(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run ``cmd``; its wall time and CPU time (user + system of the process and its children)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=50)
    ap.add_argument("--batch-size", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    from schemagm.graph.build import parse
    from schemagm.train.data import get_dataset

    print(f"load average at the start: {load()} ({os.cpu_count()} cores)", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        # as an installed package runs: compiled bytecode kept (outside the checkout), after a warm-up
        env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "PYTHONPYCACHEPREFIX": str(work / "pyc")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        spec = work / "vae512.sgm"
        spec.write_text(SPEC)
        data = get_dataset(None, parse(SPEC), seed=0, test_fraction=0.1)
        np.save(work / "train.npy", data.train["x"].numpy())
        np.save(work / "test.npy", data.test["x"].numpy())
        script = work / "handwritten.py"
        script.write_text(HANDWRITTEN)
        wrapper = work / "schemagm_timed.py"
        wrapper.write_text(WRAPPER)
        warm = [sys.executable, "-m", "schemagm", "train", str(spec), "--steps", "2", "--out", str(work / "warm")]
        timed_run(warm + ["--threads", "1", "--no-progress"], env)
        timed_run(
            [
                sys.executable,
                str(script),
                str(work / "train.npy"),
                str(work / "test.npy"),
                "0",
                "100",
                "0",
                str(work / "warm.json"),
            ],
            env,
        )
        # per kind: lists of (training clock, training CPU, process wall, process CPU)
        times: dict[str, list[tuple[float, float, float, float]]] = {"schemagm": [], "bare": [], "hand": []}
        elbos: list[tuple[tuple[float, float], tuple[float, float]]] = []
        for r in range(args.repeats):
            kinds = ["schemagm", "hand", "bare"]
            kinds = kinds[r % 3 :] + kinds[: r % 3]  # each goes first, second and third in turn
            hand: dict = {}
            for kind in kinds:
                if kind == "hand":
                    out = work / f"hand{r}.json"
                    cmd = [sys.executable, str(script), str(work / "train.npy"), str(work / "test.npy")]
                    cmd += [str(args.epochs), str(args.batch_size), str(args.seed), str(out)]
                    wall, cpu = timed_run(cmd, env)
                    hand = json.loads(out.read_text())
                    times[kind].append((hand["clock"], hand["cpu"], wall, cpu))
                    continue
                run = work / f"{kind}{r}"
                fit_cpu = work / f"{kind}{r}.cpu"
                cmd = [sys.executable, str(wrapper), "train", str(spec), "--epochs", str(args.epochs)]
                cmd += ["--batch-size", str(args.batch_size), "--threads", "1", "--seed", str(args.seed)]
                cmd += ["--out", str(run), "--no-progress"] + (BARE if kind == "bare" else [])
                wall, cpu = timed_run(cmd, {**env, "SGM_FIT_CPU": str(fit_cpu)})
                clock = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])["time"]
                times[kind].append((clock, float(fit_cpu.read_text()), wall, cpu))
            evaluated = work / f"e{r}.json"
            cmd = [sys.executable, "-m", "schemagm", "eval", str(work / f"schemagm{r}"), "--metrics", "elbo"]
            subprocess.run(cmd + ["--json", str(evaluated)], env=env, check=True, stdout=subprocess.DEVNULL)
            sgm = json.loads(evaluated.read_text())["metrics"]["elbo"]["value"]
            elbos.append(((sgm["mean"], sgm["stderr"]), mean_se(hand["elbo"])))
            print(
                f"repeat {r}: training clock schemagm {times['schemagm'][-1][0]:.2f} s, bare "
                f"{times['bare'][-1][0]:.2f} s, hand-written {times['hand'][-1][0]:.2f} s; process wall "
                f"{times['schemagm'][-1][2]:.2f} / {times['bare'][-1][2]:.2f} / {times['hand'][-1][2]:.2f} s "
                f"(load {load()})",
                flush=True,
            )
    print(f"\nVAE 64-512-8 on digits, {args.epochs} epochs, batch {args.batch_size}, 1 thread, {args.repeats} repeats")
    print(f"load average at the end: {load()}")
    labels = ["training clock", "training CPU time", "process wall time", "process CPU time"]
    print(f"{'median seconds':<20} {'schemagm':>9} {'bare':>9} {'hand':>9} {'sgm/hand':>9} {'sgm/bare':>9}")
    for i, label in enumerate(labels):
        med = {k: statistics.median(v[i] for v in rows) for k, rows in times.items()}
        # the ratio of each repeat's pair (measured side by side), then the median over repeats
        vs_hand = statistics.median(a[i] / b[i] for a, b in zip(times["schemagm"], times["hand"], strict=True))
        vs_bare = statistics.median(a[i] / b[i] for a, b in zip(times["schemagm"], times["bare"], strict=True))
        meds = " ".join(f"{med[k]:>9.2f}" for k in ("schemagm", "bare", "hand"))
        print(f"{label:<20} {meds} {vs_hand:>9.3f} {vs_bare:>9.3f}")
    print("targets: training clock sgm/hand <= 1.05, process wall sgm/hand <= 1.10, sgm/bare <= 1.05")
    for r, ((sgm_mean, sgm_se), (hand_mean, hand_se)) in enumerate(elbos):
        gap = abs(sgm_mean - hand_mean) / math.hypot(sgm_se, hand_se)
        print(
            f"repeat {r}: test ELBO schemagm {sgm_mean:.3f} ± {sgm_se:.3f}, hand-written "
            f"{hand_mean:.3f} ± {hand_se:.3f} nats (difference {gap:.2f} standard errors)"
        )


if __name__ == "__main__":
    main()
