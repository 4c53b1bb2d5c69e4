"""``schemagm fmt`` (placeholder until the language stage lands; its owner replaces this file)."""

import typer


def register(app: typer.Typer) -> None:
    @app.command("fmt", help="(not yet available)")
    def _fmt() -> None:
        typer.echo("schemagm fmt: not available yet", err=True)
        raise typer.Exit(2)
