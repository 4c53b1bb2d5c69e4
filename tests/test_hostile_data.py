"""Hostile data files and command-line values: refused before any allocation, with the file and the problem
named, exit 1 (2 for a malformed option), no traceback.  See docs/security.md."""

from __future__ import annotations

import gzip
import io
import os
import struct
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from hostile_support import VALID, cli, refused, write

from schemagm.errors import SpecError
from schemagm.train.data.files import load_file

SPECS = Path(__file__).resolve().parent.parent / "specs"


def _npy_header(shape: tuple[int, ...], dtype: str = "<f4") -> bytes:
    header = repr({"descr": dtype, "fortran_order": False, "shape": shape}).encode()
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header


def _png_header(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")
    )


def _refused(path: Path, *fragments: str) -> None:
    start = time.perf_counter()
    with pytest.raises(SpecError) as info:
        load_file(path)
    assert time.perf_counter() - start < 10
    text = str(info.value)
    assert str(path) in text, text
    for f in fragments:
        assert f in text, text


def test_npy_header_claiming_a_huge_shape_is_refused_before_allocating(tmp_path):
    _refused(
        write(tmp_path / "huge.npy", _npy_header((10**6, 10**6)) + b"\x00" * 64),
        "claims shape [1000000, 1000000]",
        "the limit is",
    )
    # a plausible shape the file cannot hold
    _refused(write(tmp_path / "short.npy", _npy_header((1000, 1000)) + b"\x00" * 64), "is truncated", "4,000,000 bytes")
    _refused(write(tmp_path / "objects.npy", _npy_header((3,), "|O") + b"\x00" * 64), "Python objects")


def test_npz_with_a_non_array_member_or_a_huge_member(tmp_path):
    p = tmp_path / "mixed.npz"
    with zipfile.ZipFile(p, "w") as z:
        buf = io.BytesIO()
        np.save(buf, np.zeros((4, 2), np.float32))
        z.writestr("x.npy", buf.getvalue())
        z.writestr("notes.txt", "hello")
    _refused(p, "holds 'notes.txt', which is not an array")
    q = tmp_path / "huge.npz"
    with zipfile.ZipFile(q, "w") as z:
        z.writestr("x.npy", _npy_header((10**6, 10**6)) + b"\x00" * 64)
    _refused(q, "array 'x'", "claims shape [1000000, 1000000]")


def test_csv_field_over_the_csv_module_limit_and_a_bom(tmp_path):
    _refused(
        write(tmp_path / "wide.csv", "1,2\n3," + "4" * 200_000 + "\n"), "wide.csv:2:", "field larger than field limit"
    )
    bom = write(tmp_path / "bom.csv", "\ufeff1,2,3,4\n5,6,7,8\n".encode())
    raw = load_file(bom)
    assert raw.main.shape == (2, 4) and raw.main[0].tolist() == [1, 2, 3, 4]  # the first row is data, not a header


def test_a_decompression_bomb_png_is_refused_from_its_header(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    write(folder / "bomb.png", _png_header(14000, 14000))
    _refused(folder, "bomb.png' could not be read", "decompression bomb")
    (folder / "bomb.png").unlink()
    write(folder / "big.png", _png_header(9000, 9000))  # under PIL's own limit, over schemagm's
    _refused(folder, "big.png' is 9000x9000 pixels", "the limit is 67,108,864 pixels")


def test_a_gzip_idx_is_read_only_as_far_as_its_header_promises(tmp_path):
    # a header claiming 10 GB of values
    p = write(
        tmp_path / "huge-idx1-ubyte.gz",
        gzip.compress(b"\x00\x00\x08\x01" + struct.pack(">I", 10_000_000_000 % 2**32) + b"\x00" * 16),
    )
    _refused(p, "claims shape", "the limit is")
    # a small header followed by a stream that inflates to far more (only what the header promises is read)
    payload = b"\x00\x00\x08\x01" + struct.pack(">I", 100)
    stream = zlib.compressobj(9, zlib.DEFLATED, 31)
    body = stream.compress(payload + bytes(range(100)))
    for _ in range(64):
        body += stream.compress(b"\x00" * 2**20)  # 64 MB inflated
    q = write(tmp_path / "bomb-idx1-ubyte.gz", body + stream.flush())
    start = time.perf_counter()
    raw = load_file(q)
    assert time.perf_counter() - start < 5
    assert raw.main.shape == (100,) and raw.main[:3].tolist() == [0, 1, 2]


@pytest.mark.parametrize("what", ["fifo", "/dev/zero"])
def test_fifos_and_devices_are_refused_as_data(what, tmp_path):
    if what == "fifo":
        path = tmp_path / "pipe.npy"
        os.mkfifo(path)
        _refused(path, "is a FIFO, not a regular file")
    else:
        _refused(Path("/dev/zero"), "is a device, not a regular file")


def test_train_on_a_hostile_data_file_exits_1_without_traceback(tmp_path):
    bad = write(tmp_path / "huge.npy", _npy_header((10**6, 10**6)) + b"\x00" * 64)
    code, out, _ = cli(
        "train", SPECS / "ae.sgm", "--data", bad, "--out", tmp_path / "r", "--no-progress", "--steps", "1"
    )
    refused(code, out, f"data file '{bad}' claims shape")
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("seed", ["-1", str(2**63), "1e3"])
@pytest.mark.parametrize("cmd", ["train", "sample", "eval"])
def test_out_of_range_seeds_are_usage_errors(cmd, seed, tmp_path):
    args = ["train", SPECS / "ae.sgm", "--out", tmp_path / "r"] if cmd == "train" else [cmd, tmp_path]
    code, out, _ = cli(*args, "--seed", seed)
    refused(code, out, "--seed", status=2)
    assert not (tmp_path / "r").exists()


def test_a_config_file_that_is_not_utf8_or_not_a_file(tmp_path):
    cfg = write(tmp_path / "c.toml", b'spec = "caf\xe9.sgm"\n')
    code, out, _ = cli("train", "--config", cfg)
    refused(code, out, "c.toml:1:12:", "not UTF-8 text: byte 0xe9")
    fifo = tmp_path / "c2.toml"
    os.mkfifo(fifo)
    code, out, seconds = cli("train", "--config", fifo)
    refused(code, out, "c2.toml: no spec given", seconds=seconds, limit=10)  # a pipe nobody writes: empty, no wait
    code, out, _ = cli("train", "--config", tmp_path / "none.toml")
    refused(code, out, f"config file '{tmp_path / 'none.toml'}' does not exist")


def test_a_toml_seed_out_of_range_is_a_clear_error(tmp_path):
    cfg = write(tmp_path / "c.toml", f'spec = "{SPECS / "ae.sgm"}"\nseed = -1\n')
    code, out, _ = cli("train", "--config", cfg, "--out", tmp_path / "r")
    refused(code, out, "seed", "greater than or equal to 0")
    assert VALID  # the shared spec stays importable for the other modules
