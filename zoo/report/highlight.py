"""Syntax highlighting of `.hvae` source as HTML spans, for the model card.

A single regular-expression pass over the text: comments, strings, numbers, the language's
keywords, the names a statement declares, and index expressions (``z[<l]``). It only colours
text (every character is kept, HTML-escaped), so a spec it does not fully understand still
reads correctly; the grammar itself stays in ``dsl/hvae.lark``.
"""
from __future__ import annotations

import html
import re

__all__ = ["highlight", "KEYWORDS"]

KEYWORDS = ("import", "with", "let", "model", "paper", "dataset", "observed", "latent", "feature", "prior",
            "posterior", "likelihood", "assume", "independent", "sufficient", "of", "given", "because", "if", "else", "in",
            "and", "or", "not", "split", "true", "false", "for")

_TOKEN = re.compile(r"""
    (?P<comment>\#[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<number>\b\d+(?:\.\d*)?(?:[eE][+-]?\d+)?\b)
  | (?P<word>\b[A-Za-z_]\w*\b)
  | (?P<index>\[[^\]\n]*\])
""", re.VERBOSE)

_DECLARES = {"observed", "latent", "feature", "prior", "posterior", "likelihood", "let"}


def highlight(source: str, prefix: str = "L") -> str:
    """`source` as HTML: `<span class="k">latent</span> <span class="d">z</span>...`, line by line.

    Returns:
        One ``<span class="line" id="{prefix}<n>">`` per line (n from 1), so that a verdict can
        link to the statement it is about.
    """
    out = []
    for number, line in enumerate(source.splitlines(), start=1):
        out.append(f'<span class="line" id="{prefix}{number}">{_line(line) or " "}</span>')
    return "".join(out)  # each line is a block: no newline between them, or lines would double


def _line(line: str) -> str:
    parts, pos, previous = [], 0, None
    for m in _TOKEN.finditer(line):
        parts.append(html.escape(line[pos:m.start()]))
        kind, text = m.lastgroup, m.group()
        if kind == "word":
            if text in KEYWORDS:
                kind = "k"
            elif previous in _DECLARES:
                kind = "d"  # the name a statement declares
            else:
                kind = None
            previous = text
        else:
            kind = {"comment": "c", "string": "s", "number": "n", "index": "i"}[kind]
        escaped = html.escape(text)
        parts.append(f'<span class="{kind}">{escaped}</span>' if kind else escaped)
        pos = m.end()
    parts.append(html.escape(line[pos:]))
    return "".join(parts)
