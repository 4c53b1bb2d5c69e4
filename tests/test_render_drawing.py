"""The drawing of a graph: its arcs, styles, labels and nodes, checked against the graph itself.

Graphviz's own parser (``dot -Tjson0``) reads the DOT back, so the checks do not
trust schemagm's DOT writer; Mermaid links are read with a small grammar of
Mermaid's link syntax.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from render_support import RED, drawable_graphs, drawn_arcs, drawn_nodes, expected_arcs, graphviz_json

from schemagm.graph.model import Call, Edge, Node, Process, Role, SchematicGraph
from schemagm.render import compare_drawing, drawing, layout_columns, to_dot, to_mermaid
from schemagm.render.labels import edge_label, node_label

GREEK = {"theta": "θ", "eta": "η", "phi": "φ", "lambda": "λ", "psi": "ψ"}


# -- random graphs ------------------------------------------------------------------------


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.large_base_example])
@given(drawable_graphs())
def test_drawn_arcs_are_the_graphs_edges_with_their_styles(graph):
    layout = graphviz_json(to_dot(drawing(graph)))
    arcs, _ = drawn_arcs(layout)
    assert arcs == expected_arcs(graph)


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.large_base_example])
@given(drawable_graphs())
def test_each_edge_is_labelled_once_on_an_arc_from_a_network_input(graph):
    _, visible = drawn_arcs(graphviz_json(to_dot(drawing(graph))))
    labelled = [e for e in visible if e.get("label")]
    expected = []
    for e in graph.edges:
        if e.adversarial and e.kernel is not None:
            text = "MMD"
        elif e.adversarial and e.network is None:
            text = "<i>q</i><sub>*</sub>"
        elif e.label is not None:
            text = f"<i>{e.label}</i>" + (f"<sub>{GREEK[e.group]}</sub>" if e.group else "")
            if e.trunk is not None:  # a head on a shared trunk: Q_η = head(D_φ)
                t_label, _, t_group = e.trunk.rpartition("_")
                text += f" = head(<i>{t_label}</i><sub>{GREEK[t_group]}</sub>)"
        elif e.network is not None:
            text = str(e.network)
        else:
            continue
        inputs = [s for s in e.sources if graph.nodes[s].role is not Role.indicator] or list(e.sources)
        expected.append((inputs[0], e.target, text))
    assert Counter((a["tail_name"], a["head_name"], a["label"]) for a in labelled) == Counter(expected)
    for a in labelled:  # a red edge's label is red too
        assert (a.get("fontcolor") == RED) == (a.get("color") == RED)
    # an edge serving the branch y = 1 says so at the indicator's end of its arc
    marked = Counter(
        (a["tail_name"], a["head_name"], a.get("taillabel") or a.get("headlabel"))
        for a in visible
        if a.get("taillabel") or a.get("headlabel")
    )
    assert marked == Counter(
        (s, e.target, f"{s}=1")
        for e in graph.edges
        if e.branch == 1
        for s in e.sources
        if graph.nodes[s].role is Role.indicator
    )


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.large_base_example])
@given(drawable_graphs())
def test_nodes_and_roles(graph):
    nodes = drawn_nodes(graphviz_json(to_dot(drawing(graph))))
    assert set(nodes) == set(graph.nodes)
    for name, node in graph.nodes.items():
        drawn = nodes[name]
        assert drawn["shape"] == "circle"
        assert (drawn.get("fillcolor") is not None) == (node.role is Role.data)  # data shaded, others plain
        assert drawn.get("peripheries", "1") == ("2" if node.given else "1")  # data chosen by y: double ring
        size = 0.3 if node.role is Role.indicator else 0.45  # the indicator is smaller
        if node.given:  # the outer ring adds to the size
            assert float(drawn["width"]) > size + 0.05
        else:
            assert abs(float(drawn["width"]) - size) < 0.01


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.large_base_example])
@given(drawable_graphs())
def test_dot_is_deterministic(graph):
    again = SchematicGraph.from_json(graph.to_json())  # a different object with the same meaning
    assert to_dot(drawing(graph, legend=True)) == to_dot(drawing(again, legend=True))
    assert to_mermaid(drawing(graph)) == to_mermaid(drawing(again))


MERMAID_LINK = re.compile(r"^\s+(\w+) (-->|--o|-\.->|-\.-o)(?:\|\"(.*)\"\|)? (\w+)$")
MERMAID_ARROWS = {
    ("solid", "normal"): "-->",
    ("solid", "onormal"): "--o",
    ("dashed", "normal"): "-.->",
    ("dashed", "onormal"): "-.-o",
}


def _mermaid_id(name: str) -> str:
    return "n_" + name  # no name can then be a Mermaid keyword (end, graph, click, ...)


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.large_base_example])
@given(drawable_graphs())
def test_mermaid_has_one_link_per_arc_with_its_line_style(graph):
    text = to_mermaid(drawing(graph))
    lines = text.splitlines()
    assert lines[0] == "flowchart LR"
    links = [m.groups() for m in map(MERMAID_LINK.match, lines) if m]
    assert len(links) == sum(len(e.sources) for e in graph.edges)
    expected = Counter(
        (_mermaid_id(s), MERMAID_ARROWS[(line, head)], _mermaid_id(t))
        for (s, t, line, head, _red), n in expected_arcs(graph).items()
        for _ in range(n)
    )
    assert Counter((a, arrow, b) for a, arrow, _label, b in links) == expected
    # red links are exactly the adversarial arcs, by link index
    red = {int(m.group(1)) for m in re.finditer(r"linkStyle (\d+) stroke:#d62728", text)}
    arcs = [(e, s) for e in graph.edges for s in e.sources]
    assert red == {i for i, (e, _s) in enumerate(arcs) if e.adversarial}
    declared = [m.group(1) for m in re.finditer(r"^\s+(\w+)\(\(", text, re.M)]
    assert declared == [_mermaid_id(n) for n in graph.nodes]


# -- the paper's notation on known graphs -------------------------------------------------------


def infogan() -> SchematicGraph:
    nodes = [
        Node(name="x", role=Role.data, shape=(64,), range=(0.0, 1.0)),
        Node(name="z", role=Role.latent, value="normal", shape=(16,)),
        Node(name="y", role=Role.indicator),
    ]
    edges = [
        Edge(
            sources=("z", "y"),
            target="x",
            process=Process.inference,
            deterministic=True,
            label="G",
            group="theta",
            network=Call(name="mlp", args=(256,)),
            output=Call(name="sigmoid"),
        ),
        Edge(
            sources=("x",),
            target="y",
            process=Process.generative,
            adversarial=True,
            label="D",
            group="phi",
            network=Call(name="mlp", args=(256,)),
        ),
        Edge(
            sources=("x", "y"),
            target="z",
            process=Process.generative,
            label="Q",
            group="eta",
            network=Call(name="mlp", args=(256,)),
            output=Call(name="normal"),
        ),
    ]
    return SchematicGraph("infogan", nodes, edges, title="InfoGAN")


def test_labels_in_the_papers_notation():
    assert edge_label("G", "theta").text == "G_θ"
    assert edge_label("q", "eta").html == "<i>q</i><sub>η</sub>"
    assert edge_label("D", "phi").text == "D_φ"
    assert edge_label("q", "lambda").text == "q_λ"
    assert edge_label(None, None) is None
    assert node_label("x1").text == "x₁"
    assert node_label("eta").text == "η"
    assert node_label("xn").text == "xn"
    assert node_label("z_a").html == "<i>z</i><sub>a</sub>"


def test_infogan_drawing_description():
    d = drawing(infogan())
    (panel,) = d["panels"]
    assert [(n["id"], n["role"], n["style"]["fill"]) for n in panel["nodes"]] == [
        ("x", "data", "#d9d9d9"),
        ("z", "latent", None),
        ("y", "indicator", None),
    ]
    arcs = [
        (a["source"], a["target"], a["line"], a["head"], a["kind"], a["label"]["text"] if a["label"] else None)
        for a in panel["edges"]
    ]
    assert arcs == [
        ("z", "x", "dashed", "hollow", "plain", "G_θ"),
        ("y", "x", "dashed", "hollow", "plain", None),
        ("x", "y", "solid", "filled", "adversarial", "D_φ"),
        ("x", "z", "solid", "filled", "plain", "Q_η"),
        ("y", "z", "solid", "filled", "plain", None),
    ]
    assert [a["style"]["color"] for a in panel["edges"]] == ["#000000", "#000000", RED, "#000000", "#000000"]
    # z on the left, x (tested by the adversary) next to y, y under x
    assert panel["columns"] == [["z"], ["x", "y"]]
    assert d["legend"] == [] and d["caption"] is None


def test_perfect_adversary_and_kernel_test_are_drawn_distinctly():
    g = infogan()
    perfect = g.replace(
        edges=[
            g.edges[0],
            g.edges[1].model_copy(update={"network": None, "label": None, "group": None, "perfect": True}),
        ]
    )
    kernel = g.replace(
        edges=[
            g.edges[0],
            g.edges[1].model_copy(
                update={"network": None, "label": None, "group": None, "kernel": Call(name="mmd", args=(1.0,))}
            ),
        ]
    )
    for graph, kind, text, width in (
        (g, "adversarial", "D_φ", 1.6),
        (perfect, "perfect", "q_*", 1.0),
        (kernel, "kernel", "MMD", 1.6),
    ):
        arc = drawing(graph)["panels"][0]["edges"][2]
        assert (arc["kind"], arc["label"]["text"], arc["style"]["color"], arc["style"]["penwidth"]) == (
            kind,
            text,
            RED,
            width,
        )


def test_layout_columns_follow_the_transformations():
    g = infogan()
    swapped = g.replace(
        edges=[
            e.model_copy(
                update={
                    "sources": tuple({"x": "z", "z": "x"}.get(s, s) for s in e.sources),
                    "target": {"x": "z", "z": "x"}.get(e.target, e.target),
                }
            )
            for e in g.edges
        ]
    )
    assert layout_columns(swapped) == [["x"], ["z", "y"]]  # the AAE: x and z trade places
    no_y = SchematicGraph("ae", [Node(name="x", role=Role.data), Node(name="z", role=Role.latent)], [])
    assert layout_columns(no_y) == [["x"], ["z"]]


def test_several_indicators_share_a_column_between_the_domains():
    from schemagm.graph.build import parse_file

    cyclegan = parse_file(Path(__file__).resolve().parent.parent / "specs" / "extra" / "cyclegan.sgm")
    # x_b is tested first (x_b -> u), so it comes first; u and v, in declaration order, between the domains
    assert layout_columns(cyclegan) == [["x_b"], ["u", "v"], ["x_a"]]


def test_legend_lists_only_the_styles_used():
    d = drawing(infogan(), legend=True)
    assert [e["key"] for e in d["legend"]] == ["solid", "dashed", "hollow", "adversarial", "data"]
    layout = graphviz_json(to_dot(d))
    clusters = [o for o in layout["objects"] if o.get("name") == "cluster_legend"]
    assert len(clusters) == 1
    texts = [
        re.sub("<[^>]*>", "", o["label"]) for o in layout["objects"] if o.get("name", "").startswith("legend.text")
    ]
    assert texts == [
        "generative process",
        "inference process",
        "deterministic (implicit)",
        "adversary q(y | ·)",
        "data ~ p_data",
    ]
    # the figure's own arcs are unchanged by the legend
    assert drawn_arcs(layout)[0] - Counter() == expected_arcs(infogan()) + Counter(
        {
            ("legend.mark0", "legend.text0", "solid", "normal", False): 1,
            ("legend.mark1", "legend.text1", "dashed", "normal", False): 1,
            ("legend.mark2", "legend.text2", "solid", "onormal", False): 1,
            ("legend.mark3", "legend.text3", "solid", "normal", True): 1,
        }
    )


def test_caption_text_goes_under_the_figure():
    d = drawing(infogan(), caption='loss(θ) = -E log D(G(z))\nloss(φ) = "BCE"')
    layout = graphviz_json(to_dot(d))
    assert layout["label"] == 'loss(θ) = -E log D(G(z))\\lloss(φ) = "BCE"\\l'
    assert layout["labelloc"] == "b"


def test_compare_draws_two_titled_panels_side_by_side():
    g = infogan()
    h = g.replace(name="vae")
    d = compare_drawing([g, h], ["infogan", "swap_processes(infogan)"])
    layout = graphviz_json(to_dot(d))
    clusters = {o["name"]: o for o in layout["objects"] if o.get("name", "").startswith("cluster_")}
    assert sorted(c["label"] for c in clusters.values()) == ["infogan", "swap_processes(infogan)"]
    arcs, _ = drawn_arcs(layout)
    assert arcs == expected_arcs(g, "p0__") + expected_arcs(h, "p1__")
    # left panel left of the right one
    nodes = drawn_nodes(layout)
    x0 = max(float(nodes[f"p0__{n}"]["pos"].split(",")[0]) for n in g.nodes)
    x1 = min(float(nodes[f"p1__{n}"]["pos"].split(",")[0]) for n in h.nodes)
    assert x0 < x1


def test_dot_is_the_same_under_another_hash_seed():
    code = (
        "import sys; sys.path.insert(0, 'tests');"
        "from test_render_drawing import infogan;"
        "from schemagm.render import drawing, to_dot;"
        "sys.stdout.write(to_dot(drawing(infogan(), legend=True)))"
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    outs = {
        subprocess.run(
            [sys.executable, "-c", code],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
            env=dict(os.environ, PYTHONHASHSEED=seed),
        ).stdout
        for seed in ("1", "2")
    }
    assert len(outs) == 1 and outs == {to_dot(drawing(infogan(), legend=True))}


def test_legend_entries_stack_in_both_directions():
    for direction in ("LR", "TB"):
        nodes = drawn_nodes(graphviz_json(to_dot(drawing(infogan(), legend=True, direction=direction))))
        marks = [tuple(map(float, nodes[f"legend.mark{i}"]["pos"].split(","))) for i in range(5)]
        texts = [tuple(map(float, nodes[f"legend.text{i}"]["pos"].split(","))) for i in range(5)]
        ys = [y for _, y in marks]
        assert ys == sorted(ys, reverse=True) and len(set(ys)) == 5, direction  # one under the other, in order
        for (mx, my), (tx, ty) in zip(marks, texts, strict=True):
            assert tx > mx and abs(ty - my) < 1.0, direction  # each text to the right of its mark
