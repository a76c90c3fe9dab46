"""Repairs as edits: rewrite unfaithful posterior statements so that the check passes.

The factorization check (:mod:`compiler.dsep`) names, for each unfaithful factor q(v | pa), the
parents to add. A researcher edits *statements*, not factors, so this module turns the per-element
suggestions of one posterior statement into one rewrite of that statement:

1. the parent list: the smallest index form that covers every element's needs, one for a whole
   index range (`| z[l-1], x` becomes `| z[<l], x`, not one statement per element); tried in
   order of size (`z[l-1]`, `z[<l]`, `z[<=l]`, the whole array), and
2. what the network reads: a parent that is declared but not read is no repair (the checker uses
   what the expression reads), so the new parent replaces the reference it subsumes in the
   expression (`concat(z[l-1], x)` becomes `concat(z[<l], x)`), or, when the expression read none
   of that array, it is concatenated to the input of each network (`linear(x)` becomes
   `linear(concat(x, a))`, `conv(conv(e) + e)` becomes `conv(concat(conv(e) + e, a))`).

Every candidate is verified by re-running the whole pipeline on the patched text (parse, checks,
graph, d-separation); the first that compiles and leaves no unacknowledged violation in the
statement wins. A statement no candidate repairs is reported, not guessed at.

:func:`violation_diagnostics` gives the violations as located :class:`~dsl.errors.Diagnostic`
objects (for `--json` and the language server).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from typing import Callable, Iterable, Optional

from dsl import ast
from dsl.errors import Diagnostic, SpecError
from dsl.format import format_statement

__all__ = ["Repair", "RepairResult", "violation_diagnostics", "repair_spec", "parse_location", "posterior_factors"]

_ELEMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:\[(\d+)\])?$")
_SPAN = ast.Span("<repair>", 0, 0, 0, 0)


def parse_location(location: str) -> Optional[tuple[str, int, int]]:
    """`"path:12:1"` -> `("path", 12, 1)`; None when it is not one."""
    m = re.match(r"^(.*):(\d+):(\d+)$", location or "")
    return (m.group(1), int(m.group(2)), int(m.group(3))) if m else None


def posterior_factors(mg) -> dict:
    """latent -> its posterior factor (:class:`dsl.values.Factor`: the statement's span, the
    declared parents)."""
    return {f.target: f for f in mg.spec.factors if f.kind == "posterior"}


def violation_diagnostics(report, factors: Optional[dict] = None) -> list[Diagnostic]:
    """One error per unacknowledged violation, at its posterior statement, the repair as hint.

    Args:
        report: a :class:`compiler.dsep_report.FactorizationReport`.
        factors: :func:`posterior_factors` of its graph, so that the diagnostic covers the whole
            statement and the hint tells a parent declared but never read (the network must read
            it) from one to declare; without it, the statement's keyword and a plain hint.
    """
    out = []
    for v in unacknowledged(report):
        where = parse_location(v.location)
        factor = (factors or {}).get(v.latent)
        span = factor.span if factor is not None else None
        if span is None and where:
            span = ast.Span(where[0], where[1], where[2], where[1], where[2] + len("posterior"))
        declared = set(factor.parents or ()) if factor is not None else set()
        unread = [p for p in v.suggested_parents if p in declared]
        new = [p for p in v.suggested_parents if p not in declared]
        hint = "; ".join(([f"also condition on {', '.join(new)}"] if new else []) +
                         ([f"{', '.join(unread)} declared after '|' but never read: the network must read it"]
                          if unread else []))
        left_out = ", ".join(v.unacknowledged or v.missing)
        if v.sufficiency:  # faithful only if the generative summaries it reads are sufficient
            summaries = ", ".join(v.sufficiency)
            out.append(Diagnostic(
                f"q({v.latent} | {', '.join(v.parents) or '-'}) sees {left_out} only through {summaries}: faithful "
                f"only if {summaries} is sufficient for them (active path: {v.witness_text})", span,
                hint=f"{hint} (`zoo check --fix` rewrites the statement), or acknowledge with "
                     f"`assume {v.sufficiency[0]} sufficient`", code="unacknowledged-sufficiency"))
            continue
        out.append(Diagnostic(
            f"q({v.latent} | {', '.join(v.parents) or '-'}) leaves out {left_out}: the inference model cannot "
            f"represent the exact posterior (active path: {v.witness_text})", span,
            hint=f"{hint} (`zoo check --fix` rewrites the statement)", code="unfaithful-posterior"))
    return out


@dataclass(frozen=True)
class Repair:
    """The rewrite of one posterior statement.

    Attributes:
        span: the statement's source region (in the root file).
        before, after: the statement's text before and after (`after` as the formatter writes it).
        latents: the unfaithful elements it repairs.
    """

    span: ast.Span
    before: str
    after: str
    latents: tuple

    def to_dict(self) -> dict:
        """The rewrite as JSON data: the statement's region, its text before and after, the latents."""
        from dsl.errors import span_dict

        return {**span_dict(self.span), "before": self.before, "after": self.after, "latents": list(self.latents)}

    def describe(self) -> str:
        return f"{self.span}: {' '.join(self.before.split())}\n   -> {' '.join(self.after.split())}"


@dataclass(frozen=True)
class RepairResult:
    """What :func:`repair_spec` did: the new text, the repairs, and the statements it could not repair."""

    text: str
    repairs: tuple
    unrepaired: tuple  # (location, latents) of statements no candidate repaired
    report: object  # the factorization report of `text`


Check = Callable[[str], object]  # patched text -> FactorizationReport; raises SpecError when invalid


def repair_spec(text: str, path: str, check: Check, *, report=None) -> RepairResult:
    """Rewrite every posterior statement of `text` that has an unacknowledged violation.

    Args:
        text: the spec file's text.
        path: its path (statements of imported files are reported as unrepaired: their text is
            elsewhere).
        check: runs the pipeline on a patched text and returns its factorization report.
        report: the report of `text`, if already computed.

    Returns:
        A :class:`RepairResult`; its `report` is the re-check of the final text.
    """
    from dsl import parse_spec

    report = report if report is not None else check(text)
    repairs, unrepaired = [], []
    for location, violations in _by_statement(report):
        where = parse_location(location)
        ours = where is not None and os.path.abspath(where[0]) == os.path.abspath(path)
        stmt = _statement_at(parse_spec(text, path=path), where) if ours else None
        latents = tuple(v.latent for v in violations)
        if stmt is None:
            unrepaired.append((location, latents))
            continue
        done = None
        for candidate in _candidates(stmt, violations):
            patched = _splice(text, stmt.span, format_statement(candidate))
            try:
                after = check(patched)
            except SpecError:
                continue
            if not any(v.latent in latents for v in unacknowledged(after)):
                done = patched, candidate, after
                break
        if done is None:
            unrepaired.append((location, latents))
            continue
        repairs.append(Repair(stmt.span, format_statement(stmt), format_statement(done[1]), latents))
        text, report = done[0], done[2]
    return RepairResult(text, tuple(repairs), tuple(unrepaired), report)


def unacknowledged(report) -> list:
    """The factors that fail the check: unacknowledged violations, and factors faithful only under a
    sufficiency assumption nobody acknowledged (repaired the same way: read what the summary hides)."""
    return [v for v in tuple(report.violations) + tuple(report.resting) if not v.acknowledged]


def _by_statement(report):
    groups: dict = {}
    for v in unacknowledged(report):
        groups.setdefault(v.location, []).append(v)
    return list(groups.items())


def _statement_at(spec: ast.Spec, where) -> Optional[ast.FactorDecl]:
    for s in spec.statements:
        if isinstance(s, ast.FactorDecl) and s.kind == "posterior" and (s.span.line, s.span.column) == where[1:]:
            return s
    return None


def _splice(text: str, span: ast.Span, new: str) -> str:
    lines = text.split("\n")  # spans count lines as the parser does: at "\n" only
    start = sum(len(x) + 1 for x in lines[:span.line - 1]) + span.column - 1
    end = sum(len(x) + 1 for x in lines[:span.end_line - 1]) + span.end_column - 1
    return text[:start] + new + text[end:]


# -- candidates -----------------------------------------------------------------------------------

def _element(name: str):
    m = _ELEMENT.match(name)
    return (m.group(1), int(m.group(2)) if m.group(2) else None) if m else (name, None)


def _num(k: int) -> ast.Expr:
    return ast.Number(_SPAN, k)


def _offset(var: str, k: int) -> ast.Expr:
    ref = ast.Ref(_SPAN, var)
    return ref if k == 0 else ast.BinaryOp(_SPAN, "-" if k > 0 else "+", ref, _num(abs(k)))


def _array_candidates(array: str, target: ast.Target, needs: dict) -> list[tuple[ast.Ref, bool]]:
    """Refs to `array` covering needs {element index of the target: set of indices of `array`},
    smallest first, each with whether it names several elements."""
    var = target.index.var if isinstance(target.index, ast.IndexBinder) else None
    if None in {j for s in needs.values() for j in s}:
        return [(ast.Ref(_SPAN, array), False)]
    out: list[tuple[ast.Ref, bool]] = []
    if var is not None and None not in needs:
        offsets = {i - j for i, s in needs.items() for j in s}
        if len(offsets) == 1 and all(len(s) == 1 for s in needs.values()):
            out.append((ast.Ref(_SPAN, array, ast.IndexAt(_SPAN, _offset(var, offsets.pop()))), False))
        for rel, ok in (("<", lambda i, j: j < i), (">", lambda i, j: j > i),
                        ("<=", lambda i, j: j <= i), (">=", lambda i, j: j >= i)):
            if rel in ("<=", ">=") and array == target.name:
                continue
            if all(ok(i, j) for i, s in needs.items() for j in s):
                out.append((ast.Ref(_SPAN, array, ast.IndexRelation(_SPAN, rel, ast.Ref(_SPAN, var))), True))
    else:
        wanted = sorted({j for s in needs.values() for j in s})
        if len(wanted) == 1:
            out.append((ast.Ref(_SPAN, array, ast.IndexAt(_SPAN, _num(wanted[0]))), False))
        elif wanted == list(range(wanted[0], wanted[-1] + 1)):
            out.append((ast.Ref(_SPAN, array, ast.IndexSpan(_SPAN, _num(wanted[0]), _num(wanted[-1]))), True))
    if array != target.name:
        out.append((ast.Ref(_SPAN, array), True))
    return out


def _candidates(stmt: ast.FactorDecl, violations) -> Iterable[ast.FactorDecl]:
    """Rewrites of `stmt`, smallest first (see the module docstring)."""
    needs: dict[str, dict] = {}
    for v in violations:
        _, i = _element(v.latent)
        for name in tuple(v.suggested_parents) + tuple(v.parents):
            array, j = _element(name)
            needs.setdefault(array, {}).setdefault(i, set()).add(j)
    added = {_element(n)[0] for v in violations for n in v.suggested_parents}
    options = {a: _array_candidates(a, stmt.target, needs[a]) for a in sorted(added)}
    if not options or not all(options.values()):
        return
    depth = max(len(c) for c in options.values())
    for k in range(depth):
        choice = {a: c[min(k, len(c) - 1)] for a, c in options.items()}
        # a reference in a disabled branch (`a if flag else b`) does not count as read: `force`
        # adds the input even where the text already names the array
        for replace_old, force in ((True, False), (True, True), (False, False), (False, True)):
            yield _rewrite(stmt, choice, replace_old, force)


def _rewrite(stmt: ast.FactorDecl, choice: dict, replace_old: bool, force: bool) -> ast.FactorDecl:
    parents = list(stmt.parents or ())
    value = stmt.value
    for array, (ref, many) in choice.items():
        old = [p for p in parents if p.name == array] if replace_old else []
        if old:
            at = parents.index(old[0])
            parents = [p for p in parents if p not in old]
            parents.insert(at, ref)
            value = _substitute(value, set(old), ref, many)
        elif ref not in parents:
            parents.append(ref)
        if force or not _reads(value, array):
            value = _add_input(value, ref)
    return replace(stmt, parents=tuple(parents), value=value)


def _reads(e: ast.Expr, array: str) -> bool:
    if isinstance(e, ast.Ref):
        return e.name == array
    if isinstance(e, ast.FactorRef):
        return False
    return any(_reads(c, array) for c in _children(e))


def _children(e: ast.Expr) -> list:
    if isinstance(e, ast.Call):
        return list(e.args) + [k.value for k in e.kwargs]
    if isinstance(e, ast.ListExpr):
        return list(e.items)
    if isinstance(e, (ast.BinaryOp, ast.Compare, ast.BoolOp)):
        return [e.left, e.right]
    if isinstance(e, ast.UnaryOp):
        return [e.operand]
    if isinstance(e, ast.Conditional):
        return [e.body, e.orelse]
    return []


def _substitute(e: ast.Expr, old: set, new: ast.Ref, many: bool, in_concat: bool = False) -> ast.Expr:
    """`e` with each reference in `old` replaced by `new` (wrapped in `concat` where a single
    tensor is expected and `new` names several)."""
    if isinstance(e, ast.Ref):
        if e not in old:
            return e
        return new if in_concat or not many else ast.Call(_SPAN, "concat", (new,))
    if isinstance(e, ast.Call):
        flat = e.func == "concat"
        args = tuple(_substitute(a, old, new, many, flat) for a in e.args)
        kwargs = tuple(replace(k, value=_substitute(k.value, old, new, many)) for k in e.kwargs)
        if flat:  # a concat that now reads `new` twice keeps it once
            unique: list = []
            for a in args:
                if a not in unique:
                    unique.append(a)
            args = tuple(unique)
        return replace(e, args=args, kwargs=kwargs)
    if isinstance(e, ast.ListExpr):
        return replace(e, items=tuple(_substitute(x, old, new, many, in_concat) for x in e.items))
    if isinstance(e, ast.Conditional):
        return replace(e, body=_substitute(e.body, old, new, many, in_concat),
                       orelse=_substitute(e.orelse, old, new, many, in_concat))
    if isinstance(e, (ast.BinaryOp, ast.Compare, ast.BoolOp)):
        return replace(e, left=_substitute(e.left, old, new, many), right=_substitute(e.right, old, new, many))
    if isinstance(e, ast.UnaryOp):
        return replace(e, operand=_substitute(e.operand, old, new, many))
    return e


def _add_input(e: ast.Expr, ref: ast.Ref) -> ast.Expr:
    """Make every network in `e` also read `ref`: its input `i` becomes `concat(i, ref)`.

    A network's input is the first positional argument of a call (both branches of a
    conditional); a `concat` gains `ref` as one more argument; calls elsewhere, also inside
    feature arithmetic, are searched (a bare reference that is an operand of `+` is not an input).
    """
    if isinstance(e, ast.Conditional):
        return replace(e, body=_add_input(e.body, ref), orelse=_add_input(e.orelse, ref))
    if isinstance(e, ast.BinaryOp):  # feature arithmetic: each operand's networks (`conv(c) + e`)
        return replace(e, left=_add_input(e.left, ref), right=_add_input(e.right, ref))
    if isinstance(e, ast.UnaryOp):
        return replace(e, operand=_add_input(e.operand, ref))
    if not isinstance(e, ast.Call):
        return e
    if e.func == "concat":
        return e if ref in e.args else replace(e, args=e.args + (ref,))
    args = [_operand(a, ref) if i == 0 else _add_input(a, ref) for i, a in enumerate(e.args)]
    kwargs = tuple(replace(k, value=_add_input(k.value, ref)) for k in e.kwargs)
    return replace(e, args=tuple(args), kwargs=kwargs)


def _operand(x: ast.Expr, ref: ast.Ref) -> ast.Expr:
    if isinstance(x, ast.Conditional):
        return replace(x, body=_operand(x.body, ref), orelse=_operand(x.orelse, ref))
    if isinstance(x, (ast.Ref, ast.ListExpr, ast.BinaryOp, ast.UnaryOp)):  # the input expression
        return ast.Call(_SPAN, "concat", (x, ref))
    return _add_input(x, ref)
