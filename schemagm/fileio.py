"""Writing files without ever leaving half of one: the only way schemagm writes a user's files.

Everything is written to a temporary file in the target's folder, flushed to disk, then renamed
over the target with :func:`os.replace` (atomic on POSIX and Windows), so a crash or Ctrl-C leaves
either the old file or the new one, never a torn mix.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import IO, Callable

__all__ = ["write_atomic", "write_atomic_with"]


def write_atomic_with(path: str | Path, write: Callable[[IO[bytes]], object], *, keep_mode: bool = False) -> None:
    """Create or replace ``path`` with what ``write(f)`` writes to a binary file object.

    ``keep_mode`` keeps the permissions of the file being replaced (a user's own spec).
    The folder must exist; callers that own a directory create it first.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if keep_mode and path.exists():
            with contextlib.suppress(OSError):
                os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_atomic(path: str | Path, data: bytes | str, *, keep_mode: bool = False) -> None:
    """Create or replace ``path`` with ``data`` (text is written as UTF-8, newlines untouched)."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    write_atomic_with(path, lambda f: f.write(payload), keep_mode=keep_mode)
