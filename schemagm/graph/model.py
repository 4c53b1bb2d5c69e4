"""The schematic graph: typed nodes and edges that every later stage reads.

A :class:`SchematicGraph` is the meaning of a ``.sgm`` spec, independent of its
text.  Nodes are variables (data x, latent z, indicator y); edges are the
conditionals of the paper's figures, each with

* ``process``: ``generative`` (solid arrow) or ``inference`` (dashed arrow);
* ``deterministic``: a hollow arrow head (an implicit distribution, no density);
* ``adversarial``: a red arrow, the conditional q(y | v) and its reverse;
* ``invertible``: a bijection with a log-determinant (a flow, ``<->`` / ``<-->``): the
  target's density follows from its first source's by change of variables, and the edge
  runs both ways (its inverse is its own inference);
* the network on the edge with its parameter group (``G_theta``), or, for a red
  edge, a perfect adversary q_* (no network) or a fixed kernel test (``mmd``).

The graph keeps nodes and edges in the order they were declared (so printing is
stable) and exposes a :mod:`networkx` view (:meth:`SchematicGraph.nx`) with one
arc per (source, target) pair, keyed by the edge's index.

Equality of graphs is equality of their data form (:meth:`to_dict`): source
positions are kept for error messages but are not part of the meaning.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from enum import Enum
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..errors import Span

if TYPE_CHECKING:  # networkx is imported by the view that needs it (it costs start-up time)
    import networkx as nx
from .options import AdversarialForm, Distance, Options

__all__ = [
    "observed_key",
    "Role",
    "Process",
    "Scalar",
    "Call",
    "Node",
    "Edge",
    "SchematicGraph",
    "VALUE_TYPES",
    "PRIORS",
]

Scalar = bool | int | float | str

#: the value types a node can be declared with; for a latent node every one but
#: ``real`` is also its prior p(z).  ``empirical`` (latents only): the points of the training set,
#: each with probability 1/N, summed over exactly (a kernel density: specs/extra/kde.sgm).
VALUE_TYPES = ("real", "normal", "uniform", "categorical", "bernoulli", "empirical")
PRIORS = ("normal", "uniform", "categorical", "bernoulli", "empirical")


def observed_key(node: str) -> str:
    """The batch key of a partially observed node's mask (bool ``[n]``, True where observed); a
    node name has no dot, so the key cannot collide with one."""
    return f"{node}.observed"


class Role(str, Enum):
    data = "data"
    latent = "latent"
    indicator = "indicator"


class Process(str, Enum):
    generative = "generative"  # solid arrow
    inference = "inference"  # dashed arrow

    @property
    def line(self) -> str:
        return "solid" if self is Process.generative else "dashed"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Call(_Frozen):
    """A registry entry named with arguments: ``mlp(256, 256)``, ``normal``, ``mmd(1, 2, 4)``."""

    name: str
    args: tuple[Scalar, ...] = ()
    kwargs: tuple[tuple[str, Scalar], ...] = ()

    @property
    def kw(self) -> dict[str, Scalar]:
        return dict(self.kwargs)

    def __str__(self) -> str:
        if self.name == "head" and len(self.args) == 1 and isinstance(self.args[0], str) and not self.kwargs:
            return f"head({self.args[0]})"  # a network's name, written bare: head(D_phi)
        parts = [_fmt_scalar(a) for a in self.args] + [f"{k}={_fmt_scalar(v)}" for k, v in self.kwargs]
        return self.name if not parts else f"{self.name}({', '.join(parts)})"


def _fmt_scalar(v: Scalar) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, float):
        return repr(v)
    return str(v)


class Node(_Frozen):
    """A variable of the model.

    * ``data``: observed, sampled from p_data.  ``value`` is ``real`` (or
      ``categorical``/``bernoulli`` for labels and binary data); ``given`` names
      the indicator when the data come from two domains chosen by it (y = 1
      source, y = 0 target, as in adversarial domain adaptation).
    * ``latent``: ``value`` is its prior (``normal``, ``uniform``,
      ``categorical``, ``bernoulli``, ``empirical``: the training points) or ``real`` for a
      latent with no prior, which must then have a producer.
    * ``indicator``: the binary switch y, p(y) uniform; no shape.
    """

    name: str
    role: Role
    value: Literal["real", "normal", "uniform", "categorical", "bernoulli", "empirical"] = "real"
    shape: tuple[int, ...] = ()
    range: tuple[float, float] | None = None
    given: str | None = None
    dataset: str | None = None
    #: a data node observed on some rows only (``partial``): where missing, its dashed edge infers it
    partial: bool = False
    #: ``partial(f)``: the fraction of rows that keep their value (None: the mask comes with the data)
    observed: float | None = None
    span: Span | None = Field(default=None, exclude=True, repr=False)

    @property
    def prior(self) -> str | None:
        """The prior p(v) of a latent node, or None."""
        if self.role is Role.latent and self.value != "real":
            return self.value
        return None

    @property
    def missing_prior(self) -> str | None:
        """The prior p(v) of a partially observed node where its value is missing (its value type:
        uniform over the classes of a categorical, Bernoulli(1/2)), or None."""
        if self.partial and self.value in ("categorical", "bernoulli"):
            return self.value
        return None

    @property
    def size(self) -> int:
        """Number of scalars in one sample (a categorical of K classes counts K, one-hot)."""
        n = 1
        for d in self.shape:
            n *= d
        return n if self.shape else 1

    @property
    def is_image(self) -> bool:
        return len(self.shape) == 3


class Edge(_Frozen):
    """A conditional ``sources -> target`` of the paper's figures.

    ``sources`` keeps the written order and includes the indicator where it is
    written; ``branch`` is the indicator value the edge serves (0 when written
    ``y``, 1 when written ``y=1``), or None when no indicator is among the
    sources (the edge then serves every branch).
    """

    sources: tuple[str, ...]
    target: str
    process: Process
    deterministic: bool = False
    invertible: bool = False
    adversarial: bool = False
    perfect: bool = False
    label: str | None = None
    group: str | None = None
    network: Call | None = None
    output: Call | None = None
    kernel: Call | None = None
    branch: Literal[0, 1] | None = None
    reparameterize: bool = True
    #: per-edge settings (None: not written, the model-wide option applies); see graph.options.EdgeSettings
    weight: float | None = None
    distance: Distance | None = None
    form: AdversarialForm | None = None
    span: Span | None = Field(default=None, exclude=True, repr=False)

    @property
    def line(self) -> str:
        return self.process.line

    @property
    def head(self) -> str:
        return "invertible" if self.invertible else "hollow" if self.deterministic else "filled"

    @property
    def settings(self) -> dict[str, Any]:
        """The per-edge settings written on this edge, in canonical order."""
        return {k: getattr(self, k) for k in ("weight", "distance", "form") if getattr(self, k) is not None}

    @property
    def label_group(self) -> str | None:
        """``G_theta``: the network's name in the model (one name on several edges is one network)."""
        return f"{self.label}_{self.group}" if self.label and self.group else None

    @property
    def trunk(self) -> str | None:
        """``Q_eta = head(D_phi)``: the network (``D_phi``) whose trunk this edge's network shares, or None."""
        if self.network is not None and self.network.name == "head" and self.network.args:
            return str(self.network.args[0])
        return None

    @property
    def has_parameters(self) -> bool:
        return self.group is not None

    @property
    def key(self) -> str:
        """A stable, human-readable identifier: the label, else ``sources->target``."""
        if self.label:
            return self.label
        return f"{','.join(self.sources)}->{self.target}"

    @property
    def glyph(self) -> str:
        if self.invertible:
            return "<->" if self.process is Process.generative else "<-->"
        return {
            (Process.generative, False): "->",
            (Process.generative, True): "=>",
            (Process.inference, False): "-->",
            (Process.inference, True): "==>",
        }[(self.process, self.deterministic)]

    def inputs(self, graph: SchematicGraph) -> tuple[str, ...]:
        """The sources that feed the network (the indicator feeds nothing)."""
        return tuple(s for s in self.sources if graph.nodes[s].role is not Role.indicator)

    def indicator(self, graph: SchematicGraph) -> str | None:
        for s in self.sources:
            if graph.nodes[s].role is Role.indicator:
                return s
        return None


class SchematicGraph:
    """A schematic graphical model: ordered nodes, ordered edges, options.

    Treat instances as values: transformations return new graphs.
    """

    def __init__(
        self,
        name: str,
        nodes: Iterable[Node],
        edges: Iterable[Edge],
        options: Options | dict[str, Any] | None = None,
        title: str | None = None,
        source: str | None = None,
        file: str | None = None,
    ) -> None:
        self.name = name
        self.title = title
        self.nodes: dict[str, Node] = {}
        for n in nodes:
            self.nodes[n.name] = n
        self.edges: list[Edge] = list(edges)
        if options is None:
            options = Options()
        elif isinstance(options, dict):
            options = Options(**options)
        self.options: Options = options
        #: the text and file the graph was parsed from (for error carets), if any
        self.source = source
        self.file = file
        #: the check warnings of a parsed graph (graph.usage: options and settings it does not use);
        #: not part of the meaning
        self.warnings: list[Any] = []

    # -- queries -------------------------------------------------------------------
    def node(self, name: str) -> Node:
        return self.nodes[name]

    def nodes_by_role(self, role: Role) -> list[Node]:
        return [n for n in self.nodes.values() if n.role is role]

    @property
    def indicator(self) -> Node | None:
        ys = self.nodes_by_role(Role.indicator)
        return ys[0] if ys else None

    def in_edges(self, name: str, process: Process | None = None) -> list[Edge]:
        return [e for e in self.edges if e.target == name and (process is None or e.process is process)]

    def out_edges(self, name: str, process: Process | None = None) -> list[Edge]:
        return [e for e in self.edges if name in e.sources and (process is None or e.process is process)]

    @property
    def groups(self) -> list[str]:
        """Parameter groups in order of first appearance."""
        seen: list[str] = []
        for e in self.edges:
            if e.group and e.group not in seen:
                seen.append(e.group)
        return seen

    def edge(self, key: str) -> Edge:
        """Find an edge by its label (``G``), its ``label_group`` (``G_theta``) or ``a,b->c``."""
        for e in self.edges:
            if key in (e.key, f"{e.label}_{e.group}" if e.label and e.group else None):
                return e
        for e in self.edges:
            if key.replace(" ", "") in (f"{','.join(e.sources)}->{e.target}", f"{e.sources[0]}->{e.target}"):
                return e
        raise KeyError(key)

    def nx(self) -> nx.MultiDiGraph:
        """A networkx view: node attribute ``node``; one arc per source, key = edge index, attribute ``edge``."""
        import networkx as nx

        g = nx.MultiDiGraph(name=self.name)
        for n in self.nodes.values():
            g.add_node(n.name, node=n, role=n.role.value)
        for i, e in enumerate(self.edges):
            for s in e.sources:
                g.add_edge(s, e.target, key=i, edge=e, process=e.process.value, adversarial=e.adversarial)
        return g

    # -- rebuilding ------------------------------------------------------------------
    def replace(self, **changes: Any) -> SchematicGraph:
        """A copy with some of name, title, nodes, edges, options replaced."""
        kw: dict[str, Any] = dict(
            name=self.name,
            title=self.title,
            nodes=list(self.nodes.values()),
            edges=list(self.edges),
            options=self.options,
        )
        kw.update(changes)
        return SchematicGraph(**kw)

    # -- data form -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The graph exported as plain data (JSON-ready); spans are left out."""
        return {
            "model": self.name,
            "title": self.title,
            "nodes": [
                n.model_dump(mode="json", exclude_defaults=True) | {"name": n.name, "role": n.role.value}
                for n in self.nodes.values()
            ],
            "edges": [
                e.model_dump(mode="json", exclude_defaults=True) | {"process": e.process.value} for e in self.edges
            ],
            "options": self.options.model_dump(mode="json", exclude_defaults=True),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SchematicGraph:
        def call(d: Any) -> Any:
            if d is None:
                return None
            return Call(
                name=d["name"],
                args=tuple(d.get("args", ())),
                kwargs=tuple((k, v) for k, v in d.get("kwargs", ())),
            )

        nodes = []
        for n in data["nodes"]:
            n = dict(n)
            if "shape" in n:
                n["shape"] = tuple(n["shape"])
            if n.get("range") is not None:
                n["range"] = tuple(n["range"])
            nodes.append(Node(**n))
        edges = []
        for e in data["edges"]:
            e = dict(e)
            e["sources"] = tuple(e["sources"])
            for k in ("network", "output", "kernel"):
                if k in e:
                    e[k] = call(e[k])
            edges.append(Edge(**e))
        return cls(
            name=data["model"],
            title=data.get("title"),
            nodes=nodes,
            edges=edges,
            options=Options(**data.get("options", {})),
        )

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: str) -> SchematicGraph:
        return cls.from_dict(json.loads(text))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SchematicGraph):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __hash__(self) -> int:  # value semantics
        return hash(json.dumps(self.to_dict(), sort_keys=True))

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        """Jupyter shows a graph as its diagram (the render stage is imported only here)."""
        from ..render.notebook import mimebundle

        return mimebundle(self, include, exclude)

    def __repr__(self) -> str:
        return f"SchematicGraph({self.name!r}, nodes={list(self.nodes)}, edges={[e.key for e in self.edges]})"
