"""``schemagm render``: every format, --legend, --caption, --transform, --compare, and its errors."""

from __future__ import annotations

import io
import os
import re
import xml.etree.ElementTree as ET

import pytest
from conftest import SPECS
from PIL import Image
from render_support import drawn_arcs, expected_arcs, graphviz_json
from typer.testing import CliRunner

from schemagm.cli.app import _register_all, app
from schemagm.graph.build import parse_file
from schemagm.transform import degenerate_adversary, importance_weight, remove_edge, swap_nodes, swap_processes

_register_all()
runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, ["render", *map(str, args)], catch_exceptions=False)


def spec(name: str) -> str:
    return str(SPECS / f"{name}.sgm")


def test_svg_from_the_suffix(tmp_path):
    out = tmp_path / "gan.svg"
    res = invoke(spec("gan"), "-o", out)
    assert res.exit_code == 0, res.output
    root = ET.fromstring(out.read_bytes())
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    titles = [t.text for t in root.iter("{http://www.w3.org/2000/svg}title")]
    # z, y ==> x and x -> y; the arc against y -> x is written y -> x with dir=back
    assert sorted(t for t in titles if t != "gan") == ["x", "y", "y->x", "y->x", "z", "z->x"]
    assert f"wrote {out}" in res.stderr


def test_png_and_pdf(tmp_path):
    png, pdf = tmp_path / "vae.png", tmp_path / "vae.pdf"
    assert invoke(spec("vae"), "-o", png).exit_code == 0
    assert invoke(spec("vae"), "-o", pdf).exit_code == 0
    image = Image.open(io.BytesIO(png.read_bytes()))
    assert image.format == "PNG" and image.width > 100 and image.height > 50
    assert pdf.read_bytes().startswith(b"%PDF-") and pdf.stat().st_size > 1000


def test_dot_is_printed_without_output_and_matches_the_graph():
    res = invoke(spec("infogan"))
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith("digraph infogan {")
    arcs, _ = drawn_arcs(graphviz_json(res.stdout))
    assert arcs == expected_arcs(parse_file(SPECS / "infogan.sgm"))


def test_mermaid_by_suffix_and_by_format(tmp_path):
    out = tmp_path / "aae.mmd"
    assert invoke(spec("aae"), "-o", out).exit_code == 0
    res = invoke(spec("aae"), "--format", "mermaid")
    assert res.exit_code == 0
    assert out.read_text(encoding="utf-8") == res.stdout.rstrip("\n") + "\n"
    assert res.stdout.startswith("flowchart LR\n")
    # x, y ==> z (dashed hollow), z -> y (red), z, y -> x
    for link in ("n_x -.-o|", "n_y -.-o n_z", "n_z -->|", "n_y --> n_x"):
        assert link in res.stdout


def test_legend_and_no_legend():
    with_legend = invoke(spec("gan"), "--legend").stdout
    without = invoke(spec("gan"), "--no-legend").stdout
    assert "subgraph cluster_legend" in with_legend
    assert "cluster_legend" not in without
    assert without == invoke(spec("gan")).stdout  # no legend by default


def test_caption_is_the_compiled_objective():
    from schemagm.compiler import compile as compile_spec

    res = invoke(spec("gan"), "--caption")
    assert res.exit_code == 0, res.output
    layout = graphviz_json(res.stdout)
    caption = layout["label"].replace("\\l", "\n")
    # typeset formulas, one line per group, and no internal term names
    for term in compile_spec(SPECS / "gan.sgm").objective.terms:
        assert term.formula.lstrip("−") in caption and term.name not in caption
    assert caption.splitlines() == [
        "adversary: loss(φ) = −𝔼_{p_data(x)} log D_φ(x) − 𝔼_{p(z)} log(1 − D_φ(G_θ(z)))",
        "model: loss(θ) = −𝔼_{p(z)} log D_φ(G_θ(z))",
    ]


@pytest.mark.parametrize(
    "step, apply",
    [
        ("swap-processes", lambda g: swap_processes(g)),
        ("swap_nodes x z", lambda g: swap_nodes(g, "x", "z", check=False)),
        ("remove-edge Q_eta", lambda g: remove_edge(g, "Q_eta")),
    ],
)
def test_transform_draws_the_transformed_graph(step, apply):
    res = invoke(spec("infogan"), "--transform", step)
    assert res.exit_code == 0, res.output
    arcs, _ = drawn_arcs(graphviz_json(res.stdout))
    expected = expected_arcs(apply(parse_file(SPECS / "infogan.sgm")))
    assert arcs == expected
    assert arcs != expected_arcs(parse_file(SPECS / "infogan.sgm"))


def test_transform_with_a_number_argument():
    res = invoke(spec("gan"), "--transform", "importance-weight 8", "--caption")
    assert res.exit_code == 0, res.output
    from schemagm.compiler import compile as compile_spec

    caption = graphviz_json(res.stdout)["label"].replace("\\l", "\n")
    for term in compile_spec(importance_weight(parse_file(SPECS / "gan.sgm"), 8)).objective.terms:
        assert term.formula.lstrip("−") in caption and term.name not in caption


def test_compare_infogan_to_vae_side_by_side(tmp_path):
    res = invoke(spec("infogan"), "--compare", "swap-processes", "--compare", "degenerate-adversary")
    assert res.exit_code == 0, res.output
    layout = graphviz_json(res.stdout)
    titles = [o["label"] for o in layout["objects"] if o.get("name", "").startswith("cluster_p")]
    assert titles == ["infogan", "swap_processes(infogan)", "degenerate_adversary(swap_processes(infogan))"]
    g = parse_file(SPECS / "infogan.sgm")
    s = swap_processes(g)
    v = degenerate_adversary(s)
    assert drawn_arcs(layout)[0] == expected_arcs(g, "p0__") + expected_arcs(s, "p1__") + expected_arcs(v, "p2__")
    # the last panel is drawn like the VAE: the same arcs, lines and colours (heads are
    # decoration for the equivalence: InfoGAN's generator stays deterministic)
    vae = parse_file(SPECS / "vae.sgm")

    def shape(arcs):
        return sorted((a, b, line, red) for (a, b, line, _head, red), n in arcs.items() for _ in range(n))

    assert shape(expected_arcs(v)) == shape(expected_arcs(vae))
    out = tmp_path / "infogan_to_aae.png"
    assert invoke(spec("infogan"), "--compare", "swap-nodes x z", "-o", out).exit_code == 0
    assert Image.open(out).width > Image.open(out).height  # side by side, not stacked


def test_transformation_that_does_not_apply_is_a_clear_error():
    res = invoke(spec("ae"), "--transform", "degenerate-adversary")
    assert res.exit_code == 1
    assert "degenerate_adversary does not apply to model 'ae'" in res.stderr
    assert "Traceback" not in res.output


def test_unknown_transformation_or_format_is_a_usage_error(tmp_path):
    res = invoke(spec("ae"), "--compare", "swap-everything")
    assert res.exit_code == 2 and "unknown transformation 'swap-everything'" in re.sub(r"\s*│\s*", " ", res.stderr)
    res = invoke(spec("ae"), "-o", tmp_path / "ae.jpeg")
    assert res.exit_code == 2 and "cannot tell the drawing format" in res.stderr
    res = invoke(spec("ae"), "--format", "svg")
    assert res.exit_code == 2 and "needs an output file" in res.stderr
    assert not list(tmp_path.iterdir())


def test_bad_spec_shows_a_caret_and_exits_1(tmp_path):
    bad = tmp_path / "bad.sgm"
    bad.write_text(
        "model bad\ndata x : real[4]\nlatent z : normal[2]\nx --> w : q_eta = mlp(8) normal\n"
        "w -> x : p_theta = mlp(8) normal\n"
    )
    out = tmp_path / "bad.svg"
    res = invoke(bad, "-o", out)
    assert res.exit_code == 1
    assert f"{bad}:4:7: error: unknown node 'w'" in res.stderr
    assert "  4 | x --> w : q_eta = mlp(8) normal\n    |       ^" in res.stderr
    assert "Traceback" not in res.output
    assert not out.exists()
    res = invoke(tmp_path / "missing.sgm")
    assert res.exit_code == 1 and f"spec file '{tmp_path / 'missing.sgm'}' does not exist" in res.stderr


def test_missing_dot_says_how_to_install_it_and_text_formats_still_work(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no `dot` on PATH
    out = tmp_path / "gan.svg"
    res = invoke(spec("gan"), "-o", out)
    assert res.exit_code == 1
    assert "the Graphviz program 'dot' was not found" in res.stderr
    assert "apt-get install graphviz" in res.stderr and "brew install graphviz" in res.stderr
    assert "Traceback" not in res.output and not out.exists()
    assert invoke(spec("gan"), "-o", tmp_path / "gan.dot").exit_code == 0
    assert (tmp_path / "gan.dot").read_text().startswith("digraph gan {")
    assert invoke(spec("gan"), "-o", tmp_path / "gan.mmd").exit_code == 0
    assert (tmp_path / "gan.mmd").read_text().startswith("flowchart LR")


def test_output_is_replaced_atomically(tmp_path):
    out = tmp_path / "gan.dot"
    out.write_text("old")
    res = invoke(spec("gan"), "-o", out)
    assert res.exit_code == 1 and "already exists; it is not overwritten" in res.stderr and out.read_text() == "old"
    assert invoke(spec("gan"), "-o", out, "--force").exit_code == 0
    assert out.read_text().startswith("digraph gan {")
    assert sorted(os.listdir(tmp_path)) == ["gan.dot"]  # no temporary file left behind
    res = invoke(spec("gan"), "-o", tmp_path / "no" / "such" / "dir.svg")
    assert res.exit_code == 1 and "does not exist" in res.stderr
    (tmp_path / "folder.svg").mkdir()
    res = invoke(spec("gan"), "-o", tmp_path / "folder.svg")
    assert res.exit_code == 1 and "is a folder, not a file" in res.stderr and "Traceback" not in res.output


def test_transform_with_a_keyword_argument_activates_the_adversary():
    res = invoke(
        spec("vae"), "--transform", "activate-adversary network=mlp(32) label=D group=phi", "--format", "mermaid"
    )
    assert res.exit_code == 0, res.output
    # the perfect adversary q_* became a discriminator D_phi on the same dashed red arc
    assert 'n_x -.->|"<i>D</i><sub>φ</sub>"| n_y' in res.stdout
    assert "<sub>*</sub>" not in res.stdout
    before = invoke(spec("vae"), "--format", "mermaid").stdout
    assert 'n_x -.->|"<i>q</i><sub>*</sub>"| n_y' in before


def test_png_resolution_and_size(tmp_path):
    import struct

    def pixels(path):
        return struct.unpack(">II", path.read_bytes()[16:24])

    default, fine, boxed = tmp_path / "a.png", tmp_path / "b.png", tmp_path / "c.png"
    assert invoke(spec("vae"), "-o", default).exit_code == 0
    assert invoke(spec("vae"), "-o", fine, "--dpi", "600").exit_code == 0
    assert invoke(spec("vae"), "-o", boxed, "--dpi", "100", "--size", "6,4").exit_code == 0
    (w, h), (w2, h2), (w3, h3) = pixels(default), pixels(fine), pixels(boxed)
    assert w >= 600 and h >= 450  # 300 dpi by default (144 gave 288 x 232)
    assert abs(w2 / w - 2) < 0.02 and abs(h2 / h - 2) < 0.02
    assert max(w3 / 600, h3 / 400) > 0.99 and w3 <= 601 and h3 <= 401  # fills 6 x 4 inches at 100 dpi
    res = invoke(spec("vae"), "-o", tmp_path / "d.png", "--size", "wide")
    assert res.exit_code == 2 and "not a size" in res.output
