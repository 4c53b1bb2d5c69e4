"""Hostile run directories, checkpoints and file systems: no user file lost, no partial file, a clear
error and no traceback.  See docs/security.md."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest
import torch
from hostile_support import VALID, cli, refused, write

from schemagm import fileio
from schemagm.train.checkpoint import checksum, load_checkpoint, save_checkpoint

SPECS = Path(__file__).resolve().parent.parent / "specs"


def train(spec: Path, out: Path, *extra: object) -> tuple[int, str, float]:
    return cli("train", spec, "--out", out, "--batch-size", "16", "--no-progress", "--samples", "16", *extra)


@pytest.fixture(scope="module")
def ae_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "ae"
    code, output, _ = train(SPECS / "ae.sgm", out, "--steps", "2")
    assert code == 0, output
    return out


def _copy(run: Path, to: Path) -> Path:
    import shutil

    shutil.copytree(run, to)
    return to


def test_force_never_deletes_files_a_run_did_not_write(ae_run, tmp_path):
    out = _copy(ae_run, tmp_path / "photos")
    (out / "samples" / "holiday.jpg").write_bytes(b"jpeg")
    (out / "checkpoints" / "important.pt").write_bytes(b"mine")
    code, output, _ = train(SPECS / "ae.sgm", out, "--steps", "1", "--force")
    refused(code, output, "holds files a run does not write", "samples/holiday.jpg", "checkpoints/important.pt")
    assert (out / "samples" / "holiday.jpg").read_bytes() == b"jpeg"
    assert (out / "checkpoints" / "important.pt").read_bytes() == b"mine"
    (out / "samples" / "holiday.jpg").unlink()
    (out / "checkpoints" / "important.pt").unlink()
    (out / "notes").mkdir()
    code, output, _ = train(SPECS / "ae.sgm", out, "--steps", "1", "--force")
    refused(code, output, "notes/")
    (out / "notes").rmdir()
    code, output, _ = train(SPECS / "ae.sgm", out, "--steps", "1", "--force")  # only a run's files: replaced
    assert code == 0, output
    assert load_checkpoint(out / "checkpoints" / "last.pt")["step"] == 1


def _flip(path: Path, n: int, seed: int = 0) -> None:
    import random

    data = bytearray(path.read_bytes())
    rng = random.Random(seed)
    for i in rng.sample(range(len(data) // 4, len(data) - 64), n):  # past the zip header: bytes a load still reads
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("seed", range(3))
def test_a_checkpoint_with_64_flipped_bytes_is_refused(ae_run, tmp_path, seed):
    run = _copy(ae_run, tmp_path / "r")
    last = run / "checkpoints" / "last.pt"
    _flip(last, 64, seed)
    for args in [
        ("sample", run, "-o", tmp_path / "s.png"),
        ("eval", run, "--metrics", "elbo"),
        ("train", "--resume", run, "--steps", "3", "--no-progress"),
    ]:
        code, output, _ = cli(*args)
        refused(code, output, f"checkpoint '{last}'")
        assert "is damaged" in output or "could not be read" in output, output
    assert not (tmp_path / "s.png").exists()


def test_a_value_changed_inside_a_valid_file_fails_the_checksum(ae_run, tmp_path):
    run = _copy(ae_run, tmp_path / "r")
    last = run / "checkpoints" / "last.pt"
    data = load_checkpoint(last)
    key = next(iter(data["model"]))
    data["model"][key] = data["model"][key] + 1e-3
    torch.save(data, last)  # a well-formed torch file whose contents changed
    code, output, _ = cli("sample", run, "-o", tmp_path / "s.png")
    refused(code, output, "do not match the SHA-256 checksum")


@pytest.mark.parametrize(
    "damage, words",
    [
        (lambda d: d["rng"].__setitem__("torch", torch.zeros(3, dtype=torch.uint8)), "no valid torch RNG state"),
        (
            lambda d: d["rng"]["numpy"].__setitem__("keys", torch.zeros(5, dtype=torch.int64)),
            "malformed numpy RNG state",
        ),
        (lambda d: d["rng"]["python"].__setitem__("internal", torch.full((625,), -1)), "malformed python RNG state"),
        (lambda d: d["stream"].__setitem__("index", 10**9), "data stream's position is out of range"),
        (lambda d: d["stream"].__setitem__("epoch", "one"), "data stream's epoch is not whole numbers"),
    ],
)
def test_malformed_rng_and_stream_entries(ae_run, tmp_path, damage, words):
    run = _copy(ae_run, tmp_path / "r")
    last = run / "checkpoints" / "last.pt"
    data = load_checkpoint(last)
    damage(data)
    save_checkpoint(
        last, {k: v for k, v in data.items() if k not in ("format", "version")}
    )  # a fresh, matching checksum
    code, output, _ = cli("train", "--resume", run, "--steps", "3", "--no-progress")
    refused(code, output, "is damaged", words)


def test_sample_and_eval_refuse_an_edited_spec(ae_run, tmp_path):
    run = _copy(ae_run, tmp_path / "r")
    spec = run / "spec.sgm"
    spec.write_text(spec.read_text() + "# edited\n")
    for args in [("sample", run, "-o", tmp_path / "s.png"), ("eval", run, "--metrics", "elbo")]:
        code, output, _ = cli(*args)
        refused(code, output, "its spec.sgm is not the spec checkpoint", "was trained with")


def _no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("where", ["fsync", "replace", "mkstemp"])
def test_a_full_disk_or_read_only_folder_is_a_message_and_leaves_no_partial_file(ae_run, tmp_path, monkeypatch, where):
    run = _copy(ae_run, tmp_path / "r")
    spec = write(tmp_path / "mine.sgm", "model   m\n" + VALID.split("\n", 1)[1])
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    error = (
        _no_space
        if where != "mkstemp"
        else lambda *a, **k: (_ for _ in ()).throw(OSError(errno.EROFS, "Read-only file system"))
    )
    target = {"fsync": (os, "fsync"), "replace": (os, "replace"), "mkstemp": (fileio.tempfile, "mkstemp")}[where]
    monkeypatch.setattr(*target, error)
    reason = "read-only file system" if where == "mkstemp" else "no space left on device"
    cases = [
        ("fmt", "--write", spec),
        ("render", spec, "-o", tmp_path / "m.dot"),
        ("transform", "importance-weight", spec, "4", "-o", tmp_path / "t.sgm"),
        ("sample", run, "-n", "4", "--reconstruct", "-o", tmp_path / "s.png"),
        ("eval", run, "--metrics", "elbo", "--json", tmp_path / "e.json"),
        ("train", SPECS / "ae.sgm", "--out", tmp_path / "new", "--steps", "1", "--no-progress", "--samples", "0"),
        ("train", "--resume", run, "--steps", "3", "--no-progress"),
    ]
    for args in cases:
        code, output, _ = cli(*args)
        refused(code, output, "cannot write", reason)
    monkeypatch.undo()
    after = {
        p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file() and not str(p).startswith(str(tmp_path / "new"))
    }
    assert after == before  # nothing changed, nothing half-written, no temporary left behind
    assert not [p for p in tmp_path.rglob("*.tmp")]


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_written_files_respect_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        fileio.write_atomic(tmp_path / "a.txt", "x")
        spec = write(tmp_path / "s.sgm", VALID)
        code, output, _ = cli("render", spec, "-f", "dot", "-o", tmp_path / "s.dot")
        assert code == 0, output
    finally:
        os.umask(old)
    for name in ("a.txt", "s.dot"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~umask, name


def test_fmt_write_keeps_the_mode_of_the_users_spec(tmp_path):
    spec = write(tmp_path / "mine.sgm", "model   m\n" + VALID.split("\n", 1)[1])
    spec.chmod(0o640)
    code, output, _ = cli("fmt", "--write", spec)
    assert code == 0, output
    assert stat.S_IMODE(spec.stat().st_mode) == 0o640


def test_the_state_kept_after_a_nan_stop_evaluates_to_finite_numbers(tmp_path):
    out = tmp_path / "r"
    code, output, _ = train(
        SPECS / "vae.sgm", out, "--lr", "1e4", "--checkpoint-every", "1", "--steps", "30", "--samples", "0"
    )
    refused(code, output, "training stopped at step", "the last good state", "is kept as it was")
    from schemagm.train.run import load_run

    loaded = load_run(out)
    batch = {k: v[:64] for k, v in loaded.data.train.items()}
    torch.manual_seed(0)
    for phase in loaded.model.objective.phases:
        assert torch.isfinite(loaded.model.phase_loss(phase.name, batch)), phase.name
    assert not list((out / "checkpoints").glob(".*.tmp"))
    assert (
        sorted(p.name for p in (out / "checkpoints").iterdir())
        == [f"step-{loaded.step:07d}.pt", "last.pt"][loaded.step == 0 :]
    )


def test_stale_temporaries_of_a_killed_write_are_removed_on_resume(ae_run, tmp_path):
    run = _copy(ae_run, tmp_path / "r")
    stale = [
        run / "checkpoints" / ".last.pt.abc123.tmp",
        run / ".metrics.jsonl.x1y2.tmp",
        run / "samples" / ".last.png.k9.tmp",
    ]
    for p in stale:
        p.write_bytes(b"half")
    mine = run / "checkpoints" / "keep.tmp"  # not named like a temporary of ours: left alone
    mine.write_bytes(b"mine")
    code, output, _ = cli("train", "--resume", run, "--steps", "3", "--no-progress")
    assert code == 0, output
    assert not any(p.exists() for p in stale)
    assert mine.read_bytes() == b"mine"


def test_checksum_covers_every_entry():
    base = {"a": torch.zeros(3), "b": {"c": 1, "d": [1.0, None]}}
    other = {"a": torch.zeros(3), "b": {"c": 1, "d": [1.0, 0]}}
    assert checksum(base) == checksum({"b": {"d": [1.0, None], "c": 1}, "a": torch.zeros(3)})
    assert checksum(base) != checksum(other)
    assert checksum(base) != checksum({**base, "a": torch.zeros(3, dtype=torch.float64)})
