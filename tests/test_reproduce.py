"""``schemagm reproduce``: the committed page is current, the quick run works end to end, the cache
trains only what changed, and the page's numbers are the result files' (mean ± std over seeds)."""

from __future__ import annotations

import json
import statistics
import struct
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from schemagm import __version__
from schemagm.cli.app import _register_all, app
from schemagm.reproduce.page import MARKER, render_page
from schemagm.reproduce.store import cell_key, load_results, read_cell, spec_hash
from schemagm.reproduce.tables import TABLES, cell_budget, table_by_name

_register_all()
ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
RESULTS = DOCS / "reproduction" / "results"


def invoke(*args: str):
    return CliRunner().invoke(app, ["reproduce", *args])


# -- the committed page --------------------------------------------------------------------------------------
def test_committed_page_is_generated_from_the_committed_results() -> None:
    """Regenerate docs/reproduction.md from docs/reproduction/results/*.json (no training) and compare."""
    results = load_results(RESULTS)
    assert results, "no result files under docs/reproduction/results"
    fresh = render_page(results)
    committed = (DOCS / "reproduction.md").read_text(encoding="utf-8")
    assert committed == fresh, "docs/reproduction.md is stale: run `schemagm reproduce --page-only`"


def test_committed_results_match_the_specs_they_claim() -> None:
    """Each committed result file holds the key of its cell as the specs and budgets are now (else it is stale)."""
    from schemagm.reproduce.cells import cell_input

    by_name = {t.name: t for t in TABLES}
    for cell in load_results(RESULTS):
        assert cell["profile"] == "full" and cell["data"] in ("digits", "builtin"), cell["file"]
        table = by_name[cell["table"]]
        variant = next(v for v in table.variants if v.id == cell["variant"])
        now = cell_input(table, variant, cell["seed"], "full", ROOT)
        assert cell["key"] == now.key, f"{cell['file']} is stale (its spec, budget or version changed)"
        assert cell["schemagm"] == __version__


def test_every_result_file_is_named_in_the_page() -> None:
    page = (DOCS / "reproduction.md").read_text(encoding="utf-8")
    files = sorted(p.relative_to(RESULTS).as_posix() for p in RESULTS.glob("*/*.json"))
    assert files
    for f in files:
        assert f"`reproduction/results/{f}`" in page


def test_page_embeds_figures_that_exist() -> None:
    import re

    page = (DOCS / "reproduction.md").read_text(encoding="utf-8")
    figures = re.findall(r"!\[[^\]]*\]\((reproduction/[^)]+\.png)\)", page)
    assert figures
    for f in figures:
        assert (DOCS / f).is_file() and (DOCS / f).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f


# -- the page's arithmetic against a hand-made set of cells ---------------------------------------------------------
def _cell(table: str, variant: str, seed: int, metrics: dict, **extra) -> dict:
    t = table_by_name(table)
    v = next(v for v in t.variants if v.id == variant)
    return {
        "format": 1,
        "key": "k",
        "table": table,
        "variant": variant,
        "seed": seed,
        "profile": "full",
        "data": "digits",
        "status": "finished",
        "metrics": metrics,
        "budget": cell_budget(t, v, "full"),
        "steps": 10,
        "train_rows": 100,
        "train_seconds": 1.0,
        "eval_seconds": 1.0,
        "schemagm": "0",
        "torch": "0",
        "threads": 1,
        "file": f"{table}/{variant}-seed{seed}.json",
        **extra,
    }


def test_page_gives_mean_and_sample_std_over_seeds_and_names_missing_cells() -> None:
    gan = [1.0, 2.0, 4.0]
    iw = [3.0, 5.0]
    cells = [_cell("gan_iwgan", "gan", s, {"inception_score": v, "fid": 10.0 * v}) for s, v in enumerate(gan)]
    cells += [_cell("gan_iwgan", "iwgan", s, {"inception_score": v, "fid": 1.0}) for s, v in enumerate(iw)]
    page = render_page(cells, only=["gan_iwgan"])
    m, s = statistics.mean(gan), statistics.stdev(gan)  # 2.33, 1.53
    assert f"| GAN | {m:.2f} ± {s:.2f} | {10 * m:.2f} ± {10 * s:.2f} | 1.00, 2.00, 4.00 | 8.34 |" in page
    assert "| IWGAN (k = 8) | 4.00 ± 1.41 | 1.00 ± 0.00 | 3.00, 5.00 | 8.45 |" in page
    assert "missing cells (not run yet): iwgan seed 2" in page
    # the difference and its standard error: 4 - 2.333 = +1.67, sqrt(1.53²/3 + 1.41²/2) = 1.33 (< 2 s.e.)
    assert "inception score +1.67 ± 1.33 (in the claimed direction, but within 2 standard errors)" in page
    assert page.startswith(MARKER + "\n")


def test_page_reads_a_difference_against_the_claim() -> None:
    cells = [_cell("flows", "uniform", s, {"bits_per_dim": 2.5 + 0.01 * s}) for s in range(3)]
    cells += [_cell("flows", "variational", s, {"bits_per_dim": 2.4 + 0.01 * s}) for s in range(3)]
    page = render_page(cells, only=["flows"])
    assert (
        "Variational − uniform: -0.1000 ± 0.0082 bits/dim (in the claimed direction, by more than 2 standard errors)"
        in page
    )
    worse = [dict(c, metrics={"bits_per_dim": 3.0}) if c["variant"] == "variational" else c for c in cells]
    assert "against the claimed direction" in render_page(worse, only=["flows"])


def test_diverged_cells_are_left_out_and_named() -> None:
    cells = [_cell("flows", "uniform", s, {"bits_per_dim": 2.0 + s}) for s in range(3)]
    cells[2]["status"] = "diverged"
    page = render_page(cells, only=["flows"])
    assert "| RealNVP, uniform dequantization | 2.5000 ± 0.7071 | 2.0000, 3.0000 |" in page
    assert "cells whose training diverged (left out of the means): uniform seed 2" in page


def test_cache_key_changes_with_each_input() -> None:
    base = cell_key("model a\n", {"steps": 1}, 0, "digits", "1")
    assert base == cell_key("model a\n", {"steps": 1}, 0, "digits", "1")
    others = [
        cell_key("model b\n", {"steps": 1}, 0, "digits", "1"),
        cell_key("model a\n", {"steps": 2}, 0, "digits", "1"),
        cell_key("model a\n", {"steps": 1}, 1, "digits", "1"),
        cell_key("model a\n", {"steps": 1}, 0, "mnist", "1"),
        cell_key("model a\n", {"steps": 1}, 0, "digits", "2"),
    ]
    assert len({base, *others}) == 6


# -- the command -------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory, schemagm_cache: Path) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("repro") / "out"
    before = {p: p.stat().st_mtime_ns for p in DOCS.rglob("*") if p.is_file()}
    res = invoke("--quick", "--out", str(out))
    assert res.exit_code == 0, res.output
    after = {p: p.stat().st_mtime_ns for p in DOCS.rglob("*") if p.is_file()}
    assert after == before, "--quick touched docs/"
    return out, res.output


def test_quick_run_writes_every_cell_the_page_and_the_figures(quick: tuple[Path, str]) -> None:
    out, output = quick
    files = sorted((out / "reproduction" / "results").glob("*/*.json"))
    expected = sum(len(t.variants) for t in TABLES)  # one seed
    assert len(files) == expected
    assert f"{expected} cell(s) trained, 0 cached" in output
    for f in files:
        cell = read_cell(f)
        assert cell is not None and cell["status"] == "finished" and cell["profile"] == "quick", f
        assert cell["metrics"], f
        assert f.name.endswith("-quick-seed0.json")
    page = (out / "reproduction.md").read_text(encoding="utf-8")
    assert page == render_page(load_results(out / "reproduction" / "results"), profile="quick", seeds=[0])
    assert "schemagm reproduce --only beta_vae --quick" in page
    assert "No results yet" not in page
    beta = json.loads((out / "reproduction" / "results" / "beta_vae" / "beta2-quick-seed0.json").read_text())
    trained = (ROOT / "specs" / "beta_vae.sgm").read_text().replace("beta = 4.0", "beta = 2.0")
    assert beta["metrics"]["beta"] == 2.0 and beta["spec_sha256"] == spec_hash(trained)
    pytest.importorskip("matplotlib")
    pngs = sorted(p.name for p in (out / "reproduction").glob("*.png"))
    assert len(pngs) == len(TABLES)
    for p in (out / "reproduction").glob("*.png"):
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_rerun_trains_only_the_cells_that_changed(quick: tuple[Path, str]) -> None:
    out, _ = quick
    results = out / "reproduction" / "results"
    kept = {p: p.read_bytes() for p in results.glob("beta_vae/*.json")}
    res = invoke("--quick", "--out", str(out), "--only", "beta_vae", "--seeds", "0", "--seeds", "1")
    assert res.exit_code == 0, res.output
    assert "5 cell(s) trained, 5 cached" in res.output
    assert all(p.read_bytes() == b for p, b in kept.items())  # the cached cells are not rewritten
    assert len(list(results.glob("beta_vae/*-seed1.json"))) == 5
    # a result file that no longer matches its inputs (another key) is trained again
    stale = results / "beta_vae" / "beta8-quick-seed0.json"
    data = json.loads(stale.read_text())
    data["key"] = "0" * 64
    stale.write_text(json.dumps(data))
    res = invoke("--quick", "--out", str(out), "--only", "beta_vae")
    assert res.exit_code == 0, res.output
    assert "1 cell(s) trained, 4 cached" in res.output
    assert json.loads(stale.read_text())["key"] != "0" * 64


def test_page_only_trains_nothing(quick: tuple[Path, str]) -> None:
    out, _ = quick
    res = invoke("--quick", "--out", str(out), "--page-only")
    assert res.exit_code == 0, res.output
    assert "trained" not in res.output and "wrote" in res.output


def test_a_page_not_written_by_the_command_is_kept(tmp_path: Path) -> None:
    page = tmp_path / "reproduction.md"
    page.write_text("my notes\n")
    res = invoke("--quick", "--out", str(tmp_path), "--page-only")
    assert res.exit_code == 1
    assert "was not written by schemagm reproduce; it is kept" in res.output
    assert "Traceback" not in res.output
    assert page.read_text() == "my notes\n"
    res = invoke("--quick", "--out", str(tmp_path), "--page-only", "--force")
    assert res.exit_code == 0, res.output
    assert page.read_text().startswith(MARKER)


def test_quick_never_writes_into_docs() -> None:
    res = invoke("--quick", "--out", str(DOCS))
    assert res.exit_code == 2
    assert "--quick never writes into docs/" in res.output


def test_unknown_table_is_a_usage_error() -> None:
    res = invoke("--quick", "--only", "beta_vea")
    assert res.exit_code == 2
    assert "unknown table 'beta_vea'" in res.output and "beta_vae" in res.output


def _write_idx(path: Path, images: np.ndarray) -> None:
    n, h, w = images.shape
    path.write_bytes(struct.pack(">HBBIII", 0, 0x08, 3, n, h, w) + images.astype(np.uint8).tobytes())


def test_mnist_runs_the_digits_tables_from_idx_files(tmp_path: Path, schemagm_cache: Path) -> None:
    mnist = tmp_path / "mnist"
    mnist.mkdir()
    rng = np.random.default_rng(0)
    _write_idx(mnist / "train-images-idx3-ubyte", rng.integers(0, 256, size=(120, 28, 28)))
    out = tmp_path / "out"
    res = invoke("--quick", "--mnist", str(mnist), "--out", str(out), "--only", "vae_aavae")
    assert res.exit_code == 0, res.output
    cells = load_results(out / "reproduction" / "results")
    assert len(cells) == 6 and all(c["data"] == "mnist" for c in cells)
    assert all(c["file"].endswith("-mnist-quick-seed0.json") for c in cells)
    one = next(c for c in cells if c["variant"] == "vae-f1")
    assert one["train_rows"] == 108 and one["metrics"]["n_test"] == 12  # 120 rows, a tenth held out
    page = (out / "reproduction.md").read_text()
    assert "data `mnist`" in page and "ring8" not in page  # ring8 is not a digits table


def test_mnist_folder_without_images_is_an_error(tmp_path: Path) -> None:
    res = invoke("--quick", "--mnist", str(tmp_path), "--out", str(tmp_path / "out"), "--only", "flows")
    assert res.exit_code == 1
    assert "has no train-images-idx3-ubyte" in res.output and "Traceback" not in res.output
