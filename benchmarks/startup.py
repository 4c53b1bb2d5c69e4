"""Start-up: each command's wall time as a ratio to ``python -c "import torch"``, measured in the same run.

Every command runs in a fresh interpreter (``python -m schemagm ...``, this checkout first on the
path), interleaved with the reference, ``--repeats`` times; the table gives the median wall
time of each and the ratio of medians.  The light commands (check, fmt, render, transform,
equiv, explain) never import torch, so their ratio is well below 1; ``compile`` imports torch
and builds the modules.  Target: ``compile`` <= 1.2.

Python runs as an installed package does: compiled bytecode is kept (in a temporary
``PYTHONPYCACHEPREFIX``, so nothing is written into the checkout, even where the environment
sets ``PYTHONDONTWRITEBYTECODE``), after one warm-up run of every command.  Next to the wall
time, the table gives the median CPU time (user + system) of each process and its ratio, which a
busy machine disturbs less (time spent waiting for a core is not counted).

A schemagm command ends with :func:`gc.freeze` (``schemagm/cli/entry.py``), so the interpreter's
last collections skip the objects torch made; ``python -c "import torch"`` pays those, 0.2 to 0.3 s.
The last column is therefore the wall ratio to a second reference that freezes too,
``python -c "import gc, torch; gc.freeze()"``: what the command itself adds to importing torch.

    python benchmarks/startup.py
    python benchmarks/startup.py --repeats 9 --only compile
"""

from __future__ import annotations

import argparse
import os
import resource
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


def wall(argv: list[str], env: dict[str, str], cwd: str) -> tuple[float, float]:
    """The wall time and the CPU time (user + system) of one run of ``argv``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def bytecode_env(cache: str) -> dict[str, str]:
    """This checkout first on the path, one thread, and compiled bytecode kept under ``cache``."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "PYTHONPYCACHEPREFIX": cache}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", nargs="*", choices=list(COMMANDS), help="commands to time (default: all)")
    args = parser.parse_args()
    commands = {k: v for k, v in COMMANDS.items() if not args.only or k in args.only}
    torch_cmd = [sys.executable, "-c", "import torch"]
    frozen_cmd = [sys.executable, "-c", "import gc, torch; gc.freeze()"]
    print(f"load average at the start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as cwd:
        env = bytecode_env(str(Path(cwd) / "pycache"))
        wall(torch_cmd, env, cwd)  # warm the file cache and write the bytecode
        for cmd in commands.values():
            wall([sys.executable, "-m", "schemagm", *cmd], env, cwd)
        references = ["import torch", "import torch, freeze"]
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in [*references, *commands]}
        for _ in range(args.repeats):
            times["import torch, freeze"].append(wall(frozen_cmd, env, cwd))
            for name, cmd in commands.items():
                times["import torch"].append(wall(torch_cmd, env, cwd))
                times[name].append(wall([sys.executable, "-m", "schemagm", *cmd], env, cwd))
    ref = statistics.median(t for t, _ in times["import torch"])
    ref_cpu = statistics.median(c for _, c in times["import torch"])
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        f"reference: python -c 'import torch'  median {ref:.3f} s wall, {ref_cpu:.3f} s CPU "
        f"over {len(times['import torch'])} runs"
    )
    frozen = statistics.median(t for t, _ in times["import torch, freeze"])
    print(
        f"reference: python -c 'import gc, torch; gc.freeze()'  median {frozen:.3f} s wall "
        f"over {len(times['import torch, freeze'])} runs"
    )
    print(f"{'command':<10} {'wall s':>7} {'ratio':>6} {'CPU s':>7} {'ratio':>6}  {'target (wall)':<16} frozen ratio")
    for name in commands:
        med = statistics.median(t for t, _ in times[name])
        cpu = statistics.median(c for _, c in times[name])
        target = TARGET.get(name)
        mark = "" if target is None else f"<= {target}  {'ok' if med / ref <= target else 'MISSED'}"
        ratios = f"{med / ref:>6.2f} {cpu:>7.3f} {cpu / ref_cpu:>6.2f}"
        print(f"{name:<10} {med:>7.3f} {ratios}  {mark:<16} {med / frozen:>6.2f}")


if __name__ == "__main__":
    main()
