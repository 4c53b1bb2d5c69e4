"""The tour notebook (examples/tour.ipynb) runs headless with no error, and is stored executed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parent.parent
TOUR = ROOT / "examples" / "tour.ipynb"


def _outputs(nb, kind: str | None = None) -> list:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if kind is None or o.output_type == kind]


def _text(nb) -> str:
    return "".join(o.get("text", "") for o in _outputs(nb, "stream"))


def test_the_stored_tour_is_executed_without_errors():
    nb = nbformat.read(TOUR, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.execution_count is not None for c in code)
    assert _outputs(nb, "error") == []
    assert "equivalent to the VAE: True" in _text(nb)


@pytest.mark.slow
def test_the_tour_runs_headless(tmp_path, monkeypatch):
    nb = nbformat.read(TOUR, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    # the kernel imports this checkout's schemagm
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    client = nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(ROOT / "examples")}}
    )
    client.execute()
    assert _outputs(nb, "error") == []
    text = _text(nb)
    assert "equivalent to the VAE: True" in text
    assert "finished after 60 steps" in text
    kinds = {key for o in _outputs(nb) for key in o.get("data", {})}
    assert {"image/svg+xml", "text/latex", "image/png", "text/html"} <= kinds
    latex = [o["data"]["text/latex"] for o in _outputs(nb, "display_data") if "text/latex" in o.get("data", {})]
    assert any(r"\mathcal{L}(\theta)" in formula and r"\log p_{\theta}" in formula for formula in latex), latex
