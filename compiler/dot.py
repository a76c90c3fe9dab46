"""DOT text helpers shared by the diagram views: quoting, attributes, HTML labels, the palette.

Both :mod:`compiler.render` (the graphical model) and :mod:`compiler.render_arch` (the
architecture) write Graphviz ``digraph`` text with these, so that the two views share one look and
neither imports the other.
"""
from __future__ import annotations

import re

from .nodes import natural

__all__ = ["STYLE", "quote", "attrs", "html_name", "escape", "header", "natural", "relation_label", "elided"]

STYLE = {
    "font": "Helvetica",
    "generative": "#222222",
    "inference": "#1f5fbf",
    "shared": "#7b3294",
    "violation": "#d62728",
    "acknowledged": "#ff7f0e",
    "observed": "#c8c8c8",
    "shared_fill": "#e7d4f5",
    "attention": "#e6550d",
    "plate": "#777777",
}

GREEK = {"eps": "&epsilon;", "epsilon": "&epsilon;", "alpha": "&alpha;", "beta": "&beta;", "gamma": "&gamma;",
         "delta": "&delta;", "mu": "&mu;", "sigma": "&sigma;", "theta": "&theta;", "phi": "&phi;",
         "lambda": "&lambda;", "nu": "&nu;", "tau": "&tau;", "omega": "&omega;"}


def quote(name: str) -> str:
    """A DOT identifier: always double-quoted, with quotes and backslashes escaped."""
    return '"' + str(name).replace("\\", "\\\\").replace('"', '\\"') + '"'


def attrs(**kw) -> str:
    """` [a="1", b=<...>]` (values starting with '<' are HTML labels; None values are left out).

    ``class_`` is written as DOT's ``class`` attribute (a Python keyword).
    """
    items = []
    for k, v in kw.items():
        if v is None:
            continue
        k = k.rstrip("_")
        v = str(v)
        items.append(f"{k}={v}" if v.startswith("<") and v.endswith(">") else f"{k}={quote(v)}")
    return f" [{', '.join(items)}]" if items else ""


def html_name(name: str) -> str:
    """`z[3]` -> <I>z</I><SUB>3</SUB>, `eps[2]` -> &epsilon;<SUB>2</SUB>, `out` -> out (an HTML label).

    One-letter names are set in italics, as mathematical variables; longer names upright. The
    index may be a number or a plate's expression (`z[l]`, `z[<l]`, `z[l-1]`, `z[2..16]`).
    """
    m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)(?:\[([^\]]+)\])?(?:\.(\w+))?", name)
    if not m:
        return "<" + escape(name) + ">"
    base, index, group = m.groups()
    head = GREEK.get(base, f"<I>{escape(base)}</I>" if len(base) == 1 else escape(base))
    sub = f"<SUB>{_index_html(index)}</SUB>" if index is not None else ""
    tail = f".{escape(group)}" if group else ""
    return f"<{head}{sub}{tail}>"


def _index_html(index: str) -> str:
    """`<l` -> &lt;<I>l</I>, `l-1` -> <I>l</I>&#8722;1 (binders in italics, a true minus sign)."""
    parts = re.split(r"([A-Za-z_]\w*)", index)
    return "".join(f"<I>{p}</I>" if i % 2 else escape(p).replace("-", "&#8722;") for i, p in enumerate(parts))


def relation_label(text: str) -> str:
    """An edge label naming an edge pattern (`z[<l]`) or the indices it holds for (`l = 2`), as HTML."""
    if "[" in text:
        return html_name(text)
    return "<" + _index_html(text) + ">"


def elided(node: str, tooltip: str, prefix: str = "") -> str:
    """The DOT statement of a box standing for layers left out (`--layers`): dashed, grey."""
    style = attrs(label=html_name(node), shape="box", style="dashed,rounded", color=STYLE["plate"],
                  fontcolor=STYLE["plate"], tooltip=tooltip)
    return f"{quote(prefix + node)}{style};"


def escape(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def header(name: str, lines: list, *, rankdir: str = "TB") -> None:
    lines.append(f"digraph {quote(name)} {{")
    lines.append(f'  graph [rankdir={rankdir}, newrank=true, nodesep=0.35, ranksep=0.45, '
                 f'fontname="{STYLE["font"]}", fontsize=12];')
    lines.append(f'  node [fontname="{STYLE["font"]}", fontsize=12];')
    lines.append(f'  edge [fontname="{STYLE["font"]}", fontsize=10, arrowsize=0.7];')
