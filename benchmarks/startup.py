"""Start-up: each command's wall time as a ratio to ``python -c "import torch"``, measured in the same run.

Every command runs in a fresh interpreter (``python -m schemagm ...``, this checkout first on the
path), interleaved with the reference, ``--repeats`` times; the table gives the median wall
time of each and the ratio of medians.  The light commands (check, fmt, render, transform,
equiv, explain) never import torch, so their ratio is well below 1; ``compile`` imports torch
and builds the modules.  Target: ``compile`` <= 1.2.

    python benchmarks/startup.py
    python benchmarks/startup.py --repeats 9
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"

COMMANDS = {
    "check": ["check", str(SPECS / "vae.sgm")],
    "fmt": ["fmt", str(SPECS / "vae.sgm")],
    "render": ["render", str(SPECS / "infogan.sgm"), "-f", "dot"],
    "transform": ["transform", "swap-processes", str(SPECS / "infogan.sgm")],
    "equiv": ["equiv", str(SPECS / "vae.sgm"), str(SPECS / "vae.sgm")],
    "explain": ["explain", str(SPECS / "infogan.sgm"), str(SPECS / "vae.sgm")],
    "compile": ["compile", str(SPECS / "vae.sgm")],
}
TARGET = {"compile": 1.2}


def wall(argv: list[str], env: dict[str, str], cwd: str) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    torch_cmd = [sys.executable, "-c", "import torch"]
    with tempfile.TemporaryDirectory() as cwd:
        wall(torch_cmd, env, cwd)  # warm the file cache
        times: dict[str, list[float]] = {name: [] for name in ["import torch", *COMMANDS]}
        for _ in range(args.repeats):
            for name, cmd in COMMANDS.items():
                times["import torch"].append(wall(torch_cmd, env, cwd))
                times[name].append(wall([sys.executable, "-m", "schemagm", *cmd], env, cwd))
    ref = statistics.median(times["import torch"])
    print(f"reference: python -c 'import torch'  median {ref:.3f} s over {len(times['import torch'])} runs")
    print(f"{'command':<10} {'median s':>9} {'ratio':>6}  target")
    for name in COMMANDS:
        med = statistics.median(times[name])
        target = TARGET.get(name)
        mark = "" if target is None else f"<= {target}  {'ok' if med / ref <= target else 'MISSED'}"
        print(f"{name:<10} {med:>9.3f} {med / ref:>6.2f}  {mark}")


if __name__ == "__main__":
    main()
