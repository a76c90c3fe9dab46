"""The LSP glue (pygls): documents in, :class:`zoo.lsp.analysis.Analysis` out, as LSP messages.

Diagnostics are published on open and save, and on change after a pause of :data:`DEBOUNCE_S`
(each keystroke cancels the pending check). Hover, definition, completion, formatting and the
code action (the factorization repair) use the latest analysis of the document.
"""
from __future__ import annotations

import asyncio
import os
from urllib.parse import unquote, urlparse

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer

from .analysis import Analysis, analyse

__all__ = ["build_server", "DEBOUNCE_S"]

DEBOUNCE_S = 0.15


def _path(uri: str) -> str:
    return unquote(urlparse(uri).path)


def _uri(path: str) -> str:
    return "file://" + os.path.abspath(path)


def _range(span) -> lsp.Range:
    start = lsp.Position(max(span.line - 1, 0), max(span.column - 1, 0))
    end = lsp.Position(max(span.end_line - 1, 0), max(span.end_column - 1, 0))
    return lsp.Range(start, end)


def _diagnostic(d) -> lsp.Diagnostic:
    whole = lsp.Range(lsp.Position(0, 0), lsp.Position(0, 1))
    message = d.message + (f"\nhint: {d.hint}" if d.hint else "")
    related = [lsp.DiagnosticRelatedInformation(lsp.Location(_uri(r.span.path), _range(r.span)), r.message)
               for r in d.related]
    return lsp.Diagnostic(range=_range(d.span) if d.span else whole, message=message,
                          severity=lsp.DiagnosticSeverity.Error if d.is_error else lsp.DiagnosticSeverity.Warning,
                          code=d.code, source="zoo", related_information=related or None)


def build_server() -> LanguageServer:
    server = LanguageServer("hvae-zoo", "0.1.0")
    latest: dict[str, Analysis] = {}
    pending: dict[str, asyncio.Task] = {}

    def check(uri: str) -> Analysis:
        doc = server.workspace.get_text_document(uri)
        result = analyse(_path(uri), doc.source)
        latest[uri] = result
        server.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(
            uri=uri, version=doc.version, diagnostics=[_diagnostic(d) for d in result.diagnostics]))
        return result

    def current(uri: str) -> Analysis:
        doc = server.workspace.get_text_document(uri)
        result = latest.get(uri)
        return result if result is not None and result.text == doc.source else check(uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls, params: lsp.DidOpenTextDocumentParams):
        check(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls, params: lsp.DidSaveTextDocumentParams):
        check(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls, params: lsp.DidCloseTextDocumentParams):
        uri = params.text_document.uri
        if uri in pending:
            pending.pop(uri).cancel()
        latest.pop(uri, None)
        server.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    async def did_change(ls, params: lsp.DidChangeTextDocumentParams):
        uri = params.text_document.uri
        if uri in pending:
            pending[uri].cancel()

        async def later():
            await asyncio.sleep(DEBOUNCE_S)
            pending.pop(uri, None)
            check(uri)

        pending[uri] = asyncio.ensure_future(later())

    @server.feature(lsp.TEXT_DOCUMENT_HOVER)
    def hover(ls, params: lsp.HoverParams):
        text = current(params.text_document.uri).hover(params.position.line, params.position.character)
        return lsp.Hover(lsp.MarkupContent(lsp.MarkupKind.Markdown, text)) if text else None

    @server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
    def definition(ls, params: lsp.DefinitionParams):
        span = current(params.text_document.uri).definition(params.position.line, params.position.character)
        return lsp.Location(_uri(span.path), _range(span)) if span else None

    @server.feature(lsp.TEXT_DOCUMENT_COMPLETION, lsp.CompletionOptions(trigger_characters=["(", ","]))
    def completion(ls, params: lsp.CompletionParams):
        analysis = current(params.text_document.uri)
        kinds = {"keyword": lsp.CompletionItemKind.Keyword, "block": lsp.CompletionItemKind.Function,
                 "family": lsp.CompletionItemKind.Class, "combinator": lsp.CompletionItemKind.Operator,
                 "variable": lsp.CompletionItemKind.Variable, "argument": lsp.CompletionItemKind.Property}
        items = [(a, "argument") for a in analysis.arguments(_open_call(analysis.text, params.position))]
        items += analysis.completions()
        return lsp.CompletionList(is_incomplete=False, items=[
            lsp.CompletionItem(label=label, kind=kinds[kind], detail=kind) for label, kind in items])

    @server.feature(lsp.TEXT_DOCUMENT_FORMATTING)
    def formatting(ls, params: lsp.DocumentFormattingParams):
        analysis = current(params.text_document.uri)
        new = analysis.formatted()
        if new is None or new == analysis.text:
            return []
        end = lsp.Position(analysis.text.count("\n") + 1, 0)
        return [lsp.TextEdit(lsp.Range(lsp.Position(0, 0), end), new)]

    @server.feature(lsp.TEXT_DOCUMENT_CODE_ACTION,
                    lsp.CodeActionOptions(code_action_kinds=[lsp.CodeActionKind.QuickFix]))
    def code_action(ls, params: lsp.CodeActionParams):
        uri = params.text_document.uri
        wanted = [d for d in params.context.diagnostics if d.code in ("unfaithful-posterior", "unacknowledged-sufficiency")]
        if not wanted:
            return []
        actions = []
        for repair in current(uri).repairs():
            first = repair.span.line - 1
            if not any(d.range.start.line == first for d in wanted):
                continue
            edit = lsp.TextEdit(_range(repair.span), repair.after)
            actions.append(lsp.CodeAction(
                title=f"Make q({', '.join(repair.latents)}) faithful: {' '.join(repair.after.split())}",
                kind=lsp.CodeActionKind.QuickFix, diagnostics=wanted,
                edit=lsp.WorkspaceEdit(changes={uri: [edit]})))
        return actions

    return server


def _open_call(text: str, position: lsp.Position) -> str:
    """The function whose argument list the cursor is in (`mlp(x, hid|` -> `mlp`), or ''."""
    lines = text.split("\n")
    before = "\n".join(lines[:position.line] + [lines[position.line][:position.character]
                                                 if position.line < len(lines) else ""])
    depth = 0
    for i in range(len(before) - 1, -1, -1):
        ch = before[i]
        if ch == ")":
            depth += 1
        elif ch == "(":
            if depth == 0:
                j = i
                while j > 0 and (before[j - 1].isalnum() or before[j - 1] == "_"):
                    j -= 1
                return before[j:i]
            depth -= 1
    return ""
