"""``schemagm train`` (placeholder until the train stage lands; its owner replaces this file)."""

import typer


def register(app: typer.Typer) -> None:
    @app.command("train", help="(not yet available)")
    def _train() -> None:
        typer.echo("schemagm train: not available yet", err=True)
        raise typer.Exit(2)
