"""Checkpoints: written atomically, read safely, checked before use.

A checkpoint is one ``torch.save`` file holding plain data and tensors only, so
that it loads with ``torch.load(weights_only=True)`` (no code runs on load)::

    format      "schemagm-checkpoint"        version   1
    model_name  the spec's model name        spec      the spec's text
    config      the TrainConfig as a dict    step, epoch
    stream      the batch stream's position  model     the CompiledModel's state_dict
    optimizers  {group: optimiser state}     rng       torch / cuda / numpy / python RNG states as tensors

:func:`save_checkpoint` writes to a temporary file beside the target and moves it
into place with ``os.replace``, so a crash never leaves half a checkpoint.
:func:`load_checkpoint` turns every way a file can be wrong -- truncated, random
bytes, a torch file that is not ours, a missing key -- into a :class:`SpecError`;
:func:`check_compatible` names the parameters where a checkpoint and a model
(compiled from a different spec) disagree.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from ..errors import SpecError
from ..fileio import write_atomic_with

__all__ = [
    "FORMAT",
    "VERSION",
    "save_checkpoint",
    "load_checkpoint",
    "check_compatible",
    "rng_state",
    "set_rng_state",
    "atomic_write_bytes",
]

FORMAT = "schemagm-checkpoint"
VERSION = 1

#: required keys and their types
_SCHEMA: dict[str, type | tuple[type, ...]] = {
    "format": str,
    "version": int,
    "model_name": str,
    "spec": str,
    "config": dict,
    "step": int,
    "epoch": int,
    "stream": dict,
    "model": dict,
    "optimizers": dict,
    "rng": dict,
}


def _atomic(path: Path, write) -> None:  # type: ignore[no-untyped-def]
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic_with(path, write)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and ``os.replace``."""
    _atomic(Path(path), lambda f: f.write(data))


def save_checkpoint(path: str | Path, payload: Mapping[str, Any]) -> None:
    """Write a checkpoint atomically; ``payload`` holds every key of the format but ``format``/``version``."""
    data = {"format": FORMAT, "version": VERSION, **payload}
    missing = [k for k in _SCHEMA if k not in data]
    if missing:
        raise ValueError(f"checkpoint payload lacks {missing}")
    _atomic(Path(path), lambda f: torch.save(data, f))


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read and validate a checkpoint (on the CPU)."""
    p = Path(path)
    if not p.is_file():
        raise SpecError(f"checkpoint '{p}' does not exist")
    try:
        data = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 -- every way unpickling can fail means "not a readable checkpoint"
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SpecError(
            f"checkpoint '{p}' could not be read: the file is truncated, corrupt or not a torch file ({reason[:200]})",
            hint="use another checkpoint of the run (checkpoints/step-*.pt) or train again",
        ) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise SpecError(f"'{p}' is not a schemagm checkpoint (it lacks the '{FORMAT}' mark)", hint="give the last.pt of a schemagm run")
    if data.get("version") != VERSION:
        raise SpecError(f"checkpoint '{p}' has format version {data.get('version')!r}; this schemagm reads version {VERSION}")
    problems = []
    for key, kind in _SCHEMA.items():
        if key not in data:
            problems.append(f"missing '{key}'")
        elif not isinstance(data[key], kind) or (kind is int and isinstance(data[key], bool)):
            problems.append(f"'{key}' is a {type(data[key]).__name__}")
    if not problems:
        bad = [k for k, v in data["model"].items() if not isinstance(v, torch.Tensor)]
        if bad:
            problems.append(f"model entries that are not tensors: {', '.join(map(str, bad[:5]))}")
        if "torch" not in data["rng"] or not isinstance(data["rng"]["torch"], torch.Tensor):
            problems.append("no torch RNG state")
    if problems:
        raise SpecError(f"checkpoint '{p}' is damaged: {'; '.join(problems)}")
    return data


def check_compatible(state: Mapping[str, torch.Tensor], model: torch.nn.Module, where: str | Path) -> None:
    """Raise a SpecError naming every parameter where the checkpoint and the model disagree."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k} {list(state[k].shape)} vs {list(v.shape)}" for k, v in own.items() if k in state and state[k].shape != v.shape]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing[:6])}{' ...' if len(missing) > 6 else ''}")
        if unexpected:
            parts.append(f"unexpected {', '.join(unexpected[:6])}{' ...' if len(unexpected) > 6 else ''}")
        if shapes:
            parts.append(f"shape mismatch {', '.join(shapes[:6])} (checkpoint vs spec)")
        raise SpecError(
            f"checkpoint '{where}' was written for a different spec: {'; '.join(parts)}",
            hint="load it with the spec it was trained with (the run directory's spec.sgm)",
        )


# -- random number generators ------------------------------------------------------------


def rng_state() -> dict[str, Any]:
    """Every RNG a run draws from, as tensors and numbers (loadable with weights_only=True)."""
    np_state = np.random.get_state()
    py_version, py_internal, py_gauss = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "keys": torch.from_numpy(np.asarray(np_state[1], dtype=np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "python": {"version": int(py_version), "internal": torch.tensor(py_internal, dtype=torch.int64), "gauss": py_gauss},
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    torch.set_rng_state(state["torch"].to(torch.uint8))
    if "numpy" in state:
        n = state["numpy"]
        np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"]))
    if "python" in state:
        p = state["python"]
        random.setstate((p["version"], tuple(int(v) for v in p["internal"].tolist()), p["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
