"""Hostile and careless specs: every command answers with a clear error (place and problem), exit 1,
no traceback, bounded output and time.  See docs/security.md."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
from hostile_support import VALID, cli, refused, write

#: commands that read a spec and need no tensors, with the arguments that follow the file
READERS = [
    ("check",),
    ("fmt",),
    ("render", "--format", "dot"),
    ("transform", "swap-processes"),
    ("equiv",),
    ("explain",),
]
OTHER = Path(__file__).resolve().parent.parent / "specs" / "vae.sgm"


def _args(cmd: tuple[str, ...], spec: Path) -> list[object]:
    if cmd[0] == "transform":
        return [*cmd, spec]
    if cmd[0] in ("equiv", "explain"):
        return [cmd[0], spec, OTHER]
    return [cmd[0], spec, *cmd[1:]]


HOSTILE = {
    "a 5000-digit size": (VALID.replace("real[4]", "real[" + "9" * 5000 + "]"), ":2:15:", "is too large (5000 digits"),
    "1e400": (VALID + "options {\n  beta = 1e400\n}\n", ":7:10:", "overflows to infinity"),
    "walkback = 1e23": (
        VALID + "options {\n  walkback = 1e23\n}\n",
        ":7:14:",
        "option 'walkback' must be a whole number",
    ),
    "walkback = 10**5": (VALID + "options {\n  walkback = 100000\n}\n", ":7:14:", "must be at most 10000"),
    "mlp(10000000)": (
        VALID.replace("q_eta = mlp(8)", "q_eta = mlp(10000000)"),
        ":4:19:",
        "a network argument is at most 65,536",
    ),
    "a node of 64e9 elements": (VALID.replace("real[4]", "real[4000, 4000, 4000]"), ":2:14:", "a node holds at most"),
    "an escape sequence": (
        VALID.replace("model m", "model m \x1b]0;title\x07\x1b[2J"),
        ":1:9:",
        "control character \\x1b",
    ),
    "a bidi override": (VALID + "# \u202e comment\n", ":6:3:", "control character \\u202e"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
@pytest.mark.parametrize("cmd", READERS, ids=lambda c: c[0])
def test_hostile_spec_is_refused_with_place_and_problem(case, cmd, tmp_path):
    text, place, problem = HOSTILE[case]
    spec = write(tmp_path / "bad.sgm", text)
    code, out, seconds = cli(*_args(cmd, spec))
    refused(code, out, f"bad.sgm{place}", problem, seconds=seconds, limit=20)


def test_not_utf8_gets_line_and_column(tmp_path):
    spec = write(tmp_path / "latin1.sgm", VALID.replace("z : normal[2]", "z : normal[2]  # caf\xe9").encode("latin-1"))
    for cmd in READERS:
        code, out, _ = cli(*_args(cmd, spec))
        refused(code, out, "latin1.sgm:3:28:", "not UTF-8 text: byte 0xe9")


def test_a_megabyte_line_is_cut_around_the_caret(tmp_path):
    spec = write(tmp_path / "long.sgm", VALID.replace("z : normal[2]", "z : normal[2] " + "x" * 1_000_000 + " ?"))
    code, out, seconds = cli("check", spec)
    refused(code, out, "long.sgm:3:", "...", seconds=seconds, limit=30)
    lines = out.splitlines()
    excerpt = next(line for line in lines if line.lstrip().startswith("3 |"))
    assert len(excerpt) < 200


def test_a_hundred_thousand_errors_print_a_bounded_report(tmp_path):
    spec = write(tmp_path / "many.sgm", VALID + "".join(f"z -> w{i}\n" for i in range(20_000)))
    code, out, seconds = cli("check", spec)
    refused(code, out, "many.sgm:6:6: error: unknown node 'w0'", "more errors", seconds=seconds, limit=60)


@pytest.mark.parametrize("what", ["fifo", "/dev/zero", "folder"])
def test_non_regular_files_are_refused_without_reading(what, tmp_path):
    if what == "fifo":  # a named pipe nobody writes is read as empty at once, never waited on
        path = tmp_path / "pipe.sgm"
        os.mkfifo(path)
        expected = "1:1: error: expected `model`"
    elif what == "folder":
        path = tmp_path / "dir.sgm"
        path.mkdir()
        expected = "is a folder, not a file"
    else:
        path = Path("/dev/zero")
        expected = "is a device, not a regular file"
    for cmd in [("fmt",), ("render", "--format", "dot"), ("transform", "swap-processes"), ("compile",), ("equiv",)]:
        code, out, seconds = cli(*_args(cmd, path))
        refused(
            code,
            out,
            *((f"spec file '{path}'",) if what != "fifo" else (str(path),)),
            expected,
            seconds=seconds,
            limit=20,
        )
    code, out, _ = cli("check", path) if what != "folder" else (1, f"spec file '{path}' {expected}", 0)
    if what != "folder":
        refused(code, out, expected)


def test_a_missing_file_is_one_message_and_exit_1_in_every_command(tmp_path):
    missing = tmp_path / "nope.sgm"
    message = f"spec file '{missing}' does not exist"
    for args in [
        ("check", missing),
        ("fmt", missing),
        ("compile", missing),
        ("render", missing),
        ("transform", "swap-processes", missing),
        ("equiv", missing, OTHER),
        ("explain", missing, OTHER),
        ("train", missing, "--out", tmp_path / "r", "--no-progress"),
    ]:
        code, out, _ = cli(*args)
        refused(code, out, message)
    for args in [("sample", tmp_path / "norun"), ("eval", tmp_path / "norun")]:
        code, out, _ = cli(*args)
        refused(code, out, f"run directory '{tmp_path / 'norun'}' does not exist")


def test_a_planted_lark_cache_pickle_is_never_read(tmp_path):
    """The old parser unpickled $TMPDIR/.lark_cache_<user>_<hash>_<py>.tmp on every parse; plant one there."""
    marker = tmp_path / "pwned"
    env = {**os.environ, "TMPDIR": str(tmp_path), "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    # where lark would look: build the grammar once with lark's own cache in this temp directory
    discover = (
        "from lark import Lark; from schemagm.language import parser as P;"
        "Lark(P.grammar_text(), parser='lalr', lexer='contextual', propagate_positions=True, maybe_placeholders=True,"
        " lexer_callbacks={'COMMENT': P._collect_comment}, cache=True)"
    )
    subprocess.run([sys.executable, "-c", discover], env=env, check=True, timeout=120)
    planted = [p for p in tmp_path.iterdir() if p.name.startswith(".lark_cache_")]
    assert planted, "lark wrote no cache file: the old path could not be found"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    for p in planted:
        p.write_bytes(pickle.dumps(Evil()))
    spec = write(tmp_path / "ok.sgm", VALID)
    check = "import sys; from schemagm.graph.build import parse_file; parse_file(sys.argv[1]); print('parsed')"
    done = subprocess.run(
        [sys.executable, "-c", check, str(spec)], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and "parsed" in done.stdout, done.stderr
    assert not marker.exists(), "the planted pickle was unpickled"
    assert all(p.read_bytes() == pickle.dumps(Evil()) for p in planted)  # and nothing rewrote it


def test_render_never_writes_over_its_spec_even_with_force(tmp_path):
    spec = write(tmp_path / "mine.sgm", VALID)
    for extra in ([], ["--force"]):
        code, out, _ = cli("render", spec, "-f", "dot", "-o", spec, *extra)
        refused(code, out, "is the input", "never written over")
    assert spec.read_text() == VALID
    link = tmp_path / "link.dot"
    link.symlink_to(spec)
    code, out, _ = cli("render", spec, "-f", "dot", "-o", link, "--force")
    refused(code, out, "is the input")
    assert spec.read_text() == VALID


def test_a_spec_from_process_substitution_is_read():
    """``<(schemagm transform ...)`` hands a pipe: it is a spec like any other (the README's equiv line)."""
    py = sys.executable
    line = f"{py} -m schemagm equiv specs/aavae.sgm <({py} -m schemagm transform swap-processes specs/infogan.sgm)"
    proc = subprocess.run(
        ["bash", "-c", line], capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parents[1]
    )
    assert proc.returncode == 0, proc.stderr
    assert "structurally equivalent" in proc.stdout
