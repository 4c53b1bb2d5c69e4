"""Every catalog spec draws to a real image, and docs/catalog.md with its figures is up to date."""

from __future__ import annotations

import importlib.util
import io
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from conftest import CATALOG, ROOT, SPECS
from PIL import Image

from schemagm.graph.build import parse_file
from schemagm.render import drawing, write_drawing

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _gen_catalog():
    spec = importlib.util.spec_from_file_location("gen_catalog", ROOT / "docs" / "gen_catalog.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _reddish(image: Image.Image) -> int:
    """Pixels of the adversary's red (#d62728, anti-aliased: clearly red, not grey)."""
    rgb = np.asarray(image.convert("RGB")).astype(int)
    return int(((rgb[..., 0] > 150) & (rgb[..., 1] < 110) & (rgb[..., 2] < 110)).sum())


@pytest.mark.parametrize("name", CATALOG)
def test_every_catalog_spec_draws_a_png(name, tmp_path):
    graph = parse_file(SPECS / f"{name}.sgm")
    out = tmp_path / f"{name}.png"
    assert write_drawing(drawing(graph, legend=True), out) == "png"
    data = out.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    image = Image.open(io.BytesIO(data))
    image.load()
    assert image.format == "PNG" and image.width >= 150 and image.height >= 60
    grey = image.convert("L")
    assert int((np.asarray(grey) < 128).sum()) > 300  # nodes, arcs and text were drawn
    # red pixels exactly when the model has an adversary (red edge)
    assert (_reddish(image) > 20) == any(e.adversarial for e in graph.edges)


def test_catalog_page_and_figures_are_up_to_date():
    gen = _gen_catalog()
    text, dots = gen.generate()
    assert set(dots) >= set(CATALOG)
    assert gen.stale(text, dots) == [], "run: python docs/gen_catalog.py"
    for name in CATALOG:
        assert f"![schematic graph of {name}](figures/{name}.svg)" in text
        assert (SPECS / f"{name}.sgm").read_text(encoding="utf-8").rstrip("\n") in text


def test_catalog_objectives_are_the_compilers():
    from schemagm.compiler import compile as compile_spec

    text = (ROOT / "docs" / "catalog.md").read_text(encoding="utf-8")
    for name in ("gan", "vae", "wake_sleep"):
        objective = compile_spec(SPECS / f"{name}.sgm").objective.text().rstrip("\n")
        section = text.split(f"\n## {name}\n", 1)[1].split("\n## ", 1)[0]
        assert f"```\n{objective}\n```" in section


def test_committed_figures_are_svg_of_their_graphs():
    for path in sorted((ROOT / "docs" / "figures").glob("*.svg")):
        root = ET.fromstring(path.read_bytes())
        assert root.tag == "{http://www.w3.org/2000/svg}svg", path
        titles = {t.text for t in root.iter("{http://www.w3.org/2000/svg}title")}
        if path.stem in CATALOG:
            assert set(parse_file(SPECS / f"{path.stem}.sgm").nodes) <= titles, path


def test_comparison_figures_are_what_the_command_draws():
    gen = _gen_catalog()
    _, dots = gen.generate()
    for name, spec, steps, _ in gen.COMPARISONS:
        args = [sys.executable, "-m", "schemagm", "render", str(SPECS / f"{spec}.sgm"), "--legend", "--format", "dot"]
        for step in steps:
            args += ["--compare", step]
        out = subprocess.run(args, capture_output=True, text=True, cwd=ROOT)
        assert out.returncode == 0, out.stderr
        assert out.stdout == dots[name]


def test_stale_figure_is_detected(tmp_path, monkeypatch):
    gen = _gen_catalog()
    text, dots = gen.generate()
    monkeypatch.setattr(gen, "FIGURES", tmp_path)
    monkeypatch.setattr(gen, "PAGE", tmp_path / "catalog.md")
    (tmp_path / "catalog.md").write_text(text, encoding="utf-8")
    for name in dots:
        (tmp_path / f"{name}.svg").write_text(gen.stamp_svg("<svg/>", gen.dot_hash(dots[name])))
    monkeypatch.setattr(gen, "ROOT", tmp_path.parent)
    assert gen.stale(text, dots) == []
    changed = dict(dots, gan=dots["gan"].replace("#d62728", "#000000"))
    assert gen.stale(text, changed) == [f"{tmp_path.name}/gan.svg"]
    (tmp_path / "old_model.svg").write_text("<svg/>")
    assert gen.stale(text + "x", dots) == [f"{tmp_path.name}/catalog.md", "docs/figures/old_model.svg (no such spec)"]
