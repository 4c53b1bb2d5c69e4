"""Reading data files without trusting them: sizes checked against the header before anything is allocated.

* ``.npy``: the header (magic, dtype, shape) is read first; a shape of more than
  :data:`~schemagm.limits.MAX_DATA_ELEMENTS` elements, or more bytes than the file holds, is refused
  before NumPy allocates the array.
* ``.npz``: every member must be a ``.npy`` array (an archive with another file in it is refused), each
  checked like a ``.npy`` against its size in the archive; the total is bounded.
* gzip and plain IDX: the header is read, the size it promises checked, and then exactly that many bytes
  are read (a gzip that inflates to 10 GB is never inflated past what the header promised).
"""

from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path
from typing import IO

import numpy as np

from ...errors import SpecError, printable
from ...limits import MAX_DATA_BYTES, MAX_DATA_ELEMENTS

__all__ = ["load_npy", "load_npz", "read_idx_bounded"]


def _header(f: IO[bytes], p: Path, member: str | None = None) -> tuple[tuple[int, ...], np.dtype, bool]:
    where = f"array '{member}' of data file '{p}'" if member else f"data file '{p}'"
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f, max_header_size=10000)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f, max_header_size=10000)
        else:
            raise ValueError(f"unknown .npy format version {version}")
    except Exception as exc:  # noqa: BLE001 -- NumPy's header parser raises ValueError, SyntaxError, TokenError...
        raise SpecError(
            f"{where} is not a readable .npy array: {printable(str(exc))[:200] or type(exc).__name__}"
        ) from None
    if dtype.hasobject:
        raise SpecError(f"{where} holds Python objects, not numbers (pickled data is never loaded)")
    if any(not isinstance(d, int) or d < 0 for d in shape):
        raise SpecError(f"{where} has a malformed shape {shape}")
    count = 1
    for d in shape:
        count *= d
    if count > MAX_DATA_ELEMENTS:
        raise SpecError(
            f"{where} claims shape {list(shape)} ({count:,} values); the limit is {MAX_DATA_ELEMENTS:,} values"
        )
    return tuple(shape), dtype, fortran


def _check_size(shape: tuple[int, ...], dtype: np.dtype, available: int, where: str) -> None:
    need = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize if shape else dtype.itemsize
    if need > available:
        raise SpecError(
            f"{where} is truncated: its header promises shape {list(shape)} ({need:,} bytes), "
            f"the file holds {available:,}"
        )


def load_npy(p: Path) -> np.ndarray:
    """A ``.npy`` file, its header checked against the file's size first."""
    with open(p, "rb") as f:
        shape, dtype, _ = _header(f, p)
        available = p.stat().st_size - f.tell()
    _check_size(shape, dtype, available, f"data file '{p}'")
    try:
        return np.load(p, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 -- the header was checked; anything else is a damaged file
        raise SpecError(f"data file '{p}' is not a readable .npy array: {str(exc)[:200]}") from None


def load_npz(p: Path) -> dict[str, np.ndarray]:
    """The arrays of a ``.npz`` archive; every member must be an array, each checked before it is read."""
    try:
        archive = zipfile.ZipFile(p)
    except zipfile.BadZipFile as exc:
        raise SpecError(f"data file '{p}' could not be read: {exc}") from None
    arrays: dict[str, np.ndarray] = {}
    total = 0
    with archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            if not info.filename.endswith(".npy"):
                raise SpecError(
                    f"data file '{p}' holds '{info.filename}', which is not an array (.npy); an .npz holds arrays only"
                )
            name = info.filename[: -len(".npy")]
            total += info.file_size
            if total > MAX_DATA_BYTES:
                raise SpecError(f"data file '{p}' unpacks to more than {MAX_DATA_BYTES:,} bytes")
            try:
                with archive.open(info) as member:
                    shape, dtype, _ = _header(member, p, name)
                    header_end = member.tell()
                    _check_size(shape, dtype, info.file_size - header_end, f"array '{name}' of data file '{p}'")
                with archive.open(info) as member:
                    data = member.read(info.file_size + 1)
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                raise SpecError(f"data file '{p}' could not be read: {str(exc)[:200]}") from None
            if len(data) != info.file_size:
                raise SpecError(f"array '{name}' of data file '{p}' is not the size its archive entry says")
            try:
                arrays[name] = np.load(io.BytesIO(data), allow_pickle=False)
            except Exception as exc:  # noqa: BLE001 -- the header was checked; anything else is a damaged file
                raise SpecError(f"array '{name}' of data file '{p}' is not readable: {str(exc)[:200]}") from None
    return arrays


_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx_bounded(p: Path) -> np.ndarray:
    """An IDX file (optionally gzip): the header first, then exactly the bytes it promises."""
    opener = gzip.open if p.name.lower().endswith(".gz") else open
    try:
        with opener(p, "rb") as f:
            head = f.read(4)
            if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] not in _IDX_TYPES:
                raise SpecError(f"data file '{p}' is not an IDX file (bad magic number)")
            ndim = head[3]
            dims_raw = f.read(4 * ndim)
            if ndim == 0 or len(dims_raw) < 4 * ndim:
                raise SpecError(f"data file '{p}' is not an IDX file (bad header)")
            dims = tuple(int(d) for d in np.frombuffer(dims_raw, dtype=">u4"))
            dtype = np.dtype(_IDX_TYPES[head[2]])
            count = 1
            for d in dims:
                count *= d
            if count > MAX_DATA_ELEMENTS:
                raise SpecError(
                    f"data file '{p}' claims shape {list(dims)} ({count:,} values); "
                    f"the limit is {MAX_DATA_ELEMENTS:,} values"
                )
            need = count * dtype.itemsize
            data = f.read(need)
    except (OSError, EOFError, zlib_error()) as exc:
        raise SpecError(f"data file '{p}' could not be read: {str(exc)[:200]}") from None
    if len(data) < need:
        raise SpecError(
            f"data file '{p}' is truncated: its header promises {dims} values ({4 + 4 * ndim + need} bytes), "
            f"the file has {4 + 4 * ndim + len(data)} bytes"
        )
    return np.frombuffer(data, dtype=dtype, count=count).reshape(dims)


def zlib_error() -> type[Exception]:
    import zlib

    return zlib.error
