"""Structural equivalence: the canonical hash against networkx's VF2++, invariance under renaming,
sensitivity to every structural edit, and differences in words."""

from __future__ import annotations

import random
import subprocess
import sys

from hypothesis import given
from hypothesis import strategies as st
from strategies import graphs

from schemagm.graph.model import Call, Edge, Node, Process, Role, SchematicGraph
from schemagm.transform.equivalence import (
    canonical_form,
    differences,
    equivalent,
    find_isomorphism,
    structural_hash,
    structure,
)

# ---------------------------------------------------------------------------------------------
# random structures, not necessarily valid models (equivalence is defined on every graph): small
# enough that two independent draws are often isomorphic; tests/strategies.py draws valid models


@st.composite
def structures(draw, max_latent: int = 3, max_edges: int = 5) -> SchematicGraph:
    nodes = [Node(name=f"x{i}", role=Role.data, shape=(2,)) for i in range(draw(st.integers(1, 2)))]
    nodes += [
        Node(name=f"z{i}", role=Role.latent, value=draw(st.sampled_from(["real", "normal"])), shape=(2,))
        for i in range(draw(st.integers(0, max_latent)))
    ]
    has_y = draw(st.booleans())
    if has_y:
        nodes.append(Node(name="y", role=Role.indicator))
    variables = [n.name for n in nodes if n.role is not Role.indicator]
    edges = []
    for k in range(draw(st.integers(0, max_edges))):
        red = has_y and draw(st.booleans())
        if red:
            sources = (draw(st.sampled_from(variables)),)
            kind = draw(st.sampled_from(["learned", "perfect", "kernel"]))
            edges.append(
                Edge(
                    sources=sources,
                    target="y",
                    process=draw(st.sampled_from(list(Process))),
                    adversarial=True,
                    perfect=kind == "perfect",
                    label=f"D{k}" if kind == "learned" else None,
                    group="phi" if kind == "learned" else None,
                    network=Call(name="mlp", args=(8,)) if kind == "learned" else None,
                    kernel=Call(name="mmd", args=(1.0,)) if kind == "kernel" else None,
                )
            )
            continue
        target = draw(st.sampled_from(variables))
        others = [v for v in variables if v != target]
        if not others:
            continue
        sources = draw(st.lists(st.sampled_from(others), min_size=1, max_size=3, unique=True))
        branch = None
        if has_y and draw(st.booleans()):
            sources.append("y")
            branch = draw(st.sampled_from([0, 1]))
        edges.append(
            Edge(
                sources=tuple(sources),
                target=target,
                process=draw(st.sampled_from(list(Process))),
                deterministic=draw(st.booleans()),
                label=f"F{k}",
                group=draw(st.sampled_from(["theta", "eta"])),
                network=Call(name="mlp", args=(draw(st.sampled_from([8, 16])),)),
                branch=branch,
            )
        )
    return SchematicGraph("random", nodes, edges)


def renamed(graph: SchematicGraph, seed: int) -> SchematicGraph:
    """The same structure with fresh node names, labels and model name, and every order shuffled."""
    rng = random.Random(seed)
    names = list(graph.nodes)
    fresh = [f"n{rng.randrange(10**6)}_{i}" for i in range(len(names))]
    rng.shuffle(fresh)
    new = dict(zip(names, fresh, strict=True))
    nodes = [
        n.model_copy(update={"name": new[n.name], "given": new.get(n.given) if n.given else None})
        for n in graph.nodes.values()
    ]
    rng.shuffle(nodes)
    edges = []
    for e in graph.edges:
        sources = [new[s] for s in e.sources]
        rng.shuffle(sources)
        label = f"L{rng.randrange(10**6)}" if e.label else None
        group = rng.choice(["theta", "eta", "lambda", "psi"]) if e.group else None
        edges.append(
            e.model_copy(update={"sources": tuple(sources), "target": new[e.target], "label": label, "group": group})
        )
    rng.shuffle(edges)
    return SchematicGraph(f"m{rng.randrange(1000)}", nodes, edges, title="renamed")


def edits(graph: SchematicGraph) -> list[tuple[str, SchematicGraph]]:
    """Every single structural edit of one edge: flip its process, toggle red, drop it, add a source."""
    out = []
    variables = [n for n, x in graph.nodes.items() if x.role is not Role.indicator]
    for i, e in enumerate(graph.edges):

        def put(new_edge: Edge | None, i: int = i) -> SchematicGraph:
            edges = list(graph.edges)
            if new_edge is None:
                del edges[i]
            else:
                edges[i] = new_edge
            return graph.replace(edges=edges)

        other = Process.inference if e.process is Process.generative else Process.generative
        out.append((f"flip process of edge {i}", put(e.model_copy(update={"process": other}))))
        out.append((f"toggle red on edge {i}", put(e.model_copy(update={"adversarial": not e.adversarial}))))
        out.append((f"drop edge {i}", put(None)))
        extra = [v for v in variables if v not in e.sources and v != e.target]
        if extra:
            out.append(
                (f"add source {extra[0]} to edge {i}", put(e.model_copy(update={"sources": (*e.sources, extra[0])})))
            )
    return out


# ---------------------------------------------------------------------------------------------


@given(structures(), st.integers(0, 10**9))
def test_hash_and_isomorphism_are_invariant_under_renaming(g: SchematicGraph, seed: int) -> None:
    check_invariant_under_renaming(g, seed)


@given(graphs(), st.integers(0, 10**9))
def test_hash_and_isomorphism_of_valid_models_are_invariant_under_renaming(g: SchematicGraph, seed: int) -> None:
    check_invariant_under_renaming(g, seed)


def check_invariant_under_renaming(g: SchematicGraph, seed: int) -> None:
    h = renamed(g, seed)
    assert canonical_form(h) == canonical_form(g)
    assert structural_hash(h) == structural_hash(g)
    match = find_isomorphism(g, h)
    assert match is not None
    # the matching really maps every edge onto an edge with the mapped endpoints
    for i, j in match.edges.items():
        assert {match.nodes[s] for s in g.edges[i].sources} == set(h.edges[j].sources)
        assert match.nodes[g.edges[i].target] == h.edges[j].target
        assert g.edges[i].process is h.edges[j].process
    assert differences(g, h) == []


@given(structures())
def test_hash_changes_under_every_structural_edit(g: SchematicGraph) -> None:
    check_changes_under_every_edit(g)


@given(graphs())
def test_hash_of_valid_models_changes_under_every_structural_edit(g: SchematicGraph) -> None:
    check_changes_under_every_edit(g)


def check_changes_under_every_edit(g: SchematicGraph) -> None:
    h = structural_hash(g)
    for what, edited in edits(g):
        assert structural_hash(edited) != h, what
        assert not equivalent(g, edited), what
        assert differences(g, edited), what


@given(structures(max_latent=2, max_edges=3), structures(max_latent=2, max_edges=3))
def test_equal_hash_exactly_when_vf2pp_finds_an_isomorphism(a: SchematicGraph, b: SchematicGraph) -> None:
    # small graphs, so that independent draws are often isomorphic
    assert (structural_hash(a) == structural_hash(b)) == (find_isomorphism(a, b) is not None)


def test_hash_is_stable_across_processes() -> None:
    g = SchematicGraph(
        "vae",
        [
            Node(name="x", role=Role.data, shape=(4,)),
            Node(name="z", role=Role.latent, value="normal", shape=(2,)),
            Node(name="y", role=Role.indicator),
        ],
        [
            Edge(
                sources=("x", "y"),
                target="z",
                process=Process.inference,
                label="q",
                group="eta",
                network=Call(name="mlp", args=(8,)),
                output=Call(name="normal"),
                branch=0,
            ),
            Edge(
                sources=("z", "y"),
                target="x",
                process=Process.generative,
                label="p",
                group="theta",
                network=Call(name="mlp", args=(8,)),
                output=Call(name="bernoulli"),
                branch=0,
            ),
            Edge(sources=("x",), target="y", process=Process.inference, adversarial=True, perfect=True),
        ],
    )
    code = (
        "from schemagm.graph.model import SchematicGraph; from schemagm.transform import structural_hash; import sys; "
        "print(structural_hash(SchematicGraph.from_json(sys.stdin.read())))"
    )
    outs = {
        subprocess.run(
            [sys.executable, "-c", code],
            input=g.to_json(),
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": str(seed), "PATH": ""},
        ).stdout.strip()
        for seed in (1, 2)
    }
    assert outs == {structural_hash(g)}
    assert len(structural_hash(g)) == 64 and int(structural_hash(g), 16) >= 0


def _two_edges_vs_one_factor() -> tuple[SchematicGraph, SchematicGraph]:
    nodes = [
        Node(name="x", role=Role.data, shape=(2,)),
        Node(name="z", role=Role.latent, value="normal", shape=(2,)),
        Node(name="w", role=Role.data, shape=(2,)),
    ]
    one = SchematicGraph("one", nodes, [Edge(sources=("x", "z"), target="w", process=Process.generative)])
    two = SchematicGraph(
        "two",
        nodes,
        [
            Edge(sources=("x",), target="w", process=Process.generative),
            Edge(sources=("z",), target="w", process=Process.generative),
        ],
    )
    return one, two


def test_a_multi_source_edge_differs_from_separate_edges() -> None:
    one, two = _two_edges_vs_one_factor()
    assert structure(one).number_of_nodes() == 4 and structure(two).number_of_nodes() == 5
    assert structural_hash(one) != structural_hash(two)
    assert not equivalent(one, two)
    words = differences(one, two)
    assert "A has 1 edge, B has 2" in words
    assert any("B's generative edge" in w and "has no counterpart in A" in w for w in words), words


def test_differences_name_the_edge_that_changed() -> None:
    one, _ = _two_edges_vs_one_factor()
    y = Node(name="y", role=Role.indicator)
    a = SchematicGraph(
        "a",
        [*one.nodes.values(), y],
        [*one.edges, Edge(sources=("w",), target="y", process=Process.generative, adversarial=True, perfect=True)],
    )
    b = a.replace(
        edges=[
            a.edges[0].model_copy(update={"process": Process.inference}),
            a.edges[1].model_copy(update={"adversarial": False}),
        ]
    )
    words = differences(a, b)
    assert "edge x, z -> w (B: x, z --> w) is solid (generative) in A, dashed in B" in words
    assert "edge w -> y is red in A, not in B" in words
    assert "A has 1 red edge, B has 0" in words
    # a renamed copy is matched through the renaming and the same differences are found
    c = renamed(b, 7)
    words_c = differences(a, c)
    assert any(w.startswith("matching nodes") for w in words_c)
    assert any("is solid (generative) in A, dashed in B" in w for w in words_c), words_c
    assert any("is red in A, not in B" in w for w in words_c), words_c
