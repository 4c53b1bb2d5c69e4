"""The syntax tree of a ``.sgm`` spec: what was written, where, before any meaning.

The parser (:mod:`schemagm.language.parser`) produces a :class:`Spec`; the graph
builder (:mod:`schemagm.graph.build`) turns it into a
:class:`~schemagm.graph.model.SchematicGraph`; the printer
(:mod:`schemagm.language.printer`) writes a :class:`Spec` back as canonical text.

Every piece carries the :class:`~schemagm.errors.Span` of its text (``None`` for
trees made in code) so that later stages can point at the exact word that is
wrong.  Comments are kept (``comments`` = whole comment lines just before the
piece, ``comment`` = a comment at the end of its line) so that ``schemagm fmt``
never drops what a user wrote.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..errors import Span

__all__ = [
    "Value",
    "Argument",
    "CallSyntax",
    "NodeDecl",
    "SourceRef",
    "SettingDecl",
    "EdgeBody",
    "EdgeDecl",
    "OptionDecl",
    "OptionsBlock",
    "Spec",
    "ARROWS",
]

#: a literal written in a spec: a number, a string, a bare name or true/false
Value = bool | int | float | str

#: the arrows: glyph -> (line, head); ``<->``/``<-->`` are invertible edges (a flow, heads at both ends)
ARROWS: dict[str, tuple[str, str]] = {
    "->": ("solid", "filled"),
    "=>": ("solid", "hollow"),
    "-->": ("dashed", "filled"),
    "==>": ("dashed", "hollow"),
    "<->": ("solid", "invertible"),
    "<-->": ("dashed", "invertible"),
}


class _Syntax(BaseModel):
    model_config = ConfigDict(extra="forbid")

    span: Span | None = Field(default=None, repr=False)


class Argument(_Syntax):
    """``256`` (positional) or ``std=0.1`` (keyword).  ``bare`` marks a name written without quotes."""

    key: str | None = None
    value: Value
    bare: bool = False


class CallSyntax(_Syntax):
    """``mlp(256, 256)``, ``normal``, ``mmd(1, 2)``: a registry name with arguments."""

    name: str
    args: list[Argument] = Field(default_factory=list)
    parens: bool = False  # written with parentheses (``linear()``)
    name_span: Span | None = Field(default=None, repr=False)


class NodeDecl(_Syntax):
    """``data x : real[64] in [0, 1] given y from digits``."""

    role: Literal["data", "latent", "indicator"]
    name: str
    type: str | None = None  # value type; None for an indicator
    dims: list[int | float] | None = None  # as written (checked to be positive whole numbers by the builder)
    range: tuple[int | float, int | float] | None = None
    given: str | None = None
    dataset: str | None = None
    partial: bool = False  # `partial`: observed on some rows only
    observed: int | float | None = None  # `partial(0.1)`: the fraction of rows that keep their value
    name_span: Span | None = Field(default=None, repr=False)
    type_span: Span | None = Field(default=None, repr=False)
    dims_span: Span | None = Field(default=None, repr=False)
    range_span: Span | None = Field(default=None, repr=False)
    given_span: Span | None = Field(default=None, repr=False)
    dataset_span: Span | None = Field(default=None, repr=False)
    partial_span: Span | None = Field(default=None, repr=False)
    comments: list[str] = Field(default_factory=list)
    comment: str | None = None


class SourceRef(_Syntax):
    """One source of an edge: ``z``, ``y`` or ``y=1``."""

    name: str
    value: int | float | None = None  # the indicator value written after '='


class SettingDecl(_Syntax):
    """``weight=10`` after an edge's flags: a per-edge setting."""

    key: str
    value: Value
    bare: bool = False
    key_span: Span | None = Field(default=None, repr=False)
    value_span: Span | None = Field(default=None, repr=False)


class EdgeBody(_Syntax):
    """What follows the ``:`` of an edge: ``G_theta = mlp(256) -> sigmoid adversarial``."""

    label: str | None = None  # as written: ``G_theta``
    label_span: Span | None = Field(default=None, repr=False)
    call: CallSyntax | None = None
    head: CallSyntax | None = None
    head_arrow: str | None = None  # "->" when the head is an activation (``-> sigmoid``)
    flags: list[str] = Field(default_factory=list)  # adversarial, perfect, no_reparam, as written
    flag_spans: list[Span | None] = Field(default_factory=list, repr=False)
    settings: list[SettingDecl] = Field(default_factory=list)  # ``weight=10 distance=l1``, as written


class EdgeDecl(_Syntax):
    """``z, y ==> x : G_theta = mlp(256) -> sigmoid``."""

    sources: list[SourceRef]
    arrow: Literal["->", "=>", "-->", "==>", "<->", "<-->"]
    target: str
    body: EdgeBody | None = None
    arrow_span: Span | None = Field(default=None, repr=False)
    target_span: Span | None = Field(default=None, repr=False)
    comments: list[str] = Field(default_factory=list)
    comment: str | None = None

    @property
    def line(self) -> str:
        return ARROWS[self.arrow][0]

    @property
    def head(self) -> str:
        return ARROWS[self.arrow][1]


class OptionDecl(_Syntax):
    """``beta = 4.0`` inside ``options { ... }``."""

    key: str
    value: Value
    bare: bool = False
    key_span: Span | None = Field(default=None, repr=False)
    value_span: Span | None = Field(default=None, repr=False)
    comments: list[str] = Field(default_factory=list)
    comment: str | None = None


class OptionsBlock(_Syntax):
    options: list[OptionDecl] = Field(default_factory=list)
    comments: list[str] = Field(default_factory=list)
    comment: str | None = None
    #: comment lines just before the closing brace
    closing_comments: list[str] = Field(default_factory=list)


class Spec(_Syntax):
    """A whole spec, in written order within each kind."""

    name: str
    title: str | None = None
    name_span: Span | None = Field(default=None, repr=False)
    nodes: list[NodeDecl] = Field(default_factory=list)
    edges: list[EdgeDecl] = Field(default_factory=list)
    options: list[OptionsBlock] = Field(default_factory=list)  # more than one is an error (reported by the builder)
    comments: list[str] = Field(default_factory=list)  # comment lines before `model`
    comment: str | None = None
    trailing_comments: list[str] = Field(default_factory=list)  # comment lines after the last statement
