"""Read a W&B offline run file (``run-<id>.wandb``) back: its history rows and its config.

The file is W&B's record log: a 7-byte header (``:W&B``, magic 0xBEE1, version)
then LevelDB-style blocks of 32 KiB, each record a 7-byte header (CRC-32C,
little-endian length, type: 1 full, 2 first, 3 middle, 4 last) and a piece of a
serialised ``wandb.proto.wandb_internal_pb2.Record``.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

BLOCK = 32768
HEADER = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def raw_records(path: Path) -> list[bytes]:
    data = path.read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a W&B run file"
    out: list[bytes] = []
    pending = b""
    i = HEADER
    while i + HEADER <= len(data):
        left = BLOCK - i % BLOCK
        if left < HEADER:  # the block's tail is padding
            i += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[i : i + HEADER])
        if kind == 0 and length == 0:
            i += left  # zero padding to the end of the block
            continue
        piece = data[i + HEADER : i + HEADER + length]
        i += HEADER + length
        if kind == FULL:
            out.append(piece)
        elif kind == FIRST:
            pending = piece
        elif kind == MIDDLE:
            pending += piece
        elif kind == LAST:
            out.append(pending + piece)
            pending = b""
    return out


def wait_for_exit(path: Path, timeout: float = 60.0) -> None:
    """Wait until W&B's service has written the run's exit record (it writes the file after ``finish()`` returns)."""
    import time

    from wandb.proto import wandb_internal_pb2 as pb

    deadline = time.monotonic() + timeout
    while True:
        kinds: set[str | None] = set()
        try:
            for raw in raw_records(path):
                record = pb.Record()
                record.ParseFromString(raw)
                kinds.add(record.WhichOneof("record_type"))
        except Exception:  # noqa: BLE001 - a file still being written: a short header, a record cut off
            kinds.add("(incomplete)")
        if "exit" in kinds:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{path}: W&B wrote no exit record within {timeout:g} s (records: {kinds})")
        time.sleep(0.2)


def read_run(path: Path) -> dict[str, Any]:
    """``{"history": [{key: value, "_step": n}, ...], "config": {key: value}, "summary": {key: value}}``."""
    from wandb.proto import wandb_internal_pb2 as pb

    history: list[dict[str, Any]] = []
    config: dict[str, Any] = {}
    summary: dict[str, Any] = {}
    for raw in raw_records(path):
        record = pb.Record()
        record.ParseFromString(raw)
        kind = record.WhichOneof("record_type")
        if kind == "history":
            row: dict[str, Any] = {}
            for item in record.history.item:
                _put(row, item)
            history.append(row)
        elif kind == "config":
            for item in record.config.update:
                _put(config, item)
        elif kind == "summary":
            for item in record.summary.update:
                _put(summary, item)
    return {"history": history, "config": config, "summary": summary}


def _put(into: dict[str, Any], item: Any) -> None:
    """One item: a plain key, or a nested key (an image's ``samples.width``) into nested dicts."""
    path = [item.key] if item.key else list(item.nested_key)
    for part in path[:-1]:
        into = into.setdefault(part, {})
    into[path[-1]] = json.loads(item.value_json)
