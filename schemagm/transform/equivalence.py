"""Structural equivalence of schematic graphs: canonical form, stable hash, isomorphism, differences.

Structure (SEMANTICS.md §4) is what the one rule of the compiler reads: the
nodes' roles, the edges' endpoints, solid or dashed, and red.  schemagm also
counts as structure the three facts the rule branches on that the drawing shows
by other means:

* which kind of adversary a red edge has -- a learned discriminator, the perfect
  adversary q_* (no network) or a fixed kernel test -- since degenerating or
  activating an adversary changes the objective (rule 5);
* whether a latent node has a prior (its own source; rule 3 regularises towards
  it) and whether a data node is chosen by the indicator (``given y``) or partially observed
  (``partial``);
* the branch an edge serves (``y`` or ``y=1``).

Networks, sizes, the prior's family and size, labels, groups, hollow heads,
``no_reparam``, the order of sources, names and options are decoration.

A graph is compared as a labelled bipartite digraph: one vertex per node, one
*factor* vertex per edge, arcs source -> factor -> target.  The factor keeps a
multi-source edge ``x, z -> y`` apart from the two edges ``x -> y`` and
``z -> y``.  The canonical form is found by colour refinement with
individualisation (the search of canonical-labelling tools, without automorphism
pruning, which is fine at the size of a model); the stable hash is SHA-256 of it.
The node matching of two equivalent graphs comes from networkx's VF2++.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass

import networkx as nx

from ..graph.model import Edge, Process, Role, SchematicGraph
from .common import adversary_kind, describe_edge

__all__ = [
    "structure",
    "canonical_form",
    "structural_hash",
    "Match",
    "find_isomorphism",
    "equivalent",
    "differences",
]


# -- the labelled bipartite graph ------------------------------------------------------------


def _node_label(graph: SchematicGraph, name: str, declarations: bool = True) -> str:
    n = graph.nodes[name]
    if not declarations:
        return "node:indicator" if n.role is Role.indicator else "node:variable"
    label = f"node:{n.role.value}"
    if n.role is Role.latent:
        label += ":prior" if n.prior is not None else ":no-prior"
    if n.role is Role.data and n.given is not None:
        label += ":given"
    if n.partial:
        label += ":partial"
    return label


def _edge_label(edge: Edge) -> str:
    branch = "any" if edge.branch is None else str(edge.branch)
    flow = ":invertible" if edge.invertible else ""  # a flow is structure: a bijection, not a conditional
    return f"edge:{edge.process.value}:red={adversary_kind(edge) or 'no'}:branch={branch}{flow}"


def structure(graph: SchematicGraph, declarations: bool = True) -> nx.DiGraph:
    """The structure of ``graph`` as a networkx DiGraph with a ``label`` on every vertex.

    Vertices are ``("node", name)`` and ``("edge", index)``; arcs run from each
    source node to the edge's vertex and from there to the target node.  With
    ``declarations=False`` nodes are only told apart as indicator or variable
    (data or latent, with or without prior): the edges alone.
    """
    g = nx.DiGraph()
    for name in graph.nodes:
        g.add_node(("node", name), label=_node_label(graph, name, declarations))
    for i, e in enumerate(graph.edges):
        g.add_node(("edge", i), label=_edge_label(e))
        for s in e.sources:
            if s in graph.nodes:
                g.add_edge(("node", s), ("edge", i))
        if e.target in graph.nodes:
            g.add_edge(("edge", i), ("node", e.target))
    return g


# -- canonical form --------------------------------------------------------------------------


def _refine(g: nx.DiGraph, colours: dict) -> dict:
    """Colour refinement (1-WL on a digraph) until the partition is stable.

    A colour is the rank of a signature that only involves colours, so the
    result does not depend on the vertices' names."""
    count = len(set(colours.values()))
    while True:
        sig = {
            v: (
                colours[v],
                tuple(sorted(colours[u] for u in g.predecessors(v))),
                tuple(sorted(colours[w] for w in g.successors(v))),
            )
            for v in g
        }
        ranks = {s: r for r, s in enumerate(sorted(set(sig.values())))}
        colours = {v: ranks[sig[v]] for v in g}
        new_count = len(ranks)
        if new_count == count:
            return colours
        count = new_count


def _certificate(g: nx.DiGraph, colours: dict) -> tuple:
    order = sorted(g, key=lambda v: colours[v])
    pos = {v: i for i, v in enumerate(order)}
    labels = tuple(g.nodes[v]["label"] for v in order)
    arcs = tuple(sorted((pos[u], pos[w]) for u, w in g.edges))
    return labels, arcs


def _canonical(g: nx.DiGraph, colours: dict) -> tuple[tuple, dict]:
    colours = _refine(g, colours)
    cells: dict[int, list] = {}
    for v, c in colours.items():
        cells.setdefault(c, []).append(v)
    split = next((c for c in sorted(cells) if len(cells[c]) > 1), None)
    if split is None:
        return _certificate(g, colours), colours
    best: tuple[tuple, dict] | None = None
    # twins (same label, same neighbours: parallel copies of one edge) give the same certificate;
    # trying one of each keeps the search small on symmetric graphs
    candidates: dict[tuple, object] = {}
    for v in cells[split]:
        candidates.setdefault((frozenset(g.predecessors(v)), frozenset(g.successors(v))), v)
    for v in candidates.values():
        individualised = {u: 2 * c + (1 if c == split and u != v else 0) for u, c in colours.items()}
        cert = _canonical(g, individualised)
        if best is None or cert[0] < best[0]:
            best = cert
    assert best is not None
    return best


def canonical_form(graph: SchematicGraph) -> str:
    """A text that two graphs share exactly when they are structurally equivalent.

    The vertices are listed in canonical order (their labels), then the arcs as
    pairs of positions; names, decoration and declaration order do not enter."""
    g = structure(graph)
    labels = sorted(set(nx.get_node_attributes(g, "label").values()))
    rank = {lab: i for i, lab in enumerate(labels)}
    (vertex_labels, arcs), _ = _canonical(g, {v: rank[g.nodes[v]["label"]] for v in g})
    return json.dumps({"vertices": list(vertex_labels), "arcs": [list(a) for a in arcs]}, separators=(",", ":"))


def structural_hash(graph: SchematicGraph) -> str:
    """SHA-256 (hex) of the canonical form: stable across runs and processes, blind to renaming."""
    return hashlib.sha256(canonical_form(graph).encode("utf-8")).hexdigest()


# -- isomorphism -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    """How two equivalent graphs correspond: node names of A -> B, edge indices of A -> B."""

    nodes: dict[str, str]
    edges: dict[int, int]

    def describe(self, a: SchematicGraph, b: SchematicGraph, b_first: bool = False) -> list[str]:
        """The correspondence in words, ``a``'s part ↦ ``b``'s; ``b_first`` writes ``b``'s part first
        (``b ≅ a``'s, as ``explain`` prints ``vae ≅ chain(infogan)``)."""
        if b_first:
            lines = [f"node {m} ≅ {n}" for n, m in self.nodes.items()]
        else:
            lines = [f"node {n} ↦ {m}" for n, m in self.nodes.items()]
        for i, j in sorted(self.edges.items(), key=lambda kv: kv[1] if b_first else kv[0]):
            ea, eb = a.edges[i], b.edges[j]
            net_a = f"  ({ea.label}_{ea.group})" if ea.group else ""
            net_b = f"  ({eb.label}_{eb.group})" if eb.group else ""
            if b_first:
                lines.append(f"edge {describe_edge(eb)}{net_b} ≅ {describe_edge(ea)}{net_a}")
            else:
                lines.append(f"edge {describe_edge(ea)}{net_a} ↦ {describe_edge(eb)}{net_b}")
        return lines


def find_isomorphism(a: SchematicGraph, b: SchematicGraph, declarations: bool = True) -> Match | None:
    """The correspondence between two structurally equivalent graphs, or None.

    ``declarations=False`` ignores what the nodes are declared as (data, latent,
    prior) and matches the edges alone."""
    sa, sb = structure(a, declarations), structure(b, declarations)
    if sa.number_of_nodes() != sb.number_of_nodes() or sa.number_of_edges() != sb.number_of_edges():
        return None
    mapping = nx.vf2pp_isomorphism(sa, sb, node_label="label")
    if mapping is None:
        return None
    nodes = {u[1]: v[1] for u, v in mapping.items() if u[0] == "node"}
    edges = {u[1]: v[1] for u, v in mapping.items() if u[0] == "edge"}
    return Match(nodes=dict(sorted(nodes.items(), key=lambda kv: list(a.nodes).index(kv[0]))), edges=edges)


def equivalent(a: SchematicGraph, b: SchematicGraph) -> bool:
    """Whether ``a`` and ``b`` have the same structure up to renaming of nodes."""
    return find_isomorphism(a, b) is not None


# -- differences in words --------------------------------------------------------------------

_ROLE_WORDS = {Role.data: "data", Role.latent: "latent", Role.indicator: "indicator"}
_PROCESS_WORDS = {Process.generative: "generative", Process.inference: "inference"}
_KIND_WORDS = {
    None: "not red",
    "learned": "red with a learned discriminator",
    "perfect": "red with the perfect adversary q_*",
    "kernel": "red with a kernel test",
}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _node_words(graph: SchematicGraph, name: str) -> str:
    n = graph.nodes[name]
    if n.role is Role.latent:
        return "a latent node with a prior" if n.prior is not None else "a latent node without a prior"
    if n.role is Role.data:
        if n.partial:
            return "a partially observed data node"
        return f"a data node chosen by {n.given}" if n.given else "a data node"
    return "the indicator"


def _edge_words(e: Edge) -> str:
    red = " red" if e.adversarial else ""
    return f"{_PROCESS_WORDS[e.process]}{red} edge {describe_edge(e)}"


class _EdgePairing:
    """The greedy best pairing of A's edges with B's under a node map, for many node maps: what does
    not depend on the map (B's sources, whether processes, adversaries and branches agree) is read
    once, so that each map costs one set per edge of A and a few set operations per pair."""

    def __init__(self, a: SchematicGraph, b: SchematicGraph) -> None:
        self.a_edges = [(e.sources, e.target) for e in a.edges]
        self.b_edges = [(frozenset(e.sources), e.target) for e in b.edges]
        self.fixed = [
            [
                (ea.process is eb.process) + (adversary_kind(ea) == adversary_kind(eb)) + (ea.branch == eb.branch)
                for eb in b.edges
            ]
            for ea in a.edges
        ]

    def pair(self, m: dict[str, str]) -> tuple[int, list[tuple[int, int]]]:
        """(score, pairs) under the node map ``m``.  A pair scores 0 (never paired) unless it shares
        the mapped target or a mapped source; else 8 for the target, 4 for equal source sets, one
        per shared source, and one each for the same process, adversary and branch."""
        scored = []
        for i, (sources, target) in enumerate(self.a_edges):
            src_a = {m.get(s) for s in sources}
            mapped = m.get(target)
            fixed = self.fixed[i]
            for j, (src_b, target_b) in enumerate(self.b_edges):
                same_target = mapped == target_b
                shared = len(src_a & src_b)
                if same_target or shared:
                    scored.append((-(8 * same_target + 4 * (src_a == src_b) + shared + fixed[j]), i, j))
        scored.sort()  # best first, then by A's and B's edge order
        used_a: set[int] = set()
        used_b: set[int] = set()
        pairs = []
        total = 0
        for s, i, j in scored:
            if i in used_a or j in used_b:
                continue
            used_a.add(i)
            used_b.add(j)
            pairs.append((i, j))
            total -= s
        return total, sorted(pairs)


_MAX_MAPPINGS = 5040


def _node_maps(a: SchematicGraph, b: SchematicGraph):
    """Matchings of A's nodes to B's (indicator to indicator; a data node may match a latent one,
    as in GAN vs ADA), those that keep names and roles first."""
    per_kind = []
    for is_indicator in (False, True):
        na = [n for n, x in a.nodes.items() if (x.role is Role.indicator) == is_indicator]
        nb = [n for n, x in b.nodes.items() if (x.role is Role.indicator) == is_indicator]
        if len(na) <= len(nb):
            options = [dict(zip(na, p, strict=True)) for p in itertools.permutations(nb, len(na))]
        else:
            options = [dict(zip(p, nb, strict=True)) for p in itertools.permutations(na, len(nb))]
        options.sort(key=lambda d: -sum((k == v) + (a.nodes[k].role is b.nodes[v].role) for k, v in d.items()))
        per_kind.append(options)
    for count, combo in enumerate(itertools.product(*per_kind)):
        if count >= _MAX_MAPPINGS:
            return
        yield {**combo[0], **combo[1]}


def differences(a: SchematicGraph, b: SchematicGraph, names: tuple[str, str] = ("A", "B")) -> list[str]:
    """Why ``a`` and ``b`` are not structurally equivalent, in words (empty when they are).

    Nodes are matched to make as many edges as possible correspond (then as many
    node declarations); the differences are then read off that matching."""
    if equivalent(a, b):
        return []
    A, B = names
    out: list[str] = []
    for role in Role:
        ca = len(a.nodes_by_role(role))
        cb = len(b.nodes_by_role(role))
        if ca != cb:
            out.append(f"{A} has {_plural(ca, _ROLE_WORDS[role] + ' node')}, {B} has {cb}")
    if len(a.edges) != len(b.edges):
        out.append(f"{A} has {_plural(len(a.edges), 'edge')}, {B} has {len(b.edges)}")
    red_a = sum(e.adversarial for e in a.edges)
    red_b = sum(e.adversarial for e in b.edges)
    if red_a != red_b:
        out.append(f"{A} has {_plural(red_a, 'red edge')}, {B} has {red_b}")

    best: tuple[int, dict[str, str], list[tuple[int, int]]] | None = None
    pairing = _EdgePairing(a, b)
    for m in _node_maps(a, b):
        score, pairs = pairing.pair(m)
        score = 64 * score + sum(2 * (_node_label(a, k) == _node_label(b, v)) + (k == v) for k, v in m.items())
        if best is None or score > best[0]:
            best = (score, m, pairs)
    assert best is not None
    _, m, pairs = best

    renamed = [f"{A}'s {k} = {B}'s {v}" for k, v in m.items() if k != v]
    if renamed:
        out.append("matching nodes " + ", ".join(renamed))
    for k, v in m.items():
        if _node_label(a, k) != _node_label(b, v):
            out.append(f"{A}'s {k} is {_node_words(a, k)}; {B}'s {v} is {_node_words(b, v)}")
    inv = {v: k for k, v in m.items()}
    for k in a.nodes:
        if k not in m:
            out.append(f"{A}'s {_ROLE_WORDS[a.nodes[k].role]} node {k} has no counterpart in {B}")
    for v in b.nodes:
        if v not in inv:
            out.append(f"{B}'s {_ROLE_WORDS[b.nodes[v].role]} node {v} has no counterpart in {A}")

    for i, j in pairs:
        ea, eb = a.edges[i], b.edges[j]
        if (
            _edge_label(ea) == _edge_label(eb)
            and {m.get(s) for s in ea.sources} == set(eb.sources)
            and m.get(ea.target) == eb.target
        ):
            continue
        where = (
            describe_edge(ea)
            if describe_edge(ea) == describe_edge(eb)
            else f"{describe_edge(ea)} ({B}: {describe_edge(eb)})"
        )
        if {m.get(s) for s in ea.sources} != set(eb.sources) or m.get(ea.target) != eb.target:

            def b_name(v: str) -> str:
                return m.get(v, f"{A}'s {v}")

            in_b = f"{', '.join(b_name(v) for v in ea.sources)} {ea.glyph} {b_name(ea.target)}"
            out.append(
                f"{A}'s edge {describe_edge(ea)} (in {B}'s names: {in_b}) comes closest to {B}'s "
                f"{describe_edge(eb)}, which has other endpoints"
            )
        if ea.process is not eb.process:
            out.append(f"edge {where} is {ea.line} ({_PROCESS_WORDS[ea.process]}) in {A}, {eb.line} in {B}")
        if ea.invertible != eb.invertible:
            out.append(
                f"edge {where} is invertible (a flow) in {A if ea.invertible else B}, not in "
                f"{B if ea.invertible else A}"
            )
        ka, kb = adversary_kind(ea), adversary_kind(eb)
        if ka != kb:
            if ka is None or kb is None:
                out.append(f"edge {where} is red in {A if ka else B}, not in {B if ka else A}")
            else:
                out.append(f"edge {where} is {_KIND_WORDS[ka]} in {A}, {_KIND_WORDS[kb]} in {B}")
        if ea.branch != eb.branch:

            def serves(e: Edge) -> str:
                return "every branch" if e.branch is None else f"branch y = {e.branch}"

            out.append(f"edge {where} serves {serves(ea)} in {A}, {serves(eb)} in {B}")
    paired_a = {i for i, _ in pairs}
    paired_b = {j for _, j in pairs}
    for i, e in enumerate(a.edges):
        if i not in paired_a:
            out.append(f"{A}'s {_edge_words(e)} has no counterpart in {B}")
    for j, e in enumerate(b.edges):
        if j not in paired_b:
            out.append(f"{B}'s {_edge_words(e)} has no counterpart in {A}")
    if len(out) == len(renamed[:1]):  # only the matching line: the difference is in how nodes connect
        out.append("the edges connect the nodes differently (no matching of nodes makes them agree)")
    return out
