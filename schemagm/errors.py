"""The one error type of schemagm.

Every problem a user can cause -- a spec that does not parse, a graph that does
not check, a transformation that does not apply, a data file of the wrong shape,
a corrupt checkpoint -- is raised as :class:`SpecError`.  It carries one or more
:class:`Diagnostic` s, each with a message, an optional source :class:`Span`
(file, line, column) and an optional hint.  ``str(error)`` renders them the way
a compiler does::

    vae.sgm:7:12: error: unknown node 'w'
      7 | x, y --> w : q_eta = mlp(256) normal
        |          ^
      hint: declare it first, e.g. `latent w : normal[8]`

The command line prints this text (no traceback) and exits with status 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

__all__ = ["Span", "Diagnostic", "SpecError", "DiagnosticSink"]


@dataclass(frozen=True)
class Span:
    """A position in a source text: 1-based line and column, plus its end."""

    line: int
    column: int
    end_line: int | None = None
    end_column: int | None = None
    file: str | None = None

    def with_file(self, file: str | None) -> "Span":
        return Span(self.line, self.column, self.end_line, self.end_column, file)

    def __str__(self) -> str:
        return f"{self.file or '<spec>'}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Diagnostic:
    """One problem: what is wrong, where, and (optionally) how to fix it."""

    message: str
    span: Span | None = None
    hint: str | None = None
    severity: str = "error"

    def render(self, source: str | None = None, file: str | None = None) -> str:
        span = self.span
        where = file if span is None else (span.file or file)
        prefix = ""
        if span is not None:
            prefix = f"{where or '<spec>'}:{span.line}:{span.column}: "
        elif where:
            prefix = f"{where}: "
        out = [f"{prefix}{self.severity}: {self.message}"]
        if span is not None and source is not None:
            lines = source.splitlines()
            if 1 <= span.line <= len(lines):
                text = lines[span.line - 1]
                gutter = str(span.line)
                out.append(f"  {gutter} | {text}")
                width = 1
                if span.end_line == span.line and span.end_column and span.end_column > span.column:
                    width = span.end_column - span.column
                width = max(1, min(width, len(text) - span.column + 1 if len(text) >= span.column else 1))
                out.append(f"  {' ' * len(gutter)} | {' ' * (span.column - 1)}{'^' * width}")
        if self.hint:
            out.append(f"  hint: {self.hint}")
        return "\n".join(out)


class SpecError(Exception):
    """The project's one error type: one or more diagnostics about user input."""

    def __init__(
        self,
        diagnostics: str | Diagnostic | Sequence[Diagnostic],
        *,
        span: Span | None = None,
        hint: str | None = None,
        source: str | None = None,
        file: str | None = None,
    ) -> None:
        if isinstance(diagnostics, str):
            diagnostics = [Diagnostic(diagnostics, span, hint)]
        elif isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        self.diagnostics: list[Diagnostic] = list(diagnostics)
        if not self.diagnostics:
            raise ValueError("SpecError needs at least one diagnostic")
        self.source = source
        self.file = file
        super().__init__(self.render())

    # -- convenience -----------------------------------------------------------------
    @property
    def message(self) -> str:
        return self.diagnostics[0].message

    @property
    def span(self) -> Span | None:
        return self.diagnostics[0].span

    def with_source(self, source: str | None, file: str | None = None) -> "SpecError":
        """Attach the source text (for the caret lines) and the file name."""
        diags = [
            Diagnostic(d.message, d.span.with_file(d.span.file or file) if d.span else None, d.hint, d.severity)
            for d in self.diagnostics
        ]
        return SpecError(diags, source=source if source is not None else self.source, file=file or self.file)

    def render(self) -> str:
        return "\n".join(d.render(self.source, self.file) for d in self.diagnostics)

    def __str__(self) -> str:
        return self.render()


@dataclass
class DiagnosticSink:
    """Collects diagnostics so that a checker reports every problem, not only the first."""

    diagnostics: list[Diagnostic] = field(default_factory=list)

    def error(self, message: str, span: Span | None = None, hint: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(message, span, hint))

    def extend(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics.extend(diagnostics)

    def __bool__(self) -> bool:
        return bool(self.diagnostics)

    def raise_if_any(self, source: str | None = None, file: str | None = None) -> None:
        if self.diagnostics:
            ordered = sorted(
                self.diagnostics,
                key=lambda d: (d.span is None, d.span.line if d.span else 0, d.span.column if d.span else 0),
            )
            raise SpecError(ordered, source=source, file=file)
