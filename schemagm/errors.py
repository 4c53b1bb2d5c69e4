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

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = ["Span", "Diagnostic", "SpecError", "DiagnosticSink", "printable", "excerpt", "shorten"]


@dataclass(frozen=True)
class Span:
    """A position in a source text: 1-based line and column, plus its end."""

    line: int
    column: int
    end_line: int | None = None
    end_column: int | None = None
    file: str | None = None

    def with_file(self, file: str | None) -> Span:
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

    def render(self, source: str | None = None, file: str | None = None, lines: Sequence[str] | None = None) -> str:
        span = self.span
        where = file if span is None else (span.file or file)
        prefix = ""
        if span is not None:
            prefix = f"{printable(where or '<spec>')}:{span.line}:{span.column}: "
        elif where:
            prefix = f"{printable(where)}: "
        out = [f"{prefix}{self.severity}: {shorten(printable(self.message, keep_newlines=True))}"]
        if span is not None and (source is not None or lines is not None):
            if lines is None:
                lines = source.splitlines() if source is not None else []
            if 1 <= span.line <= len(lines):
                text = lines[span.line - 1]
                width = 1
                if span.end_line == span.line and span.end_column and span.end_column > span.column:
                    width = span.end_column - span.column
                width = max(1, min(width, len(text) - span.column + 1 if len(text) >= span.column else 1))
                shown, start, marks = excerpt(text, span.column - 1, width)
                gutter = str(span.line)
                out.append(f"  {gutter} | {shown}")
                out.append(f"  {' ' * len(gutter)} | {' ' * start}{'^' * marks}")
        if self.hint:
            out.append(f"  hint: {shorten(printable(self.hint))}")
        return "\n".join(out)


#: the longest source excerpt shown under an error (characters); a longer line is cut around the caret
EXCERPT_WIDTH = 100
#: the most diagnostics one error prints (a spec of 100k bad lines must not print 100k errors)
MAX_SHOWN = 50

_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape_char(m: re.Match[str]) -> str:
    c = m.group(0)
    return f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"


def printable(text: str, keep_newlines: bool = False) -> str:
    """``text`` with control characters (terminal escape sequences, bidi overrides) written as ``\\x1b``.

    Everything schemagm echoes from a user's file or command line goes through this, so an
    error message can never clear the screen or retitle the terminal.  A tab becomes a space.
    """
    if keep_newlines:
        return "\n".join(printable(part) for part in text.split("\n"))
    return _CONTROL.sub(_escape_char, text.replace("\t", " "))


_LONG_WORD = re.compile(r"\S{121,}")


def shorten(text: str) -> str:
    """``text`` with every run of more than 120 non-blank characters (a quoted 1 MB token) cut to its ends."""
    return _LONG_WORD.sub(lambda m: f"{m.group(0)[:60]}...{m.group(0)[-20:]} ({len(m.group(0)):,} characters)", text)


def excerpt(text: str, column: int, width: int, limit: int = EXCERPT_WIDTH) -> tuple[str, int, int]:
    """(the part of a source line to show, where its caret starts, how many carets) -- bounded.

    Control characters are escaped (shifting the caret accordingly) and a line longer than
    ``limit`` is cut to a window around the caret, with ``...`` at each cut end.
    """
    column = max(0, min(column, len(text)))
    lo = max(0, column - limit // 2)
    hi = min(len(text), max(column + width, lo + limit))
    lo = max(0, min(lo, hi - limit))
    before = printable(text[lo:column])
    marked = printable(text[column : column + width])
    after = printable(text[column + width : hi])
    head = "..." if lo > 0 else ""
    tail = "..." if hi < len(text) else ""
    marks = max(1, min(len(marked), limit))
    return f"{head}{before}{marked[:limit]}{after}{tail}", len(head) + len(before), marks


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

    def with_source(self, source: str | None, file: str | None = None) -> SpecError:
        """Attach the source text (for the caret lines) and the file name."""
        diags = [
            Diagnostic(d.message, d.span.with_file(d.span.file or file) if d.span else None, d.hint, d.severity)
            for d in self.diagnostics
        ]
        return SpecError(diags, source=source if source is not None else self.source, file=file or self.file)

    def render(self) -> str:
        lines = self.source.splitlines() if self.source is not None else None
        shown = [d.render(self.source, self.file, lines) for d in self.diagnostics[:MAX_SHOWN]]
        if len(self.diagnostics) > MAX_SHOWN:
            shown.append(
                f"... and {len(self.diagnostics) - MAX_SHOWN} more errors (fix the first ones and check again)"
            )
        return "\n".join(shown)

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
