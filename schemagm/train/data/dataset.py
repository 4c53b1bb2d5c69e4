"""Bind a data source to a spec's data nodes: shapes, value ranges, the train/test split.

:func:`get_dataset` is the one entry point.  Every data node of the graph gets
an array from its source (``from digits`` in the spec, or the ``--data``
override), checked against the node's declared shape and range; rows are split
into train and test with a fixed seed.  The result, a :class:`DataSource`,
holds batches in the form the compiler reads (docs/design.md, section 6): a
``dict[str, Tensor]`` keyed by data-node name, float ``[n, *shape]`` (a
categorical node: long ``[n]`` class indices), plus ``batch[y]`` (long ``[n]``,
1 source / 0 target) for a node declared ``given y``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np
import torch

from ...errors import Diagnostic, SpecError
from ...graph.model import Node, Role, SchematicGraph, observed_key
from ...suggest import did_you_mean
from .files import is_data_path, load_file
from .sources import BUILTIN, RawData, load_builtin

__all__ = ["DataSource", "get_dataset", "split_source_name"]

Batch = dict[str, torch.Tensor]


@dataclass
class DataSource:
    """A spec's data, bound and split.

    ``train`` and ``test`` are whole splits as batches; ``modes`` (``[K, d]``)
    and ``std`` describe a mixture of Gaussians (ring8, grid25) so that
    evaluation can count the modes a model covers; they are None otherwise.
    """

    name: str
    train: Batch
    test: Batch
    primary: str
    modes: torch.Tensor | None = None
    std: float | None = None
    sources: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return _rows(self.train)

    def split(self, name: str) -> Batch:
        if name not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', not {name!r}")
        return self.train if name == "train" else self.test

    def take(self, n: int, split: str = "test") -> Batch:
        """The first ``n`` rows of a split (fewer where the split is smaller)."""
        return {k: v[:n] for k, v in self.split(split).items()}

    def iter_batches(
        self,
        batch_size: int,
        split: str = "train",
        *,
        shuffle: bool = False,
        seed: int = 0,
        drop_last: bool = False,
    ) -> Iterator[Batch]:
        """One pass over a split in batches (shuffled with ``seed`` when asked)."""
        data = self.split(split)
        n = _rows(data)
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)) if shuffle else torch.arange(n)
        stop = n - n % batch_size if drop_last else n
        for start in range(0, stop, batch_size):
            idx = order[start : start + batch_size]
            yield {k: v[idx] for k, v in data.items()}


def _rows(batch: Mapping[str, torch.Tensor]) -> int:
    return int(next(iter(batch.values())).shape[0]) if batch else 0


def split_source_name(text: str, allow_path: bool = True) -> tuple[str, str | None]:
    """``digits.label`` -> (``digits``, ``label``); a path (where allowed) or a plain name has no field.

    A built-in name always means the built-in set (a folder called ``digits`` in
    the working directory does not shadow it; write ``./digits`` for the folder).
    """
    head, dot, tail = text.partition(".")
    if head in BUILTIN:
        return (head, tail) if dot else (text, None)
    if allow_path and is_data_path(text):
        return text, None
    return (head, tail) if dot else (text, None)


def get_dataset(
    source: str | Mapping[str, str] | None,
    graph: SchematicGraph,
    seed: int = 0,
    test_fraction: float = 0.1,
) -> DataSource:
    """The data of ``graph``'s data nodes, checked and split.

    ``source`` overrides the spec's ``from`` clauses: a built-in name
    (``ring8``) or a path for every data node (a node's field, as in
    ``from digits.label``, is kept), or a mapping ``{node: source}``.
    ``seed`` fixes the train/test split; ``test_fraction`` of the rows are test rows.
    """
    if not 0.0 <= test_fraction < 1.0:
        raise SpecError(f"test fraction must be in [0, 1), got {test_fraction}")
    nodes = graph.nodes_by_role(Role.data)
    if not nodes:
        raise SpecError(f"model '{graph.name}' has no data node, so it has nothing to train on", file=graph.file)
    if isinstance(source, Mapping):
        unknown = sorted(set(source) - {n.name for n in nodes})
        if unknown:
            raise SpecError(
                f"data sources given for {', '.join(unknown)}, which "
                f"{'is not a data node' if len(unknown) == 1 else 'are not data nodes'} of '{graph.name}'",
                hint=f"its data nodes: {', '.join(n.name for n in nodes)}",
            )
    per_node: dict[str, tuple[str, str | None]] = {}
    for node in nodes:
        per_node[node.name] = _source_of(node, source, graph)
    cache: dict[str, RawData] = {}
    arrays: dict[str, np.ndarray] = {}
    for node in nodes:
        where, fld = per_node[node.name]
        raw = cache.get(where)
        if raw is None:
            raw = cache[where] = _load(where, node)
        if node.partial:
            mask, filled = _observed(node, raw, fld, graph)
            arrays[node.name] = _bind(node, filled, fld, graph)
            arrays[observed_key(node.name)] = mask
        else:
            arrays[node.name] = _bind(node, raw, fld, graph)
        if node.given:
            arrays[node.given] = _domain(node, raw, graph)
    lengths = {k: len(a) for k, a in arrays.items()}
    if len(set(lengths.values())) != 1:
        shown = ", ".join(f"{k}: {n} rows" for k, n in lengths.items())
        raise SpecError(f"the data nodes' sources have different numbers of rows ({shown})", file=graph.file)
    n = next(iter(lengths.values()))
    n_test = int(round(n * test_fraction))
    if n - n_test < 1:
        raise SpecError(f"the data have {n} rows, too few for a training split")
    order = np.random.default_rng(seed).permutation(n)
    test_idx, train_idx = order[:n_test], order[n_test:]
    for node in nodes:
        if node.partial and node.observed is not None:
            key = observed_key(node.name)
            arrays[key] = _keep_fraction(arrays[key], arrays[node.name], train_idx, node.observed, seed)
    train = {k: _tensor(a[train_idx]) for k, a in arrays.items()}
    test = {k: _tensor(a[test_idx]) for k, a in arrays.items()}
    first = cache[per_node[nodes[0].name][0]]
    return DataSource(
        name=per_node[nodes[0].name][0],
        train=train,
        test=test,
        primary=nodes[0].name,
        modes=None if first.modes is None else torch.as_tensor(first.modes),
        std=first.std,
        sources={k: v[0] + (f".{v[1]}" if v[1] else "") for k, v in per_node.items()},
    )


def _tensor(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a).copy())


def _error(message: str, node: Node, graph: SchematicGraph, hint: str | None = None) -> SpecError:
    return SpecError([Diagnostic(message, node.span, hint)], source=graph.source, file=graph.file)


def _source_of(node: Node, source: str | Mapping[str, str] | None, graph: SchematicGraph) -> tuple[str, str | None]:
    declared = split_source_name(node.dataset, allow_path=False) if node.dataset else (None, None)
    if isinstance(source, Mapping):
        if node.name in source:
            return split_source_name(source[node.name])
        source = None
    if source is not None:
        where, fld = split_source_name(source)
        return where, fld if fld is not None else declared[1]
    if declared[0] is None:
        raise _error(
            f"data node '{node.name}' names no data set",
            node,
            graph,
            hint=f"add `from digits` (or another built-in: {', '.join(BUILTIN)}) to its declaration, or pass "
            "--data FILE",
        )
    return declared  # type: ignore[return-value]


def _load(where: str, node: Node) -> RawData:
    if where in BUILTIN or not is_data_path(where):
        if where not in BUILTIN:
            raise SpecError(
                f"unknown data set '{where}' (for data node '{node.name}')",
                span=node.span,
                hint=did_you_mean(where, BUILTIN)
                + f"built-in sets: {', '.join(BUILTIN)}; or give a path to a .npy, .npz, .csv, IDX file or "
                "image folder",
            )
        return load_builtin(where)
    channels = node.shape[0] if len(node.shape) == 3 else None
    return load_file(where, channels=channels)


def _pick(node: Node, raw: RawData, fld: str | None, graph: SchematicGraph) -> np.ndarray:
    keys = [fld] if fld else [node.name]
    for k in keys:
        if k in raw.fields:
            return raw.fields[k]
    if fld is None and raw.main is not None:
        return raw.main
    available = sorted(raw.fields) + ([] if raw.main is None else ["(the main array)"])
    wanted = f"field '{fld}'" if fld else f"array named '{node.name}'"
    raise _error(
        f"data source '{raw.name}' has no {wanted} for data node '{node.name}'; it has: "
        f"{', '.join(available) or 'nothing'}",
        node,
        graph,
    )


def _fmt(shape: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def _bind(node: Node, raw: RawData, fld: str | None, graph: SchematicGraph) -> np.ndarray:
    arr = _pick(node, raw, fld, graph)
    line = f" (spec line {node.span.line})" if node.span else ""
    what = f"data source '{raw.name}'" + (f", field '{fld}'" if fld else "")
    if arr.ndim == 0 or len(arr) == 0:
        raise _error(f"{what} holds no samples for data node '{node.name}'", node, graph)
    if node.value == "categorical":
        k = node.shape[0] if node.shape else None
        flat = arr.reshape(len(arr), -1)
        if flat.shape[1] != 1 or not np.all(np.isfinite(flat)) or not np.all(flat == np.round(flat)):
            raise _error(
                f"{what}: data node '{node.name}'{line} is categorical and needs one class index per row; "
                f"found samples of shape {_fmt(arr.shape[1:])} ({arr.dtype})",
                node,
                graph,
            )
        labels = flat[:, 0].astype(np.int64)
        if k is not None and (labels.min() < 0 or labels.max() >= k):
            raise _error(
                f"{what}: class indices range over [{labels.min()}, {labels.max()}], data node '{node.name}'{line} "
                f"is categorical[{k}] (indices 0 to {k - 1})",
                node,
                graph,
            )
        return labels
    expected = tuple(node.shape)
    found = tuple(arr.shape[1:])
    if found != expected:
        same_count = int(np.prod(found)) == int(np.prod(expected))
        squeezable = tuple(d for d in found if d != 1) == tuple(d for d in expected if d != 1)
        if not (same_count and (len(found) <= 1 or len(expected) <= 1 or squeezable)):
            raise _error(
                f"{what}: data node '{node.name}'{line} expects samples of shape {_fmt(expected)}, "
                f"found {_fmt(found)} (the whole array is {_fmt(arr.shape)})",
                node,
                graph,
                hint="the data are never resized: reshape or crop them to the spec's shape, or change the spec",
            )
        arr = arr.reshape((len(arr),) + expected)
    if not np.issubdtype(arr.dtype, np.floating) and not np.issubdtype(arr.dtype, np.integer) and arr.dtype != np.bool_:
        raise _error(f"{what} holds {arr.dtype} values, not numbers", node, graph)
    values = arr.astype(np.float32)
    if not np.all(np.isfinite(values)):
        raise _error(f"{what} holds NaN or infinite values (data node '{node.name}')", node, graph)
    lo, hi = node.range if node.range else ((0.0, 1.0) if node.value == "bernoulli" else (None, None))
    if lo is not None and hi is not None:
        vmin, vmax = float(values.min()), float(values.max())
        tol = 1e-6 * max(1.0, abs(lo), abs(hi))
        if vmin < lo - tol or vmax > hi + tol:
            hint = "scale the data to the declared range (images: divide by 255)" if vmax > 1.5 and hi == 1 else None
            raise _error(
                f"{what}: values range over [{vmin:g}, {vmax:g}], data node '{node.name}'{line} is declared in "
                f"[{lo:g}, {hi:g}]",
                node,
                graph,
                hint=hint,
            )
    return values


def _observed(node: Node, raw: RawData, fld: str | None, graph: SchematicGraph) -> tuple[np.ndarray, RawData]:
    """The mask of a partially observed node (True where observed) and the source with its missing
    values filled with 0 (a valid class, never read: the mask hides it).  Missing: the rows where
    the array ``<field>_mask`` (or ``<node>_mask``) is 0, and NaN values (empty CSV cells)."""
    arr = _pick(node, raw, fld, graph)
    if arr.ndim == 0 or len(arr) == 0:
        raise _error(f"data source '{raw.name}' holds no samples for data node '{node.name}'", node, graph)
    flat = arr.reshape(len(arr), -1)
    mask = np.ones(len(arr), dtype=np.bool_)
    if np.issubdtype(flat.dtype, np.floating):
        mask &= ~np.isnan(flat).any(1)
    key = f"{fld or node.name}_mask"
    if key in raw.fields:
        m = raw.fields[key]
        if m.shape != (len(arr),) or not np.all(np.isin(m, (0, 1))):
            raise _error(
                f"data source '{raw.name}': array '{key}' must hold 1 (observed) or 0 (missing) per row, "
                f"{len(arr)} rows; found shape {_fmt(m.shape)}",
                node,
                graph,
            )
        mask &= m.astype(np.bool_)
    if not mask.any():
        raise _error(
            f"data source '{raw.name}': data node '{node.name}' is partially observed but observed on no row",
            node,
            graph,
            hint=f"mark the observed rows with 1 in '{key}' (an .npz array) "
            "or leave only the missing cells empty (CSV)",
        )
    filled = np.where(mask.reshape(-1, *([1] * (arr.ndim - 1))), arr, 0)
    fields = dict(raw.fields)
    fields[fld or node.name] = filled.astype(arr.dtype if not np.issubdtype(arr.dtype, np.floating) else np.float64)
    return mask, dataclasses.replace(raw, fields=fields)


def _keep_fraction(
    mask: np.ndarray, values: np.ndarray, train_idx: np.ndarray, fraction: float, seed: int
) -> np.ndarray:
    """``partial(f)``: keep the value on a fraction ``f`` of the observed training rows, the same
    fraction of each class (stratified), chosen by ``seed``; test rows stay as they are."""
    out = mask.copy()
    rng = np.random.default_rng([seed, 7])
    seen = train_idx[mask[train_idx]]
    keys = values[seen].reshape(len(seen), -1)
    _, cls = np.unique(keys, axis=0, return_inverse=True)
    for k in np.unique(cls):
        rows = seen[cls.reshape(-1) == k]
        keep = max(1, int(round(fraction * len(rows))))
        drop = rng.permutation(rows)[keep:]
        out[drop] = False
    return out


def _domain(node: Node, raw: RawData, graph: SchematicGraph) -> np.ndarray:
    for key in (node.given, "domain", "y"):
        if key in raw.fields:
            d = raw.fields[key]
            if d.ndim != 1 or not np.all(np.isin(d, (0, 1))):
                raise _error(
                    f"data source '{raw.name}': field '{key}' must hold 1 (source) or 0 (target) per row", node, graph
                )
            return d.astype(np.int64)
    raise _error(
        f"data node '{node.name}' is given '{node.given}', but data source '{raw.name}' has no domain field "
        f"('{node.given}' or 'domain': 1 source, 0 target)",
        node,
        graph,
        hint="use the built-in 'domains' set, or an .npz with an array named 'domain'",
    )
