"""User data files: ``.npy``, ``.npz``, ``.csv``, a folder of images, MNIST-style IDX.

Each loader returns a :class:`~schemagm.train.data.sources.RawData` (a ``main``
array plus named fields) or raises :class:`~schemagm.errors.SpecError` naming
the file and what is wrong with it -- never a NumPy or PIL traceback.

* ``.npy``: one array, allow_pickle off.
* ``.npz``: named arrays; a data node takes the array named like the node (or
  like its field, ``from digits.label`` -> ``label``); an archive with one array
  gives it to any node.
* ``.csv``: numbers separated by commas, an optional header line.  Header
  columns named like a field a node asks for (``label``, the indicator ``y`` or
  ``domain``) become that field; the remaining columns are the main array.  An
  empty cell of a field column is a missing value (a ``partial`` node's mask).
* a folder of images (PNG, JPEG, BMP, GIF): pixels scaled to [0, 1], converted to
  grayscale or RGB as the node's shape asks; sizes are never changed (a clear
  error instead).  Sub-folders are classes: field ``label`` is the index of the
  sub-folder in sorted order.
* IDX (``train-images-idx3-ubyte``, optionally ``.gz``): the header is read here
  with NumPy; unsigned-byte images are scaled to [0, 1], 1-D files are labels.
"""

from __future__ import annotations

import csv
import gzip
import zipfile
from pathlib import Path

import numpy as np

from ...errors import SpecError, printable
from ...fileio import require_file
from ...limits import MAX_DATA_BYTES, MAX_IMAGE_PIXELS
from .safe_read import load_npy, load_npz, read_idx_bounded
from .sources import RawData

__all__ = ["load_file", "is_data_path", "IMAGE_SUFFIXES", "read_idx"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def is_data_path(text: str) -> bool:
    """Whether a ``--data`` value names a file or folder rather than a built-in set."""
    p = Path(text)
    return p.exists() or "/" in text or "\\" in text or p.suffix.lower() in (".npy", ".npz", ".csv", ".gz", ".idx")


def load_file(path: str | Path, channels: int | None = None) -> RawData:
    """Read a user data file or folder; ``channels`` (1 or 3) chooses the colour mode of images."""
    p = Path(path)
    if not p.exists():
        raise SpecError(
            f"data file '{printable(str(p))}' does not exist",
            hint="give a built-in set (digits, ring8, grid25, moons, swissroll, domains) or an existing file",
        )
    if p.is_dir():
        return _load_image_folder(p, channels)
    require_file(p, "data file")  # a FIFO or a device is refused before it is opened
    if p.stat().st_size > MAX_DATA_BYTES:
        raise SpecError(f"data file '{p}' is {p.stat().st_size:,} bytes; the limit is {MAX_DATA_BYTES:,}")
    suffix = p.suffix.lower()
    try:
        if suffix == ".npy":
            return _load_npy(p)
        if suffix == ".npz":
            return _load_npz(p)
        if suffix in (".csv", ".txt", ".tsv"):
            return _load_csv(p)
        if _looks_like_idx(p):
            return _idx_raw(p)
    except SpecError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, csv.Error, MemoryError) as exc:
        raise SpecError(f"data file '{p}' could not be read: {str(exc)[:200] or type(exc).__name__}") from None
    raise SpecError(
        f"data file '{p}': unknown format '{suffix or p.name}'",
        hint="use .npy, .npz, .csv, a folder of images or an IDX file (MNIST format)",
    )


# -- NumPy --------------------------------------------------------------------------------


def _load_npy(p: Path) -> RawData:
    arr = load_npy(p)
    _check_numeric(arr, p)
    if arr.ndim == 0:
        raise SpecError(f"data file '{p}' holds a single number, not an array of samples")
    return RawData(str(p), arr)


def _load_npz(p: Path) -> RawData:
    arrays = load_npz(p)
    if not arrays:
        raise SpecError(f"data file '{p}' holds no arrays")
    for k, a in arrays.items():
        _check_numeric(a, p, k)
    lengths = {k: a.shape[0] if a.ndim else None for k, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{k}: {n}" for k, n in lengths.items())
        raise SpecError(f"data file '{p}': its arrays have different numbers of rows ({shown})")
    main = next(iter(arrays.values())) if len(arrays) == 1 else None
    return RawData(str(p), main, arrays)


def _check_numeric(arr: np.ndarray, p: Path, key: str | None = None) -> None:
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        where = f"array '{key}' of " if key else ""
        raise SpecError(f"{where}data file '{p}' holds {arr.dtype} values, not numbers")


# -- CSV ----------------------------------------------------------------------------------


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _load_csv(p: Path) -> RawData:
    delimiter = "\t" if p.suffix.lower() == ".tsv" else ","
    rows: list[list[str]] = []
    with open(p, newline="", encoding="utf-8-sig") as f:  # a byte-order mark is not part of the first row
        reader = csv.reader(f, delimiter=delimiter)
        try:
            for row in reader:
                rows.append(row)
        except csv.Error as exc:
            raise SpecError(
                f"{p}:{reader.line_num}: {exc}", hint="a CSV data file holds numbers separated by commas"
            ) from None
        except UnicodeDecodeError as exc:
            raise SpecError(
                f"{p}:{len(rows) + 1}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x})",
                hint="save the file as UTF-8",
            ) from None
    numbered = [(i + 1, [c.strip() for c in r]) for i, r in enumerate(rows) if any(c.strip() for c in r)]
    if not numbered:
        raise SpecError(f"data file '{p}' is empty")
    header: list[str] | None = None
    if not all(_is_number(c) for c in numbered[0][1]):
        header = numbered[0][1]
        numbered = numbered[1:]
    if not numbered:
        raise SpecError(f"data file '{p}' has a header line but no rows")
    width = len(numbered[0][1])
    values = np.empty((len(numbered), width), dtype=np.float64)
    for r, (line, cells) in enumerate(numbered):
        if len(cells) != width:
            raise SpecError(f"{p}:{line}: expected {width} values, found {len(cells)}")
        for c, cell in enumerate(cells):
            try:
                values[r, c] = float(cell) if cell else np.nan  # an empty cell: a missing value
            except ValueError:
                raise SpecError(
                    f"{p}:{line}: column {c + 1} is '{cell}', not a number",
                    hint="a CSV data file holds numbers only (one header line is allowed)",
                ) from None
    fields: dict[str, np.ndarray] = {}
    main_cols = list(range(width))
    if header is not None:
        if len(header) != width:
            raise SpecError(f"{p}:1: the header names {len(header)} columns, the rows have {width}")
        for c, name in enumerate(header):
            if name in ("label", "domain", "y"):
                col = values[:, c]
                fields[name] = col.astype(np.int64) if np.all(col == np.round(col)) else col
                main_cols.remove(c)
    if np.isnan(values[:, main_cols]).any():
        r, c = np.argwhere(np.isnan(values[:, main_cols]))[0]
        raise SpecError(
            f"{p}:{numbered[r][0]}: column {main_cols[c] + 1} is empty",
            hint="only a label column (header `label`) may have empty cells: "
            "the rows where a partially observed node is missing",
        )
    return RawData(str(p), values[:, main_cols].astype(np.float32), fields)


# -- images -------------------------------------------------------------------------------


def _load_image_folder(folder: Path, channels: int | None) -> RawData:
    from PIL import Image, UnidentifiedImageError

    classes = sorted(d.name for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))
    entries: list[tuple[Path, int]] = []
    if classes:
        for k, name in enumerate(classes):
            entries += [(f, k) for f in sorted((folder / name).iterdir()) if f.suffix.lower() in IMAGE_SUFFIXES]
    else:
        entries = [(f, 0) for f in sorted(folder.iterdir()) if f.suffix.lower() in IMAGE_SUFFIXES]
    if not entries:
        raise SpecError(f"data folder '{folder}' holds no images ({', '.join(IMAGE_SUFFIXES)})")
    mode = "RGB" if channels == 3 else "L"
    images = []
    size = None
    for f, _ in entries:
        try:
            require_file(f, "image")
            with Image.open(f) as im:
                w, h = im.size
                if w * h > MAX_IMAGE_PIXELS:  # checked on the header, before a pixel is decoded
                    raise SpecError(f"image '{f}' is {w}x{h} pixels; the limit is {MAX_IMAGE_PIXELS:,} pixels")
                arr = np.asarray(im.convert(mode), dtype=np.float32) / 255.0
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError, ValueError) as exc:
            raise SpecError(f"image '{f}' could not be read: {str(exc)[:200]}") from None
        if size is None:
            size = im.size
        elif im.size != size:
            raise SpecError(
                f"image '{f}' is {im.size[0]}x{im.size[1]} pixels, the first image of '{folder}' is "
                f"{size[0]}x{size[1]}",
                hint="images are never resized: give every image the size of the spec's data node",
            )
        images.append(arr if mode == "L" else arr.transpose(2, 0, 1))
    stacked = np.stack(images)
    if mode == "L":
        stacked = stacked[:, None]
    fields = {"label": np.array([k for _, k in entries], dtype=np.int64)} if classes else {}
    return RawData(str(folder), stacked, fields)


# -- IDX ----------------------------------------------------------------------------------


def _looks_like_idx(p: Path) -> bool:
    name = p.name.lower()
    if "idx" in name or p.suffix.lower() in (".idx", ".ubyte"):
        return True
    opener = gzip.open if name.endswith(".gz") else open
    try:
        with opener(p, "rb") as f:
            head = f.read(4)
    except OSError:
        return False
    return len(head) == 4 and head[0] == 0 and head[1] == 0 and head[2] in _IDX_TYPES and 1 <= head[3] <= 4


def read_idx(path: str | Path) -> np.ndarray:
    """An IDX file (the MNIST format) as an array: magic 0 0 TYPE NDIM, NDIM big-endian sizes, data."""
    p = Path(path)
    require_file(p, "data file")
    return read_idx_bounded(p)


def _idx_raw(p: Path) -> RawData:
    arr = read_idx(p)
    if arr.ndim == 1:
        return RawData(str(p), arr.astype(np.int64), {"label": arr.astype(np.int64)})
    if arr.dtype == np.uint8:
        arr = arr.astype(np.float32) / 255.0
    if arr.ndim == 3:
        arr = arr[:, None]
    return RawData(str(p), arr.astype(np.float32))
