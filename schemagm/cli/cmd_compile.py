"""``schemagm compile`` (placeholder until the compiler stage lands; its owner replaces this file)."""

import typer


def register(app: typer.Typer) -> None:
    @app.command("compile", help="(not yet available)")
    def _compile() -> None:
        typer.echo("schemagm compile: not available yet", err=True)
        raise typer.Exit(2)
