"""``schemagm reproduce``: train the cells that are not cached, then write the figures and the page.

Layout of an output folder ``OUT`` (``docs/`` for the committed page)::

    OUT/reproduction.md                          the page
    OUT/reproduction/<figure>.png                its figures
    OUT/reproduction/results/<table>/<cell>.json one result file per cell (the cache)

A cell is trained when its result file is missing, unreadable, or holds another cache key
(:func:`.store.cell_key`); otherwise it is read back.  Each cell's file is written as soon as the
cell is done, so an interrupted run keeps every finished cell and a re-run goes on from there.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import SpecError
from ..fileio import write_atomic
from .page import MARKER, render_page
from .store import cell_path, load_results, read_cell, write_cell
from .tables import TABLE_NAMES, TABLES

__all__ = ["Outcome", "reproduce", "write_page", "repository_root", "PAGE", "RESULTS"]

PAGE = "reproduction.md"
RESULTS = Path("reproduction") / "results"


@dataclass
class Outcome:
    trained: list[str] = field(default_factory=list)
    cached: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    figures: list[Path] = field(default_factory=list)
    page: Path | None = None
    figures_skipped: str = ""


def repository_root() -> Path:
    """The folder holding ``specs/`` (the repository of an editable install)."""
    here = Path(__file__).resolve().parents[2]
    for root in (here, Path.cwd()):
        if (root / "specs" / "vae.sgm").is_file():
            return root
    raise SpecError(
        "cannot find the catalog specs (specs/vae.sgm) next to the schemagm package or in the working folder",
        hint="run schemagm reproduce from a checkout of the repository",
    )


def _check_page(page: Path, force: bool) -> None:
    if page.is_dir():
        raise SpecError(f"'{page}' is a folder, not the page to write")
    if page.exists() and not force:
        try:
            head = page.read_text(encoding="utf-8").split("\n", 1)[0]
        except (OSError, UnicodeDecodeError):
            head = ""
        if head != MARKER:
            raise SpecError(
                f"'{page}' exists and was not written by schemagm reproduce; it is kept",
                hint="choose another --out, or pass --force to replace it",
            )


def write_page(
    out: Path,
    *,
    profile: str,
    data: str,
    seeds: Sequence[int],
    force: bool = False,
    figures: bool = True,
) -> Outcome:
    """Render the page (and the figures) from the result files under ``out``; trains nothing."""
    page = out / PAGE
    _check_page(page, force)
    results = load_results(out / RESULTS)
    outcome = Outcome(page=page)
    if figures:
        from .figures import draw_figures, have_matplotlib

        if have_matplotlib():
            outcome.figures = draw_figures(
                results, out / "reproduction", profile=profile, data=data, seeds=list(seeds), only=None
            )
        else:
            outcome.figures_skipped = "matplotlib is not installed (pip install 'schemagm[reproduce]'): no figures"
    write_atomic(page, render_page(results, profile=profile, data=data, seeds=seeds))
    return outcome


def reproduce(
    out: Path,
    *,
    profile: str = "full",
    seeds: Sequence[int] = (0, 1, 2),
    only: Sequence[str] | None = None,
    mnist: Path | None = None,
    threads: int = 1,
    force: bool = False,
    say: Callable[[str], None] = lambda _m: None,
) -> Outcome:
    """Train and evaluate every cell not cached under ``out``; then the figures and the page."""
    from .cells import cell_input, run_cell

    unknown = [n for n in only or () if n not in TABLE_NAMES]
    if unknown:
        raise SpecError(f"unknown table {', '.join(unknown)}; the tables: {', '.join(TABLE_NAMES)}")
    data = "mnist" if mnist is not None else "digits"
    page = out / PAGE
    _check_page(page, force)
    root = repository_root()
    results = out / RESULTS
    try:
        results.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SpecError(f"cannot create the folder '{results}': {exc.strerror or exc}") from None
    outcome = Outcome()
    tables = [t for t in TABLES if (not only or t.name in only) and (mnist is None or t.digits)]
    todo = [(t, v, s) for t in tables for v in t.variants for s in seeds]
    for i, (t, v, s) in enumerate(todo, 1):
        cell = cell_input(t, v, s, profile, root, mnist)
        path = cell_path(results, t.name, v.id, s, profile, cell.data)
        name = f"{t.name}/{v.id} seed {s}"
        old = read_cell(path)
        if old is not None and old.get("key") == cell.key:
            outcome.cached.append(name)
            continue
        say(f"[{i}/{len(todo)}] training {name} ({cell.budget['steps']} steps)")
        t0 = time.perf_counter()
        result = run_cell(cell, threads)
        write_cell(path, result)
        (outcome.trained if result["status"] == "finished" else outcome.failed).append(name)
        say(f"[{i}/{len(todo)}] {name}: {result['status']} in {time.perf_counter() - t0:.0f} s: {result['metrics']}")
    written = write_page(out, profile=profile, data=data, seeds=seeds, force=True)
    outcome.figures, outcome.page, outcome.figures_skipped = written.figures, written.page, written.figures_skipped
    return outcome
