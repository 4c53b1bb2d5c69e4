"""``schemagm eval`` (placeholder until the train stage lands; its owner replaces this file)."""

import typer


def register(app: typer.Typer) -> None:
    @app.command("eval", help="(not yet available)")
    def _eval() -> None:
        typer.echo("schemagm eval: not available yet", err=True)
        raise typer.Exit(2)
