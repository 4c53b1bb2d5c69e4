"""The page's figures (matplotlib PNGs), drawn from the result files alone.

Sample grids come from the samples a result file keeps (32 digits, or 500 points of the ring);
curves from its training curve and its metrics.  matplotlib is an optional dependency (the
``reproduce`` extra): without it the page is still written, and the command says the figures
were skipped.
"""

from __future__ import annotations

import io
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..fileio import write_atomic
from .page import FIGURES, _Table, select
from .tables import TABLES

__all__ = ["draw_figures", "have_matplotlib"]


def have_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 8, "figure.dpi": 100, "savefig.dpi": 100, "svg.hashsalt": "schemagm"})
    return plt


def _grid(ax: Any, samples: list[list[float]], title: str, side: int = 8) -> None:
    import numpy as np

    x = np.asarray(samples, dtype=float)[:32].reshape(-1, side, side)
    rows, cols = 4, 8
    canvas = np.zeros((rows * (side + 1) + 1, cols * (side + 1) + 1))
    for i, img in enumerate(x[: rows * cols]):
        r, c = divmod(i, cols)
        canvas[1 + r * (side + 1) : 1 + r * (side + 1) + side, 1 + c * (side + 1) : 1 + c * (side + 1) + side] = img
    ax.imshow(canvas, cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    ax.set_title(title)
    ax.axis("off")


def _curve(ax: Any, cells: list[dict[str, Any]], label: str, phase: str = "model") -> None:
    import numpy as np

    runs = [c["curve"] for c in cells if phase in c.get("curve", {})]
    if not runs:
        return
    n = min(len(r[phase]) for r in runs)
    steps = np.asarray(runs[0]["step"][:n])
    y = np.asarray([r[phase][:n] for r in runs], dtype=float)
    m = y.mean(0)
    ax.plot(steps, m, label=label)
    if len(runs) > 1:
        s = y.std(0, ddof=1)
        ax.fill_between(steps, m - s, m + s, alpha=0.25)


def _save(plt: Any, fig: Any, path: Path) -> None:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    write_atomic(path, buf.getvalue())


def _gan_iwgan(plt: Any, tb: _Table) -> Any:
    fig, axes = plt.subplots(1, 3, figsize=(10, 2.8))
    for ax, vid in zip(axes[:2], ("gan", "iwgan"), strict=False):
        c = tb.first(vid)
        label = next(v.label for v in tb.t.variants if v.id == vid)
        if c and c.get("samples"):
            _grid(ax, c["samples"], f"{label}, seed {c['seed']}")
        else:
            ax.axis("off")
    for vid, label in (("gan", "GAN"), ("iwgan", "IWGAN")):
        _curve(axes[2], tb.by[vid], f"{label}: generator loss", "model")
    axes[2].set_xlabel("step")
    axes[2].set_title("training loss (mean ± std over seeds)")
    axes[2].legend()
    return fig


def _vae_aavae(plt: Any, tb: _Table) -> Any:
    fig, ax = plt.subplots(figsize=(5, 3.2))
    fractions = sorted({v.extra["fraction"] for v in tb.t.variants})
    for mid, label in (("vae", "VAE"), ("aavae", "AAVAE")):
        xs, ms, ss = [], [], []
        for f in fractions:
            vals = tb.values(f"{mid}-f{f:g}", "iw")
            if vals:
                xs.append(f * 100)
                ms.append(statistics.fmean(vals))
                ss.append(statistics.stdev(vals) if len(vals) > 1 else 0.0)
        ax.errorbar(xs, ms, yerr=ss, marker="o", capsize=3, label=label)
    ax.set_xscale("log")
    ax.set_xlabel("training data used (%)")
    ax.set_ylabel("test IW bound, k = 50 (nats)")
    ax.legend()
    return fig


def _ring8(plt: Any, tb: _Table) -> Any:
    import numpy as np

    fig, axes = plt.subplots(1, 2, figsize=(7, 3.5), sharex=True, sharey=True)
    for ax, v in zip(axes, tb.t.variants, strict=False):
        c = tb.first(v.id)
        if not c or not c.get("samples"):
            ax.axis("off")
            continue
        x = np.asarray(c["samples"])
        modes = np.asarray(c.get("modes") or [])
        ax.scatter(x[:, 0], x[:, 1], s=2, alpha=0.5)
        if len(modes):
            ax.scatter(modes[:, 0], modes[:, 1], marker="x", c="red", s=30)
        ax.set_title(f"{v.label}, seed {c['seed']}")
        ax.set_aspect("equal")
        ax.set_xlim(-3, 3)
        ax.set_ylim(-3, 3)
    return fig


def _dae(plt: Any, tb: _Table) -> Any:
    fig, axes = plt.subplots(1, 2, figsize=(7, 2.2))
    for ax, v in zip(axes, tb.t.variants, strict=False):
        c = tb.first(v.id)
        if c and c.get("samples"):
            _grid(ax, c["samples"], f"{v.label}, seed {c['seed']}")
        else:
            ax.axis("off")
    return fig


def _beta_vae(plt: Any, tb: _Table) -> Any:
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    betas = [v.extra.get("beta", float(v.setting.removeprefix("β = "))) for v in tb.t.variants]
    for ax, metrics in zip(
        axes,
        (
            (("reconstruction", "reconstruction"),),
            (("kl", "KL(q(z|x) ‖ p(z))"), ("mutual_information", "I(x; z)"), ("marginal_kl", "KL(q(z) ‖ p(z))")),
        ),
        strict=True,
    ):
        for m, label in metrics:
            xs, ms, ss = [], [], []
            for b, v in zip(betas, tb.t.variants, strict=False):
                vals = tb.values(v.id, m)
                if vals:
                    xs.append(b)
                    ms.append(statistics.fmean(vals))
                    ss.append(statistics.stdev(vals) if len(vals) > 1 else 0.0)
            ax.errorbar(xs, ms, yerr=ss, marker="o", capsize=3, label=label)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("β")
        ax.set_ylabel("nats per digit")
        ax.legend()
    return fig


def _flows(plt: Any, tb: _Table) -> Any:
    fig, axes = plt.subplots(1, 3, figsize=(10, 2.8))
    for v in tb.t.variants:
        _curve(axes[0], tb.by[v.id], v.label.removeprefix("RealNVP, "), "model")
    axes[0].set_xlabel("step")
    axes[0].set_title("training loss (nats, mean ± std)")
    axes[0].legend()
    for ax, v in zip(axes[1:], tb.t.variants, strict=False):
        c = tb.first(v.id)
        if c and c.get("samples"):
            _grid(ax, c["samples"], f"{v.label.removeprefix('RealNVP, ')}, seed {c['seed']}")
        else:
            ax.axis("off")
    return fig


_DRAW: dict[str, Callable[[Any, _Table], Any]] = {
    "gan_iwgan": _gan_iwgan,
    "vae_aavae": _vae_aavae,
    "ring8": _ring8,
    "dae": _dae,
    "beta_vae": _beta_vae,
    "flows": _flows,
}


def draw_figures(
    results: list[dict[str, Any]], folder: Path, *, profile: str, data: str, seeds: list[int], only: list[str] | None
) -> list[Path]:
    """Draw the figure of every table that has results; the files written."""
    plt = _plt()
    cells = select(results, profile, data)
    written = []
    for t in TABLES:
        if (only and t.name not in only) or (data == "mnist" and not t.digits):
            continue
        tb = _Table(t, [c for c in cells if c["table"] == t.name], seeds)
        if not tb.any():
            continue
        fig = _DRAW[t.name](plt, tb)
        path = folder / FIGURES[t.name][0]
        _save(plt, fig, path)
        written.append(path)
    return written
