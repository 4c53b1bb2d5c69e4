"""Parse + check time of every catalog spec against the 20 ms target.

For each spec in specs/: the median over repeated runs of ``schemagm.parse``
(lark parse, syntax tree, graph build, every check), its ratio to the 20 ms
target (below 1 is within target), and, as a reference measured in the same
run on the same machine, the median of lark's bare parse of the same text (the
floor any .sgm front end built on lark pays).

    python benchmarks/parse.py [--repeat 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from schemagm.graph.build import parse  # noqa: E402
from schemagm.language.parser import _parser  # noqa: E402

TARGET_MS = 20.0


def timings_ms(fn, repeat: int) -> tuple[float, float]:
    """(median, minimum) wall time of ``fn()`` in milliseconds."""
    fn()  # warm up (grammar compiled, registry entry points loaded)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000.0, min(times) * 1000.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=200)
    args = ap.parse_args()
    specs = sorted((ROOT / "specs").glob("*.sgm"))
    print(
        f"{'spec':<12} {'parse+check ms':>15} {'/ 20 ms target':>15} {'min ms':>8} {'lark parse ms':>14} {'x lark':>7}"
    )
    worst = 0.0
    for path in specs:
        text = path.read_text()
        full, fastest = timings_ms(lambda text=text, path=path: parse(text, file=str(path)), args.repeat)
        bare, _ = timings_ms(lambda text=text: _parser().parse(text), args.repeat)
        worst = max(worst, full / TARGET_MS)
        print(
            f"{path.stem:<12} {full:>15.3f} {full / TARGET_MS:>15.3f} {fastest:>8.3f} {bare:>14.3f} {full / bare:>7.2f}"
        )
    print(f"worst ratio to the {TARGET_MS:g} ms target: {worst:.3f} ({'within' if worst <= 1 else 'OVER'} target)")


if __name__ == "__main__":
    main()
