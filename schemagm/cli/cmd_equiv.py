"""``schemagm equiv`` (placeholder until the transform stage lands; its owner replaces this file)."""

import typer


def register(app: typer.Typer) -> None:
    @app.command("equiv", help="(not yet available)")
    def _equiv() -> None:
        typer.echo("schemagm equiv: not available yet", err=True)
        raise typer.Exit(2)
