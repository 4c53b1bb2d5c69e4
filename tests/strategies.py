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

A fraction of them tie two edges that agree in sizes and head to one network (the same label)
and write per-edge settings where the edge's terms read them (``weight``, ``distance``,
``form``); some make one network a head on another's trunk (``Q_eta = head(D_phi)``).
``multi_game_graphs()`` draws CycleGAN-like graphs with two or three indicators (one game each,
its own adversary group) and weighted cycles through tied translators.

``graphs(indicator=True)`` forces an indicator, ``graphs(indicator=False)``
forbids one.  ``specs_text()`` draws the canonical text of such a graph.

``hierarchies()`` draws compilable chains x <- z1 <- ... <- zL (depth 1 to 3) with bottom-up
(``z_{i-1} --> z_i``) or top-down (``x, z_{i+1} --> z_i``) inference, inner latents without a
prior (their p-side is the solid ``z_{i+1} -> z_i``) and a top latent that is normal,
categorical or bernoulli (small: summed out exactly), as a :class:`Hierarchy`.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

from hypothesis import strategies as st

from schemagm.graph.build import to_sgm
from schemagm.graph.heads import head_mismatch
from schemagm.graph.model import Call, Edge, Node, Process, Role, SchematicGraph
from schemagm.graph.options import ADVERSARIAL_FORMS, Options
from schemagm.language.printer import KEYWORDS  # the lexer's keywords: a generated name avoids them

__all__ = ["graphs", "specs_text", "names", "KEYWORDS", "hierarchies", "Hierarchy"]

names = st.from_regex(r"[a-z][a-z0-9]{0,5}(_[a-z0-9]{1,3})?", fullmatch=True).filter(lambda s: s not in KEYWORDS)
_LETTERS = ["G", "E", "D", "Q", "F", "H", "P", "R", "S", "T", "enc", "dec"]
_GROUPS = ["theta", "eta", "phi", "lambda", "psi"]

_DISTRIBUTIONS = {
    "real": [
        Call(name="normal"),
        Call(name="normal", kwargs=(("std", 0.1),)),
        Call(name="bernoulli"),
        Call(name="relaxed_bernoulli"),
    ],
    "normal": [Call(name="normal"), Call(name="normal", kwargs=(("std", 0.5),))],
    "uniform": [Call(name="normal")],
    "bernoulli": [Call(name="bernoulli"), Call(name="relaxed_bernoulli", kwargs=(("temperature", 0.5),))],
    "categorical": [Call(name="categorical"), Call(name="relaxed_categorical", kwargs=(("temperature", 0.5),))],
}
_ACTIVATIONS = [Call(name=n) for n in ("sigmoid", "tanh", "relu", "softplus")]
_TITLES = st.none() | st.text(alphabet=string.ascii_letters + string.digits + " -'\"\\é()", max_size=30)


class _Choices:
    """Small choices from one hypothesis-controlled random source.

    Drawing every small choice through its own strategy made a graph cost a few
    hundred strategy draws; a ``st.randoms()`` source keeps the draws under
    hypothesis' control (replay, shrinking towards 0) at a fraction of the cost.
    """

    def __init__(self, rnd) -> None:
        self.r = rnd

    def flip(self, p: float = 0.5) -> bool:
        return self.r.random() < p

    def int(self, lo: int, hi: int) -> int:
        return self.r.randint(lo, hi)

    def choice(self, xs):
        return xs[self.r.randrange(len(xs))]

    def subset(self, xs, lo: int, hi: int) -> list:
        """Distinct elements of xs (at least lo, at most hi), in a random order."""
        return self.r.sample(list(xs), self.r.randint(lo, min(hi, len(xs))))

    def perm(self, xs) -> list:
        return self.r.sample(list(xs), len(xs))

    def word(self, first: str, rest: str, lo: int, hi: int) -> str:
        return self.choice(first) + "".join(self.choice(rest) for _ in range(self.int(lo, hi)))

    def name(self) -> str:
        text = self.word(string.ascii_lowercase, string.ascii_lowercase + string.digits, 0, 5)
        if self.flip(0.25):
            text += "_" + self.word(
                string.ascii_lowercase + string.digits, string.ascii_lowercase + string.digits, 0, 2
            )
        return text if text not in KEYWORDS else text + "_"

    def dataset(self) -> str | None:
        if self.flip():
            return None
        text = self.word(string.ascii_lowercase, string.ascii_lowercase + string.digits + "_", 0, 7)
        if self.flip(0.3):
            text += "." + self.word(string.ascii_lowercase, string.ascii_lowercase + string.digits + "_", 0, 5)
        return text

    def range(self) -> tuple[float, float] | None:
        if self.flip():
            return None
        kind = self.choice(["unit", "sym", "any"])
        if kind == "unit":
            return (0.0, 1.0)
        if kind == "sym":
            return (-1.0, 1.0)
        lo = self.r.uniform(-1e6, 1e6)
        return (lo, lo + self.r.uniform(1e-3, 1e6))

    def shape(self, value: str) -> tuple[int, ...]:
        if value == "categorical" or self.int(0, 4) != 0:
            return (self.choice([4, 8, 16]) if self.flip() else self.int(1, 64),)
        return (self.int(1, 3), self.int(2, 12), self.int(2, 12))

    def options(self) -> Options:
        choices = {
            "adversarial": lambda: self.choice(ADVERSARIAL_FORMS),
            "gradient_penalty": lambda: self.r.uniform(0, 100),
            "beta": lambda: self.r.uniform(0, 10),
            "importance_samples": lambda: self.int(1, 64),
            "discriminator_steps": lambda: self.int(1, 5),
            "mi_weight": lambda: self.r.uniform(0, 5),
            "reconstruction": lambda: self.choice(["auto", "bce", "mse"]),
            "kl": lambda: self.choice(["analytic", "monte_carlo"]),
            "walkback": lambda: self.int(1, 5),
            "temperature": lambda: self.r.uniform(0.01, 5),
        }
        return Options(**{key: choices[key]() for key in self.subset(sorted(choices), 0, 4)})


class _Labels:
    def __init__(self) -> None:
        self.used: set[tuple[str, str]] = set()

    def fresh(self, c: _Choices, groups: list[str]) -> tuple[str, str]:
        group = c.choice(groups)
        for letter in _LETTERS:
            if (letter, group) not in self.used:
                break
        else:  # pragma: no cover - more edges than letters
            letter = f"N{len(self.used)}"
        self.used.add((letter, group))
        return letter, group


def _network(
    c: _Choices, inputs: list[Node], target: Node, labels: _Labels, stochastic: bool, groups: list[str]
) -> dict:
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
    kind = c.choice(options)
    if kind == "identity":
        return {"network": Call(name="identity")}
    if kind == "corruption":
        name = c.choice(["gaussian_noise", "masking", "salt_and_pepper"])
        return {"network": Call(name=name, args=(round(c.r.uniform(0.01, 0.9), 3),)), "no_head": True}
    if kind == "mlp":
        hidden = tuple(c.int(1, 512) for _ in range(c.int(1, 3)))
        kwargs = []
        if c.flip():
            kwargs.append(("activation", c.choice(["relu", "tanh", "elu", "leaky_relu"])))
        if c.flip():
            kwargs.append(("dropout", c.choice([0.0, 0.1, 0.25])))
        call = Call(name="mlp", args=hidden, kwargs=tuple(kwargs))
    elif kind in ("conv_encoder", "conv_decoder"):
        call = Call(name=kind, args=tuple(c.choice([8, 16, 32]) for _ in range(c.int(1, 2))))
    elif kind == "embedding":
        call = Call(name="embedding", args=(c.int(1, 32),))
    else:
        call = Call(name="linear")
    label, group = labels.fresh(c, groups)
    return {"network": call, "label": label, "group": group}


def _heads(target: Node, deterministic: bool) -> list[Call]:
    return list(_ACTIVATIONS) if deterministic else list(_DISTRIBUTIONS[target.value])


def _head(c: _Choices, target: Node, deterministic: bool) -> Call | None:
    if c.flip():
        return None
    if deterministic:
        return c.choice(_ACTIVATIONS)
    return c.choice(_DISTRIBUTIONS[target.value])


def _is_corruption(e: Edge) -> bool:
    return e.network is not None and e.network.name in ("gaussian_noise", "masking", "salt_and_pepper")


def _head_name(e: Edge, target: Node) -> str | None:
    if e.deterministic or _is_corruption(e):
        return None
    if e.output is not None:
        return e.output.name
    return {"categorical": "categorical", "bernoulli": "bernoulli"}.get(target.value, "normal")


def _discrete_sample(e: Edge, target: Node) -> bool:
    """A discrete sample without a reparameterisation, drawn by a network (no adversary's gradient reaches it)."""
    return _head_name(e, target) in ("categorical", "bernoulli") and e.reparameterize and e.group is not None


def _discrete_draw(e: Edge, target: Node) -> bool:
    """A discrete value drawn without a reparameterisation (enumerated or scored, never importance weighted)."""
    head = _head_name(e, target)
    return head in ("categorical", "bernoulli") or (
        head in ("relaxed_categorical", "relaxed_bernoulli") and not e.reparameterize
    )


def _edge(
    c: _Choices,
    sources,
    indicator,
    branch_choice,
    target,
    process,
    deterministic,
    labels,
    groups,
    corruption_ok: bool = True,
    **extra,
) -> Edge:
    """An edge with a random network and head (sources: nodes, without the indicator)."""
    srcs = [n.name for n in sources]
    branch = None
    if indicator is not None and branch_choice is not None:
        srcs.insert(c.int(0, len(srcs)), indicator.name)
        branch = branch_choice
    net = _network(c, list(sources), target, labels, not deterministic and corruption_ok, groups)
    head = None if net.pop("no_head", False) else _head(c, target, deterministic)
    edge = Edge(
        sources=tuple(srcs),
        target=target.name,
        process=process,
        deterministic=deterministic,
        output=head,
        branch=branch,
        **net,
        **extra,
    )
    if head_mismatch(edge, target) is not None:
        # a head that cannot produce or score the target's values (schemagm.graph.heads): one that can
        fits = [
            h
            for h in _heads(target, deterministic)
            if head_mismatch(edge.model_copy(update={"output": h}), target) is None
        ]
        edge = edge.model_copy(update={"output": c.choice(fits) if fits else None})
    return edge


@st.composite
def graphs(draw: st.DrawFn, indicator: bool | None = None) -> SchematicGraph:
    """A random schematic graph that passes every check."""
    c = _Choices(draw(st.randoms(use_true_random=False)))
    has_y = c.flip() if indicator is None else indicator
    n_data = c.int(1, 2)
    n_latent = c.int(1, 3)
    all_names: list[str] = []
    for i in range(n_data + n_latent + 1):
        name = c.name()
        all_names.append(name if name not in all_names else f"{name}{i}")
    y = Node(name=all_names[-1], role=Role.indicator) if has_y else None

    data: list[Node] = []
    for name in all_names[:n_data]:
        value = c.choice(["real", "real", "real", "bernoulli", "categorical"])
        data.append(
            Node(
                name=name,
                role=Role.data,
                value=value,
                shape=c.shape(value),
                range=c.range() if value == "real" else None,
                given=y.name if y is not None and c.flip() else None,
                dataset=c.dataset(),
            )
        )
    latents: list[Node] = []
    for name in all_names[n_data : n_data + n_latent]:
        value = c.choice(["real", "normal", "uniform", "categorical", "bernoulli"])
        rng = c.range() if value in ("real", "uniform") else None
        latents.append(Node(name=name, role=Role.latent, value=value, shape=c.shape(value), range=rng))

    labels = _Labels()
    edges: list[Edge] = []
    needs_test: list[
        Node
    ] = []  # nodes a red edge must test: prior nodes with a hollow dashed producer (AAE), generated data (GAN)

    def branch_choice() -> int | None:
        return c.choice([None, 0, 1]) if y is not None else None

    # inference (dashed) producers of latents, from earlier nodes: no dashed cycle.  A corruption has no
    # density, so it never produces a latent with a prior, nor one with two producers (it would meet a p-side).
    produced: set[str] = set()
    for k, node in enumerate(latents):
        if node.prior is not None and not c.flip():
            continue
        if node.value == "uniform":
            continue  # no head draws a uniform latent for KL(q || p) (schemagm.graph.heads)
        earlier = data + latents[:k]
        sources = c.subset(earlier, 1, 3)
        hollow = c.flip()
        if hollow and node.prior is not None:
            if y is None:
                hollow = False
            else:
                needs_test.append(node)
        extra = {}
        if not hollow and c.int(0, 3) == 0:
            extra["reparameterize"] = False
        branch = branch_choice()
        second = branch is not None and c.int(0, 2) == 0
        plain = node.prior is None and not second
        edges.append(
            _edge(
                c,
                sources,
                y,
                branch,
                node,
                Process.inference,
                hollow,
                labels,
                _GROUPS[:2] + _GROUPS[3:],
                corruption_ok=plain,
                **extra,
            )
        )
        produced.add(node.name)
        if second:
            # a second dashed producer for the other branch (as ALI's x, y=1 ==> z and z, y ==> x)
            others = c.subset(earlier, 1, 2)
            edges.append(
                _edge(
                    c,
                    others,
                    y,
                    1 - branch,
                    node,
                    Process.inference,
                    hollow,
                    labels,
                    ["eta", "lambda"],
                    corruption_ok=False,
                )
            )

    # generated branch of data nodes (GAN's z, y ==> x), from latents with no dashed producer; a red edge
    # tests each (a generated sample has no p-side of its own), so a discrete one must be relaxed or hollow
    roots = [n for n in latents if n.name not in produced]
    if y is not None and roots:
        for node in data:
            if not c.flip():
                continue
            sources = c.subset(roots, 1, len(roots))
            e = _edge(c, sources, y, c.choice([0, 1]), node, Process.inference, c.flip(), labels, ["theta"])
            if _discrete_sample(e, node):
                e = e.model_copy(update={"deterministic": True, "output": None})
            edges.append(e)
            needs_test.append(node)

    # generative (solid) edges, along an order of the nodes (no solid cycle) with the latents that have a
    # prior first: a latent with a prior takes its p-side from it and has no solid producer.  A latent with a
    # dashed producer gets at most one solid producer (its p-side), and only if every dashed producer has a
    # density (no hollow edge, no corruption); it must get one if a dashed factor with parameters needs a
    # partner.  Data nodes take any number.
    valued = data + latents
    dashed_into: dict[str, list[Edge]] = {}
    for e in edges:
        dashed_into.setdefault(e.target, []).append(e)
    priors = [n for n in latents if n.prior is not None]
    rest = c.perm([n for n in valued if n.prior is None])

    def needs_p(n: Node) -> bool:
        return (
            n.role is Role.latent
            and n.prior is None
            and any(
                not e.deterministic and not _is_corruption(e) and e.group is not None and e.reparameterize
                for e in dashed_into.get(n.name, [])
            )
        )

    if rest and needs_p(rest[0]) and not priors:
        first = next(n for n in rest if n.role is Role.data)
        rest.remove(first)
        rest.insert(0, first)
    order = c.perm(priors) + rest
    rank = {n.name: i for i, n in enumerate(order)}
    solid_into: dict[str, int] = {}

    def open_target(n: Node) -> bool:
        if n.role is Role.data:
            return True
        if n.prior is not None or solid_into.get(n.name, 0) > 0:
            return False
        return all(not e.deterministic and not _is_corruption(e) for e in dashed_into.get(n.name, []))

    def solid(sources: list[Node], target: Node, branch: int | None, groups: list[str]) -> None:
        edges.append(_edge(c, sources, y, branch, target, Process.generative, c.flip(), labels, groups))
        solid_into[target.name] = solid_into.get(target.name, 0) + 1

    for target in order:
        if needs_p(target):
            before = [n for n in order if rank[n.name] < rank[target.name]]
            solid(c.subset(before, 1, 3), target, None, ["theta", "eta"])
    for _ in range(c.int(0, 3)):
        targets = [n for n in order[1:] if open_target(n)]
        if not targets:
            break
        target = c.choice(targets)
        before = [n for n in order if rank[n.name] < rank[target.name]]
        solid(c.subset(before, 1, 3), target, branch_choice(), ["theta", "eta"])

    # red edges into the indicator; a discrete sample without reparameterisation is never tested
    dashed_red = False
    if y is not None:
        testable = [n for n in valued if not any(_discrete_sample(e, n) for e in dashed_into.get(n.name, []))]
        tested = [[n] for n in needs_test]
        for _ in range(c.int(0, 2)):
            tested.append(c.subset(testable, 1, 2))
        for sources in tested:
            # a dashed red edge (one at most) re-weights the generated branch: it tests data that no
            # dashed edge produces, and is no kernel test; a solid one is never perfect
            poolable = all(n.role is Role.data and not dashed_into.get(n.name) for n in sources)
            dashed = not dashed_red and poolable and c.flip()
            dashed_red = dashed_red or dashed
            kind = c.choice(["network", "network", "perfect"] if dashed else ["network", "network", "mmd"])
            fields: dict = {}
            if kind == "network":
                label, group = labels.fresh(c, ["phi", "psi"])
                hidden = tuple(c.int(1, 256) for _ in range(c.int(1, 2)))
                fields = {"network": Call(name="mlp", args=hidden), "label": label, "group": group}
            elif kind == "perfect":
                fields = {"perfect": True}
            else:
                widths = tuple(c.choice([0.5, 1.0, 2.0, 4, 8.0]) for _ in range(c.int(1, 4)))
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

    # every node used: an unused node is a latent with a prior and no dashed producer (it feeds a data
    # node) or a data node with no edge (fed by another data node or by a latent with a prior)
    def used() -> set[str]:
        out: set[str] = set()
        for e in edges:
            out.update(e.sources)
            out.add(e.target)
        return out

    for node in valued:
        if node.name in used():
            continue
        if node.role is Role.latent:
            solid([node], c.choice(data), branch_choice(), ["theta"])
            continue
        others = [n for n in data if n.name != node.name] or priors
        other = c.choice(others)
        src, dst = (node, other) if rank[node.name] < rank[other.name] else (other, node)
        solid([src], dst, branch_choice(), ["theta"])
    if y is not None and y.name not in used():
        label, group = labels.fresh(c, ["phi"])
        source = c.choice(testable)  # never a discrete sample without a reparameterisation
        edges.append(
            Edge(
                sources=(source.name,),
                target=y.name,
                process=Process.generative,
                adversarial=True,
                network=Call(name="linear"),
                label=label,
                group=group,
            )
        )

    # importance weighting needs reparameterised samples: none of it with a discrete sample
    options = c.options()
    nodes_by_name = {n.name: n for n in valued}
    # a walkback chain runs from a solid edge b -> a scored at a corruption a --> b of data a
    reads_alone = {
        (e.sources[0], e.target)
        for e in edges
        if e.process is Process.inference and not e.adversarial and len(e.sources) == 1
    }
    walks = any(
        e.process is Process.generative
        and not e.adversarial
        and not e.deterministic
        and not _is_corruption(e)
        and nodes_by_name[e.target].role is Role.data
        and any((e.target, s) in reads_alone for s in e.sources)
        for e in edges
        if e.target in nodes_by_name
    )
    # (a chain is not summed over an enumerated node: no walkback beside a discrete draw)
    discrete = any(
        _discrete_draw(e, nodes_by_name[e.target])
        for e in edges
        if e.process is Process.inference and not e.adversarial and e.target in nodes_by_name
    )
    if options.walkback > 1 and (not walks or discrete):
        options = options.model_copy(update={"walkback": 1})
    # importance weighting needs a bound to weight (a stochastic dashed edge into a latent with a
    # prior, untested) or a generator's adversarial loss (a solid red edge with a discriminator)
    tested_names = {s for e in edges if e.adversarial for s in e.sources}
    weights = any(
        e.process is Process.inference
        and not e.adversarial
        and not e.deterministic
        and not _is_corruption(e)
        and e.reparameterize
        and e.target in nodes_by_name
        and nodes_by_name[e.target].role is Role.latent
        and nodes_by_name[e.target].prior is not None
        and e.target not in tested_names
        for e in edges
    ) or any(e.adversarial and e.process is Process.generative and e.group is not None for e in edges)
    if options.importance_samples > 1 and not weights:
        options = options.model_copy(update={"importance_samples": 1})
    if options.importance_samples > 1 and any(
        _discrete_draw(e, nodes_by_name[e.target])
        for e in edges
        if not e.adversarial and e.process is Process.inference
    ):
        options = options.model_copy(update={"importance_samples": 1})
    # a partially observed label inferred from a data node (M2's x --> c), where the rule can read it
    # (no data chosen by the indicator, enumerated, not importance weighted, no re-weighting adversary)
    pooled = any(e.adversarial and e.process is Process.inference and e.group is not None for e in edges)
    if (
        c.flip(0.3)
        and not pooled
        and not any(n.given for n in data)
        and options.discrete != "score"
        and options.importance_samples == 1
    ):
        name = c.name() + str(len(all_names))
        while name in all_names:
            name += "_"
        all_names.append(name)
        value = c.choice(["categorical", "bernoulli"])
        shape = (c.int(2, 5),) if value == "categorical" else (c.int(1, 3),)
        fraction = c.choice([None, 0.1, 0.5, 1.0])
        data.append(Node(name=name, role=Role.data, value=value, shape=shape, partial=True, observed=fraction))
        label, group = labels.fresh(c, ["eta"])
        edges.append(
            Edge(
                sources=(c.choice(data[:-1]).name,),
                target=name,
                process=Process.inference,
                label=label,
                group=group,
                network=Call(name="mlp", args=(c.int(1, 16),)),
                output=Call(name=value),
                weight=c.choice([None, 0.0, 0.5, 2.0]),
            )
        )
    nodes = data + latents + ([y] if y is not None else [])
    by_name = {n.name: n for n in nodes}
    if c.flip(0.3):
        edges = _tie(c, edges, by_name)
    if c.flip(0.4):
        edges = _share(c, edges, by_name)
    if c.flip(0.4):
        edges = [_settings(c, e, by_name, options) for e in edges]
    model = c.name()
    return SchematicGraph(model, c.perm(nodes), c.perm(edges), options, title=draw(_TITLES))


def _tie(c: _Choices, edges: list[Edge], nodes: dict[str, Node]) -> list[Edge]:
    """Make one edge use another's network (the same label: one tied network) where the two agree on
    what a network is: sizes of the inputs and the output, the kind of the output, the head."""

    def shape_of(e: Edge) -> tuple:
        ins = [nodes[s] for s in e.sources if nodes[s].role is not Role.indicator]
        if any(n.is_image for n in ins) or not e.group or e.network is None or e.adversarial or e.invertible:
            return ()
        t = nodes[e.target]
        kinds = tuple(n.value == "categorical" for n in ins)  # embedding reads categorical inputs only
        head = _head_name(e, t)  # the head the checker compares: written, or the one the target's kind implies
        return (sum(n.size for n in ins), kinds, t.shape, t.value == "categorical", e.deterministic, e.output, head)

    pairs = [
        (i, j)
        for i, a in enumerate(edges)
        for j, b in enumerate(edges)
        if i < j and shape_of(a) and shape_of(a) == shape_of(b) and (a.label, a.group) != (b.label, b.group)
    ]
    if not pairs:
        return edges
    i, j = c.choice(pairs)
    out = list(edges)
    a = edges[i]
    out[j] = edges[j].model_copy(update={"label": a.label, "group": a.group, "network": a.network})
    return out


def _share(c: _Choices, edges: list[Edge], nodes: dict[str, Node]) -> list[Edge]:
    """Make one edge's network a head on another's trunk (``Q_eta = head(D_phi)``) where the checker
    allows it: the trunk an mlp with a hidden layer, the head reading the trunk's inputs, in the trunk's
    group or on a discriminator's trunk whose group owns red edges only; neither network tied."""

    def inputs(e: Edge) -> tuple[str, ...]:
        return tuple(s for s in e.sources if nodes[s].role is not Role.indicator)

    names = [e.label_group for e in edges]

    def alone(e: Edge) -> bool:
        return e.label_group is not None and names.count(e.label_group) == 1

    def red_only(group: str | None) -> bool:
        return all(x.adversarial for x in edges if x.group == group)

    pairs = [
        (i, j)
        for i, t in enumerate(edges)
        if alone(t) and t.network is not None and t.network.name == "mlp" and t.network.args and not t.invertible
        for j, h in enumerate(edges)
        if j != i
        and alone(h)
        and not h.adversarial
        and not h.invertible
        and h.network is not None
        and h.network.name in ("mlp", "linear")
        and inputs(h) == inputs(t)
        and (h.group == t.group or (t.adversarial and red_only(t.group)))
    ]
    if not pairs:
        return edges
    i, j = c.choice(pairs)
    out = list(edges)
    out[j] = edges[j].model_copy(update={"network": Call(name="head", args=(edges[i].label_group,))})
    return out


def _settings(c: _Choices, e: Edge, nodes: dict[str, Node], options: Options) -> Edge:
    """Per-edge settings where the edge's terms read them (weight, distance, form)."""
    update: dict = {}
    solid = e.process is Process.generative and not e.adversarial and not e.invertible
    if (solid or (e.adversarial and not e.perfect)) and c.flip():
        update["weight"] = c.choice([0.5, 2.0, 10.0, c.r.uniform(0, 20)])
    if solid and e.deterministic and c.flip():
        act = e.output.name if e.output is not None else None
        update["distance"] = c.choice(["l1", "l2"] + (["bce"] if act in (None, "sigmoid") else []))
    if e.adversarial and e.network is not None and not e.perfect and e.kernel is None and c.flip():
        # importance weighting of the generator's loss needs the non-saturating form
        update["form"] = c.choice(ADVERSARIAL_FORMS) if options.importance_samples == 1 else "non_saturating"
    return e.model_copy(update=update) if update else e


@st.composite
def multi_game_graphs(draw: st.DrawFn) -> SchematicGraph:
    """CycleGAN-like graphs: two or three domains of one size, one indicator per game; each game
    translates one domain into another (a dashed hollow edge serving its indicator's branch 0),
    tests the result with its own discriminator group and may close a weighted cycle with a tied
    network (a solid hollow edge back, serving the same branch)."""
    c = _Choices(draw(st.randoms(use_true_random=False)))
    size = c.int(1, 6)
    domains = [Node(name=f"x{i}", role=Role.data, shape=(size,)) for i in range(c.int(2, 3))]
    games = c.int(2, 3)
    ys = [Node(name=f"u{k}", role=Role.indicator) for k in range(games)]
    groups = ["phi", "psi", "omega"]
    edges: list[Edge] = []
    targets: list[str] = []
    for k, u in enumerate(ys):
        a, b = c.subset(domains, 2, 2)
        if b.name in targets:  # one translator into a domain per branch is enough; keep them apart
            a, b = b, a
        targets.append(b.name)
        hidden = c.choice([4, 8])
        g = Call(name="mlp", args=(hidden,))
        edges.append(
            Edge(
                sources=(a.name, u.name),
                target=b.name,
                process=Process.inference,
                deterministic=True,
                label=f"G{k}",
                group="theta",
                network=g,
                branch=0,
            )
        )
        edges.append(
            Edge(
                sources=(b.name,),
                target=u.name,
                process=Process.generative,
                adversarial=True,
                label=f"D{k}",
                group=groups[k],
                network=Call(name="linear"),
                form=c.choice([None, *ADVERSARIAL_FORMS]),
            )
        )
        if c.flip():
            back = [
                e for e in edges if e.process is Process.inference and e.sources[0] == b.name and e.target == a.name
            ]
            label = back[0].label if back and c.flip() else f"F{k}"
            net = back[0].network if back and label == back[0].label else Call(name="mlp", args=(hidden,))
            edges.append(
                Edge(
                    sources=(b.name, u.name),
                    target=a.name,
                    process=Process.generative,
                    deterministic=True,
                    label=label,
                    group="theta",
                    network=net,
                    branch=0,
                    weight=c.choice([None, 10.0, c.r.uniform(0, 20)]),
                    distance=c.choice([None, "l1", "l2"]),
                )
            )
    used = {s for e in edges for s in (*e.sources, e.target)}
    nodes = [n for n in domains if n.name in used] + ys
    return SchematicGraph(c.name(), nodes, c.perm(edges), Options(), title=None)


@dataclass(frozen=True)
class Hierarchy:
    """A chain of latents: its spec text and what a reference needs to know of it."""

    text: str
    dims: tuple[int, ...]  # sizes of z1 .. zL
    top: str  # normal | categorical | bernoulli (the value type of zL, with a prior)
    top_down: bool
    x_dim: int = 6


@st.composite
def hierarchies(draw: st.DrawFn) -> Hierarchy:
    depth = draw(st.integers(1, 3))
    top = draw(st.sampled_from(["normal", "categorical", "bernoulli"]))
    dims = [draw(st.integers(1, 3)) for _ in range(depth)]
    if top == "categorical":
        dims[-1] = draw(st.integers(2, 4))
    if top == "bernoulli":
        dims[-1] = draw(st.integers(1, 2))
    top_down = draw(st.booleans())
    lines = ["model chain", "data x : real[6] in [0, 1]"]
    for i, d in enumerate(dims, 1):
        lines.append(f"latent z{i} : {top if i == depth else 'real'}[{d}]")
    head = {"normal": "normal", "categorical": "categorical", "bernoulli": "bernoulli"}
    for i in range(1, depth + 1):
        h = head[top] if i == depth else "normal"
        if top_down:
            src = "x" if i == depth else f"x, z{i + 1}"
        else:
            src = "x" if i == 1 else f"z{i - 1}"
        lines.append(f"{src} --> z{i} : q{i}_eta = mlp(8) {h}")
    for i in range(1, depth):
        lines.append(f"z{i + 1} -> z{i} : p{i}_theta = mlp(8) normal")
    lines.append("z1 -> x : g_theta = mlp(8) bernoulli")
    return Hierarchy("\n".join(lines) + "\n", tuple(dims), top, top_down)


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
