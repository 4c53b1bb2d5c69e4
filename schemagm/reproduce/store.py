"""Result files: one JSON file per cell, named by table, variant and seed; the cache key.

A cell's key is the SHA-256 of everything that decides its numbers: the spec text as trained
(after the variant's substitutions), the budget, the seed, the data, schemagm's version and the
reproduction's own :data:`PROTOCOL` (raised whenever the way a cell is trained or evaluated
changes).  A re-run trains only the cells whose file is missing, unreadable or holds another key.
Files are written atomically (:mod:`schemagm.fileio`), so an interrupted run leaves whole files.

No torch here: the page is rendered from these files alone.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ..errors import SpecError
from ..fileio import write_atomic

__all__ = [
    "PROTOCOL",
    "FORMAT",
    "cell_key",
    "cell_path",
    "read_cell",
    "write_cell",
    "load_results",
    "spec_hash",
]

#: raise when training or evaluation of a cell changes: every cached cell is then retrained
PROTOCOL = 1
#: the layout of a result file
FORMAT = 1


def spec_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cell_key(spec_text: str, budget: dict[str, Any], seed: int, data: str, version: str) -> str:
    payload = {
        "spec_sha256": spec_hash(spec_text),
        "budget": budget,
        "seed": seed,
        "data": data,
        "schemagm": version,
        "protocol": PROTOCOL,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def cell_path(results: Path, table: str, variant: str, seed: int, profile: str, data: str) -> Path:
    """``results/<table>/<variant>[-<data>][-quick]-seed<seed>.json``."""
    tags = "".join(f"-{t}" for t in (data if data != "digits" else "", "quick" if profile == "quick" else "") if t)
    return results / table / f"{variant}{tags}-seed{seed}.json"


def read_cell(path: Path) -> dict[str, Any] | None:
    """The result of a cell, or None when the file is missing or not a result file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != FORMAT or "key" not in data:
        return None
    return data


def write_cell(path: Path, result: dict[str, Any]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SpecError(f"cannot create the results folder '{path.parent}': {exc.strerror or exc}") from None
    text = json.dumps(result, indent=1, sort_keys=True, allow_nan=False) + "\n"
    write_atomic(path, text)


def load_results(results: Path) -> list[dict[str, Any]]:
    """Every readable result file under ``results`` (sorted by path), with its path relative to it."""
    out = []
    for path in sorted(results.glob("*/*.json")):
        cell = read_cell(path)
        if cell is not None:
            cell["file"] = path.relative_to(results).as_posix()
            out.append(cell)
    return out
