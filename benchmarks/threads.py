"""The default thread count against 1 and 2 threads, with two training runs in parallel.

A busy machine is the case the default is chosen for: two ``schemagm train`` processes start
together (as two users, or two experiments, on a 2-core machine), each with ``--threads 1``,
``--threads 2``, or no flag (the default, which the run's config.toml records), and the table
gives each setting's training clock (the ``time`` of the run's last metrics line; the slower of
the two parallel runs) and the default's ratio to the best of 1 and 2 threads.  Target: <= 1.2.

    python benchmarks/threads.py                         # the catalog VAE and GAN on digits
    python benchmarks/threads.py --steps 600 --specs vae
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent


def parallel(spec: str, steps: int, flag: list[str], work: Path, tag: str) -> tuple[float, int]:
    """(the slower training clock of two runs started together, the threads the runs used)."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    env["PYTHONPATH"] = str(ROOT)
    outs = [work / f"{tag}-{i}" for i in range(2)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "schemagm", "train", str(ROOT / "specs" / f"{spec}.sgm"), "--data", "digits"]
            + ["--steps", str(steps), "--out", str(out), "--no-progress", *flag],
            env=env,
            stdout=subprocess.DEVNULL,
        )
        for out in outs
    ]
    for p in procs:
        if p.wait() != 0:
            raise SystemExit(f"schemagm train failed ({tag})")
    clocks = [json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])["time"] for out in outs]
    threads = tomllib.loads((outs[0] / "config.toml").read_text())["threads"]
    return max(clocks), threads


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--specs", nargs="+", default=["vae", "gan"])
    ap.add_argument("--steps", type=int, default=300)
    args = ap.parse_args()
    print(f"two runs in parallel, {args.steps} steps each, on {os.cpu_count()} cores (training clock, slower run)")
    print(f"{'spec':<8}{'1 thread':>10}{'2 threads':>11}{'default':>9}{'(threads)':>10}{'ratio':>8}  target <= 1.2")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for spec in args.specs:
            one, _ = parallel(spec, args.steps, ["--threads", "1"], work, f"{spec}-1")
            two, _ = parallel(spec, args.steps, ["--threads", "2"], work, f"{spec}-2")
            default, threads = parallel(spec, args.steps, [], work, f"{spec}-default")
            ratio = default / min(one, two)
            mark = "ok" if ratio <= 1.2 else "MISSED"
            print(f"{spec:<8}{one:>9.2f}s{two:>10.2f}s{default:>8.2f}s{threads:>10}{ratio:>8.2f}  {mark}")


if __name__ == "__main__":
    main()
