"""examples/quickstart.py runs: it trains a shipped spec, prints per-group losses and writes a PNG."""

from __future__ import annotations

import re
import subprocess
import sys

from conftest import ROOT, SPECS
from PIL import Image


def test_quickstart_trains_and_writes_a_grid(tmp_path) -> None:
    out = tmp_path / "grid.png"
    res = subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "quickstart.py"),
            str(SPECS / "gan.sgm"),
            "--steps",
            "20",
            "--batch-size",
            "32",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    rows = re.findall(r"^step\s+(\d+)\s+theta:\s+(\S+)\s+phi:\s+(\S+)", res.stdout, flags=re.M)
    assert [int(r[0]) for r in rows][:2] == [1, 2] and int(rows[-1][0]) == 20
    assert all(float(v) == float(v) for r in rows for v in r[1:])  # finite numbers, no NaN
    assert f"wrote {out}" in res.stdout
    with Image.open(out) as img:
        img.load()
        assert img.size == ((8 * 9 + 1) * 4, (8 * 9 + 1) * 4)  # 64 samples, 8 x 8 tiles of 8 x 8 pixels, scaled 4x
        assert len(img.convert("L").getcolors(maxcolors=256)) > 10  # a picture, not a blank
