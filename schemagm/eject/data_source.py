"""Data loading of an ejected script, as source: the generating code of the built-in sets a spec
names (the same arrays as :mod:`schemagm.train.data.sources`, drawn with the same seeds), a reader
for ``.npz`` / ``.csv`` files, the binding of arrays to the data nodes, the train/test split and the
epoch order of :class:`schemagm.train.data.BatchStream`."""

from __future__ import annotations

from typing import Any

from ..graph.model import Role, observed_key
from ..train.data.dataset import split_source_name
from ..train.data.sources import BUILTIN, DATA_SEED, N_POINTS
from .lower import ident

__all__ = ["data_source"]

_MIXTURE = f'''
def mixture(centres, std):
    """{N_POINTS} points around the centres, with the index of their centre."""
    rng = np.random.default_rng({DATA_SEED})
    label = rng.integers(0, len(centres), size={N_POINTS})
    points = centres[label] + std * rng.standard_normal(({N_POINTS}, centres.shape[1]))
    return {{"main": points.astype(np.float32), "label": label.astype(np.int64)}}
'''

_BUILTIN: dict[str, tuple[str, ...]] = {
    "digits": (
        '''
def digits():
    """scikit-learn's 1797 handwritten digits, 8x8 pixels scaled to [0, 1]."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return {"main": (d.data / 16.0).astype(np.float32), "label": d.target.astype(np.int64)}
''',
    ),
    "ring8": (
        _MIXTURE,
        '''
def ring8():
    """8 Gaussians on a circle of radius 2, std 0.02."""
    angles = 2 * np.pi * np.arange(8) / 8
    return mixture(2.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1), 0.02)
''',
    ),
    "grid25": (
        _MIXTURE,
        '''
def grid25():
    """25 Gaussians on the grid {-4, -2, 0, 2, 4}², std 0.05."""
    ticks = np.arange(-4.0, 4.01, 2.0)
    return mixture(np.array([(a, b) for a in ticks for b in ticks]), 0.05)
''',
    ),
    "moons": (
        f'''
def moons():
    """Two interleaving half circles (noise 0.05)."""
    from sklearn.datasets import make_moons

    points, label = make_moons({N_POINTS}, noise=0.05, random_state={DATA_SEED % 2**31})
    return {{"main": points.astype(np.float32), "label": label.astype(np.int64)}}
''',
    ),
    "swissroll": (
        f'''
def swissroll():
    """The 2-D swiss roll (x and z coordinates, divided by 5)."""
    from sklearn.datasets import make_swiss_roll

    points, _ = make_swiss_roll({N_POINTS}, noise=0.25, random_state={DATA_SEED % 2**31})
    return {{"main": (points[:, [0, 2]] / 5.0).astype(np.float32)}}
''',
    ),
    "domains": (
        f'''
def domains():
    """Source: two moons (domain 1); target: them rotated by 40° and shifted (0)."""
    from sklearn.datasets import make_moons

    half = {N_POINTS // 2}
    src, src_label = make_moons(half, noise=0.05, random_state={DATA_SEED % 2**31})
    tgt, tgt_label = make_moons(half, noise=0.05, random_state={(DATA_SEED + 1) % 2**31})
    angle = np.deg2rad(40.0)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    tgt = tgt @ rot.T + np.array([0.5, 0.5])
    points = np.concatenate([src, tgt]).astype(np.float32)
    domain = np.concatenate([np.ones(half), np.zeros(half)]).astype(np.int64)
    label = np.concatenate([src_label, tgt_label]).astype(np.int64)
    order = np.random.default_rng({DATA_SEED}).permutation(len(points))
    return {{"main": points[order], "domain": domain[order], "label": label[order]}}
''',
    ),
}
assert set(_BUILTIN) == set(BUILTIN), "every built-in set has its emitted form"

_FILES = '''
def read_file(path):
    """The named arrays of an .npz file, or the columns of a .csv file."""
    if path.endswith(".npz"):
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        return arrays if len(arrays) > 1 else {"main": next(iter(arrays.values()))}
    with open(path) as f:
        header = f.readline().strip().split(",")
    named = not all(c.strip().lstrip("-+").replace(".", "", 1).isdigit() for c in header)
    # an empty cell is NaN: a missing value (of a partially observed label column)
    table = np.genfromtxt(path, delimiter=",", ndmin=2, skip_header=int(named))
    if not named:
        return {"main": table}
    fields = {"label", "domain", "y"} & set(header)
    main = [i for i, c in enumerate(header) if c not in fields]
    arrays = {c: table[:, header.index(c)] for c in fields}
    arrays["main"] = table[:, main]
    return arrays


def pick(arrays, *names):
    """The first of the named arrays there is, else the main array."""
    for name in names:
        if name in arrays:
            return arrays[name]
    return arrays["main"]
'''

_PARTIAL = '''
def observed_rows(arrays, name):
    """A partially observed field: its values (0 where missing) and the mask of the
    rows where it is observed.  Missing: where the array `<name>_mask` is 0, and NaN
    (an empty CSV cell)."""
    values = pick(arrays, name)
    mask = np.ones(len(values), dtype=bool)
    if np.issubdtype(values.dtype, np.floating):
        mask &= ~np.isnan(values.reshape(len(values), -1)).any(1)
    if f"{name}_mask" in arrays:
        mask &= arrays[f"{name}_mask"].astype(bool)
    keep = mask.reshape(-1, *([1] * (values.ndim - 1)))
    return np.where(keep, values, 0), mask


def keep_fraction(mask, values, train_rows, fraction, seed):
    """partial(f): the value kept on a fraction f of the observed training rows of
    each class, chosen by the seed (schemagm's choice); the test rows keep theirs."""
    out = mask.copy()
    rng = np.random.default_rng([seed, 7])
    seen = train_rows[mask[train_rows]]
    _, cls = np.unique(values[seen].reshape(len(seen), -1), axis=0, return_inverse=True)
    for k in np.unique(cls):
        rows = seen[cls.reshape(-1) == k]
        keep = max(1, round(fraction * len(rows)))
        out[rng.permutation(rows)[keep:]] = False
    return out
'''

_STREAM = '''
class Batches:
    """Endless full batches of the training rows; epoch e visits them in a permutation
    drawn from a generator seeded with (seed, e) (the order schemagm train uses)."""

    def __init__(self, data, batch_size, seed):
        self.data = data
        self.n = len(next(iter(data.values())))
        self.batch_size = batch_size
        self.seed = seed
        self.epoch = 0
        self.index = 0
        self.order = None

    def __next__(self):
        if self.order is None:
            state = np.random.SeedSequence([self.seed, self.epoch]).generate_state(1, dtype=np.uint64)
            generator = torch.Generator().manual_seed(int(state[0] >> 1))
            self.order = torch.randperm(self.n, generator=generator)
        rows = self.order[self.index * self.batch_size : (self.index + 1) * self.batch_size]
        self.index += 1
        if self.index == self.n // self.batch_size:
            self.epoch, self.index, self.order = self.epoch + 1, 0, None
        return {name: t[rows] for name, t in self.data.items()}
'''


def data_source(graph: Any) -> tuple[str, str]:
    """(the functions, the default source) of the data loading of ``graph``'s script."""
    nodes = graph.nodes_by_role(Role.data)
    wheres = []
    lines = []
    kept: list[str] = []  # the masks of partially observed nodes, after the split
    for node in nodes:
        where, fld = split_source_name(node.dataset, allow_path=False) if node.dataset else ("digits", None)
        wheres.append(where)
        names = [n for n in (fld or node.name,) if n]
        args = ", ".join(repr(n) for n in names)
        arr = f"pick(read(source or {where!r}), {args})"
        if node.partial:
            mask = ident(observed_key(node.name))
            lines.append(f"    {node.name}, {mask} = observed_rows(read(source or {where!r}), {args})")
            arr = node.name
            if node.observed is not None:
                kept.append(
                    f"    # partial({node.observed!r}): {node.name} is kept on {node.observed:.0%} of the observed "
                    "training rows of each class\n"
                    f"    arrays[{observed_key(node.name)!r}] = keep_fraction({mask}, {node.name}, split['train'], "
                    f"{node.observed!r}, seed)\n"
                )
            else:
                kept.append(f"    arrays[{observed_key(node.name)!r}] = {mask}\n")
        if node.value == "categorical":
            lines.append(f"    {node.name} = {arr}.reshape(-1).astype(np.int64)")
        else:
            shape = ", ".join(str(d) for d in (node.shape or (1,)))
            lines.append(f"    {node.name} = {arr}.reshape(-1, {shape}).astype(np.float32)")
        if node.given:
            dom = ", ".join(repr(n) for n in (node.given, "domain", "y"))
            lines.append(f"    {node.given} = pick(read(source or {where!r}), {dom}).astype(np.int64)")
    names = [n.name for n in nodes] + [n.given for n in nodes if n.given]
    used = sorted(set(wheres), key=wheres.index)
    parts: list[str] = []
    for w in used:
        for text in _BUILTIN.get(w, ()):
            if text not in parts:
                parts.append(text)
    table = ", ".join(f"{w!r}: {w}" for w in used if w in _BUILTIN)
    read = f'''
def read(source):
    """A built-in set by name ({", ".join(used)}), else an .npz or .csv file."""
    builtin = {{{table}}}
    return builtin[source]() if source in builtin else read_file(source)
'''
    first = names[0]
    body = "\n".join(lines)
    load = f'''
def load_data(source=None, seed=0, test_fraction=0.1):
    """The data nodes' arrays ({", ".join(names)}) split into training and test rows."""
{body}
    arrays = {{{", ".join(f"{n!r}: {n}" for n in names)}}}
    order = np.random.default_rng(seed).permutation(len({first}))
    n_test = round(len({first}) * test_fraction)
    split = {{"test": order[:n_test], "train": order[n_test:]}}
{"".join(kept)}    return {{
        part: {{name: torch.as_tensor(a[rows]) for name, a in arrays.items()}}
        for part, rows in split.items()
    }}
'''
    return "".join(parts) + _FILES + (_PARTIAL if kept else "") + read + load + _STREAM, used[0]
