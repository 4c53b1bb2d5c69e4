"""``schemagm lsp``: the language server for editors, on stdin/stdout."""

from __future__ import annotations

import typer

HELP = """Run the language server for .sgm files over stdin/stdout (LSP).

Editors start it themselves (see docs/editors.md; a VS Code extension is in
editors/vscode). It underlines the checker's problems as you type, shows a
node's role and prior and an edge's density and objective terms on hover,
completes node, network, head and option names, jumps to a node's declaration
and formats the document like `schemagm fmt`.

Needs the extra: pip install 'schemagm[lsp]'.
"""


def register(app: typer.Typer) -> None:
    @app.command("lsp", help=HELP)
    def lsp() -> None:
        try:
            from ..lsp.server import serve
        except ImportError as exc:
            typer.echo(f"error: schemagm lsp needs pygls ({exc}); pip install 'schemagm[lsp]'", err=True)
            raise typer.Exit(1) from None
        serve()
