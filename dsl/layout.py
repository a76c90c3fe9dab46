"""`format_source`: the text `zoo fmt` writes, with the comments and the layout a human chose.

:func:`dsl.format.format_spec` writes canonical text from the AST, which holds no comments. This
module formats a file's *text*: each statement is rewritten by :func:`dsl.format.format_statement`
and everything a person put around it is kept:

- comment lines before a statement and after the last one, where they were;
- a trailing comment (`let L = 10   # layers`) at its column when the code still fits before it,
  else two spaces after the code;
- blank lines between statements (runs collapsed to one) and no others, so the author's grouping
  of statements stays (`format_spec`, which has no layout to keep, separates kinds instead);
- padding after a statement's keyword that aligns columns (`latent   z`, under `observed x`);
- a statement the author broke over several lines is kept as written when its lines fit the
  width and each line is spaced canonically (joining them gives exactly the one-line form), so
  hanging indents aligned under an open bracket survive;
- a statement with a comment inside it (between its lines) is kept as written, since moving that
  comment would change what it annotates;
- each statement starts a line (two statements on one line are split).

The result parses to the same AST as the input (the property the tests hold it to), and
formatting is idempotent.

Example:
    >>> print(format_source("let L=2   # layers\\n\\n\\n# the data\\nobserved x:[4]~bernoulli\\n"), end="")
    let L = 2   # layers
    <BLANKLINE>
    # the data
    observed x : [4] ~ bernoulli
"""
from __future__ import annotations

from typing import Optional

from . import ast
import re

from .format import LINE_WIDTH, format_statement

__all__ = ["format_source", "comment_column"]


def comment_column(line: str) -> Optional[int]:
    """The 0-based index of the `#` that starts a comment on `line`, or None (strings hold no `"`)."""
    in_string = False
    for i, ch in enumerate(line):
        if ch == '"':
            in_string = not in_string
        elif ch == "#" and not in_string:
            return i
    return None


def format_source(text: str, *, path: Optional[str] = None, width: int = LINE_WIDTH) -> str:
    """Format a spec file's text, keeping its comments (see the module docstring).

    Raises:
        SpecSyntaxError: the text does not parse (nothing is formatted).
    """
    from .parser import parse_spec

    spec = parse_spec(text, path=path)
    lines = text.split("\n")  # as the parser counts lines (str.splitlines also breaks at \x85, \u2028, ...)
    out: list[str] = []
    prev_end = 0
    for stmt in spec.statements:
        start, end = stmt.span.line, stmt.span.end_line
        gap = lines[prev_end:start - 1]
        _emit_gap(out, gap, separate=False)
        out.extend(_statement(stmt, lines, width))
        prev_end = end
    _emit_gap(out, lines[prev_end:], separate=False)
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out) + "\n" if out else ""


def _emit_gap(out: list, gap: list, *, separate: bool) -> None:
    """The lines between two statements: comments as written, blank runs collapsed to one."""
    if separate and out and (not gap or gap[0].strip()):
        out.append("")
    for line in gap:
        stripped = line.rstrip()
        if not stripped:
            if out and out[-1] != "":
                out.append("")
        else:
            out.append(stripped)


def _statement(stmt: ast.Statement, lines: list, width: int) -> list:
    """The statement's new lines, with its trailing comment (see the module docstring)."""
    span = stmt.span
    own = lines[span.line - 1:span.end_line]
    own[-1] = own[-1][:span.end_column - 1]  # cut the end first: on a one-line statement both
    own[0] = own[0][span.column - 1:]  # cuts index the same line
    rest = lines[span.end_line - 1][span.end_column - 1:]
    # a comment after the code trails the statement (not if another statement follows on the line)
    trailing = rest.strip() if rest.strip().startswith("#") else None
    if any(comment_column(line) is not None for line in own):
        new = [line.rstrip() for line in own]
    else:
        pad = _KEYWORD_PAD.match(own[0])
        if pad:  # judge and format the statement without the alignment, then put it back
            own = [pad.group(1) + " " + own[0][pad.end():]] + own[1:]
        if len(own) > 1 and _canonical_breaks(own, stmt, width):
            new = [line.rstrip() for line in own]
        else:
            new = format_statement(stmt, width=width).split("\n")
        if pad and new[0].startswith(pad.group(1) + " ") and len(new[0]) + len(pad.group(2)) - 1 <= width:
            new[0] = pad.group(1) + pad.group(2) + new[0][len(pad.group(1)) + 1:]
    if trailing is not None:
        column = len(lines[span.end_line - 1]) - len(rest.lstrip()) if span.column == 1 else 0
        tail = new[-1]
        new[-1] = tail + " " * (column - len(tail)) + trailing if len(tail) < column else f"{tail}  {trailing}"
    return new


_KEYWORD_PAD = re.compile(r"^([a-z]+)( {2,})(?=\S)")


def _canonical_breaks(own: list, stmt: ast.Statement, width: int) -> bool:
    """Whether the author's lines are the one-line form broken at spaces or after brackets."""
    from .format import format_statement as one_line

    if any(len(line.rstrip()) > width for line in own):
        return False
    flat = one_line(stmt, width=10 ** 9)
    pieces = [line.strip() for line in own]
    at = 0
    for i, piece in enumerate(pieces):
        if i and flat.startswith(" ", at):
            at += 1
        if not flat.startswith(piece, at):
            return False
        at += len(piece)
    return at == len(flat)
