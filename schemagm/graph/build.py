"""Text to graph and back: ``parse``, ``parse_file``, ``to_sgm``, ``format_text``.

``parse(text)`` parses the text (:mod:`schemagm.language.parser`), builds the
:class:`SchematicGraph` from the syntax tree, checks it
(:func:`schemagm.graph.check.check`) and raises one :class:`SpecError` holding
every problem -- with the source attached so that each renders with its caret.

``to_sgm(graph)`` prints the canonical text: the graph is turned back into a
syntax tree (:func:`to_syntax`) and printed by
:func:`schemagm.language.printer.print_spec`.  ``parse(to_sgm(g)) == g`` and
``to_sgm(parse(to_sgm(g))) == to_sgm(g)`` for every valid graph.
``format_text(text)`` is what ``schemagm fmt`` prints: the canonical text of a
spec with its comments kept.
"""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Iterator
from typing import Any, Literal, get_args, get_origin

from pydantic import ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from .. import registry
from ..errors import Diagnostic, Span, SpecError
from ..language.parser import parse_spec
from ..language.printer import print_spec
from ..language.syntax import (
    Argument,
    CallSyntax,
    EdgeBody,
    EdgeDecl,
    NodeDecl,
    OptionDecl,
    OptionsBlock,
    SettingDecl,
    SourceRef,
    Spec,
)
from .check import Locations, check, sort_diagnostics, suggest
from .model import VALUE_TYPES, Call, Edge, Node, Process, Role, SchematicGraph
from .options import EdgeSettings, Options
from .usage import unused_settings

__all__ = [
    "parse",
    "parse_file",
    "read_spec_text",
    "to_sgm",
    "to_syntax",
    "build",
    "format_text",
    "UNIFORM_DEFAULT_RANGE",
]

#: the range of a ``uniform`` prior when none is written
UNIFORM_DEFAULT_RANGE = (-1.0, 1.0)

_ARROW = {
    "->": (Process.generative, False),
    "=>": (Process.generative, True),
    "-->": (Process.inference, False),
    "==>": (Process.inference, True),
    "<->": (Process.generative, False),  # invertible (a flow): Edge.invertible
    "<-->": (Process.inference, False),
}


# -- syntax tree -> graph ---------------------------------------------------------------------
class _Build:
    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.out: list[Diagnostic] = []
        self.locations = Locations()

    def error(self, message: str, span: Span | None, hint: str | None = None) -> None:
        self.out.append(Diagnostic(message, span, hint))

    def run(self) -> SchematicGraph:
        self.locations.model = self.spec.name_span
        nodes = [n for n in (self.node(d) for d in self.spec.nodes) if n is not None]
        roles = {n.name: n.role for n in nodes}
        edges = [self.edge(d, roles) for d in self.spec.edges]
        options = self.options()
        return SchematicGraph(self.spec.name, nodes, edges, options, title=self.spec.title)

    # -- nodes ----------------------------------------------------------------------------------
    def node(self, d: NodeDecl) -> Node | None:
        first = self.locations.nodes.get(d.name)
        if first is not None:
            where = f" (first on line {first.span.line})" if first.span else ""
            self.error(f"node '{d.name}' is declared twice{where}", d.name_span, "give each node its own name")
            return None
        self.locations.nodes[d.name] = d
        role = Role(d.role)
        value = "real"
        shape: tuple[int, ...] = ()
        if role is Role.indicator:
            if d.type is not None:
                self.error(
                    f"an indicator has no type or size; write `indicator {d.name}`",
                    d.type_span,
                    "y is the binary switch between the real (y = 1) and generated (y = 0) branches",
                )
        elif d.type is None:
            self.error(
                f"node '{d.name}' needs a type and a size",
                d.name_span,
                f"e.g. `{d.role} {d.name} : {'real' if role is Role.data else 'normal'}[8]`",
            )
        elif d.type not in VALUE_TYPES:
            guess = suggest(d.type, VALUE_TYPES)
            self.error(
                f"unknown type '{d.type}'",
                d.type_span,
                (f"did you mean '{guess}'? " if guess else "") + "the types are " + ", ".join(VALUE_TYPES),
            )
            # go on with the closest type (or a prior for a latent) so that one typo gives one error
            value = guess or ("normal" if role is Role.latent else "real")
        else:
            value = d.type
        if role is not Role.indicator:
            if d.type is not None and d.dims is None:
                pass  # reported by the checker ("has no size"), which also sees graphs built in Python
            dims: list[int] = []
            for x in d.dims or ():
                if isinstance(x, float) and not x.is_integer():
                    self.error(f"size {x:g} of '{d.name}' must be a whole number", d.dims_span, "e.g. `real[64]`")
                    x = 1
                dims.append(int(x))
            shape = tuple(dims)
        rng: tuple[float, float] | None = None
        if d.range is not None:
            # kept as written: None means "not written" (a uniform prior then has UNIFORM_DEFAULT_RANGE),
            # so that every valid graph prints and parses back to itself
            rng = (float(d.range[0]), float(d.range[1]))
        try:
            return Node(
                name=d.name,
                role=role,
                value=value,
                shape=shape,
                range=rng,
                given=d.given,
                dataset=d.dataset,
                partial=d.partial,
                observed=None if d.observed is None else float(d.observed),
                span=d.span,
            )
        except ValidationError as err:  # pragma: no cover - every field is checked above
            self.error(f"invalid declaration of '{d.name}': {err.errors()[0]['msg']}", d.span)
            return None

    # -- edges ----------------------------------------------------------------------------------
    def edge(self, d: EdgeDecl, roles: dict[str, Role]) -> Edge:
        self.locations.edges.append(d)
        process, deterministic = _ARROW[d.arrow]
        branch: int | None = None
        for src in d.sources:
            role = roles.get(src.name)
            if src.value is not None:
                if src.value not in (0, 1) or isinstance(src.value, float):
                    self.error(
                        f"an indicator takes the value 0 or 1, not {src.value:g}",
                        src.span,
                        f"write `{src.name}=1` (the real branch) or `{src.name}` (the generated branch, y = 0)",
                    )
                elif role is not None and role is not Role.indicator:
                    self.error(
                        f"only an indicator takes a value; '{src.name}' is a {role.value} node",
                        src.span,
                        f"write `{src.name}` without `={src.value:g}`",
                    )
                else:
                    branch = int(src.value)
            elif role is Role.indicator and branch is None:
                branch = 0
        kw: dict[str, Any] = {}
        body = d.body
        if body is not None:
            kw = self.body(body, d)
        return Edge(
            sources=tuple(s.name for s in d.sources),
            target=d.target,
            process=process,
            deterministic=deterministic,
            invertible=d.arrow in ("<->", "<-->"),
            branch=branch,
            span=d.span,
            **kw,
        )

    def body(self, body: EdgeBody, d: EdgeDecl) -> dict[str, Any]:
        kw: dict[str, Any] = {}
        seen: set[str] = set()
        for i, flag in enumerate(body.flags):  # a syntax tree built in code may have no spans
            span = body.flag_spans[i] if i < len(body.flag_spans) else None
            if flag in seen:
                self.error(f"`{flag}` is written twice", span, "write it once")
            seen.add(flag)
        kw["adversarial"] = "adversarial" in seen
        kw["perfect"] = "perfect" in seen
        kw["reparameterize"] = "no_reparam" not in seen
        kw.update(self.settings(body))
        if body.label is not None:
            label, sep, group = body.label.rpartition("_")
            if not sep:
                label, group = body.label, ""
            if not label or (sep and not group):
                self.error(
                    f"the label '{body.label}' should be a letter and a parameter group, like G_theta",
                    body.label_span,
                    "the part after the last underscore is the group: theta, eta, phi, lambda, ...",
                )
                label, group = body.label.strip("_") or "G", ""
            kw["label"] = label
            kw["group"] = group or None
        if body.call is not None:
            call = _call(body.call)
            if registry.lookup("kernel", call.name) is not None:
                kw["kernel"] = call
            else:
                kw["network"] = call
        if body.head is not None:
            head = body.head
            is_dist = registry.lookup("distribution", head.name) is not None
            is_act = registry.lookup("activation", head.name) is not None
            if body.head_arrow is not None:
                if body.head_arrow != "->":
                    self.error(
                        f"an activation is written `-> {head.name}`, not `{body.head_arrow} {head.name}`",
                        head.span,
                        "the output arrow is always ->",
                    )
                if is_dist:
                    self.error(
                        f"'{head.name}' is a distribution; write it without the arrow: `{_call(head)}`",
                        head.span,
                        "`-> name` is for activations (sigmoid, tanh, relu, softplus, softmax)",
                    )
            elif is_act and not is_dist:
                self.error(
                    f"'{head.name}' is an activation; write it after an arrow: `-> {head.name}`",
                    head.span,
                    "a distribution (normal, bernoulli, categorical) is written without the arrow",
                )
            kw["output"] = _call(head)
        return kw

    # -- options --------------------------------------------------------------------------------
    def options(self) -> Options:
        blocks = self.spec.options
        for extra in blocks[1:]:
            first = blocks[0].span
            self.error(
                "a spec has one options block" + (f" (the first is on line {first.line})" if first else ""),
                extra.span,
                "merge the options into the first block",
            )
        values: dict[str, Any] = {}
        last_line: int | None = None
        for block in blocks:
            for o in block.options:
                if o.key in values:
                    self.error(f"option '{o.key}' is set twice", o.key_span, "keep one of them")
                    continue
                if o.span is not None and last_line == o.span.line:
                    self.error("write one option per line", o.key_span, f"put `{o.key} = ...` on its own line")
                last_line = o.span.line if o.span is not None else None
                self.locations.options[o.key] = o
                values[o.key] = o.value
        try:
            return Options(**values)
        except ValidationError as err:
            bad: set[str] = set()
            for problem in err.errors():
                key = str(problem["loc"][0]) if problem["loc"] else ""
                bad.add(key)
                self.option_error(key, problem)
            good = {k: v for k, v in values.items() if k not in bad}
            return Options(**good)

    def option_error(self, key: str, problem: ErrorDetails) -> None:
        self.field_error("option", key, problem, self.locations.options.get(key), Options.model_fields)

    def field_error(
        self,
        what: str,
        key: str,
        problem: ErrorDetails,
        decl: OptionDecl | SettingDecl | None,
        fields: dict[str, FieldInfo],
    ) -> None:
        """A validation problem of an option (``what = "option"``) or a per-edge setting, at its position."""
        if problem["type"] == "extra_forbidden":
            guess = suggest(key, fields)
            self.error(
                f"unknown {what} '{key}'",
                decl.key_span if decl else None,
                (f"did you mean '{guess}'? " if guess else "") + f"the {what}s are " + ", ".join(fields),
            )
            return
        info = fields[key]
        annotation = info.annotation
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1 and get_origin(annotation) is not Literal:  # Optional[X] of a setting: X
            annotation = args[0]
        shown = _show(decl.value) if decl else "?"
        ctx = problem.get("ctx") or {}
        if problem["type"] == "literal_error":
            allowed = [a for a in _literal_values(annotation)]
            message = f"{what} '{key}' must be one of {', '.join(allowed)}; got {shown}"
        elif "greater_than_equal" in problem["type"]:
            message = f"{what} '{key}' must be at least {ctx.get('ge')}; got {shown}"
        elif "greater_than" in problem["type"]:
            message = f"{what} '{key}' must be greater than {ctx.get('gt')}; got {shown}"
        elif "less_than_equal" in problem["type"]:
            message = f"{what} '{key}' must be at most {ctx.get('le')}; got {shown}"
        elif problem["type"] == "finite_number":
            message = f"{what} '{key}' must be a finite number; got {shown}"
        elif annotation is int:
            message = f"{what} '{key}' must be a whole number; got {shown}"
        elif annotation is float:
            message = f"{what} '{key}' must be a number; got {shown}"
        else:
            message = f"{what} '{key}' has a bad value {shown}: {problem['msg']}"
        default = "" if info.default is None else f" (default {_show(info.default)})"
        self.error(message, decl.value_span if decl else None, f"{key}: {info.description}{default}")

    def settings(self, body: EdgeBody) -> dict[str, Any]:
        """The per-edge settings of an edge body, validated: unknown, repeated or ill-typed ones are errors."""
        written: dict[str, SettingDecl] = {}
        for st in body.settings:
            if st.key in written:
                self.error(f"the setting '{st.key}' is written twice", st.key_span, "write it once")
                continue
            written[st.key] = st
        values = {k: st.value for k, st in written.items()}
        try:
            EdgeSettings(**values)
        except ValidationError as err:
            for problem in err.errors():
                key = str(problem["loc"][0]) if problem["loc"] else ""
                self.field_error("setting", key, problem, written.get(key), EdgeSettings.model_fields)
                values.pop(key, None)
        return dict(EdgeSettings(**values).model_dump(exclude_none=True))


def _whole(value: Any) -> Any:
    """``10.0`` prints as ``10`` (a weight is a float; ``weight=10`` reads better and parses back equal)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _literal_values(annotation: Any) -> list[str]:
    """The allowed values of a ``Literal`` (possibly inside ``X | None``)."""
    if get_origin(annotation) is Literal:
        return [str(a) for a in get_args(annotation)]
    return [v for a in get_args(annotation) for v in _literal_values(a)]


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"'{value}'"
    return f"{value}"


def _call(c: CallSyntax) -> Call:
    return Call(
        name=c.name,
        args=tuple(a.value for a in c.args if a.key is None),
        kwargs=tuple((a.key, a.value) for a in c.args if a.key is not None),
    )


def build(spec: Spec) -> tuple[SchematicGraph, list[Diagnostic], Locations]:
    """The graph of a syntax tree, the problems found while building it, and where its parts are."""
    b = _Build(spec)
    graph = b.run()
    return graph, b.out, b.locations


# -- text -> graph ----------------------------------------------------------------------------
@contextlib.contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Pause Python's cycle collector while a spec is read: a large spec makes hundreds of thousands of
    small objects at once, and the collector's repeated passes over them make parsing superlinear
    (a 1M-character spec: 4x slower per character than a 10k one).  Reference counting still frees."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _parse_with_tree(text: str, file: str | None) -> tuple[SchematicGraph, Spec]:
    with _no_cycle_collection():
        spec = parse_spec(text, file)
        graph, problems, locations = build(spec)
        problems = problems + check(graph, locations)
    if problems:
        problems = [
            Diagnostic(d.message, d.span.with_file(d.span.file or file) if d.span else None, d.hint, d.severity)
            for d in problems
        ]
        raise SpecError(sort_diagnostics(problems), source=text, file=file)
    graph.source = text
    graph.file = file
    graph.warnings = [
        Diagnostic(d.message, d.span.with_file(d.span.file or file) if d.span else None, d.hint, d.severity)
        for d in sort_diagnostics(unused_settings(graph, locations))
    ]
    return graph, spec


def parse(text: str, file: str | None = None) -> SchematicGraph:
    """Parse and check a spec; raise one :class:`SpecError` with every problem."""
    return _parse_with_tree(text, file)[0]


def read_spec_text(path: str | os.PathLike[str]) -> str:
    """The text of a spec file; a missing, unreadable, oversized or non-UTF-8 file is a :class:`SpecError`."""
    from ..fileio import read_bytes
    from ..limits import MAX_SPEC_BYTES

    data = read_bytes(path, MAX_SPEC_BYTES, "spec file")
    return decode_text(data, str(path), "save the spec as UTF-8 text")


def decode_text(data: bytes, file: str, hint: str) -> str:
    """UTF-8 text (a byte-order mark dropped); a bad byte is reported at its line and column."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        start = err.start
        line = data.count(b"\n", 0, start) + 1
        line_start = data.rfind(b"\n", 0, start) + 1
        line_end = data.find(b"\n", start)
        raw = data[line_start : line_end if line_end >= 0 else len(data)]
        shown = raw.decode("utf-8", errors="replace")
        column = len(data[line_start:start].decode("utf-8", errors="replace")) + 1
        raise SpecError(
            f"the file is not UTF-8 text: byte 0x{data[start]:02x} cannot be decoded",
            span=Span(line, column, line, column + 1, file),
            hint=hint,
            source="\n" * (line - 1) + shown,
            file=file,
        ) from None


def parse_file(path: str | os.PathLike[str]) -> SchematicGraph:
    """Parse and check a ``.sgm`` file."""
    return parse(read_spec_text(path), file=str(path))


# -- graph -> text ------------------------------------------------------------------------------
def _call_syntax(c: Call) -> CallSyntax:
    args = [Argument(value=v) for v in c.args] + [Argument(key=k, value=v) for k, v in c.kwargs]
    return CallSyntax(name=c.name, args=args, parens=bool(args))


def _node_syntax(n: Node) -> NodeDecl:
    if n.role is Role.indicator:
        return NodeDecl(role="indicator", name=n.name)
    return NodeDecl(
        role=n.role.value,
        name=n.name,
        type=n.value,
        dims=list(n.shape) if n.shape else None,
        range=n.range,
        given=n.given,
        dataset=n.dataset,
        partial=n.partial,
        observed=n.observed,
    )


def _edge_syntax(e: Edge, graph: SchematicGraph) -> EdgeDecl:
    sources = []
    for s in e.sources:
        node = graph.nodes.get(s)
        is_indicator = node is not None and node.role is Role.indicator
        value = 1 if is_indicator and e.branch == 1 else None
        sources.append(SourceRef(name=s, value=value))
    body = None
    call = e.network or e.kernel
    settings = e.settings
    if (
        call is not None
        or e.output is not None
        or e.adversarial
        or e.perfect
        or not e.reparameterize
        or e.label
        or settings
    ):
        head_arrow = None
        if e.output is not None:
            is_act = registry.lookup("activation", e.output.name) is not None
            is_dist = registry.lookup("distribution", e.output.name) is not None
            if is_act and not is_dist or (not is_dist and e.deterministic):
                head_arrow = "->"
        flags = [
            f
            for f, on in (("perfect", e.perfect), ("adversarial", e.adversarial), ("no_reparam", not e.reparameterize))
            if on
        ]
        label = None
        if e.label is not None:
            label = e.label if e.group is None else f"{e.label}_{e.group}"
        body = EdgeBody(
            label=label,
            call=_call_syntax(call) if call is not None else None,
            head=_call_syntax(e.output) if e.output is not None else None,
            head_arrow=head_arrow,
            flags=flags,
            settings=[SettingDecl(key=k, value=_whole(v), bare=isinstance(v, str)) for k, v in settings.items()],
        )
    return EdgeDecl(sources=sources, arrow=e.glyph, target=e.target, body=body)


def to_syntax(graph: SchematicGraph) -> Spec:
    """The syntax tree that prints as the canonical text of ``graph``: the options that differ from
    their defaults, and those the spec wrote out (a user's ``adversarial = non_saturating`` stays)."""
    options = graph.options.model_dump(include=graph.options.model_fields_set) | graph.options.model_dump(
        exclude_defaults=True
    )
    blocks = []
    if options:
        blocks.append(
            OptionsBlock(options=[OptionDecl(key=k, value=options[k]) for k in Options.model_fields if k in options])
        )
    return Spec(
        name=graph.name,
        title=graph.title,
        nodes=[_node_syntax(n) for n in graph.nodes.values()],
        edges=[_edge_syntax(e, graph) for e in graph.edges],
        options=blocks,
    )


def to_sgm(graph: SchematicGraph) -> str:
    """The canonical ``.sgm`` text of a graph."""
    return print_spec(to_syntax(graph))


def format_text(text: str, file: str | None = None) -> str:
    """The canonical text of a spec, keeping its comments (what ``schemagm fmt`` prints).

    The spec must be valid (a :class:`SpecError` otherwise).
    """
    graph, written = _parse_with_tree(text, file)
    canonical = to_syntax(graph)
    canonical.comments, canonical.comment = written.comments, written.comment
    canonical.trailing_comments = list(written.trailing_comments)
    for decl, node in zip(_unique_nodes(written), canonical.nodes, strict=True):
        node.comments, node.comment = decl.comments, decl.comment
    for edge_decl, edge in zip(written.edges, canonical.edges, strict=True):
        edge.comments, edge.comment = edge_decl.comments, edge_decl.comment
    written_options = {o.key: o for b in written.options for o in b.options}
    kept = {o.key for b in canonical.options for o in b.options}
    if canonical.options:
        block = canonical.options[0]
        if written.options:
            first = written.options[0]
            block.comments, block.comment = first.comments, first.comment
            block.closing_comments = [c for b in written.options for c in b.closing_comments]
        for o in block.options:
            w = written_options.get(o.key)
            if w is not None:
                o.comments, o.comment = w.comments, w.comment
    # comments on what the canonical form leaves out (default options) move to the end
    lost: list[str] = []
    for b in written.options:
        if not canonical.options:
            lost += b.comments + ([b.comment] if b.comment else []) + b.closing_comments
        for o in b.options:
            if o.key not in kept:
                lost += o.comments + ([o.comment] if o.comment else [])
    canonical.trailing_comments += lost
    return print_spec(canonical)


def _unique_nodes(spec: Spec) -> list[NodeDecl]:
    seen: set[str] = set()
    out = []
    for n in spec.nodes:
        if n.name not in seen:
            seen.add(n.name)
            out.append(n)
    return out
