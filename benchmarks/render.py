"""Render time per catalog spec: drawing description, DOT text, Mermaid text, SVG through `dot`.

Prints the median of --repeats runs per spec (milliseconds) and ratios against
references measured in the same run:

* ``draw+dot / parse``: building the drawing and its DOT text, against parsing
  and checking the spec (both pure Python; the drawing should cost no more than
  reading the spec);
* ``svg / dot(empty)``: the SVG through Graphviz, against running ``dot`` on an
  empty graph (the cost of starting the program, which dominates small figures).

    python benchmarks/render.py [--repeats 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args(argv)

    from schemagm.graph.build import parse
    from schemagm.render import drawing, to_dot, to_image, to_mermaid

    empty = median_ms(lambda: to_image("digraph {}", "svg"), args.repeats)
    print(f"reference: dot on an empty graph (svg) {empty:.2f} ms (median of {args.repeats})")
    header = (
        f"{'spec':<12} {'parse':>8} {'drawing':>8} {'dot':>8} {'mermaid':>8} {'svg':>8} "
        f"{'draw+dot/parse':>15} {'svg/dot(empty)':>15}"
    )
    print(header)
    print("-" * len(header))
    rows = []
    for path in sorted((ROOT / "specs").glob("*.sgm")):
        text = path.read_text(encoding="utf-8")
        graph = parse(text, file=str(path))
        d = drawing(graph, legend=True)
        dot_source = to_dot(d)
        t_parse = median_ms(lambda text=text, path=path: parse(text, file=str(path)), args.repeats)
        t_draw = median_ms(lambda graph=graph: drawing(graph, legend=True), args.repeats)
        t_dot = median_ms(lambda d=d: to_dot(d), args.repeats)
        t_mmd = median_ms(lambda d=d: to_mermaid(d), args.repeats)
        t_svg = median_ms(lambda dot_source=dot_source: to_image(dot_source, "svg"), args.repeats)
        rows.append((t_parse, t_draw, t_dot, t_mmd, t_svg))
        print(
            f"{path.stem:<12} {t_parse:8.2f} {t_draw:8.2f} {t_dot:8.2f} {t_mmd:8.2f} {t_svg:8.2f}"
            f" {(t_draw + t_dot) / t_parse:15.2f} {t_svg / empty:15.2f}"
        )
    med = [statistics.median(col) for col in zip(*rows, strict=True)]
    print("-" * len(header))
    print(
        f"{'median':<12} {med[0]:8.2f} {med[1]:8.2f} {med[2]:8.2f} {med[3]:8.2f} {med[4]:8.2f}"
        f" {(med[1] + med[2]) / med[0]:15.2f} {med[4] / empty:15.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
