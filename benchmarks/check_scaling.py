"""How ``check`` scales with the size of a spec: 10k, 100k and 1M-character specs.

A valid chain spec (a data node, latents z0..zN, a dashed edge into each and a solid edge out of each)
is generated at each size and parsed and checked (``schemagm.graph.build.parse``, what ``schemagm check``
runs).  Printed: seconds, seconds per million characters, and the ratio of the per-character time of each
size to the smallest's.  A linear checker keeps the ratio near 1.0 (the target: at most 2.0 at 1M).

    python benchmarks/check_scaling.py
"""

from __future__ import annotations

import sys
import time

SIZES = (10_000, 100_000, 1_000_000)


def chain_spec(chars: int) -> str:
    """A valid spec of about ``chars`` characters: x -> z0 -> z1 -> ... (dashed) and back (solid)."""
    lines = ["model chain", "data x : real[4]"]
    edges: list[str] = []
    n = 0
    size = 30
    while size < chars:
        lines.append(f"latent z{n} : normal[2]")
        src = "x" if n == 0 else f"z{n - 1}"
        edges.append(f"{src} --> z{n} : Q{n}_eta = mlp(8) normal")
        back = "x" if n == 0 else f"z{n - 1}"
        edges.append(f"z{n} -> {back} : P{n}_theta = mlp(8) {'bernoulli' if n == 0 else 'normal'}")
        size += len(lines[-1]) + len(edges[-1]) + len(edges[-2]) + 3
        n += 1
    return "\n".join(lines + edges) + "\n"


def main() -> int:
    from schemagm.graph.build import parse

    parse(chain_spec(2000))  # warm up (builds the parser)
    rows = []
    for chars in SIZES:
        text = chain_spec(chars)
        best = float("inf")
        for _ in range(2 if chars < 1_000_000 else 1):
            start = time.perf_counter()
            parse(text)
            best = min(best, time.perf_counter() - start)
        rows.append((len(text), best))
    base = rows[0][1] / rows[0][0]
    print(f"{'characters':>12} {'seconds':>9} {'s / M chars':>12} {'ratio per char':>15}")
    for chars, seconds in rows:
        print(f"{chars:>12,} {seconds:>9.3f} {seconds / chars * 1e6:>12.3f} {seconds / chars / base:>15.2f}")
    worst = max(seconds / chars / base for chars, seconds in rows)
    print(f"largest ratio per character: {worst:.2f} (linear: ~1.0; target <= 2.0)")
    return 0 if worst <= 2.0 else 1


if __name__ == "__main__":
    sys.exit(main())
