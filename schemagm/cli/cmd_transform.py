"""``schemagm transform NAME FILE [ARGS]``: apply one transformation and print the result as .sgm."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer

from .common import echo, user_errors

HELP = """Transform a spec (swap processes or nodes, (de)activate an adversary, ...) and print it as .sgm.

The result is checked like any spec; a transformation that does not apply says
why.  Write it to a file with -o (an existing file is kept unless --force).

Examples:

  schemagm transform swap-processes specs/infogan.sgm

  schemagm transform swap-nodes specs/infogan.sgm x z -o aae_from_infogan.sgm

  schemagm transform degenerate-adversary specs/aavae.sgm

  schemagm transform activate-adversary specs/vae.sgm --network "mlp(128, 128)"

  schemagm transform importance-weight specs/gan.sgm 8

  schemagm transform remove-edge specs/infogan.sgm Q_eta
"""

OutputOpt = typer.Option(None, "--output", "-o", help="write the result to this file (atomically) instead of stdout")
ForceOpt = typer.Option(False, "--force", help="overwrite the output file if it exists")
NoCheckOpt = typer.Option(False, "--no-check", help="print the result even if it is not a valid model")
SpecArg = typer.Argument(..., help="the .sgm file to transform", show_default=False)


def write_new_file(path: Path, text: str, force: bool, inputs: tuple[Path, ...] = ()) -> None:
    """Write ``text`` to ``path`` atomically; keep an existing file unless ``force``."""
    from ..fileio import check_output, write_atomic

    check_output(path, force=force, inputs=inputs)
    write_atomic(path, text.encode("utf-8"))


def _run(
    spec: Path, apply: Callable, output: Path | None, force: bool, no_check: bool, name: str, args: tuple = ()
) -> None:
    from ..transform.registry import TRANSFORMATIONS
    from ..transform.text import renamed, step_text, transformed_text
    from .cmd_equiv import read_specs

    with user_errors():
        if output is not None:
            from ..fileio import check_output

            check_output(output, force=force, inputs=[spec])
        (graph,) = read_specs(spec)
        result = apply(graph, check=not no_check)
        function = TRANSFORMATIONS[name].function.__name__
        # the result is a model of its own: a name and title that say what was applied (schemagm.transform.text)
        result = renamed(graph, result, function, args)
        text = transformed_text(graph, result, step_text(function, args))
        if output is None:
            echo(text)
        else:
            write_new_file(output, text, force, (spec,))
            typer.echo(f"wrote {output}", err=True)


def register(app: typer.Typer) -> None:
    from ..transform import registry

    sub = typer.Typer(no_args_is_help=True, rich_markup_mode="rich")
    app.add_typer(sub, name="transform", help=HELP)
    T = registry.TRANSFORMATIONS

    def doc(name: str) -> str:
        return f"{T[name].summary}.\n\nExample:\n\n  {T[name].example}"

    @sub.command("swap-processes", help=doc("swap-processes"))
    def swap_processes_cmd(
        spec: Path = SpecArg, output: Path | None = OutputOpt, force: bool = ForceOpt, no_check: bool = NoCheckOpt
    ) -> None:
        _run(
            spec,
            lambda g, check: T["swap-processes"].function(g, check=check),
            output,
            force,
            no_check,
            "swap-processes",
        )

    @sub.command("swap-nodes", help=doc("swap-nodes"))
    def swap_nodes_cmd(
        spec: Path = SpecArg,
        a: str = typer.Argument(..., help="a node name", show_default=False),
        b: str = typer.Argument(..., help="the node it trades places with", show_default=False),
        output: Path | None = OutputOpt,
        force: bool = ForceOpt,
        no_check: bool = NoCheckOpt,
    ) -> None:
        _run(
            spec,
            lambda g, check: T["swap-nodes"].function(g, a, b, check=check),
            output,
            force,
            no_check,
            "swap-nodes",
            (a, b),
        )

    @sub.command("activate-adversary", help=doc("activate-adversary"))
    def activate_cmd(
        spec: Path = SpecArg,
        edge: str | None = typer.Option(
            None, "--edge", help="the red edge, e.g. 'x -> y' (needed if there are several)"
        ),
        network: str = typer.Option("mlp(256)", "--network", help="the discriminator network, as in a spec"),
        group: str = typer.Option("phi", "--group", help="its parameter group"),
        label: str = typer.Option("D", "--label", help="its letter (the network is called LABEL_GROUP)"),
        output: Path | None = OutputOpt,
        force: bool = ForceOpt,
        no_check: bool = NoCheckOpt,
    ) -> None:
        _run(
            spec,
            lambda g, check: T["activate-adversary"].function(
                g, edge, network=network, group=group, label=label, check=check
            ),
            output,
            force,
            no_check,
            "activate-adversary",
            (edge,),
        )

    @sub.command("degenerate-adversary", help=doc("degenerate-adversary"))
    def degenerate_cmd(
        spec: Path = SpecArg,
        edge: str | None = typer.Option(None, "--edge", help="the red edge, e.g. D_phi (needed if there are several)"),
        output: Path | None = OutputOpt,
        force: bool = ForceOpt,
        no_check: bool = NoCheckOpt,
    ) -> None:
        _run(
            spec,
            lambda g, check: T["degenerate-adversary"].function(g, edge, check=check),
            output,
            force,
            no_check,
            "degenerate-adversary",
            (edge,),
        )

    @sub.command("importance-weight", help=doc("importance-weight"))
    def importance_cmd(
        spec: Path = SpecArg,
        k: int = typer.Argument(..., min=1, help="number of importance samples k (1: unweighted)", show_default=False),
        output: Path | None = OutputOpt,
        force: bool = ForceOpt,
        no_check: bool = NoCheckOpt,
    ) -> None:
        _run(
            spec,
            lambda g, check: T["importance-weight"].function(g, k, check=check),
            output,
            force,
            no_check,
            "importance-weight",
            (k,),
        )

    @sub.command("remove-edge", help=doc("remove-edge"))
    def remove_cmd(
        spec: Path = SpecArg,
        edge: str = typer.Argument(
            ..., help="the edge: its network (Q_eta) or 'sources -> target'", show_default=False
        ),
        output: Path | None = OutputOpt,
        force: bool = ForceOpt,
        no_check: bool = NoCheckOpt,
    ) -> None:
        _run(
            spec,
            lambda g, check: T["remove-edge"].function(g, edge, check=check),
            output,
            force,
            no_check,
            "remove-edge",
            (edge,),
        )
