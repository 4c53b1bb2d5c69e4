"""Shared by the tests/test_hostile_*.py modules: run a command in-process and check it failed cleanly."""

from __future__ import annotations

import time
from pathlib import Path

from typer.testing import CliRunner

from schemagm.cli.app import _register_all, app

if not app.registered_commands:
    _register_all()

#: the most any failing command may print (a 1 MB line is never echoed whole)
MAX_OUTPUT = 16_000


def cli(*args: object) -> tuple[int, str, float]:
    """(exit status, stdout + stderr, seconds) of ``schemagm ARGS`` run in this process."""
    start = time.perf_counter()
    result = CliRunner().invoke(app, [str(a) for a in args])
    seconds = time.perf_counter() - start
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # an exception that escaped the command: the test fails with its traceback
    return result.exit_code, result.stdout + result.stderr, seconds


def refused(
    code: int, output: str, *fragments: str, status: int = 1, seconds: float | None = None, limit: float = 60.0
) -> None:
    """The command failed with ``status``, said each fragment, printed no traceback, and stayed bounded."""
    flat = " ".join(output.split())
    assert code == status, f"exit {code}, expected {status}: {output[:2000]}"
    for fragment in fragments:
        assert " ".join(fragment.split()) in flat, f"{fragment!r} not in: {output[:2000]}"
    assert "Traceback" not in output
    assert len(output) < MAX_OUTPUT, f"{len(output)} characters of output"
    assert "\x1b" not in output, "a raw escape character was echoed"
    if seconds is not None:
        assert seconds < limit, f"took {seconds:.1f} s"


def write(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


VALID = """model m
data x : real[4] in [0, 1]
latent z : normal[2]
x --> z : q_eta = mlp(8) normal
z -> x : p_theta = mlp(8) bernoulli
"""
