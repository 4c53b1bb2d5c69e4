"""``schemagm render`` (placeholder until the render stage lands; its owner replaces this file)."""

import typer


def register(app: typer.Typer) -> None:
    @app.command("render", help="(not yet available)")
    def _render() -> None:
        typer.echo("schemagm render: not available yet", err=True)
        raise typer.Exit(2)
