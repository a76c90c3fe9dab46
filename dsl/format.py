"""`format_spec`: canonical `.hvae` text from an AST (the inverse of :func:`dsl.parse_spec`).

The output is the spec as `zoo fmt` would write it: one statement per line, blank lines between
groups of statements of different kinds, the minimal parentheses that the grammar's precedence
needs, and long statements wrapped at call and list brackets (newlines mean nothing to the
parser, so wrapping never changes the meaning). Comments are not part of the AST and are not
reproduced here; :func:`dsl.layout.format_source` (what `zoo fmt` runs) formats a file's text and
keeps its comments and hand layout.

The property the tests hold it to: ``parse_spec(format_spec(spec)) == spec`` for every spec the
parser can produce (spans are not compared).

Example:
    >>> from dsl import parse_spec
    >>> print(format_spec(parse_spec("let  L=2*(3+4)   latent z[l in 1..L]:[ 2**(l+1) ]")), end="")
    let L = 2 * (3 + 4)
    <BLANKLINE>
    latent z[l in 1..L] : [2 ** (l + 1)]
"""
from __future__ import annotations

from typing import Optional

from . import ast

__all__ = ["format_spec", "format_statement", "format_expr", "LINE_WIDTH"]

LINE_WIDTH = 120
INDENT = "    "

# Binding strength of each expression form, lowest first; mirrors the rule chain in hvae.lark
# (conditional < or < and < not < comparison < sum < product < unary minus < power < atom).
_COND, _OR, _AND, _NOT, _CMP, _SUM, _PROD, _UNARY, _POW, _ATOM = range(10)
_SUM_OPS = ("+", "-")


def format_spec(spec: ast.Spec, *, width: int = LINE_WIDTH) -> str:
    """The canonical text of a spec.

    Args:
        spec: a parsed spec (imports are written back as `import` statements if present).
        width: lines longer than this (120) are wrapped at brackets where possible.

    Returns:
        The text, ending with a newline (an empty spec gives the empty string).
    """
    lines: list[str] = []
    previous: Optional[str] = None
    for stmt in spec.statements:
        group = _group(stmt)
        if previous is not None and group != previous:
            lines.append("")
        lines.append(format_statement(stmt, width=width))
        previous = group
    return "\n".join(lines) + "\n" if lines else ""


def _group(stmt: ast.Statement) -> str:
    """Statements of one group are written without blank lines between them."""
    if isinstance(stmt, (ast.ModelDecl, ast.PaperDecl, ast.DatasetDecl)):
        return "header"
    if isinstance(stmt, ast.FactorDecl):
        return stmt.kind
    return type(stmt).__name__


def format_statement(stmt: ast.Statement, *, width: int = LINE_WIDTH) -> str:
    """One statement, possibly over several lines."""
    if isinstance(stmt, ast.ModelDecl):
        return f"model {_string(stmt.description)}"
    if isinstance(stmt, ast.PaperDecl):
        return f"paper {_string(stmt.text)}"
    if isinstance(stmt, ast.DatasetDecl):
        return f"dataset {stmt.name}"
    if isinstance(stmt, ast.ImportDecl):
        head = f"import {_string(stmt.path)}"
        if not stmt.bindings:
            return head
        items = [f"{b.name} = {format_expr(b.value)}" for b in stmt.bindings]
        return head + " with (" + ", ".join(items) + ")"
    if isinstance(stmt, ast.LetDecl):
        return _with_value(f"let {stmt.name} =", stmt.value, "", width)
    if isinstance(stmt, ast.VariableDecl):
        head = f"{stmt.kind} {_target(stmt.target)} : {format_expr(stmt.shape)}"
        if stmt.family is None:
            return head
        return _with_value(head + " ~", stmt.family, "", width)
    if isinstance(stmt, ast.FeatureDecl):
        tail = ""
        if stmt.groups:
            tail = " split (" + ", ".join(f"{g.name} = {format_expr(g.width)}" for g in stmt.groups) + ")"
        return _with_value(f"feature {_target(stmt.target)} =", stmt.value, tail, width)
    if isinstance(stmt, ast.FactorDecl):
        head = f"{stmt.kind} {_target(stmt.target)}"
        if stmt.parents is not None:
            head += " | " + _refs(stmt.parents)
        return _with_value(head + " =", stmt.value, "", width)
    if isinstance(stmt, ast.AssumeDecl):
        text = (f"assume {_refs(stmt.left)} sufficient" if stmt.sufficient else
                f"assume {_refs(stmt.left)} independent of {_refs(stmt.right)}")
        if stmt.given:
            text += f" given {_refs(stmt.given)}"
        if stmt.reason is not None:
            reason = _string(stmt.reason)
            text += ("\n" + INDENT + reason) if len(text) + 1 + len(reason) > width else " " + reason
        return text
    raise TypeError(f"cannot format {type(stmt).__name__}")


def _with_value(head: str, value: ast.Expr, tail: str, width: int) -> str:
    """`head value tail` on one line if it fits; else the call's arguments filled into lines
    aligned after its open bracket (as the specs are written by hand); else the value on its own
    indented lines, broken inside its brackets."""
    flat = f"{head} {format_expr(value)}{tail}"
    if len(flat) <= width:
        return flat
    if isinstance(value, ast.Call) and (value.args or value.kwargs):
        opening = f"{head} {value.func}("
        items = [_expr(a, _COND) for a in value.args] + [f"{k.name} = {_expr(k.value, _COND)}" for k in value.kwargs]
        filled = _fill(opening, items, ")" + tail, width)
        if filled is not None:
            return filled
    return head + "\n" + INDENT + _wrapped(value, INDENT, width) + tail


def _fill(opening: str, items: list, closing: str, width: int) -> Optional[str]:
    """`opening` then `items` separated by ", ", as many to a line as fit, continuation lines
    aligned under the first item; None when some item cannot fit."""
    pad = " " * len(opening)
    lines, current = [], opening
    for i, item in enumerate(items):
        text = item + ("," if i < len(items) - 1 else closing)
        if current not in (opening, pad) and len(current) + 1 + len(text) > width:
            lines.append(current)
            current = pad
        current += ("" if current in (opening, pad) else " ") + text
        if len(current) > width:
            return None
    lines.append(current)
    return "\n".join(lines)


def _wrapped(e: ast.Expr, indent: str, width: int) -> str:
    """`e` starting at column len(indent): flat if it fits, else broken inside its brackets."""
    flat = format_expr(e)
    if len(indent) + len(flat) <= width:
        return flat
    inner = indent + INDENT
    if isinstance(e, ast.Call) and (e.args or e.kwargs):
        items = [_wrapped(a, inner, width) for a in e.args]
        items += [f"{k.name} = {_wrapped(k.value, inner + ' ' * (len(k.name) + 3), width)}" for k in e.kwargs]
        return f"{e.func}(\n" + ",\n".join(inner + item for item in items) + f"\n{indent})"
    if isinstance(e, ast.ListExpr) and e.items:
        items = [_wrapped(a, inner, width) for a in e.items]
        return "[\n" + ",\n".join(inner + item for item in items) + f"\n{indent}]"
    return flat


# -- expressions ---------------------------------------------------------------------------------

def format_expr(e: ast.Expr) -> str:
    """An expression on one line, with the parentheses its structure needs and no others."""
    return _expr(e, _COND)


def _level(e: ast.Expr) -> int:
    if isinstance(e, ast.Conditional):
        return _COND
    if isinstance(e, ast.BoolOp):
        return _OR if e.op == "or" else _AND
    if isinstance(e, ast.UnaryOp):
        return _NOT if e.op == "not" else _UNARY
    if isinstance(e, ast.Compare):
        return _CMP
    if isinstance(e, ast.BinaryOp):
        if e.op == "**":
            return _POW
        return _SUM if e.op in _SUM_OPS else _PROD
    return _ATOM


def _expr(e: ast.Expr, need: int) -> str:
    """`e` in a position that accepts expressions of level `need` or higher."""
    text = _bare(e)
    return f"({text})" if _level(e) < need else text


def _bare(e: ast.Expr) -> str:
    if isinstance(e, ast.Number):
        return _number(e.value)
    if isinstance(e, ast.String):
        return _string(e.value)
    if isinstance(e, ast.Bool):
        return "true" if e.value else "false"
    if isinstance(e, ast.Ref):
        return _ref(e)
    if isinstance(e, ast.Call):
        args = [_expr(a, _COND) for a in e.args] + [f"{k.name} = {_expr(k.value, _COND)}" for k in e.kwargs]
        return f"{e.func}({', '.join(args)})"
    if isinstance(e, ast.ListExpr):
        return "[" + ", ".join(_expr(x, _COND) for x in e.items) + "]"
    if isinstance(e, ast.FactorRef):
        return f"{e.kind}({_ref(e.target)})"
    if isinstance(e, ast.Conditional):
        # body and test are disjunctions; the else branch may itself be a conditional
        return f"{_expr(e.body, _OR)} if {_expr(e.test, _OR)} else {_expr(e.orelse, _COND)}"
    if isinstance(e, ast.BoolOp):
        level = _OR if e.op == "or" else _AND
        return f"{_expr(e.left, level)} {e.op} {_expr(e.right, level + 1)}"
    if isinstance(e, ast.UnaryOp):
        if e.op == "not":
            return f"not {_expr(e.operand, _NOT)}"
        return f"-{_expr(e.operand, _UNARY)}"
    if isinstance(e, ast.Compare):
        # comparisons do not chain: both sides are sums
        return f"{_expr(e.left, _SUM)} {e.op} {_expr(e.right, _SUM)}"
    if isinstance(e, ast.BinaryOp):
        if e.op == "**":
            # `atom ** unary`: right-associative, and the exponent may carry a minus sign
            return f"{_expr(e.left, _ATOM)} ** {_expr(e.right, _UNARY)}"
        level = _SUM if e.op in _SUM_OPS else _PROD
        return f"{_expr(e.left, level)} {e.op} {_expr(e.right, level + 1)}"
    raise TypeError(f"cannot format {type(e).__name__}")


def _number(value) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or value != value \
            or value in (float("inf"),):
        raise ValueError(f"not a literal the grammar can write: {value!r}")
    return repr(value)  # floats keep a '.' or an exponent, so they read back as floats


def _string(value: str) -> str:
    if '"' in value or "\n" in value:
        raise ValueError(f"strings cannot contain '\"' or a newline: {value!r}")
    return f'"{value}"'


def _tight(e: ast.Expr) -> str:
    """An index expression; an offset of two atoms is written without spaces (`z[l-1]`, `1..L-1`)."""
    if isinstance(e, ast.BinaryOp) and e.op in _SUM_OPS and _level(e.left) == _ATOM and _level(e.right) == _ATOM:
        return f"{_bare(e.left)}{e.op}{_bare(e.right)}"
    return format_expr(e)


def _index(idx: ast.Index) -> str:
    if isinstance(idx, ast.IndexAt):
        return _tight(idx.at)
    if isinstance(idx, ast.IndexSpan):
        return f"{_tight(idx.low)}..{_tight(idx.high)}"
    if isinstance(idx, ast.IndexBinder):
        return f"{idx.var} in {_tight(idx.low)}..{_tight(idx.high)}"
    if isinstance(idx, ast.IndexRelation):
        return f"{idx.relation}{_tight(idx.bound)}"
    raise TypeError(f"cannot format {type(idx).__name__}")


def _ref(r: ast.Ref) -> str:
    text = r.name
    if r.index is not None:
        text += f"[{_index(r.index)}]"
    if r.group is not None:
        text += f".{r.group}"
    return text


def _refs(refs) -> str:
    return ", ".join(_ref(r) for r in refs)


def _target(t: ast.Target) -> str:
    return t.name if t.index is None else f"{t.name}[{_index(t.index)}]"
