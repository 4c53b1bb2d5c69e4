"""``schemagm render FILE``: draw a spec in the paper's notation (svg, png, pdf, dot, mermaid)."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import typer

from .common import echo, user_errors

HELP = """Draw a spec as a schematic graph, the way the paper draws its Figure 1.

Solid arrows are the generative process, dashed arrows inference, a hollow
head a deterministic network, red arrows the adversary (q_* when perfect, MMD
for a kernel test).  Data nodes are shaded.  The format comes from the output
file's suffix (.svg .png .pdf .dot .gv .mmd) or --format; without -o the DOT
(or Mermaid) text is printed.  svg, png and pdf need Graphviz's `dot` program.

A transformation is written as its name and arguments, as for `schemagm
transform`: "swap-processes", "swap-nodes x z", "importance-weight 8",
"activate-adversary network=mlp(128)".  --transform draws the transformed
graph; --compare draws the spec and each step after it side by side.

Examples:

  schemagm render specs/vae.sgm -o vae.svg --legend

  schemagm render specs/gan.sgm -o gan.png --caption

  schemagm render specs/infogan.sgm --format mermaid

  schemagm render specs/infogan.sgm --compare swap-processes --compare degenerate-adversary -o infogan_to_vae.svg

  schemagm render specs/infogan.sgm --compare "swap-nodes x z" -o infogan_to_aae.pdf
"""


def _value(text: str) -> Any:
    """A transformation argument: a whole number, a number, or the text itself."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_transformation(text: str, option: str = "--transform") -> tuple[Any, list[Any], dict[str, Any]]:
    """``"swap-nodes x z"`` -> (the registered transformation, positional args, keyword args)."""
    from ..transform.registry import TRANSFORMATIONS

    try:
        words = shlex.split(text)
    except ValueError as err:
        raise typer.BadParameter(f"cannot read the transformation {text!r}: {err}", param_hint=option) from None
    if not words:
        raise typer.BadParameter("a transformation needs a name, e.g. swap-processes", param_hint=option)
    name = words[0].replace("_", "-")
    if name not in TRANSFORMATIONS:
        known = ", ".join(sorted(TRANSFORMATIONS))
        from ..suggest import did_you_mean

        guess = did_you_mean(name, TRANSFORMATIONS)
        raise typer.BadParameter(f"unknown transformation '{words[0]}'; {guess}known: {known}", param_hint=option)
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for word in words[1:]:
        key, eq, value = word.partition("=")
        if eq and key.isidentifier():
            kwargs[key] = _value(value)
        elif kwargs:
            raise typer.BadParameter(
                f"in {text!r}: the argument '{word}' follows a keyword argument", param_hint=option
            )
        else:
            args.append(_value(word))
    return TRANSFORMATIONS[name], args, kwargs


def apply_transformation(graph: Any, text: str, inner: str, option: str = "--transform") -> tuple[Any, str]:
    """Apply one transformation; returns the new graph and its title, e.g. ``swap_nodes(infogan, x, z)``."""
    from ..errors import SpecError

    transformation, args, kwargs = parse_transformation(text, option)
    try:
        # a drawing shows the structure: a result whose heads no longer fit (swap_nodes(infogan, x, z)
        # carries a sigmoid onto the normal z) is drawn anyway, and the checker's reasons are shown
        result = transformation.function(graph, *args, **{"check": False, **kwargs})
    except TypeError as err:
        raise typer.BadParameter(
            f"wrong arguments for '{transformation.name}': {err}; example: {transformation.example}", param_hint=option
        ) from None
    if not isinstance(result, type(graph)):
        raise SpecError(f"the transformation '{transformation.name}' did not return a graph")
    shown = [str(a) for a in args] + [f"{k}={v}" for k, v in kwargs.items()]
    title = f"{transformation.function.__name__}({', '.join([inner, *shown])})"
    from ..graph.check import check

    for problem in [d for d in check(result) if d.severity == "error"]:
        typer.echo(f"warning: {title} is not a valid model (drawn anyway): {problem.message}", err=True)
    return result, title


def _size(text: str | None) -> tuple[float, float] | None:
    """``--size 6,4`` -> (6.0, 4.0) inches."""
    if text is None:
        return None
    try:
        w, h = (float(v) for v in text.replace("x", ",").split(","))
    except ValueError:
        raise typer.BadParameter(
            f"'{text}' is not a size: write width and height in inches, e.g. 6,4", param_hint="--size"
        ) from None
    if not (0 < w <= 100 and 0 < h <= 100):
        raise typer.BadParameter(f"'{text}': width and height must be between 0 and 100 inches", param_hint="--size")
    return (w, h)


def register(app: typer.Typer) -> None:
    @app.command("render", help=HELP)
    def render_command(
        spec: Path = typer.Argument(..., metavar="FILE", help="the .sgm file to draw", show_default=False),
        output: Path | None = typer.Option(
            None, "--output", "-o", help="the file to write (atomically; an existing file only with --force)"
        ),
        force: bool = typer.Option(False, "--force", help="overwrite the output file if it exists"),
        fmt: str | None = typer.Option(
            None, "--format", "-f", help="svg, png, pdf, dot or mermaid (default: from -o's suffix; dot without -o)"
        ),
        legend: bool = typer.Option(False, "--legend/--no-legend", help="add a key of the arrow styles used"),
        caption: bool = typer.Option(
            False, "--caption", help="write the derived objective under the figure (compiles the spec)"
        ),
        transform: list[str] = typer.Option(
            [], "--transform", "-t", help="draw the graph after this transformation (repeatable, applied in order)"
        ),
        compare: list[str] = typer.Option(
            [],
            "--compare",
            "-c",
            help="draw the graph and the graph after this transformation side by side (repeatable: one panel per step)",
        ),
        direction: str = typer.Option("LR", "--direction", help="LR (left to right) or TB (top down)"),
        dpi: int = typer.Option(300, "--dpi", min=36, max=1200, help="resolution of a PNG, in dots per inch"),
        size: str | None = typer.Option(
            None, "--size", metavar="W,H", help="scale the image to fill W x H inches, e.g. 6,4"
        ),
    ) -> None:
        from ..errors import SpecError

        with user_errors():
            direction_ = direction.upper()
            if direction_ not in ("LR", "TB", "RL", "BT"):
                raise typer.BadParameter(f"unknown direction '{direction}' (choose LR or TB)", param_hint="--direction")
            from ..render import compare_drawing, drawing, format_for, render_bytes
            from ..render.output import write_atomic

            try:
                out_format = format_for(output, fmt)
            except SpecError as err:
                hint = err.diagnostics[0].hint
                raise typer.BadParameter(
                    err.message + (f"; {hint}" if hint else ""), param_hint="--output/--format"
                ) from None
            if output is None and out_format in ("svg", "png", "pdf"):
                raise typer.BadParameter(
                    f"a {out_format} image needs an output file: add -o FILE.{out_format}", param_hint="--output"
                )
            from ..fileio import check_output, require_file

            require_file(spec, "spec file", pipe=True)
            if output is not None:
                check_output(output, force=force, inputs=[spec])
            from ..graph.build import parse_file

            graph = parse_file(spec)
            title = graph.name
            for step in transform:
                graph, title = apply_transformation(graph, step, title)
            if compare:
                graphs, titles = [graph], [title]
                for step in compare:
                    graph, title = apply_transformation(graph, step, title, "--compare")
                    graphs.append(graph)
                    titles.append(title)
                d = compare_drawing(graphs, titles, legend=legend, caption=caption or None, direction=direction_)
            else:
                d = drawing(graph, legend=legend, caption=caption or None, direction=direction_)
            data = render_bytes(d, out_format, dpi=dpi, size=_size(size))
            if output is None:
                echo(data.decode("utf-8"))
            else:
                write_atomic(output, data)
                typer.echo(f"wrote {output} ({out_format})", err=True)
