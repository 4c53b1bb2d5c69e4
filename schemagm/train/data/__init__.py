"""Data for training and evaluation.

The API other stages use (evaluation, ``schemagm sample``)::

    from schemagm.train.data import get_dataset
    data = get_dataset("ring8", graph, seed=0, test_fraction=0.1)   # or None: the spec's `from` clauses
    data.train, data.test          # whole splits: {data-node name: tensor}, plus {"y": long} for `given y`
    data.iter_batches(256, "test") # one pass in batches (shuffle=False by default)
    data.take(64, "test")          # the first 64 test rows
    data.modes, data.std           # mixture centres [K, d] and their std (ring8, grid25), else None
    data.primary                   # the first data node's name

Sources (``from NAME`` in a spec, or ``--data NAME_OR_PATH``): the built-in sets
of :mod:`.sources` (digits, ring8, grid25, moons, swissroll, domains) and user
files read by :mod:`.files` (.npy, .npz, .csv, a folder of images, IDX).
:mod:`.dataset` binds them to the data nodes (shape and range checks, split);
:mod:`.stream` is the trainer's resumable, shard-aware batch stream.
"""

from .dataset import DataSource, get_dataset, split_source_name
from .files import load_file, read_idx
from .sources import BUILTIN, RawData, builtin_names, load_builtin
from .stream import BatchStream

__all__ = [
    "DataSource",
    "get_dataset",
    "split_source_name",
    "load_file",
    "read_idx",
    "BUILTIN",
    "RawData",
    "builtin_names",
    "load_builtin",
    "BatchStream",
]
