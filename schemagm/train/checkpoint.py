"""Checkpoints: written atomically, read safely, checked before use.

A checkpoint is one ``torch.save`` file holding plain data and tensors only, so
that it loads with ``torch.load(weights_only=True)`` (no code runs on load)::

    format      "schemagm-checkpoint"        version   1
    model_name  the spec's model name        spec      the spec's text
    config      the TrainConfig as a dict    step, epoch
    stream      the batch stream's position  model     the CompiledModel's state_dict
    optimizers  {group: optimiser state}     rng       torch / cuda / numpy / python RNG states as tensors
    checksum    SHA-256 of everything above (tensors by dtype, shape and bytes), checked on load

:func:`save_checkpoint` writes to a temporary file beside the target and moves it
into place with ``os.replace``, so a crash never leaves half a checkpoint.
:func:`load_checkpoint` turns every way a file can be wrong -- truncated, random
bytes, a torch file that is not ours, a missing key, a checksum that does not match (flipped bytes),
malformed RNG or stream entries -- into a :class:`SpecError`;
:func:`check_compatible` names the parameters where a checkpoint and a model
(compiled from a different spec) disagree.
"""

from __future__ import annotations

import hashlib
import random
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from ..errors import SpecError
from ..fileio import commit, discard, os_error, prepare, write_atomic_with

__all__ = [
    "FORMAT",
    "VERSION",
    "save_checkpoint",
    "save_checkpoints",
    "load_checkpoint",
    "check_compatible",
    "rng_state",
    "set_rng_state",
    "atomic_write_bytes",
    "checksum",
    "nonfinite_entries",
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
    "checksum": str,
}


def _make_folder(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise os_error(exc, "create the folder", path.parent) from None


def _atomic(path: Path, write) -> None:  # type: ignore[no-untyped-def]
    _make_folder(path)
    write_atomic_with(path, write)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and ``os.replace``."""
    _atomic(Path(path), lambda f: f.write(data))


def save_checkpoint(path: str | Path, payload: Mapping[str, Any], *, pending: bool = False) -> Path | None:
    """Write a checkpoint atomically; ``payload`` holds every key of the format but ``format``/``version``.

    With ``pending`` the complete file is left beside ``path`` and its name returned: the caller
    moves it into place with :func:`schemagm.fileio.commit` once the state has proved good.
    """
    written = save_checkpoints([Path(path)], payload, pending=pending)
    return written[0] if pending else None


def save_checkpoints(paths: Sequence[Path], payload: Mapping[str, Any], *, pending: bool = False) -> list[Path]:
    """:func:`save_checkpoint` of one state to several files (``step-N.pt`` and ``last.pt``): sealed
    and serialised once, the later files byte copies of the first.  With ``pending``, the complete
    temporary files in the order of ``paths``; else each file is moved into place."""
    data = {"format": FORMAT, "version": VERSION, **{k: v for k, v in payload.items() if k != "checksum"}}
    data["checksum"] = checksum(data)
    missing = [k for k in _SCHEMA if k not in data]
    if missing:
        raise ValueError(f"checkpoint payload lacks {missing}")
    if not pending:
        for path in paths:
            _make_folder(path)
    written: list[Path] = []
    try:
        written.append(prepare(paths[0], lambda f: torch.save(data, f)))
        written.extend(prepare(path, lambda f: _copy(written[0], f)) for path in paths[1:])
        if not pending:
            for tmp, path in zip(written, paths, strict=True):
                commit(tmp, path)
            return []
    except BaseException:
        for tmp in written:
            discard(tmp)  # (a file already moved into place is not a temporary any more: nothing to remove)
        raise
    return written


def _copy(source: Path, f: Any) -> None:
    with open(source, "rb") as src:
        shutil.copyfileobj(src, f, 1 << 20)


def checksum(data: Mapping[str, Any]) -> str:
    """SHA-256 of a checkpoint's contents but its ``checksum``: the structure, every scalar and every tensor's bytes."""
    h = hashlib.sha256()
    _digest({k: v for k, v in data.items() if k != "checksum"}, h)
    return h.hexdigest()


def _digest(obj: Any, h: Any) -> None:
    if isinstance(obj, Mapping):
        h.update(b"{%d" % len(obj))
        for key in sorted(obj, key=repr):
            _digest(key, h)
            _digest(obj[key], h)
    elif isinstance(obj, (list, tuple)):
        h.update(b"[%d" % len(obj))
        for v in obj:
            _digest(v, h)
    elif isinstance(obj, torch.Tensor):
        t = obj.detach().cpu().contiguous()
        h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy() if t.numel() else b"")  # (the bytes, not a copy)
    else:
        h.update(repr((type(obj).__name__, obj)).encode())


def nonfinite_entries(tensors: Mapping[str, Any]) -> list[str]:
    """The names of floating-point tensors holding NaN or infinity (a state not worth keeping)."""
    return [
        k
        for k, v in tensors.items()
        if isinstance(v, torch.Tensor) and v.is_floating_point() and not bool(torch.isfinite(v).all())
    ]


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read and validate a checkpoint (on the CPU)."""
    p = Path(path)
    from ..fileio import require_file
    from ..limits import MAX_CHECKPOINT_BYTES

    require_file(p, "checkpoint")
    if p.stat().st_size > MAX_CHECKPOINT_BYTES:
        raise SpecError(f"checkpoint '{p}' is {p.stat().st_size:,} bytes; the limit is {MAX_CHECKPOINT_BYTES:,}")
    try:
        data = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 -- every way unpickling can fail means "not a readable checkpoint"
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SpecError(
            f"checkpoint '{p}' could not be read: the file is truncated, corrupt or not a torch file ({reason[:200]})",
            hint="use another checkpoint of the run (checkpoints/step-*.pt) or train again",
        ) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise SpecError(
            f"'{p}' is not a schemagm checkpoint (it lacks the '{FORMAT}' mark)",
            hint="give the last.pt of a schemagm run",
        )
    if data.get("version") != VERSION:
        raise SpecError(
            f"checkpoint '{p}' has format version {data.get('version')!r}; this schemagm reads version {VERSION}"
        )
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
        problems += _rng_problems(data["rng"]) + _stream_problems(data["stream"])
    if problems:
        raise SpecError(
            f"checkpoint '{p}' is damaged: {'; '.join(problems)}",
            hint="use another checkpoint of the run (checkpoints/step-*.pt) or train again",
        )
    if checksum(data) != data["checksum"]:
        raise SpecError(
            f"checkpoint '{p}' is damaged: its contents do not match the SHA-256 checksum stored with them "
            "(bytes changed on disk or in a copy)",
            hint="use another checkpoint of the run (checkpoints/step-*.pt) or train again",
        )
    return data


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _rng_problems(rng: Mapping[str, Any]) -> list[str]:
    """What is wrong with a checkpoint's RNG states (each must restore without an error)."""
    out = []
    t = rng.get("torch")
    if not isinstance(t, torch.Tensor) or t.dtype != torch.uint8 or t.shape != torch.get_rng_state().shape:
        out.append("no valid torch RNG state")
    if "numpy" in rng:
        n = rng["numpy"]
        ok = (
            isinstance(n, Mapping)
            and isinstance(n.get("keys"), torch.Tensor)
            and tuple(n["keys"].shape) == (624,)
            and not n["keys"].is_floating_point()
            and _is_int(n.get("pos"))
            and 0 <= n["pos"] <= 624
            and _is_int(n.get("has_gauss"))
            and isinstance(n.get("cached_gaussian"), float)
        )
        if ok:
            keys = n["keys"]
            ok = bool(((keys >= 0) & (keys < 2**32)).all())
        if not ok:
            out.append("a malformed numpy RNG state")
    if "python" in rng:
        py = rng["python"]
        ok = (
            isinstance(py, Mapping)
            and _is_int(py.get("version"))
            and isinstance(py.get("internal"), torch.Tensor)
            and tuple(py["internal"].shape) == (625,)
            and not py["internal"].is_floating_point()
            and (py.get("gauss") is None or isinstance(py.get("gauss"), float))
        )
        if ok:
            internal = py["internal"]
            ok = bool(((internal >= 0) & (internal < 2**32)).all()) and 0 <= int(internal[-1]) <= 624
        if not ok:
            out.append("a malformed python RNG state")
    ranks = rng.get("ranks")
    if ranks is not None and not (
        isinstance(ranks, list) and all(isinstance(r, torch.Tensor) and r.dtype == torch.uint8 for r in ranks)
    ):
        out.append("malformed per-rank RNG states")
    return out


def _stream_problems(stream: Mapping[str, Any]) -> list[str]:
    keys = ("epoch", "index", "seed", "batch_size", "n")
    bad = [k for k in keys if not _is_int(stream.get(k))]
    if bad:
        return [f"the data stream's {', '.join(bad)} {'is' if len(bad) == 1 else 'are'} not whole numbers"]
    if (
        stream["epoch"] < 0
        or stream["index"] < 0
        or stream["batch_size"] < 1
        or stream["n"] < 1
        or stream["seed"] < 0
        or stream["index"] * stream["batch_size"] >= stream["n"]
    ):
        return ["the data stream's position is out of range"]
    return []


def check_compatible(state: Mapping[str, torch.Tensor], model: torch.nn.Module, where: str | Path) -> None:
    """Raise a SpecError naming every parameter where the checkpoint and the model disagree."""
    accept = getattr(model, "accept_state_shapes", None)  # buffers sized by the data (a kernel density's points)
    if callable(accept):
        accept(state)
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [
        f"{k} {list(state[k].shape)} vs {list(v.shape)}"
        for k, v in own.items()
        if k in state and state[k].shape != v.shape
    ]
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
    # the legacy state tuple (numpy's stub types the default call as the dict form)
    np_state = cast(tuple[str, np.ndarray, int, int, float], np.random.get_state())
    py_version, py_internal, py_gauss = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "keys": torch.from_numpy(np.asarray(np_state[1], dtype=np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "python": {
            "version": int(py_version),
            "internal": torch.tensor(py_internal, dtype=torch.int64),
            "gauss": py_gauss,
        },
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore the RNG states of :func:`rng_state`; a state that does not restore is a :class:`SpecError`."""
    try:
        _set_rng_state(state)
    except (RuntimeError, ValueError, TypeError, KeyError, OverflowError) as exc:
        raise SpecError(f"the checkpoint's random number generator state does not restore: {str(exc)[:200]}") from None


def _set_rng_state(state: Mapping[str, Any]) -> None:
    torch.set_rng_state(state["torch"].to(torch.uint8))
    if "numpy" in state:
        n = state["numpy"]
        np.random.set_state(
            ("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"])
        )
    if "python" in state:
        p = state["python"]
        random.setstate((p["version"], tuple(int(v) for v in p["internal"].tolist()), p["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
