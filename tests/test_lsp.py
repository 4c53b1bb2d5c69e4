"""The language server, driven over stdio by pygls's own LSP client (a real subprocess, real JSON-RPC).

Diagnostics with the checker's messages and ranges for a broken spec, hover
(a node's role and prior; an edge's density and its objective terms),
completion of node, network, head and option names, go-to-definition and
formatting through fmt.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pygls")

from lsprotocol import types  # noqa: E402
from pygls.lsp.client import LanguageClient  # noqa: E402

from schemagm.graph.build import format_text  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
VAE = (ROOT / "specs" / "vae.sgm").read_text()
URI = "file:///work/vae.sgm"

# line 4 (0-based) has a typo in the type, line 6 names an undeclared node
BROKEN = """model broken
data   x : real[64] in [0, 1]
latent z : normal[8]
indicator y
latent h : gaussian[4]
x, y --> z : q_eta = mlp(64) normal
z, y -> w  : p_theta = mlp(64) bernoulli
x --> y : perfect adversarial
"""

UNFORMATTED = """model tiny
data x:real[4] in [0,1]
latent   z : normal[2]
indicator y
z,y ==> x : G_theta=mlp(8) -> sigmoid
x -> y : D_phi = mlp(8) adversarial
"""


def _session(body: Callable[[LanguageClient, dict[str, Any]], Awaitable[None]]) -> dict[str, Any]:
    """Start `python -m schemagm lsp`, initialise, run ``body``, shut down; returns what was published."""

    async def main() -> dict[str, Any]:
        client = LanguageClient("schemagm-test", "1")
        seen: dict[str, Any] = {"diagnostics": {}, "events": {}}

        @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def published(params: types.PublishDiagnosticsParams) -> None:
            seen["diagnostics"][(params.uri, params.version)] = params.diagnostics
            seen["events"].setdefault(params.uri, asyncio.Event()).set()

        await client.start_io(sys.executable, "-m", "schemagm", "lsp")
        result = await client.initialize_async(
            types.InitializeParams(capabilities=types.ClientCapabilities(), root_uri=ROOT.as_uri())
        )
        seen["capabilities"] = result.capabilities
        client.initialized(types.InitializedParams())
        seen["client"] = client
        try:
            await asyncio.wait_for(body(client, seen), timeout=120)
        finally:
            await client.shutdown_async(None)
            client.exit(None)
            await client.stop()
        return seen

    return asyncio.run(main())


def _open(client: LanguageClient, uri: str, text: str, version: int = 1) -> None:
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(types.TextDocumentItem(uri=uri, language_id="sgm", version=version, text=text))
    )


async def _diagnostics(seen: dict[str, Any], uri: str, version: int) -> list[types.Diagnostic]:
    while (uri, version) not in seen["diagnostics"]:
        event = seen["events"].setdefault(uri, asyncio.Event())
        await event.wait()
        event.clear()
    return seen["diagnostics"][(uri, version)]


def _pos(line: int, character: int) -> types.TextDocumentPositionParams:
    return types.TextDocumentPositionParams(types.TextDocumentIdentifier(URI), types.Position(line, character))


def test_diagnostics_as_you_type_with_the_checkers_messages_and_ranges():
    async def body(client: LanguageClient, seen: dict[str, Any]) -> None:
        _open(client, URI, BROKEN)
        problems = await _diagnostics(seen, URI, 1)
        seen["first"] = problems
        # fix both problems in one change: the diagnostics clear
        fixed = BROKEN.replace("gaussian[4]", "normal[4]").replace("-> w ", "-> x ")
        fixed = fixed.replace("latent h : normal[4]\n", "")
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                types.VersionedTextDocumentIdentifier(uri=URI, version=2),
                [types.TextDocumentContentChangeWholeDocument(text=fixed)],
            )
        )
        seen["second"] = await _diagnostics(seen, URI, 2)

    seen = _session(body)
    by_line = {d.range.start.line: d for d in seen["first"]}
    typo = by_line[4]
    assert typo.message.startswith("unknown type 'gaussian'")
    assert "hint: the types are real, normal" in typo.message
    assert (typo.range.start.character, typo.range.end.character) == (11, 19)  # `gaussian`
    unknown = by_line[6]
    assert unknown.message.startswith("unknown node 'w'")
    assert "hint: declare it first" in unknown.message
    assert (unknown.range.start.character, unknown.range.end.character) == (8, 9)  # `w`
    assert all(d.severity == types.DiagnosticSeverity.Error and d.source == "schemagm" for d in seen["first"])
    assert list(seen["second"]) == []


def test_a_syntax_error_is_reported_where_the_parser_stopped():
    text = "model m\ndata x : real[4]\nx -> : G_theta = mlp(8)\n"

    async def body(client: LanguageClient, seen: dict[str, Any]) -> None:
        _open(client, URI, text)
        seen["problems"] = await _diagnostics(seen, URI, 1)

    (problem,) = _session(body)["problems"]
    assert problem.range.start.line == 2 and problem.range.start.character == 5  # the `:` where a node name belongs
    assert "expected" in problem.message


def test_hover_completion_definition_and_formatting():
    async def body(client: LanguageClient, seen: dict[str, Any]) -> None:
        _open(client, URI, VAE)
        await _diagnostics(seen, URI, 1)
        doc = types.TextDocumentIdentifier(URI)
        seen["hover_node"] = await client.text_document_hover_async(types.HoverParams(doc, types.Position(6, 10)))
        seen["hover_edge"] = await client.text_document_hover_async(types.HoverParams(doc, types.Position(10, 5)))
        seen["hover_option"] = await client.text_document_hover_async(types.HoverParams(doc, types.Position(3, 20)))
        seen["definition"] = await client.text_document_definition_async(
            types.DefinitionParams(doc, types.Position(10, 8))
        )
        seen["format_ok"] = await client.text_document_formatting_async(
            types.DocumentFormattingParams(doc, types.FormattingOptions(tab_size=2, insert_spaces=True))
        )
        other = "file:///work/tiny.sgm"
        _open(client, other, UNFORMATTED)
        await _diagnostics(seen, other, 1)
        seen["format_change"] = await client.text_document_formatting_async(
            types.DocumentFormattingParams(
                types.TextDocumentIdentifier(other), types.FormattingOptions(tab_size=2, insert_spaces=True)
            )
        )
        broken = "file:///work/broken.sgm"
        _open(client, broken, BROKEN)
        await _diagnostics(seen, broken, 1)
        seen["format_broken"] = await client.text_document_formatting_async(
            types.DocumentFormattingParams(
                types.TextDocumentIdentifier(broken), types.FormattingOptions(tab_size=2, insert_spaces=True)
            )
        )
        # completion while typing: a network after `=`, a head after the network, a node after the arrow
        typing = "file:///work/typing.sgm"
        partial = "model t\ndata x : real[4]\nlatent z : normal[2]\nz ==> x : G_theta = \n"
        _open(client, typing, partial)
        await _diagnostics(seen, typing, 1)

        async def complete(line: int, character: int, uri: str = typing) -> list[str]:
            got = await client.text_document_completion_async(
                types.CompletionParams(types.TextDocumentIdentifier(uri), types.Position(line, character))
            )
            items = got.items if isinstance(got, types.CompletionList) else got
            return [i.label for i in items]

        seen["networks"] = await complete(3, len("z ==> x : G_theta = "))
        seen["heads"] = await complete(9, len("x, y --> z : q_eta   = mlp(256) "), URI)
        seen["nodes"] = await complete(10, len("z, y -> "), URI)
        opts = "file:///work/opts.sgm"
        _open(client, opts, VAE + "\noptions {\n  \n}\n")
        await _diagnostics(seen, opts, 1)
        seen["options"] = await complete(14, 2, opts)

    seen = _session(body)
    node = seen["hover_node"].contents.value
    assert "**latent z**" in node and "prior: p(z) = normal" in node and "role: latent" in node
    assert seen["hover_node"].range.start == types.Position(6, 10)
    edge = seen["hover_edge"].contents.value
    assert "density: `p_θ(x | z)`" in edge
    assert "solid (generative process p)" in edge
    # the terms come from the compiled objective
    from schemagm.compiler import compile as compile_spec

    terms = [t for t in compile_spec(ROOT / "specs" / "vae.sgm").objective.terms if t.name.endswith(":p_theta")]
    assert terms
    for t in terms:
        assert f"`{t.name}` [{', '.join(sorted(t.groups))}]: {t.formula}" in edge
    assert "Variational" not in (seen["hover_option"].contents.value if seen["hover_option"] else "")
    (where,) = [seen["definition"]] if not isinstance(seen["definition"], list) else seen["definition"]
    assert where.uri == URI and where.range.start == types.Position(5, 10) and where.range.end == types.Position(5, 11)
    assert list(seen["format_ok"]) == []  # the catalog spec is canonical
    (edit,) = seen["format_change"]
    assert edit.new_text == format_text(UNFORMATTED) != UNFORMATTED
    assert edit.range.start == types.Position(0, 0) and edit.range.end == types.Position(6, 0)
    assert seen["format_broken"] is None
    assert {"mlp", "conv_decoder", "linear", "gaussian_noise", "mmd"} <= set(seen["networks"])
    assert "normal" not in seen["networks"]
    assert {"normal", "bernoulli", "categorical", "adversarial"} <= set(seen["heads"])
    assert "mlp" not in seen["heads"]
    assert set(seen["nodes"]) == {"x", "z", "y"}
    assert {"beta", "adversarial", "importance_samples", "discriminator_steps"} <= set(seen["options"])
    assert "x" not in seen["options"]


def test_the_server_announces_its_features():
    async def body(client: LanguageClient, seen: dict[str, Any]) -> None:
        return None

    caps = _session(body)["capabilities"]
    assert caps.hover_provider and caps.definition_provider and caps.document_formatting_provider
    assert caps.completion_provider is not None
