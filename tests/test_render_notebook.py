"""In Jupyter a schematic graph shows itself as its diagram."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET

from conftest import ROOT, SPECS

from schemagm.graph.build import parse_file


def test_graph_displays_as_svg():
    graph = parse_file(SPECS / "infogan.sgm")
    bundle = graph._repr_mimebundle_()
    assert bundle["text/plain"] == repr(graph)
    root = ET.fromstring(bundle["image/svg+xml"])
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    titles = {t.text for t in root.iter("{http://www.w3.org/2000/svg}title")}
    assert {"x", "z", "y", "z->x", "y->x", "y->z"} <= titles  # (x -> z is drawn as z -> x, dir=back)
    assert "#d62728" in bundle["image/svg+xml"]  # the red adversary
    assert list(graph._repr_mimebundle_(include={"image/svg+xml"})) == ["image/svg+xml"]
    assert "image/svg+xml" not in graph._repr_mimebundle_(exclude={"image/svg+xml"})


def test_without_dot_the_graph_displays_as_mermaid(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    bundle = parse_file(SPECS / "gan.sgm")._repr_mimebundle_()
    assert "image/svg+xml" not in bundle
    assert bundle["text/markdown"].startswith("```mermaid\nflowchart LR\n")


def test_the_graph_stage_does_not_import_render():
    code = (
        "import sys, schemagm.graph.build, schemagm.graph.model; print(any(m.startswith('schemagm.render') "
        "for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"


def test_render_does_not_import_the_compiler_or_torch_unless_a_caption_is_asked_for():
    code = (
        "import sys; from schemagm.graph.build import parse_file; "
        "from schemagm.render import drawing, to_dot, to_mermaid;"
        "g = parse_file('specs/vae.sgm'); to_dot(drawing(g, legend=True)); to_mermaid(drawing(g));"
        "print(sorted({m.split('.')[0] if m == 'torch' or m.startswith('torch.') else m "
        "for m in sys.modules if m == 'torch' or m.startswith('torch.') or m.startswith('schemagm.compiler')}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"
