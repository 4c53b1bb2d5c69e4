"""Hypothesis strategies for random VALID schematic graphs.

Import (pytest puts ``tests/`` on ``sys.path``; there is no ``tests/__init__.py``,
other test modules import ``from conftest import ...`` the same way)::

    from strategies import graphs, specs_text
    from hypothesis import given

    @given(graphs())
    def test_something(graph): ...

``graphs()`` draws graphs that pass :func:`schemagm.graph.check.check` (this is
asserted in ``tests/test_language_properties.py``): data and latent nodes of every
value type (vectors and images, ranges, data sets, ``given y``), latent nodes
with and without priors, all four arrows, several sources, indicator branches
(``y`` and ``y=1``), red edges with a discriminator network, ``perfect`` or an
``mmd`` kernel, on the solid or the dashed side, ``no_reparam``, corruptions,
output heads (distributions and activations) and non-default options.  Spans
are None (the graphs are built in Python).

``graphs(indicator=True)`` forces an indicator, ``graphs(indicator=False)``
forbids one.  ``specs_text()`` draws the canonical text of such a graph.
"""

from __future__ import annotations

import string

from hypothesis import strategies as st

from schemagm.graph.build import to_sgm
from schemagm.graph.model import Call, Edge, Node, Process, Role, SchematicGraph
from schemagm.graph.options import ADVERSARIAL_FORMS, Options

__all__ = ["graphs", "specs_text", "names", "KEYWORDS"]

KEYWORDS = frozenset(
    {"model", "data", "latent", "indicator", "in", "given", "from", "options", "adversarial", "perfect", "no_reparam", "true", "false"}
)

names = st.from_regex(r"[a-z][a-z0-9]{0,5}(_[a-z0-9]{1,3})?", fullmatch=True).filter(lambda s: s not in KEYWORDS)
_datasets = st.from_regex(r"[a-z][a-z0-9_]{0,7}(\.[a-z][a-z0-9_]{0,5})?", fullmatch=True)
_LETTERS = ["G", "E", "D", "Q", "F", "H", "P", "R", "S", "T", "enc", "dec"]
_GROUPS = ["theta", "eta", "phi", "lambda", "psi"]

_DISTRIBUTIONS = {
    "real": [Call(name="normal"), Call(name="normal", kwargs=(("std", 0.1),)), Call(name="bernoulli"), Call(name="relaxed_bernoulli")],
    "normal": [Call(name="normal"), Call(name="normal", kwargs=(("std", 0.5),))],
    "uniform": [Call(name="normal")],
    "bernoulli": [Call(name="bernoulli"), Call(name="relaxed_bernoulli", kwargs=(("temperature", 0.5),))],
    "categorical": [Call(name="categorical"), Call(name="relaxed_categorical", kwargs=(("temperature", 0.5),))],
}
_ACTIVATIONS = [Call(name=n) for n in ("sigmoid", "tanh", "relu", "softplus")]

_finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@st.composite
def _range(draw: st.DrawFn) -> tuple[float, float] | None:
    if not draw(st.booleans()):
        return None
    kind = draw(st.sampled_from(["unit", "sym", "any"]))
    if kind == "unit":
        return (0.0, 1.0)
    if kind == "sym":
        return (-1.0, 1.0)
    lo = draw(_finite)
    hi = draw(_finite.filter(lambda v: v > lo)) if lo < 1e6 else lo + 1.0
    return (lo, hi)


@st.composite
def _shape(draw: st.DrawFn, value: str) -> tuple[int, ...]:
    if value == "categorical" or not draw(st.integers(0, 4)) == 0:
        return (draw(st.sampled_from([4, 8, 16]) | st.integers(1, 64)),)
    return (draw(st.integers(1, 3)), draw(st.integers(2, 12)), draw(st.integers(2, 12)))


@st.composite
def _options(draw: st.DrawFn) -> Options:
    values: dict = {}
    choices = {
        "adversarial": st.sampled_from(ADVERSARIAL_FORMS),
        "gradient_penalty": st.floats(0, 100, allow_nan=False),
        "beta": st.floats(0, 10, allow_nan=False),
        "importance_samples": st.integers(1, 64),
        "discriminator_steps": st.integers(1, 5),
        "mi_weight": st.floats(0, 5, allow_nan=False),
        "reconstruction": st.sampled_from(["auto", "bce", "mse"]),
        "kl": st.sampled_from(["analytic", "monte_carlo"]),
        "walkback": st.integers(1, 5),
        "temperature": st.floats(0.01, 5, allow_nan=False),
    }
    for key in draw(st.lists(st.sampled_from(sorted(choices)), unique=True, max_size=4)):
        values[key] = draw(choices[key])
    return Options(**values)


class _Labels:
    def __init__(self) -> None:
        self.used: set[tuple[str, str]] = set()

    def fresh(self, draw: st.DrawFn, groups: list[str]) -> tuple[str, str]:
        group = draw(st.sampled_from(groups))
        for letter in _LETTERS:
            if (letter, group) not in self.used:
                break
        else:  # pragma: no cover - more edges than letters
            letter = f"N{len(self.used)}"
        self.used.add((letter, group))
        return letter, group


def _network(draw: st.DrawFn, inputs: list[Node], target: Node, labels: _Labels, stochastic: bool, groups: list[str]) -> dict:
    """A network (with label and group where it has parameters) fitting these inputs and this target."""
    options = ["mlp", "mlp", "linear"]
    if len(inputs) == 1 and inputs[0].is_image:
        options.append("conv_encoder")
    if target.is_image:
        options.append("conv_decoder")
    if inputs and all(n.value == "categorical" for n in inputs):
        options.append("embedding")
    same_size = sum(n.size for n in inputs) == target.size
    if same_size:
        options.append("identity")
    if stochastic and len(inputs) == 1 and same_size:
        options.append("corruption")
    kind = draw(st.sampled_from(options))
    if kind == "identity":
        return {"network": Call(name="identity")}
    if kind == "corruption":
        name = draw(st.sampled_from(["gaussian_noise", "masking", "salt_and_pepper"]))
        amount = draw(st.floats(0.01, 0.9, allow_nan=False))
        return {"network": Call(name=name, args=(amount,)), "no_head": True}
    if kind == "mlp":
        hidden = tuple(draw(st.lists(st.integers(1, 512), min_size=1, max_size=3)))
        kwargs = []
        if draw(st.booleans()):
            kwargs.append(("activation", draw(st.sampled_from(["relu", "tanh", "elu", "leaky_relu"]))))
        if draw(st.booleans()):
            kwargs.append(("dropout", draw(st.sampled_from([0.0, 0.1, 0.25]))))
        call = Call(name="mlp", args=hidden, kwargs=tuple(kwargs))
    elif kind in ("conv_encoder", "conv_decoder"):
        call = Call(name=kind, args=tuple(draw(st.lists(st.sampled_from([8, 16, 32]), min_size=1, max_size=2))))
    elif kind == "embedding":
        call = Call(name="embedding", args=(draw(st.integers(1, 32)),))
    else:
        call = Call(name="linear")
    label, group = labels.fresh(draw, groups)
    return {"network": call, "label": label, "group": group}


def _head(draw: st.DrawFn, target: Node, deterministic: bool) -> Call | None:
    if draw(st.booleans()):
        return None
    if deterministic:
        return draw(st.sampled_from(_ACTIVATIONS))
    return draw(st.sampled_from(_DISTRIBUTIONS[target.value]))


def _edge(draw, sources, indicator, branch_choice, target, process, deterministic, labels, groups, **extra) -> Edge:
    """An edge with a random network and head (sources: nodes, without the indicator)."""
    srcs = [n.name for n in sources]
    branch = None
    if indicator is not None and branch_choice is not None:
        srcs.insert(draw(st.integers(0, len(srcs))), indicator.name)
        branch = branch_choice
    net = _network(draw, list(sources), target, labels, not deterministic, groups)
    head = None if net.pop("no_head", False) else _head(draw, target, deterministic)
    return Edge(
        sources=tuple(srcs),
        target=target.name,
        process=process,
        deterministic=deterministic,
        output=head,
        branch=branch,
        **net,
        **extra,
    )


@st.composite
def graphs(draw: st.DrawFn, indicator: bool | None = None) -> SchematicGraph:
    """A random schematic graph that passes every check."""
    has_y = draw(st.booleans()) if indicator is None else indicator
    n_data = draw(st.integers(1, 2))
    n_latent = draw(st.integers(1, 3))
    all_names = draw(st.lists(names, min_size=n_data + n_latent + 1, max_size=n_data + n_latent + 1, unique=True))
    y = Node(name=all_names[-1], role=Role.indicator) if has_y else None

    data: list[Node] = []
    for name in all_names[:n_data]:
        value = draw(st.sampled_from(["real", "real", "real", "bernoulli", "categorical"]))
        data.append(
            Node(
                name=name,
                role=Role.data,
                value=value,
                shape=draw(_shape(value)),
                range=draw(_range()) if value == "real" else None,
                given=y.name if y is not None and draw(st.booleans()) else None,
                dataset=draw(st.none() | _datasets),
            )
        )
    latents: list[Node] = []
    for name in all_names[n_data : n_data + n_latent]:
        value = draw(st.sampled_from(["real", "normal", "uniform", "categorical", "bernoulli"]))
        rng = draw(_range()) if value in ("real", "uniform") else None
        if value == "uniform" and rng == (-1.0, 1.0):
            rng = None  # the default range of a uniform prior is implicit
        latents.append(Node(name=name, role=Role.latent, value=value, shape=draw(_shape(value)), range=rng))

    labels = _Labels()
    edges: list[Edge] = []
    needs_test: list[Node] = []  # prior nodes with a dashed hollow producer: need a red edge (AAE)

    def branch_choice() -> int | None:
        return draw(st.sampled_from([None, 0, 1])) if y is not None else None

    # inference (dashed) producers of latents, from earlier nodes: no dashed cycle
    produced: set[str] = set()
    for k, node in enumerate(latents):
        if node.prior is not None and not draw(st.booleans()):
            continue
        earlier = data + latents[:k]
        sources = draw(st.lists(st.sampled_from(earlier), min_size=1, max_size=min(3, len(earlier)), unique_by=lambda n: n.name))
        hollow = draw(st.booleans())
        if hollow and node.prior is not None:
            if y is None:
                hollow = False
            else:
                needs_test.append(node)
        extra = {}
        if not hollow and draw(st.integers(0, 3)) == 0:
            extra["reparameterize"] = False
        branch = branch_choice()
        edges.append(_edge(draw, sources, y, branch, node, Process.inference, hollow, labels, _GROUPS[:2] + _GROUPS[3:], **extra))
        produced.add(node.name)
        if branch is not None and draw(st.integers(0, 2)) == 0:
            # a second dashed producer for the other branch (as ALI's x, y=1 ==> z and z, y ==> x)
            others = draw(st.lists(st.sampled_from(earlier), min_size=1, max_size=min(2, len(earlier)), unique_by=lambda n: n.name))
            edges.append(_edge(draw, others, y, 1 - branch, node, Process.inference, hollow, labels, ["eta", "lambda"]))

    # generated branch of data nodes (GAN's z, y ==> x), from latents with no dashed producer
    roots = [n for n in latents if n.name not in produced]
    if y is not None and roots:
        for node in data:
            if not draw(st.booleans()):
                continue
            sources = draw(st.lists(st.sampled_from(roots), min_size=1, max_size=len(roots), unique_by=lambda n: n.name))
            hollow = draw(st.booleans())
            edges.append(_edge(draw, sources, y, draw(st.sampled_from([0, 1])), node, Process.inference, hollow, labels, ["theta"]))

    # generative (solid) edges, along a random order of the nodes: no solid cycle
    valued = data + latents
    order = draw(st.permutations(valued))
    rank = {n.name: i for i, n in enumerate(order)}
    for _ in range(draw(st.integers(0, 3))):
        target = draw(st.sampled_from(order[1:]))
        before = [n for n in order if rank[n.name] < rank[target.name]]
        sources = draw(st.lists(st.sampled_from(before), min_size=1, max_size=min(3, len(before)), unique_by=lambda n: n.name))
        edges.append(_edge(draw, sources, y, branch_choice(), target, Process.generative, draw(st.booleans()), labels, ["theta", "eta"]))

    # red edges into the indicator
    dashed_red = False
    if y is not None:
        tested = [[n] for n in needs_test]
        for _ in range(draw(st.integers(0, 2))):
            tested.append(draw(st.lists(st.sampled_from(valued), min_size=1, max_size=2, unique_by=lambda n: n.name)))
        for sources in tested:
            dashed = not dashed_red and draw(st.booleans())
            dashed_red = dashed_red or dashed
            kind = draw(st.sampled_from(["network", "network", "perfect", "mmd"]))
            fields: dict = {}
            if kind == "network":
                label, group = labels.fresh(draw, ["phi", "psi"])
                hidden = tuple(draw(st.lists(st.integers(1, 256), min_size=1, max_size=2)))
                fields = {"network": Call(name="mlp", args=hidden), "label": label, "group": group}
            elif kind == "perfect":
                fields = {"perfect": True}
            else:
                widths = tuple(draw(st.lists(st.sampled_from([0.5, 1.0, 2.0, 4, 8.0]), min_size=1, max_size=4)))
                fields = {"kernel": Call(name="mmd", args=widths)}
            edges.append(
                Edge(
                    sources=tuple(n.name for n in sources),
                    target=y.name,
                    process=Process.inference if dashed else Process.generative,
                    adversarial=True,
                    **fields,
                )
            )

    # every node used: connect the unused ones by a solid edge along the order
    def used() -> set[str]:
        out: set[str] = set()
        for e in edges:
            out.update(e.sources)
            out.add(e.target)
        return out

    for node in valued:
        if node.name in used():
            continue
        other = draw(st.sampled_from([n for n in valued if n.name != node.name]))
        src, dst = (node, other) if rank[node.name] < rank[other.name] else (other, node)
        edges.append(_edge(draw, [src], y, branch_choice(), dst, Process.generative, draw(st.booleans()), labels, ["theta"]))
    if y is not None and y.name not in used():
        label, group = labels.fresh(draw, ["phi"])
        source = draw(st.sampled_from(valued))
        edges.append(
            Edge(sources=(source.name,), target=y.name, process=Process.generative, adversarial=True,
                 network=Call(name="linear"), label=label, group=group)
        )

    nodes = data + latents + ([y] if y is not None else [])
    node_order = draw(st.permutations(nodes))
    edge_order = draw(st.permutations(edges))
    title = draw(st.none() | st.text(alphabet=string.ascii_letters + string.digits + " -'\"\\é()", max_size=30))
    model = draw(names)
    return SchematicGraph(model, node_order, edge_order, draw(_options()), title=title)


def specs_text(**kw) -> st.SearchStrategy[str]:
    """The canonical text of a random valid graph."""
    return graphs(**kw).map(to_sgm)


def spec_errors(text: str) -> list[tuple[int, int, str]]:
    """(line, column, message) of every diagnostic of ``parse(text)``; [] when it parses and checks.

    A small helper for the language tests (asserting message AND position).
    """
    from schemagm.errors import SpecError
    from schemagm.graph.build import parse

    try:
        parse(text)
    except SpecError as err:
        return [(d.span.line, d.span.column, d.message) if d.span else (0, 0, d.message) for d in err.diagnostics]
    return []
