"""Writing a drawing to a file: the format from the suffix (or given), the bytes, an atomic write."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import fileio
from ..errors import SpecError
from ..suggest import did_you_mean
from .graphviz_backend import DEFAULT_DPI, IMAGE_FORMATS, to_dot, to_image
from .mermaid_backend import to_mermaid

__all__ = ["FORMATS", "SUFFIXES", "format_for", "render_bytes", "write_atomic", "write_drawing"]

#: every output format
FORMATS = ("svg", "png", "pdf", "dot", "mermaid")
#: file suffix -> format
SUFFIXES = {
    ".svg": "svg",
    ".png": "png",
    ".pdf": "pdf",
    ".dot": "dot",
    ".gv": "dot",
    ".mmd": "mermaid",
    ".mermaid": "mermaid",
}


def format_for(path: str | Path | None, fmt: str | None = None) -> str:
    """The output format: ``fmt`` when given, else the one the file suffix names."""
    if fmt is not None:
        fmt = fmt.lower()
        if fmt == "mmd":
            fmt = "mermaid"
        if fmt not in FORMATS:
            raise SpecError(
                f"unknown drawing format '{fmt}'",
                hint=did_you_mean(fmt, FORMATS) + f"choose one of {', '.join(FORMATS)}",
            )
        return fmt
    if path is None:
        return "dot"
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        known = ", ".join(sorted(SUFFIXES))
        raise SpecError(
            f"cannot tell the drawing format from the file name '{path}'",
            hint=f"use one of the suffixes {known}, or give --format",
        )
    return SUFFIXES[suffix]


def render_bytes(d: dict[str, Any], fmt: str, dpi: int = DEFAULT_DPI, size: tuple[float, float] | None = None) -> bytes:
    """The drawing in a format, as bytes (text formats in UTF-8); a PNG at ``dpi``, an image scaled to
    ``size`` (inches) when given."""
    if fmt == "dot":
        return to_dot(d).encode("utf-8")
    if fmt == "mermaid":
        return to_mermaid(d).encode("utf-8")
    if fmt in IMAGE_FORMATS:
        if len(d["panels"]) > 1:  # each panel as it looks on its own (schemagm.render.panels)
            from .panels import panel_image

            return panel_image(d, fmt, dpi=dpi, size=size)
        return to_image(to_dot(d), fmt, dpi=dpi, size=size)
    raise SpecError(
        f"unknown drawing format '{fmt}'", hint=did_you_mean(fmt, FORMATS) + f"choose one of {', '.join(FORMATS)}"
    )


def write_atomic(path: str | Path, data: bytes) -> None:
    """Write a file all at once: a temporary file next to it, then a rename over it."""
    path = Path(path)
    if path.is_dir():
        raise SpecError(f"cannot write '{path}': it is a folder", hint="give a file name, e.g. -o figure.svg")
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise SpecError(f"cannot write '{path}': the folder '{directory}' does not exist")
    fileio.write_atomic(path, data)


def write_drawing(d: dict[str, Any], path: str | Path, fmt: str | None = None) -> str:
    """Draw into a file (overwriting it: a drawing can always be made again); returns the format."""
    fmt = format_for(path, fmt)
    write_atomic(path, render_bytes(d, fmt))
    return fmt
