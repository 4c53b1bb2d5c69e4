"""A newcomer's session: every command of the README and of docs/*.md runs as written.

The runner takes every fenced block marked ```` ```bash ```` from README.md and docs/*.md and
runs its commands, in order, one bash per page (so a page's later commands see the files its
earlier ones wrote), in a fresh copy of the repository (so outputs go to a temporary folder),
with this checkout's ``schemagm`` first on PATH.  A command that fails fails the test with the
page, the command and its output.  Two kinds of block are not run here, by their fence's second
word: ```` ```bash setup ```` (installing: apt-get and pip, what ``.ci/run`` itself does) and
```` ```bash ci ```` (the test command, which is this suite); a test checks that ``.ci/run`` runs
exactly those.  Blocks of illustration, synopsis or output are fenced ```` ```text ````.

The help snapshots at 80 columns (COLUMNS=80) must contain no ``…``: see test_cli_newcomer.py.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)([^\n]*)\n(.*?)^```", re.M | re.S)


def blocks(page: Path) -> list[tuple[str, str, str]]:
    """(language, info, body) of each fenced block of a page."""
    return [(m.group(1), m.group(2).strip(), m.group(3)) for m in FENCE.finditer(page.read_text(encoding="utf-8"))]


def runnable(page: Path) -> str:
    return "\n".join(body for lang, info, body in blocks(page) if lang == "bash" and info not in ("setup", "ci"))


def commands(script: str) -> list[str]:
    """The commands of a script, one per line (a trailing backslash continues a line)."""
    out: list[str] = []
    for line in script.replace("\\\n", " ").splitlines():
        if line.strip() and not line.strip().startswith("#"):
            out.append(line.strip())
    return out


def test_every_command_block_is_marked():
    """A block that shows shell commands is either run (bash) or declared an illustration (text)."""
    unmarked = []
    for page in PAGES:
        for lang, _info, body in blocks(page):
            if lang == "" and re.search(r"^\s*(schemagm|python3?|torchrun) ", body, re.M):
                unmarked.append(f"{page.relative_to(ROOT)}: {body.splitlines()[0]}")
    assert not unmarked, unmarked


def test_ci_runs_the_readmes_setup_and_test_commands():
    readme = blocks(ROOT / "README.md")
    setup = [body for lang, info, body in readme if lang == "bash" and info == "setup"]
    test = [body for lang, info, body in readme if lang == "bash" and info == "ci"]
    assert len(test) == 1 and setup
    ci = (ROOT / ".ci" / "run").read_text()
    ci_lines = [line.split("#")[0].strip() for line in ci.splitlines()]
    for command in commands(test[0]):
        assert command in ci_lines, f".ci/run does not run the README's test command {command!r}"
    assert (
        "python3 -m pip install -q torch==2.13.0" in ci_lines[ci_lines.index("python3 -m pip install -q torch==2.13.0")]
    )
    assert ci_lines.index("python3 -m pip install -q torch==2.13.0") < ci_lines.index(
        "python3 -m pip install -q -e '.[dev]'"
    )


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A copy of the repository and an environment whose ``schemagm`` is this checkout's."""
    root = tmp_path_factory.mktemp("newcomer") / "repo"
    shutil.copytree(
        ROOT, root, ignore=shutil.ignore_patterns(".git", "runs", "__pycache__", "*.egg-info", ".ruff_cache")
    )
    bin_dir = root.parent / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "schemagm"
    exe.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m schemagm "$@"\n')
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(root),
        "OMP_NUM_THREADS": "1",
        "COLUMNS": "80",
    }
    return root, env


@pytest.mark.slow
@pytest.mark.parametrize("page", [p for p in PAGES if runnable(p)], ids=lambda p: p.name)
def test_documented_commands_run_as_written(page, sandbox):
    root, env = sandbox
    for command in commands(runnable(page)):
        proc = subprocess.run(
            ["bash", "-o", "pipefail", "-c", command], cwd=root, env=env, capture_output=True, text=True, timeout=900
        )
        where = f"{page.relative_to(ROOT)}: `{command}` exited {proc.returncode}"
        assert proc.returncode == 0, f"{where}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
        assert "Traceback" not in proc.stderr, proc.stderr
