"""Expression evaluation for the elaborator: constants, references, index ranges, arithmetic.

Constant sub-expressions fold to :class:`Const`; references to declared arrays resolve to node
references (one per index); arithmetic on features becomes ``add``/``sub``/``mul``/``affine`` block
applications. Results that would exceed the size limits are refused before they are computed, so a
mistyped constant cannot hang the compiler.
"""
from __future__ import annotations

import operator
from typing import Any, Optional

from . import ast
from . import library as lib
from .limits import MAX_READS
from .values import Apply, Combine, Const, Dist, FactorRefValue, Invalid, ListValue, NodeRef, Symbol, Value, Variable, node_name

__all__ = ["ExpressionMixin", "MAX_BITS", "MAX_ITEMS", "SpecTooLarge"]

_ARITH = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
          "//": operator.floordiv, "%": operator.mod, "**": operator.pow}

_COMPARE = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
            "==": operator.eq, "!=": operator.ne}

_FEATURE_OPS = {"+": "add", "-": "sub", "*": "mul"}

# Limits that keep a mistyped constant from hanging the compiler: integers of at most MAX_BITS
# bits, lists and strings of at most MAX_ITEMS items, index ranges of at most MAX_ITEMS elements.
MAX_BITS = 4096

MAX_ITEMS = 10_000

_CONSTANT_FUNCTIONS = ("one_of", "min", "max")

class SpecTooLarge(Exception):
    """Stops elaboration at a size limit (the located error is already reported)."""


class _Bad:
    """Marks a constant whose evaluation failed (the error is already reported)."""

_BAD = _Bad()

def _too_large(op: str, a: Any, b: Any) -> bool:
    """Would `a op b` build an integer, list or string beyond the limits (checked before computing)?"""
    def is_int(v):
        return isinstance(v, int) and not isinstance(v, bool)

    if op == "**" and is_int(a) and is_int(b):
        return b > 0 and abs(a) > 1 and b * abs(a).bit_length() > MAX_BITS
    if op == "*" and is_int(a) and is_int(b):
        return a.bit_length() + b.bit_length() > MAX_BITS
    if op == "*" and (is_int(a) or is_int(b)):
        seq, n = (b, a) if is_int(a) else (a, b)
        return isinstance(seq, (str, tuple)) and n > 0 and len(seq) * n > MAX_ITEMS
    return False

def _is_tensor(v: Value) -> bool:
    return isinstance(v, (NodeRef, Apply))

def _is_number(v: Value) -> bool:
    return isinstance(v, Const) and isinstance(v.value, (int, float)) and not isinstance(v.value, bool)

def _describe(v: Value) -> str:
    if isinstance(v, Const):
        return f"the constant {v.value!r}"
    if isinstance(v, Symbol):
        return f"the name '{v.name}'" + (f" with arguments {list(v.args)}" if v.args else "")
    if isinstance(v, NodeRef):
        return f"the node {v.key}"
    if isinstance(v, Apply):
        return f"a {v.block}(...) feature"
    if isinstance(v, ListValue):
        return f"a list of {len(v.items)} features"
    if isinstance(v, (Dist, Combine)):
        return "a distribution"
    if isinstance(v, FactorRefValue):
        return f"{v.factor_id}"
    return "an invalid expression"


class ExpressionMixin:
    """Evaluates expressions in an index environment (``{"l": 3}``); errors go to ``self.error``."""

    def const(self, expr: ast.Expr, env: dict[str, int]) -> Any:
        """Evaluate an expression that must be constant."""
        v = self.expr(expr, env)
        if isinstance(v, Const):
            return v.value
        if not isinstance(v, Invalid):
            self.error(expr.span, "expected a constant here (numbers, booleans, strings, lists of those)",
                       code="not-constant")
        return _BAD

    def _int(self, expr: ast.Expr, env) -> Optional[int]:
        v = self.const(expr, env)
        if isinstance(v, _Bad):
            return None
        if isinstance(v, bool) or not isinstance(v, int):
            if isinstance(v, float) and v.is_integer():
                return int(v)
            self.error(expr.span, f"expected an integer, got {v!r}", code="not-an-integer")
            return None
        return v

    def expr(self, e: ast.Expr, env: dict[str, int], target: Optional[Variable] = None) -> Value:
        if isinstance(e, ast.Number):
            return Const(e.span, e.value)
        if isinstance(e, ast.String):
            return Const(e.span, e.value)
        if isinstance(e, ast.Bool):
            return Const(e.span, e.value)
        if isinstance(e, ast.Ref):
            return self._ref(e, env)
        if isinstance(e, ast.ListExpr):
            return self._list(e, env, target)
        if isinstance(e, ast.Conditional):
            test = self.const(e.test, env)
            if isinstance(test, _Bad):
                return Invalid(e.span)
            self._mark_used(e.orelse if test else e.body)  # constants of the branch not taken count as used
            return self.expr(e.body if test else e.orelse, env, target)
        if isinstance(e, ast.BinaryOp):
            return self._binary(e, env)
        if isinstance(e, ast.UnaryOp):
            return self._unary(e, env)
        if isinstance(e, ast.Compare):
            a, b = self.const(e.left, env), self.const(e.right, env)
            if isinstance(a, _Bad) or isinstance(b, _Bad):
                return Invalid(e.span)
            try:
                return Const(e.span, _COMPARE[e.op](a, b))
            except TypeError:
                return self.error(e.span, f"cannot compare {a!r} {e.op} {b!r}", code="type-error")
        if isinstance(e, ast.BoolOp):
            a = self.const(e.left, env)
            if isinstance(a, _Bad):
                return Invalid(e.span)
            if e.op == "and" and not a or e.op == "or" and a:
                return Const(e.span, a)
            b = self.const(e.right, env)
            return Invalid(e.span) if isinstance(b, _Bad) else Const(e.span, b)
        if isinstance(e, ast.Call):
            return self._call(e, env, target)
        if isinstance(e, ast.FactorRef):
            ref = self._ref(e.target, env)
            if isinstance(ref, Invalid):
                return ref
            if not isinstance(ref, NodeRef) or ref.group is not None or ref.node not in self.variables:
                return self.error(e.span, f"{e.kind}(...) takes one random variable, e.g. {e.kind}(z[l])",
                                  code="bad-factor-ref")
            return FactorRefValue(e.span, e.kind, ref.node)
        raise TypeError(f"unhandled expression {type(e).__name__}")  # a bug in this module

    def _ref(self, e: ast.Ref, env) -> Value:
        name = e.name
        if name in env or name in self.constants:
            if e.index is not None or e.group is not None:
                return self.error(e.span, f"'{name}' is a {'index variable' if name in env else 'constant'}, "
                                          f"not an array", code="not-an-array")
            if name in env:
                return Const(e.span, env[name])
            self.used_constants.add(name)
            return Const(e.span, self.constants[name])
        if name in self.constant_spans:  # a constant whose own definition failed
            self.used_constants.add(name)
            return Invalid(e.span)
        info = self.arrays.get(name)
        if info is None:
            if e.index is not None or e.group is not None:
                known = list(self.arrays) + list(self.constants)
                return self.error(e.span, f"'{name}' is not defined", hint=lib.suggest(name, known),
                                  code="undefined-name")
            return Symbol(e.span, name)
        if e.group is not None:
            groups = self.groups.get(name, ())
            if e.group not in groups:
                have = ", ".join(groups) if groups else "none (add `split (...)` to its definition)"
                return self.error(e.span, f"'{name}' has no channel group '{e.group}'",
                                  hint=lib.suggest(e.group, groups) or f"its groups: {have}", code="unknown-group")
        if info.indices is None:
            if e.index is not None:
                return self.error(e.span, f"'{name}' is not indexed; write '{name}'", code="not-an-array")
            return NodeRef(e.span, name, e.group)
        if e.index is None:
            return self._counted(ListValue(e.span, tuple(NodeRef(e.span, node_name(name, i), e.group)
                                                         for i in info.indices)))
        idx = e.index
        if isinstance(idx, ast.IndexAt):
            i = self._int(idx.at, env)
            if i is None:
                return Invalid(e.span)
            if i not in info.indices:
                return self.error(e.span, f"'{name}' has no element {i}; it is {info.describe()}",
                                  code="index-out-of-range")
            return NodeRef(e.span, node_name(name, i), e.group)
        if isinstance(idx, ast.IndexSpan):
            lo, hi = self._int(idx.low, env), self._int(idx.high, env)
            if lo is None or hi is None:
                return Invalid(e.span)
            if not self._range_ok(lo, hi, idx.span):
                return Invalid(e.span)
            missing = [i for i in range(lo, hi + 1) if i not in info.indices]
            if missing:
                return self.error(e.span, f"'{name}[{lo}..{hi}]' includes undefined element {missing[0]}; "
                                          f"'{name}' is {info.describe()}", code="index-out-of-range")
            return self._counted(ListValue(e.span, tuple(NodeRef(e.span, node_name(name, i), e.group)
                                                         for i in range(lo, hi + 1))))
        if isinstance(idx, ast.IndexRelation):
            bound = self._int(idx.bound, env)
            if bound is None:
                return Invalid(e.span)
            keep = [i for i in info.indices if _COMPARE[idx.relation](i, bound)]
            return self._counted(ListValue(e.span, tuple(NodeRef(e.span, node_name(name, i), e.group) for i in keep)))
        return self.error(idx.span, "an index variable can only be bound in the target of a statement",
                          code="misplaced-binder")

    def _counted(self, refs: ListValue) -> Value:
        """Count the references a range expands to (`z[<l]` in a statement over l in 1..L reads
        L^2/2 nodes); past :data:`dsl.limits.MAX_READS` in the whole spec, report it here and stop elaborating."""
        self.reads = getattr(self, "reads", 0) + len(refs.items)
        if self.reads <= MAX_READS:
            return refs
        self.error(refs.span, f"the spec's references expand to more than {MAX_READS:,} nodes read (this one "
                              f"reads {len(refs.items):,}); the model is too large to compile",
                   hint="use fewer layers (a smaller range) or read fewer earlier layers", code="spec-too-large")
        raise SpecTooLarge()

    def _range_ok(self, lo: int, hi: int, span) -> bool:
        if hi - lo + 1 > MAX_ITEMS:
            self.error(span, f"the index range {lo}..{hi} has {hi - lo + 1} elements; at most {MAX_ITEMS} are "
                             f"allowed", code="range-too-large")
            return False
        return True

    def _list(self, e: ast.ListExpr, env, target) -> Value:
        items = [self.expr(x, env, target) for x in e.items]
        if any(isinstance(v, Invalid) for v in items):
            return Invalid(e.span)
        if all(isinstance(v, Const) for v in items):
            return Const(e.span, tuple(v.value for v in items))
        flat = []
        for v in items:
            if isinstance(v, ListValue):
                flat.extend(v.items)
            elif _is_tensor(v):
                flat.append(v)
            else:
                return self.error(v.span, f"a list mixes features with {_describe(v)}", code="mixed-list")
        return ListValue(e.span, tuple(flat))

    def _binary(self, e: ast.BinaryOp, env) -> Value:
        a, b = self.expr(e.left, env), self.expr(e.right, env)
        if isinstance(a, Invalid) or isinstance(b, Invalid):
            return Invalid(e.span)
        if isinstance(a, Const) and isinstance(b, Const):
            if isinstance(a.value, tuple) and isinstance(b.value, tuple) and e.op == "+":
                return Const(e.span, a.value + b.value)
            if _too_large(e.op, a.value, b.value):
                return self.error(e.span, f"the result of '{e.op}' here would be too large (integers up to "
                                          f"{MAX_BITS} bits, lists and strings up to {MAX_ITEMS} items)",
                                  code="type-error")
            try:
                value = _ARITH[e.op](a.value, b.value)
            except ZeroDivisionError:
                return self.error(e.span, "division by zero", code="type-error")
            except (TypeError, OverflowError) as err:
                return self.error(e.span, f"cannot compute {a.value!r} {e.op} {b.value!r}: {err}", code="type-error")
            if isinstance(value, float) and e.op == "/" and value.is_integer() and \
                    isinstance(a.value, int) and isinstance(b.value, int):
                pass  # keep true division a float, like Python
            return Const(e.span, value)
        if e.op == "+" and isinstance(a, ListValue) and isinstance(b, ListValue):
            return ListValue(e.span, a.items + b.items)
        if _is_tensor(a) and _is_tensor(b) and e.op in _FEATURE_OPS:
            return self._apply_bound(e.span, _FEATURE_OPS[e.op], {"a": a, "b": b})
        if _is_tensor(a) and _is_number(b) and e.op in "+-*/":
            scale = {"*": b.value, "/": None}.get(e.op, 1.0)
            if e.op == "/":
                if b.value == 0:
                    return self.error(e.span, "division by zero", code="type-error")
                scale = 1.0 / b.value
            shift = {"+": b.value, "-": -b.value}.get(e.op, 0.0)
            return self._apply_bound(e.span, "affine", {"x": a, "scale": Const(e.span, float(scale)),
                                                         "shift": Const(e.span, float(shift))})
        if _is_number(a) and _is_tensor(b) and e.op in "+-*":
            scale = -1.0 if e.op == "-" else (float(a.value) if e.op == "*" else 1.0)
            shift = 0.0 if e.op == "*" else float(a.value)
            return self._apply_bound(e.span, "affine", {"x": b, "scale": Const(e.span, scale),
                                                         "shift": Const(e.span, shift)})
        return self.error(e.span, f"cannot apply '{e.op}' to {_describe(a)} and {_describe(b)}", code="type-error")

    def _unary(self, e: ast.UnaryOp, env) -> Value:
        v = self.expr(e.operand, env)
        if isinstance(v, Invalid):
            return v
        if e.op == "not":
            if not isinstance(v, Const):
                return self.error(e.span, "'not' applies to constants only", code="type-error")
            return Const(e.span, not v.value)
        if isinstance(v, Const) and isinstance(v.value, (int, float)) and not isinstance(v.value, bool):
            return Const(e.span, -v.value)
        if _is_tensor(v):
            return self._apply_bound(e.span, "affine", {"x": v, "scale": Const(e.span, -1.0),
                                                         "shift": Const(e.span, 0.0)})
        return self.error(e.span, f"cannot negate {_describe(v)}", code="type-error")

    def _constant_function(self, e: ast.Call, env) -> Value:
        """`one_of(value, [choices])` checks a constant against its allowed values (so a misspelt
        `--set kind="dtc"` is an error, not a silent fall-through); `min` and `max` of numbers."""
        args = [self.const(a, env) for a in e.args]
        if any(isinstance(a, _Bad) for a in args):
            return Invalid(e.span)
        if e.func == "one_of":
            if len(args) != 2 or not isinstance(args[1], tuple):
                return self.error(e.span, "one_of takes a value and a list of allowed values: "
                                          "one_of(kind, [\"dct\", \"downsample\"])", code="bad-argument")
            value, choices = args
            if value not in choices:
                shown = ", ".join(repr(c) if not isinstance(c, str) else f'"{c}"' for c in choices)
                hint = lib.suggest(value, [c for c in choices if isinstance(c, str)]) if isinstance(value, str) else None
                return self.error(e.args[0].span, f"{value!r} is not one of the allowed values: {shown}",
                                  hint=hint, code="bad-choice")
            return Const(e.span, value)
        if not args or not all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in args):
            return self.error(e.span, f"{e.func} takes one or more numbers", code="bad-argument")
        return Const(e.span, (min if e.func == "min" else max)(args))

    def _mark_used(self, expr: ast.Expr) -> None:
        stack = [expr]
        while stack:
            node = stack.pop()
            if isinstance(node, ast.Ref) and node.name in self.constant_spans:
                self.used_constants.add(node.name)
            for value in vars(node).values():
                if isinstance(value, ast.Node):
                    stack.append(value)
                elif isinstance(value, tuple):
                    stack.extend(v for v in value if isinstance(v, ast.Node))
