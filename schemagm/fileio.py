"""Reading and writing a user's files: the only way schemagm touches them.

Writing: everything is written to a temporary file in the target's folder, flushed to disk, then
renamed over the target with :func:`os.replace` (atomic on POSIX and Windows), so a crash or Ctrl-C
leaves either the old file or the new one, never a torn mix.  The new file gets the permissions a
plain ``open()`` would give it (``0o666`` less the umask), and a full disk or a read-only folder is a
:class:`~schemagm.errors.SpecError` naming the file, with the temporary file removed.

Every command checks its output paths with :func:`check_output` (an existing file is kept unless
``--force``, the input is never overwritten, a folder is not a file) and its inputs with
:func:`require_file` (one message for a missing file: ``WHAT 'PATH' does not exist``, exit status 1).

Reading: :func:`read_bytes` reads at most a given number of bytes.  It refuses a device
(``/dev/zero`` never ends) and a socket, and takes a pipe (``<(schemagm transform ...)``) without
waiting for a writer: a named FIFO nobody writes reads as empty instead of blocking forever.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO

from .errors import SpecError, printable

__all__ = [
    "write_atomic",
    "write_atomic_with",
    "prepare",
    "commit",
    "discard",
    "check_output",
    "require_file",
    "read_bytes",
    "os_error",
    "current_umask",
    "remove_stale_temps",
    "TEMP_SUFFIX",
]

#: the suffix of the temporary files :func:`write_atomic_with` writes (``.NAME.XXXX.tmp``)
TEMP_SUFFIX = ".tmp"

_umask_lock = threading.Lock()


def current_umask() -> int:
    """The process's umask (read by setting and restoring it, under a lock)."""
    with _umask_lock:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def os_error(exc: OSError, action: str, path: str | Path | None = None) -> SpecError:
    """A :class:`SpecError` for a failed file operation: ``cannot write 'runs/x/last.pt': no space left on device``."""
    where = path if path is not None else exc.filename
    reason = exc.strerror.lower() if exc.strerror else printable(str(exc)) or type(exc).__name__
    hints = {
        errno.ENOSPC: "free some disk space, or choose another output folder",
        errno.EDQUOT: "free some disk space, or choose another output folder",
        errno.EROFS: "the file system is read-only: choose another output folder",
        errno.EACCES: "check the permissions of the folder, or choose another one",
        errno.EPERM: "check the permissions of the folder, or choose another one",
    }
    shown = f" '{printable(str(where))}'" if where is not None else ""
    return SpecError(f"cannot {action}{shown}: {reason}", hint=hints.get(exc.errno or 0))


def write_atomic_with(path: str | Path, write: Callable[[IO[bytes]], object], *, keep_mode: bool = False) -> None:
    """Create or replace ``path`` with what ``write(f)`` writes to a binary file object.

    ``keep_mode`` keeps the permissions of the file being replaced (a user's own spec); a new file
    gets ``0o666`` less the umask.  The folder must exist; callers that own a directory create it first.
    An :class:`OSError` (full disk, read-only folder) becomes a :class:`SpecError`; nothing is left behind.
    """
    commit(prepare(path, write, keep_mode=keep_mode), path)


def commit(tmp: str | Path, path: str | Path) -> None:
    """Move a file written by :func:`prepare` into place (atomically)."""
    try:
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise os_error(exc, "write", path) from None


def discard(tmp: str | Path) -> None:
    """Delete a file written by :func:`prepare` that is not to be kept."""
    with contextlib.suppress(OSError):
        os.unlink(tmp)


def prepare(path: str | Path, write: Callable[[IO[bytes]], object], *, keep_mode: bool = False) -> Path:
    """Write the future contents of ``path`` to a complete temporary file beside it; returns the temporary.

    :func:`commit` moves it into place, :func:`discard` drops it.
    """
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    except OSError as exc:
        raise os_error(exc, "write", path) from None
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        mode = 0o666 & ~current_umask()
        if keep_mode and path.exists():
            with contextlib.suppress(OSError):
                mode = path.stat().st_mode & 0o7777
        os.chmod(tmp, mode)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise os_error(exc, "write", path) from None
        raise
    return Path(tmp)


def write_atomic(path: str | Path, data: bytes | str, *, keep_mode: bool = False) -> None:
    """Create or replace ``path`` with ``data`` (text is written as UTF-8, newlines untouched)."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    write_atomic_with(path, lambda f: f.write(payload), keep_mode=keep_mode)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def check_output(
    path: str | Path,
    *,
    force: bool,
    inputs: Iterable[str | Path] = (),
    what: str = "output file",
    option: str = "-o",
    create_folder: bool = False,
) -> Path:
    """Check a file a command is about to write, before any work is done; returns it as a Path.

    * a folder is not a file;
    * the folder it goes in must exist (or is made, with ``create_folder``);
    * an input of the command (the spec) is never written over, not even with ``--force``;
    * an existing file is kept unless ``force``.
    """
    p = Path(path)
    shown = printable(str(p))
    if p.is_dir():
        raise SpecError(f"{what} '{shown}' is a folder, not a file", hint=f"give a file name to {option}")
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir() and create_folder and not folder.exists():
        try:
            folder.mkdir(parents=True)
        except OSError as exc:
            raise os_error(exc, "create the folder", folder) from None
    if not folder.is_dir():
        raise SpecError(
            f"cannot write '{shown}': the folder '{printable(str(folder))}' does not exist", hint="create it first"
        )
    if p.exists() or p.is_symlink():
        for source in inputs:
            if Path(source).exists() and _same_file(p, Path(source)):
                raise SpecError(
                    f"{what} '{shown}' is the input '{printable(str(source))}'; it is never written over",
                    hint=f"choose another {option} file",
                )
        if not force:
            raise SpecError(
                f"{what} '{shown}' already exists; it is not overwritten",
                hint=f"pass --force to replace it, or choose another {option} file",
            )
        if not p.is_file():
            raise SpecError(f"{what} '{shown}' exists and is not a regular file; it is not replaced")
    return p


def require_file(path: str | os.PathLike[str], what: str = "file", pipe: bool = False) -> Path:
    """An existing regular file, or the one error every command gives: ``WHAT 'PATH' does not exist``.

    ``pipe=True`` also takes a FIFO (a shell's process substitution), for readers that go through
    :func:`read_bytes`.
    """
    p = Path(path)
    shown = printable(str(p))
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise SpecError(f"{what} '{shown}' does not exist", hint="check the path") from None
    except OSError as exc:
        raise os_error(exc, "read", p) from None
    if stat.S_ISDIR(st.st_mode):
        raise SpecError(f"{what} '{shown}' is a folder, not a file")
    if not stat.S_ISREG(st.st_mode) and not (pipe and stat.S_ISFIFO(st.st_mode)):
        kind = (
            "a FIFO"
            if stat.S_ISFIFO(st.st_mode)
            else "a device"
            if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
            else "a socket"
            if stat.S_ISSOCK(st.st_mode)
            else "not a regular file"
        )
        raise SpecError(f"{what} '{shown}' is {kind}, not a regular file", hint="give the path of a file")
    return p


def read_bytes(path: str | os.PathLike[str], limit: int, what: str = "file") -> bytes:
    """The bytes of a regular file or a pipe, at most ``limit`` of them (checked before and while reading)."""
    p = require_file(path, what, pipe=True)
    shown = printable(str(p))
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO's open never waits for a writer
        with open(fd, "rb") as f:
            st = os.fstat(fd)
            if stat.S_ISFIFO(st.st_mode):
                os.set_blocking(fd, True)  # with no writer a read is the end of the file, not a wait
            elif not stat.S_ISREG(st.st_mode):  # replaced between the check and the open
                raise SpecError(f"{what} '{shown}' is not a regular file")
            elif st.st_size > limit:
                raise SpecError(f"{what} '{shown}' is {st.st_size:,} bytes; the limit is {limit:,}")
            data = f.read(limit + 1)
    except OSError as exc:
        raise os_error(exc, "read", p) from None
    if len(data) > limit:
        raise SpecError(f"{what} '{shown}' is over the limit of {limit:,} bytes")
    return data


def remove_stale_temps(folder: str | Path, names: Iterable[str] | None = None) -> list[Path]:
    """Delete the temporary files a killed write left in ``folder`` (``.NAME.XXXX.tmp``); returns them.

    Only files named the way :func:`write_atomic_with` names its temporaries are touched, and with
    ``names`` only those of these targets.
    """
    folder = Path(folder)
    wanted = set(names) if names is not None else None
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    for f in folder.iterdir():
        n = f.name
        if not (n.startswith(".") and n.endswith(TEMP_SUFFIX) and f.is_file()):
            continue
        target = n[1:].rsplit(".", 2)[0] if n.count(".") >= 3 else None
        if wanted is not None and target not in wanted:
            continue
        with contextlib.suppress(OSError):
            f.unlink()
            removed.append(f)
    return removed
