"""The ejected text of two specs, pinned: a change to the emitter shows here as a readable diff.

To accept a deliberate change, write the snapshots again::

    python -c "from schemagm.eject import eject
    for n in ('vae', 'gan'): open(f'tests/snapshots/eject_{n}.py.txt', 'w').write(eject(f'specs/{n}.sgm'))"
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"


@pytest.mark.parametrize("name", ["vae", "gan"])
def test_the_ejected_text_is_the_snapshot(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("ruff")  # the text is ruff-formatted where ruff is installed
    from schemagm.eject import eject

    monkeypatch.chdir(ROOT)
    from schemagm.eject.script import format_source

    # formatted by the installed ruff too, so that another ruff version's layout is no difference
    expected = format_source((SNAPSHOTS / f"eject_{name}.py.txt").read_text(encoding="utf-8"))
    got = eject(f"specs/{name}.sgm")
    if got != expected:
        import difflib

        diff = "".join(difflib.unified_diff(expected.splitlines(True), got.splitlines(True), "snapshot", "ejected"))
        pytest.fail(f"the ejected text of {name} changed:\n{diff}")
