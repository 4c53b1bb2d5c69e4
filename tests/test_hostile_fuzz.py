"""Fuzzing the commands on generated and mutated files (hypothesis): whatever the bytes, a command
exits 0 or 1 with a message, never a traceback, within bounded output.  In-process (typer's
CliRunner) to stay fast; see docs/security.md."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import numpy as np
from hostile_support import MAX_OUTPUT, cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemagm.errors import SpecError
from schemagm.train.data.files import load_file

SPECS = Path(__file__).resolve().parent.parent / "specs"
CATALOG = [p.read_bytes() for p in sorted(SPECS.glob("*.sgm"))]
FUZZ = settings(
    max_examples=int(__import__("os").environ.get("FUZZ_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

#: fragments a mutation splices in: the language's own words, limits, encodings and terminal controls
PIECES = [
    b"->",
    b"-->",
    b"==>",
    b"=>",
    b":",
    b",",
    b"[",
    b"]",
    b"(",
    b")",
    b"{",
    b"}",
    b"=",
    b"\n",
    b"#",
    b'"',
    b"9" * 30,
    b"1e400",
    b"-0",
    b"\x00",
    b"\x1b[2J",
    b"\xff\xfe",
    b"\xe2\x80\xae",
    b"\r\n",
    b"\t",
    b"options {",
    b"mlp(99999999)",
    b"indicator y",
    b"adversarial",
    b"perfect",
    b"y=1",
    b"walkback = 1e23",
    b"real[0]",
    b"normal[",
    b"model",
]


@st.composite
def mutated_spec(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(CATALOG)))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["insert", "delete", "replace", "byte"]))
        at = draw(st.integers(0, len(data)))
        if op == "insert":
            data[at:at] = draw(st.sampled_from(PIECES))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 40))]
        elif op == "replace":
            data[at : at + draw(st.integers(1, 10))] = draw(st.sampled_from(PIECES))
        else:
            data[at:at] = bytes([draw(st.integers(0, 255))])
    return bytes(data)


def _clean(code: int, output: str, allowed: tuple[int, ...] = (0, 1)) -> None:
    assert code in allowed, output[:2000]
    assert "Traceback" not in output
    assert len(output) < MAX_OUTPUT * 4 or code == 0
    if code != 0:
        assert "error" in output, output[:2000]
        assert "\x1b" not in output


@FUZZ
@given(mutated_spec(), st.sampled_from(["check", "fmt", "render", "transform", "compile"]))
def test_commands_on_mutated_specs(data, command):
    with tempfile.TemporaryDirectory() as d:
        spec = Path(d) / "f.sgm"
        spec.write_bytes(data)
        args = {
            "check": ["check", spec],
            "fmt": ["fmt", spec],
            "render": ["render", spec, "--format", "mermaid"],
            "transform": ["transform", "swap-processes", spec, "--no-check"],
            "compile": ["compile", spec],
        }[command]
        code, output, _ = cli(*args)
        if command == "compile" and code == 0:
            return
        _clean(code, output)
        if command == "fmt" and code == 0:  # what fmt prints is a spec that checks
            again = Path(d) / "g.sgm"
            again.write_text(output)
            code, output2, _ = cli("check", again)
            assert code == 0, output2


@st.composite
def data_file(draw: st.DrawFn) -> tuple[str, bytes]:
    kind = draw(st.sampled_from([".npy", ".npz", ".csv", "-idx3-ubyte", "-idx1-ubyte.gz"]))
    arr = np.zeros((draw(st.integers(1, 6)), draw(st.integers(1, 4))), np.float32)
    buf = io.BytesIO()
    if kind == ".npy":
        np.save(buf, arr)
    elif kind == ".npz":
        np.savez(buf, x=arr)
    elif kind == ".csv":
        buf.write("\n".join(",".join("1" for _ in row) for row in arr).encode())
    else:
        import gzip
        import struct

        raw = b"\x00\x00\x08\x02" + struct.pack(">II", *arr.shape) + bytes(arr.size)
        buf.write(gzip.compress(raw) if kind.endswith(".gz") else raw)
    data = bytearray(buf.getvalue())
    for _ in range(draw(st.integers(0, 8))):
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if draw(st.booleans()) and data:
            data[at] = draw(st.integers(0, 255))
        else:
            del data[at : at + draw(st.integers(1, 16))]
    return kind, bytes(data)


@FUZZ
@given(data_file())
def test_mutated_data_files_load_or_say_why(case):
    kind, data = case
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / f"data{kind}"
        p.write_bytes(data)
        try:
            raw = load_file(p)
        except SpecError as err:
            text = str(err)
            assert str(p) in text and len(text) < 2000, text
        else:
            assert raw is not None
