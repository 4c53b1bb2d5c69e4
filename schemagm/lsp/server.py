"""The language server: :mod:`.analysis` served over LSP with pygls (``schemagm lsp``, stdio).

Features: diagnostics on open and on every change (the parser's and checker's
messages, with their hints), hover, completion, go-to-definition of nodes and
whole-document formatting (``schemagm fmt``'s canonical text).
"""

from __future__ import annotations

import threading
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from . import analysis

__all__ = ["make_server", "serve"]

KINDS = {
    "node": types.CompletionItemKind.Variable,
    "network": types.CompletionItemKind.Function,
    "head": types.CompletionItemKind.Class,
    "option": types.CompletionItemKind.Property,
    "value": types.CompletionItemKind.EnumMember,
    "keyword": types.CompletionItemKind.Keyword,
    "type": types.CompletionItemKind.TypeParameter,
    "flag": types.CompletionItemKind.Keyword,
}


def _range(r: analysis.Range) -> types.Range:
    return types.Range(types.Position(r.start_line, r.start_character), types.Position(r.end_line, r.end_character))


def _diagnostic(p: analysis.Problem) -> types.Diagnostic:
    severity = types.DiagnosticSeverity.Warning if p.severity == "warning" else types.DiagnosticSeverity.Error
    return types.Diagnostic(range=_range(p.range), message=p.message, severity=severity, source="schemagm")


def make_server() -> LanguageServer:
    from .. import __version__

    server = LanguageServer("schemagm", __version__)

    def publish(ls: LanguageServer, uri: str) -> None:
        doc = ls.workspace.get_text_document(uri)
        problems = [_diagnostic(p) for p in analysis.diagnostics(doc.source)]
        ls.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, version=doc.version, diagnostics=problems)
        )

    @server.feature(types.INITIALIZED)
    def initialized(ls: LanguageServer, params: types.InitializedParams) -> None:
        # hover on an edge needs the compiler (torch): import it in the background, so the first hover is quick
        threading.Thread(target=_warm_up, name="schemagm-warm-up", daemon=True).start()

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: LanguageServer, params: types.DidOpenTextDocumentParams) -> None:
        publish(ls, params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: LanguageServer, params: types.DidChangeTextDocumentParams) -> None:
        publish(ls, params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: LanguageServer, params: types.DidSaveTextDocumentParams) -> None:
        publish(ls, params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: LanguageServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[])
        )

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    def hover(ls: LanguageServer, params: types.HoverParams) -> types.Hover | None:
        doc = ls.workspace.get_text_document(params.text_document.uri)
        found = analysis.hover(doc.source, params.position.line, params.position.character)
        if found is None:
            return None
        text, where = found
        return types.Hover(
            contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text), range=_range(where)
        )

    @server.feature(
        types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=["=", ">", ",", " ", ":"])
    )
    def completion(ls: LanguageServer, params: types.CompletionParams) -> types.CompletionList:
        doc = ls.workspace.get_text_document(params.text_document.uri)
        items = [
            types.CompletionItem(label=c.label, kind=KINDS.get(c.kind), detail=c.detail)
            for c in analysis.completions(doc.source, params.position.line, params.position.character)
        ]
        return types.CompletionList(is_incomplete=False, items=items)

    @server.feature(types.TEXT_DOCUMENT_DEFINITION)
    def definition(ls: LanguageServer, params: types.DefinitionParams) -> types.Location | None:
        doc = ls.workspace.get_text_document(params.text_document.uri)
        found = analysis.definition(doc.source, params.position.line, params.position.character)
        return None if found is None else types.Location(uri=params.text_document.uri, range=_range(found))

    @server.feature(types.TEXT_DOCUMENT_FORMATTING)
    def formatting(ls: LanguageServer, params: types.DocumentFormattingParams) -> list[types.TextEdit] | None:
        doc = ls.workspace.get_text_document(params.text_document.uri)
        canonical = analysis.formatted(doc.source)
        if canonical is None:
            return None  # a spec with errors is left as it is (the diagnostics say why)
        if canonical == doc.source:
            return []
        lines = doc.source.splitlines()
        end = types.Position(len(lines), 0)
        return [types.TextEdit(range=types.Range(types.Position(0, 0), end), new_text=canonical)]

    return server


def _warm_up() -> None:
    try:
        import schemagm.compiler  # noqa: F401
    except Exception:  # noqa: BLE001 - a broken torch shows itself on hover, not here
        pass


def serve(**kwargs: Any) -> None:
    """Serve on stdin/stdout until the client says exit."""
    make_server().start_io(**kwargs)
