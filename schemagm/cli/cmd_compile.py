"""``schemagm compile``: show what a spec compiles to -- networks, phases and the derived objective."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Any

import typer

from ..limits import MAX_PARAMETERS
from .common import echo, load_torch, user_errors

HELP = """Compile a spec and show what the one rule derived from its graph.

Prints the networks of every parameter group with their parameter counts, the
training phases (the adversary first, with its steps per model step) and the
objective of every group as formulas.  Use --latex for LaTeX formulas,
--emit json for the graph's data form (for other programs), or --emit python
for the loss functions as plain PyTorch (schemagm eject writes a whole script).

Example:

  schemagm compile specs/infogan.sgm

  schemagm compile specs/vae.sgm --latex

  schemagm compile specs/gan.sgm --emit json > gan.json

  schemagm compile specs/vae.sgm --emit python > vae_loss.py
"""


class Emit(str, Enum):
    text = "text"
    json = "json"
    python = "python"


def register(app: typer.Typer) -> None:
    @app.command("compile", help=HELP)
    def compile_command(
        spec: Path = typer.Argument(..., help="the .sgm file to compile", show_default=False),
        latex: bool = typer.Option(False, "--latex", help="print the formulas as LaTeX instead of unicode"),
        emit: Emit = typer.Option(
            Emit.text,
            "--emit",
            help="text: tables for a person; json: the graph's data form; python: the loss functions",
        ),
    ) -> None:
        from ..errors import SpecError

        with user_errors():
            from ..fileio import require_file

            require_file(spec, "spec file", pipe=True)
            load_torch()
            import torch

            from ..compiler import compile as compile_spec

            # on the meta device: every parameter has its shape but no memory, so counting the parameters
            # of mlp(65536, 65536) allocates nothing
            with torch.device("meta"):
                model = compile_spec(spec)  # JSON too only for a spec that compiles
            total = sum(p.numel() for p in model.parameters())
            if total > MAX_PARAMETERS:
                raise SpecError(
                    f"{spec}: the model has {total:,} parameters; schemagm trains at most {MAX_PARAMETERS:,}",
                    hint="use smaller networks (mlp widths, conv channels)",
                )
            if emit is Emit.json:
                echo(model.graph.to_json())
                return
            if emit is Emit.python:
                from ..eject import loss_function

                typer.echo(loss_function(spec), nl=False)
                return
            show(model, latex=latex)


def count(params: Any) -> int:
    return sum(p.numel() for p in params)


def show(model: Any, latex: bool = False) -> None:
    """Print the compiled model for a person: networks per group, phases, objective per group."""
    from rich.console import Console
    from rich.table import Table

    from ..compiler.terms import greek

    console = Console(highlight=False, soft_wrap=True)
    graph = model.graph
    from rich.markup import escape

    title = f"{graph.name}" + (f": {graph.title}" if graph.title else "")
    console.print(f"[bold]{escape(title)}[/bold]")

    nets = Table(title="networks by parameter group", title_justify="left")
    nets.add_column("group")
    nets.add_column("network")
    nets.add_column("edge")
    nets.add_column("architecture")
    nets.add_column("parameters", justify="right")
    edges: dict[str, list] = {}
    for e in graph.edges:
        if e.group:  # a tied network (one label on several edges) lists every edge it sits on
            edges.setdefault(f"{e.label}_{e.group}", []).append(e)
    for group in model.groups:
        members = [
            (name, net) for name, net in model.networks.items() if name in edges and edges[name][0].group == group
        ]
        for name, net in members:
            e = edges[name][0]
            arrow = "; ".join(f"{', '.join(t.sources)} {t.glyph} {t.target}" for t in edges[name])
            arch = str(e.network) + (f" {e.output}" if e.output else "")
            nets.add_row(group, name, arrow, arch, f"{count(net.parameters()):,}")
        nets.add_row(
            f"[bold]{group}[/bold]",
            "",
            "",
            "[bold]total[/bold]",
            f"[bold]{count(model.parameters_of(group)):,}[/bold]",
            end_section=True,
        )
    console.print(nets)

    phases = Table(title="phases (in order)", title_justify="left")
    phases.add_column("phase")
    phases.add_column("groups")
    phases.add_column("steps per model step", justify="right")
    for ph in model.objective.phases:
        phases.add_row(ph.name, ", ".join(ph.groups), str(ph.steps))
    console.print(phases)

    # formulas as plain lines (soft-wrapped, never cut by table borders), so they can be copied
    console.print()
    console.print("[bold]objective: the loss each group minimises[/bold]")
    for group in model.groups:
        name = group if latex else greek(group).u
        console.print(f"  loss({escape(name)}) = {escape(model.objective.loss_formula(group, latex=latex))}")
    console.print()
    console.print("[bold]terms[/bold] (name, the groups it updates, formula)")
    for t in model.objective.terms:
        console.print("  " + escape(f"{t.name} [{', '.join(sorted(t.groups))}]: {t.latex if latex else t.formula}"))
    if getattr(model, "nonparametric", False):  # the points are (part of) the model: a kernel density
        s = model.log_likelihood_sym()
        if not model.objective.terms:
            console.print(
                "  "
                + escape(f"none: log p = {s.tex if latex else s.u}")
                + " (no parameters; `schemagm train` memorises the training points)"
            )
        else:
            console.print("  (the empirical latents' points: memorised by `schemagm train` before its first step)")
