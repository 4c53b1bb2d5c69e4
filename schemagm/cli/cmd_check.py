"""``schemagm check`` (placeholder until the language stage lands; its owner replaces this file)."""

import typer


def register(app: typer.Typer) -> None:
    @app.command("check", help="(not yet available)")
    def _check() -> None:
        typer.echo("schemagm check: not available yet", err=True)
        raise typer.Exit(2)
