"""Built-in data sets, generated or bundled, each with a fixed seed.

Every generator returns a :class:`RawData`: named arrays of equal length (the
``main`` array plus fields such as ``label`` or ``domain``), and for mixtures
of Gaussians the ``modes`` (centres) and ``std`` that evaluation uses to count
covered modes.  The arrays are NumPy; binding them to a spec's data nodes
(shapes, ranges, the train/test split) is :mod:`schemagm.train.data.dataset`'s job.

=========== ====================================================================
name        content
=========== ====================================================================
digits      scikit-learn's 1797 handwritten digits, 8x8 pixels scaled to [0, 1]
            (``[64]`` or ``[1, 8, 8]`` as the data node asks); field ``label``
ring8       8 Gaussians on a circle of radius 2, std 0.02; field ``label`` (mode)
grid25      25 Gaussians on the 5x5 grid {-4, -2, 0, 2, 4}^2, std 0.05
moons       two interleaving half circles (noise 0.05); field ``label``
swissroll   the 2-D swiss roll (scikit-learn's, x and z coordinates, divided by 5)
domains     two domains for adversarial domain adaptation: source = two moons,
            target = the same moons rotated by 40 degrees and shifted;
            field ``domain`` (1 source, 0 target) and ``label`` (the moon)
=========== ====================================================================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["RawData", "BUILTIN", "builtin_names", "load_builtin", "DATA_SEED"]

#: the seed every generated set is drawn with, so that a set is the same in every run
DATA_SEED = 20180430

#: number of points drawn for a generated 2-D set
N_POINTS = 10_000


@dataclass
class RawData:
    """Named arrays of one source, all with the same first dimension."""

    name: str
    #: the array a data node gets when it names no field (None: a node must name one)
    main: np.ndarray | None
    fields: dict[str, np.ndarray] = field(default_factory=dict)
    modes: np.ndarray | None = None
    std: float | None = None
    #: the per-sample shape the arrays come in, for messages (``(8, 8)`` for digits' images)
    native_shape: tuple[int, ...] | None = None

    def __len__(self) -> int:
        first = self.main if self.main is not None else next(iter(self.fields.values()))
        return int(first.shape[0])


def _mixture(name: str, centres: np.ndarray, std: float, n: int = N_POINTS) -> RawData:
    rng = np.random.default_rng(DATA_SEED)
    label = rng.integers(0, len(centres), size=n)
    points = centres[label] + std * rng.standard_normal((n, centres.shape[1]))
    return RawData(name, points.astype(np.float32), {"label": label.astype(np.int64)}, centres.astype(np.float32), std)


def ring8() -> RawData:
    angles = 2 * np.pi * np.arange(8) / 8
    centres = 2.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return _mixture("ring8", centres, 0.02)


def grid25() -> RawData:
    ticks = np.arange(-4.0, 4.01, 2.0)
    centres = np.array([(a, b) for a in ticks for b in ticks])
    return _mixture("grid25", centres, 0.05)


def _digits_table() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits (pixels 0..16, labels) as ``load_digits`` gives them, read from the
    CSV file that scikit-learn ships without importing scikit-learn (seconds of start-up)."""
    import gzip
    from importlib.util import find_spec

    spec = find_spec("sklearn")
    roots = list(spec.submodule_search_locations or []) if spec is not None else []
    for root in roots:
        path = Path(root) / "datasets" / "data" / "digits.csv.gz"
        if path.is_file():
            with gzip.open(path, "rt") as f:
                table = np.loadtxt(f, delimiter=",")
            return table[:, :-1], table[:, -1].astype(int)
    from sklearn.datasets import load_digits  # the file moved: let scikit-learn find it

    d = load_digits()
    return d.data, d.target


def digits() -> RawData:
    pixels, labels = _digits_table()
    images = (pixels / 16.0).astype(np.float32)
    return RawData("digits", images, {"label": labels.astype(np.int64)}, native_shape=(8, 8))


def moons() -> RawData:
    from sklearn.datasets import make_moons

    points, label = make_moons(N_POINTS, noise=0.05, random_state=DATA_SEED % 2**31)
    return RawData("moons", points.astype(np.float32), {"label": label.astype(np.int64)})


def swissroll() -> RawData:
    from sklearn.datasets import make_swiss_roll

    points, _ = make_swiss_roll(N_POINTS, noise=0.25, random_state=DATA_SEED % 2**31)
    return RawData("swissroll", (points[:, [0, 2]] / 5.0).astype(np.float32))


def domains() -> RawData:
    from sklearn.datasets import make_moons

    half = N_POINTS // 2
    src, src_label = make_moons(half, noise=0.05, random_state=DATA_SEED % 2**31)
    tgt, tgt_label = make_moons(half, noise=0.05, random_state=(DATA_SEED + 1) % 2**31)
    angle = np.deg2rad(40.0)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    tgt = tgt @ rot.T + np.array([0.5, 0.5])
    points = np.concatenate([src, tgt]).astype(np.float32)
    domain = np.concatenate([np.ones(half), np.zeros(half)]).astype(np.int64)
    label = np.concatenate([src_label, tgt_label]).astype(np.int64)
    # interleave so that a prefix is never one domain only
    order = np.random.default_rng(DATA_SEED).permutation(len(points))
    return RawData("domains", points[order], {"domain": domain[order], "label": label[order]})


BUILTIN: dict[str, Callable[[], RawData]] = {
    "digits": digits,
    "ring8": ring8,
    "grid25": grid25,
    "moons": moons,
    "swissroll": swissroll,
    "domains": domains,
}


def builtin_names() -> list[str]:
    return list(BUILTIN)


_CACHE: dict[str, RawData] = {}


def load_builtin(name: str) -> RawData:
    """The built-in set ``name`` (cached: generating it again gives the same arrays)."""
    if name not in _CACHE:
        _CACHE[name] = BUILTIN[name]()
    return _CACHE[name]
