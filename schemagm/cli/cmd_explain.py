"""``schemagm explain`` (placeholder until the transform stage lands; its owner replaces this file)."""

import typer


def register(app: typer.Typer) -> None:
    @app.command("explain", help="(not yet available)")
    def _explain() -> None:
        typer.echo("schemagm explain: not available yet", err=True)
        raise typer.Exit(2)
