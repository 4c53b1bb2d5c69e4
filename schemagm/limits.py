"""The sizes schemagm accepts, checked against the spec (and data files) before anything is allocated.

Each limit is far above any model of the paper's catalog, and low enough that what it admits fits
in memory on one machine and finishes in bounded time: a spec cannot ask for a 10^5000-element
node, a network of 10^7 units per layer or 10^23 walkback rounds.
"""

from __future__ import annotations

__all__ = [
    "MAX_SPEC_BYTES",
    "MAX_INT_DIGITS",
    "MAX_NODE_SIZE",
    "MAX_WIDTH",
    "MAX_PARAMETERS",
    "MAX_REPEATS",
    "MAX_DATA_BYTES",
    "MAX_DATA_ELEMENTS",
    "MAX_IMAGE_PIXELS",
    "MAX_CSV_FIELD",
    "MAX_CONFIG_BYTES",
    "MAX_CHECKPOINT_BYTES",
    "MAX_SEED",
]

#: a spec file (1M-character specs are checked in the benchmark; 64 MiB is far beyond)
MAX_SPEC_BYTES = 64 * 2**20
#: digits of a whole number in a spec (2**63 has 19)
MAX_INT_DIGITS = 18
#: elements of one node (C * H * W): a 3 x 2048 x 2048 image fits
MAX_NODE_SIZE = 2**24
#: units of one layer, channels of a convolution, or any other whole-number network argument
MAX_WIDTH = 2**16
#: parameters of one compiled model (4 GiB of float32)
MAX_PARAMETERS = 2**30
#: walkback rounds, importance samples, discriminator steps per update
MAX_REPEATS = 10_000
#: bytes of one data file, after decompression
MAX_DATA_BYTES = 2**33
#: elements of one data array, as its header claims (checked before it is read)
MAX_DATA_ELEMENTS = 2**28
#: pixels of one image file (a decompression bomb is refused before it is decoded)
MAX_IMAGE_PIXELS = 2**26
#: characters of one CSV field
MAX_CSV_FIELD = 2**20
#: bytes of a TOML config file
MAX_CONFIG_BYTES = 2**20
#: the largest seed (NumPy's generators take 32-bit seeds); seeds are whole numbers from 0
MAX_SEED = 2**32 - 1
#: bytes of a checkpoint file
MAX_CHECKPOINT_BYTES = 2**36
