"""``schemagm transform`` (placeholder until the transform stage lands; its owner replaces this file)."""

import typer


def register(app: typer.Typer) -> None:
    @app.command("transform", help="(not yet available)")
    def _transform() -> None:
        typer.echo("schemagm transform: not available yet", err=True)
        raise typer.Exit(2)
