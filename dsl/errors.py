"""Errors and diagnostics of the spec language.

A :class:`Diagnostic` is one located message (error or warning). A :class:`SpecError` carries one
or more error diagnostics and renders them the way compilers do::

    specs/ladder.hvae:12:27: error: 'z' has no element 7; it is defined for 1..5
       12 | prior z[l in 2..5] | z[l+2] = mlp(z[l-1])
          |                           ^^^^^^
    hint: did you mean z[l-1]?

The CLI catches the one base class, prints ``str(error)`` and exits with status 2.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable, Mapping, Optional

from .ast import Span

__all__ = ["Diagnostic", "Related", "SpecError", "SpecSyntaxError", "SpecSemanticError", "render_excerpt",
           "span_dict"]


_MAX_EXCERPT = 120  # characters of a long source line shown around the caret


def render_excerpt(span: Span, line_text: str) -> str:
    """The source line with a caret under the span (clipped to that line)."""
    number = str(span.line)
    gutter = " " * len(number)
    start = max(span.column - 1, 0)
    end = span.end_column - 1 if span.end_line == span.line else len(line_text)
    if len(line_text) > _MAX_EXCERPT:  # a window around the caret, not a megabyte of one line
        left = max(0, min(start - _MAX_EXCERPT // 2, len(line_text) - _MAX_EXCERPT))
        right = left + _MAX_EXCERPT
        shown = ("..." if left else "") + line_text[left:right] + ("..." if right < len(line_text) else "")
        shift = left - (3 if left else 0)
        line_text, start, end = shown, start - shift, min(end, right) - shift
    width = max(1, min(end, len(line_text)) - start)
    return f"  {number} | {line_text}\n  {gutter} | {' ' * start}{'^' * width}"


def span_dict(span: Optional[Span]) -> dict:
    """The location fields of the JSON schema (docs/diagnostics.schema.json); all null without a span."""
    if span is None:
        return {"file": None, "line": None, "column": None, "end_line": None, "end_column": None}
    return {"file": span.path, "line": span.line, "column": span.column, "end_line": span.end_line,
            "end_column": span.end_column}


@dataclass(frozen=True)
class Related:
    """Another place a diagnostic talks about, e.g. where a name was first defined."""

    message: str
    span: Span

    def to_dict(self) -> dict:
        return {"message": self.message, **span_dict(self.span)}


@dataclass(frozen=True)
class Diagnostic:
    """One located message about a spec. `code` names the check (stable, for tests and tools).

    `related` lists other places the message refers to ("first defined here"); the CLI shows
    them in the hint, JSON output and the language server as related locations.
    """

    message: str
    span: Optional[Span] = None
    hint: Optional[str] = None
    severity: str = "error"  # "error" or "warning"
    code: str = "spec"
    line_text: Optional[str] = None
    related: tuple = ()

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def with_source(self, sources: Mapping[str, str]) -> "Diagnostic":
        """A copy that knows its source line, so it renders without the file at hand."""
        if self.span is None or self.line_text is not None:
            return self
        text = sources.get(self.span.path)
        if text is None:
            return self
        lines = text.splitlines()
        if not 1 <= self.span.line <= len(lines):
            return self
        return replace(self, line_text=lines[self.span.line - 1])

    def __str__(self) -> str:
        where = f"{self.span}: " if self.span is not None else ""
        out = f"{where}{self.severity}: {self.message}"
        if self.span is not None and self.line_text is not None:
            out += "\n" + render_excerpt(self.span, self.line_text)
        if self.hint:
            out += f"\nhint: {self.hint}"
        return out

    def to_dict(self) -> dict:
        """The diagnostic as JSON data, as docs/diagnostics.schema.json describes it.

        Lines and columns are 1-based; the end is exclusive. `hints` is a list (empty when there is
        none) so that tools need not special-case null.
        """
        return {"severity": self.severity, "code": self.code, "message": self.message, **span_dict(self.span),
                "hints": [self.hint] if self.hint else [], "related": [r.to_dict() for r in self.related]}


class SpecError(Exception):
    """A user mistake in a spec. Holds every error diagnostic found, in source order."""

    def __init__(self, diagnostics: Iterable[Diagnostic]):
        self.diagnostics = tuple(diagnostics)
        if not self.diagnostics:
            raise ValueError("a SpecError needs at least one diagnostic")
        super().__init__(str(self))

    @property
    def first(self) -> Diagnostic:
        return self.diagnostics[0]

    @property
    def span(self) -> Optional[Span]:
        return self.first.span

    def __str__(self) -> str:
        body = "\n\n".join(str(d) for d in self.diagnostics)
        if len(self.diagnostics) > 1:
            body += f"\n\n{len(self.diagnostics)} errors"
        return body


class SpecSyntaxError(SpecError):
    """The text is not a well-formed spec (raised by the parser)."""


class SpecSemanticError(SpecError):
    """The spec parses but means nothing valid: an unknown name, a shape mismatch, a cycle..."""
