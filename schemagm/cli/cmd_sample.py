"""``schemagm sample`` (placeholder until the train stage lands; its owner replaces this file)."""

import typer


def register(app: typer.Typer) -> None:
    @app.command("sample", help="(not yet available)")
    def _sample() -> None:
        typer.echo("schemagm sample: not available yet", err=True)
        raise typer.Exit(2)
