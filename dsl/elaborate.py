"""Elaboration: from a parsed :class:`Spec` to a :class:`ConcreteSpec`.

It evaluates `let` constants (with command-line overrides), expands index ranges into one element
per index, resolves references to node names, folds constant arithmetic, decides conditional
expressions, and binds every call's arguments to the parameters of its block, family, combinator
or option. Problems are collected, not raised one at a time: :func:`elaborate_collect` returns
every diagnostic it found.
"""
from __future__ import annotations

import operator
import os
from typing import Any, Mapping, Optional, Union

from . import ast
from . import library as lib
from .errors import Diagnostic, SpecError, SpecSemanticError
from .parser import parse_spec
from .values import (Apply, ArrayInfo, Assumption, Combine, ConcreteSpec, Const, Dist, Factor, FactorRefValue,
                     Feature, Invalid, ListValue, NodeRef, Origin, Symbol, Value, Variable, node_name)

__all__ = ["elaborate", "elaborate_collect", "parse_override"]

_ARITH = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
          "//": operator.floordiv, "%": operator.mod, "**": operator.pow}
_COMPARE = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
            "==": operator.eq, "!=": operator.ne}
_FEATURE_OPS = {"+": "add", "-": "sub", "*": "mul"}

# Limits that keep a mistyped constant from hanging the compiler: integers of at most MAX_BITS
# bits, lists and strings of at most MAX_ITEMS items, index ranges of at most MAX_ITEMS elements.
MAX_BITS = 4096
MAX_ITEMS = 10_000


def parse_override(assignment: str) -> tuple[str, Any]:
    """Parse a command-line ``NAME=VALUE`` into a name and a constant value.

    VALUE is any constant expression of the language: ``64``, ``1e-3``, ``false``,
    ``[256, 256]``, ``"text"``.

    Raises:
        SpecSyntaxError / SpecSemanticError: malformed assignment or non-constant value.
    """
    if "=" not in assignment:
        raise SpecSemanticError([Diagnostic(f"--set expects NAME=VALUE, got '{assignment}'", code="bad-override")])
    name, text = assignment.split("=", 1)
    name, text = name.strip(), text.strip()
    problem = Diagnostic(f"--set {assignment}: the value must be a number, true or false, a \"string\" or a list "
                         f"of those, e.g. --set L=8 or --set hidden=[256,256]", code="bad-override")
    try:
        spec = parse_spec(f"let {name} = {text}", path="<--set>")
    except SpecError:
        raise SpecSemanticError([problem]) from None
    (stmt,) = spec.statements
    if isinstance(stmt.value, ast.Ref) and stmt.value.index is None and stmt.value.group is None:
        return name, stmt.value.name  # a bare word is a string: --set kind=downsample
    el = _Elaborator(spec, {})
    value = el.const(stmt.value, {})
    if el.errors:
        raise SpecSemanticError([problem])
    return name, value


def elaborate(spec: ast.Spec, overrides: Optional[Mapping[str, Any]] = None) -> ConcreteSpec:
    """Elaborate a loaded spec; raise :class:`SpecSemanticError` with every error found.

    Args:
        spec: a spec from :func:`dsl.load_spec` or :func:`dsl.parse_spec`.
        overrides: constant values that replace the spec's `let` definitions (``--set``).
    """
    concrete, diagnostics = elaborate_collect(spec, overrides)
    errors = [d for d in diagnostics if d.is_error]
    if errors:
        raise SpecSemanticError(errors)
    return concrete


def elaborate_collect(spec: ast.Spec, overrides: Optional[Mapping[str, Any]] = None):
    """Elaborate and return ``(concrete_spec_or_None, diagnostics)`` without raising."""
    el = _Elaborator(spec, dict(overrides or {}))
    concrete = el.run()
    sources = spec.source_map
    return concrete, [d.with_source(sources) for d in el.errors + el.warnings]


class _Elaborator:
    def __init__(self, spec: ast.Spec, overrides: dict[str, Any]):
        self.spec = spec
        self.overrides = overrides
        self.errors: list[Diagnostic] = []
        self.warnings: list[Diagnostic] = []
        self.constants: dict[str, Any] = {}
        self.constant_spans: dict[str, ast.Span] = {}
        self.used_constants: set[str] = set()
        self.arrays: dict[str, ArrayInfo] = {}
        self.groups: dict[str, tuple[str, ...]] = {}  # feature array -> group names
        self.variables: dict[str, Variable] = {}
        self._reported: set = set()
        self.context = ""  # "l = 3" while expanding a statement with an index variable

    # -- diagnostics ------------------------------------------------------------------------
    def error(self, span, message, hint=None, code="semantic"):
        key = (span, message)
        if key not in self._reported:
            self._reported.add(key)
            if self.context:
                message = f"{message} (where {self.context})"
            self.errors.append(Diagnostic(message, span, hint, "error", code))
        return Invalid(span)

    def warn(self, span, message, hint=None, code="lint"):
        self.warnings.append(Diagnostic(message, span, hint, "warning", code))

    # -- driver ------------------------------------------------------------------------------
    def run(self) -> Optional[ConcreteSpec]:
        stmts = self.spec.statements
        header = {type(s): s for s in stmts if isinstance(s, (ast.ModelDecl, ast.PaperDecl, ast.DatasetDecl))}
        for s in stmts:
            if isinstance(s, ast.ImportDecl):
                self.error(s.span, "imports are resolved by load_spec(); parse_spec() text cannot import",
                           hint="load the file with dsl.load_spec(path)", code="unresolved-import")
        self._constants(stmts)
        self._declare_arrays(stmts)
        features: dict[str, Feature] = {}
        factors: list[Factor] = []
        assumptions: list[Assumption] = []
        # variables first: factor elaboration needs their shapes and declared families
        for pos, s in enumerate(stmts):
            if isinstance(s, ast.VariableDecl):
                self._variable(pos, s)
        self.context = ""
        for pos, s in enumerate(stmts):
            self.context = ""
            if isinstance(s, ast.FeatureDecl):
                for f in self._feature(pos, s):
                    features[f.name] = f
            elif isinstance(s, ast.FactorDecl):
                factors.extend(self._factor(pos, s))
            elif isinstance(s, ast.AssumeDecl):
                assumptions.extend(self._assume(s))
        self.context = ""
        for name, span in self.constant_spans.items():
            if name not in self.used_constants and name not in self.overrides:
                self.warn(span, f"constant '{name}' is never used", code="unused-constant")
        stem = os.path.splitext(os.path.basename(self.spec.path))[0]
        return ConcreteSpec(
            name=stem,
            description=header[ast.ModelDecl].description if ast.ModelDecl in header else "",
            paper=header[ast.PaperDecl].text if ast.PaperDecl in header else "",
            dataset=header[ast.DatasetDecl].name if ast.DatasetDecl in header else "",
            constants=dict(self.constants), variables=dict(self.variables), features=features,
            factors=tuple(factors), assumptions=tuple(assumptions), arrays=dict(self.arrays),
            sources=self.spec.source_map, overrides=dict(self.overrides))

    # -- constants ---------------------------------------------------------------------------
    def _constants(self, stmts):
        lets = [s for s in stmts if isinstance(s, ast.LetDecl)]
        defined = {s.name for s in lets}
        for name in self.overrides:
            if name not in defined:
                hint = lib.suggest(name, sorted(defined)) or (
                    "its constants are: " + ", ".join(sorted(defined)) if defined else "it defines no constants")
                self.error(None, f"--set {name}: the spec has no constant '{name}'", hint=hint, code="bad-override")
        for s in lets:
            if s.name in self.constant_spans:
                self.error(s.span, f"constant '{s.name}' is defined twice",
                           hint=f"first defined at {self.constant_spans[s.name]}", code="duplicate-name")
                continue
            self.constant_spans[s.name] = s.span
            if s.name in self.overrides:
                self.constants[s.name] = self.overrides[s.name]
                self._check_enumerated_override(s)
            else:
                value = self.const(s.value, {})
                if not isinstance(value, _Bad):
                    self.constants[s.name] = value

    def _check_enumerated_override(self, s: ast.LetDecl) -> None:
        """`let kind = one_of("dct", ["dct", "downsample"])` declares the values a --set may give."""
        v = s.value
        if not (isinstance(v, ast.Call) and v.func == "one_of" and len(v.args) == 2):
            return
        choices = self.const(v.args[1], {})
        value = self.overrides[s.name]
        if isinstance(choices, tuple) and value not in choices:
            shown = ", ".join(str(c) for c in choices)
            hint = lib.suggest(value, [c for c in choices if isinstance(c, str)]) if isinstance(value, str) else None
            self.error(None, f"--set {s.name}={value}: {s.name} is one of {shown}", hint=hint, code="bad-override")

    def const(self, expr: ast.Expr, env: dict[str, int]) -> Any:
        """Evaluate an expression that must be constant."""
        v = self.expr(expr, env)
        if isinstance(v, Const):
            return v.value
        if not isinstance(v, Invalid):
            self.error(expr.span, "expected a constant here (numbers, booleans, strings, lists of those)",
                       code="not-constant")
        return _BAD

    # -- arrays ------------------------------------------------------------------------------
    def _target_indices(self, target: ast.Target) -> Union[None, list[int], "_Bad"]:
        idx = target.index
        if idx is None:
            return None
        if isinstance(idx, ast.IndexAt):
            v = self._int(idx.at, {})
            return _BAD if v is None else [v]
        if isinstance(idx, (ast.IndexSpan, ast.IndexBinder)):
            lo, hi = self._int(idx.low, {}), self._int(idx.high, {})
            if lo is None or hi is None:
                return _BAD
            if hi < lo:
                self.error(idx.span, f"empty index range {lo}..{hi}", code="empty-range")
                return _BAD
            if not self._range_ok(lo, hi, idx.span):
                return _BAD
            return list(range(lo, hi + 1))
        self.error(idx.span, "a definition is indexed by a number, a range 'lo..hi' or 'l in lo..hi'",
                   code="bad-target")
        return _BAD

    def _declare_arrays(self, stmts):
        seen: dict[str, dict[Optional[int], ast.Span]] = {}
        for s in stmts:
            if isinstance(s, ast.VariableDecl):
                kind = s.kind
            elif isinstance(s, ast.FeatureDecl):
                kind = "feature"
            else:
                continue
            name = s.target.name
            if name in self.constant_spans:
                self.error(s.target.span, f"'{name}' is already a constant", code="duplicate-name",
                           hint=f"defined at {self.constant_spans[name]}")
                continue
            indices = self._target_indices(s.target)
            if isinstance(indices, _Bad):
                continue
            info = self.arrays.get(name)
            if info is not None and info.kind != kind:
                self.error(s.target.span, f"'{name}' is declared as {info.kind} and as {kind}",
                           hint=f"first declared at {info.span}", code="duplicate-name")
                continue
            if info is not None and (info.indices is None) != (indices is None):
                self.error(s.target.span, f"'{name}' is declared both with and without an index",
                           hint=f"first declared at {info.span}", code="duplicate-name")
                continue
            slots = seen.setdefault(name, {})
            for i in indices if indices is not None else [None]:
                if i in slots:
                    self.error(s.target.span, f"{node_name(name, i)} is defined twice",
                               hint=f"first defined at {slots[i]}", code="duplicate-name")
                else:
                    slots[i] = s.target.span
            previous = info.indices if info is not None and info.indices else ()
            merged = None if indices is None else tuple(sorted(set(previous) | set(indices)))
            self.arrays[name] = ArrayInfo(name, kind, merged, info.span if info else s.target.span)
            if isinstance(s, ast.FeatureDecl):
                self.groups[name] = tuple(g.name for g in s.groups)

    def _expansion(self, target: ast.Target):
        """(index, env) pairs for a statement's target, and its Origin fields."""
        idx = target.index
        indices = self._target_indices(target)
        if isinstance(indices, _Bad):
            return [], None, None, None
        if indices is None:
            return [(None, {})], None, None, None
        var = idx.var if isinstance(idx, ast.IndexBinder) else None
        if var is not None and (var in self.constants or var in self.arrays):
            self.error(idx.span, f"index variable '{var}' hides the {'constant' if var in self.constants else 'array'} "
                                 f"of the same name", hint="choose another index variable name", code="shadowing")
            return [], None, None, None
        return [(i, {var: i} if var else {}) for i in indices], var, indices[0], indices[-1]

    def _origin(self, pos, s, kind, var, lo, hi):
        return Origin(s.span, pos, kind, s.target.name, var, lo, hi)

    # -- statements --------------------------------------------------------------------------
    def _variable(self, pos: int, s: ast.VariableDecl):
        expansion, var, lo, hi = self._expansion(s.target)
        origin = self._origin(pos, s, s.kind, var, lo, hi)
        for index, env in expansion:
            self.context = _context(env)
            name = node_name(s.target.name, index)
            shape = self.const(s.shape, env)
            if isinstance(shape, _Bad):
                continue
            if isinstance(shape, int) and not isinstance(shape, bool):
                shape = (shape,)
            if not (isinstance(shape, tuple) and shape and all(isinstance(d, int) and not isinstance(d, bool)
                                                                and d > 0 for d in shape)):
                self.error(s.shape.span, f"the shape of {name} must be a list of positive integers "
                                         f"such as [32] or [3, 32, 32], got {shape!r}", code="bad-shape")
                continue
            if len(shape) not in (1, 3):
                self.error(s.shape.span, f"{name} has shape {list(shape)}: variables are vectors [n] or "
                                         f"images [channels, height, width]", code="bad-shape")
                continue
            family = None
            if s.family is not None:
                family = self._declared_family(s.family, env, name)
            self.variables[name] = Variable(name, s.target.name, index, s.kind, shape, family, s.span, origin)

    def _declared_family(self, expr: ast.Expr, env, target: str) -> Optional[Dist]:
        if isinstance(expr, ast.Ref) and expr.index is None and expr.group is None and \
                expr.name not in self.constants and expr.name not in self.arrays:
            expr = ast.Call(expr.span, expr.name, (), ())
        if not isinstance(expr, ast.Call) or lib.kind_of(expr.func) != "family":
            hint = lib.suggest(expr.func, list(lib.families())) if isinstance(expr, ast.Call) else None
            self.error(expr.span, "after '~' comes a distribution family, e.g. `~ normal` or `~ bernoulli`",
                       hint=hint or "families: " + ", ".join(sorted(lib.families())), code="unknown-family")
            return None
        sig = lib.lookup(expr.func, "family")
        args = self._bind(sig, expr, env, allow_missing=True)
        if args is None:
            return None
        for name, value in args:
            p = sig.param(name)
            if isinstance(value, Const) and (value.value is None or value.value is lib.REQUIRED):
                continue
            if p.tensor_valued and not (p.kind == "number_or_feature" and isinstance(value, Const)):
                self.error(value.span, f"a declaration gives the family's options only; '{name}' is set by the "
                                       f"{'likelihood' if self.variables.get(target) is None else 'factor'} statement",
                           code="bad-declaration")
                return None
        return Dist(expr.span, sig.name, args, target)

    def _feature(self, pos: int, s: ast.FeatureDecl):
        expansion, var, lo, hi = self._expansion(s.target)
        origin = self._origin(pos, s, "feature", var, lo, hi)
        out = []
        for index, env in expansion:
            self.context = _context(env)
            name = node_name(s.target.name, index)
            value = self.expr(s.value, env)
            if isinstance(value, Invalid):
                continue
            if not _is_tensor(value):
                self.error(s.value.span, f"feature {name} must be computed by a block, e.g. `mlp(x, out = 64)`; "
                                         f"got {_describe(value)}", code="not-a-feature")
                continue
            groups = []
            for g in s.groups:
                width = self.const(g.width, env)
                if isinstance(width, _Bad):
                    continue
                if not isinstance(width, int) or isinstance(width, bool) or width < 0:
                    self.error(g.span, f"the width of group '{g.name}' must be a non-negative integer, got {width!r}",
                               code="bad-group")
                    continue
                groups.append((g.name, width))
            names = [g for g, _ in groups]
            dup = {g for g in names if names.count(g) > 1}
            if dup:
                self.error(s.span, f"group names repeat: {', '.join(sorted(dup))}", code="bad-group")
            out.append(Feature(name, s.target.name, index, value, tuple(groups), s.span, origin))
        return out

    def _factor(self, pos: int, s: ast.FactorDecl):
        expansion, var, lo, hi = self._expansion(s.target)
        origin = self._origin(pos, s, s.kind, var, lo, hi)
        info = self.arrays.get(s.target.name)
        if info is None or info.kind == "feature":
            what = "a feature" if info else "not declared"
            known = sorted(n for n, a in self.arrays.items() if a.kind != "feature")
            self.error(s.target.span, f"{s.kind} of '{s.target.name}': it is {what}; factors are defined for "
                                      f"declared random variables", hint=lib.suggest(s.target.name, known),
                       code="undefined-name")
            return []
        out = []
        for index, env in expansion:
            self.context = _context(env)
            target = node_name(s.target.name, index)
            if index is not None and info.indices is not None and index not in info.indices:
                self.error(s.target.span, f"{s.kind} of {target}: '{s.target.name}' is {info.describe()}",
                           code="index-out-of-range")
                continue
            variable = self.variables.get(target)
            if variable is None:
                continue  # its declaration failed and was reported
            parents, spans = None, ()
            if s.parents is not None:
                parents, spans = [], []
                for ref in s.parents:
                    for p in self._parent_nodes(ref, env):
                        if p not in parents:
                            parents.append(p)
                            spans.append(ref.span)
                parents, spans = tuple(parents), tuple(spans)
            value = self._factor_value(s.value, env, variable)
            if isinstance(value, Invalid):
                continue
            out.append(Factor(s.kind, target, parents, value, s.span, origin, spans))
        return out

    def _parent_nodes(self, ref: ast.Ref, env) -> list[str]:
        v = self.expr(ref, env)
        if isinstance(v, NodeRef):
            return [v.node]
        if isinstance(v, ListValue):
            return [item.node for item in v.items if isinstance(item, NodeRef)]
        if not isinstance(v, Invalid):
            self.error(ref.span, f"a parent must be a variable or feature, got {_describe(v)}", code="bad-parent")
        return []

    def _factor_value(self, expr: ast.Expr, env, variable: Variable) -> Value:
        value = self.expr(expr, env, target=variable)
        if isinstance(value, (Dist, Combine, Invalid)):
            return value
        if _is_tensor(value):
            if variable.family is None:
                return self.error(expr.span, f"{variable.name} declares no distribution family, so this factor must "
                                             f"name one, e.g. `normal(...)`", code="missing-family",
                                  hint=f"or declare it: `{variable.kind} {variable.array} : ... ~ normal`")
            fam = variable.family
            args = dict(fam.args)
            args["params"] = self._infer_out(value, lib.lookup(fam.family, "family"), "params", variable, fam.options())
            sig = lib.lookup(fam.family, "family")
            return Dist(expr.span, fam.family, tuple((p.name, args[p.name]) for p in sig.params), variable.name)
        return self.error(expr.span, f"a factor's value is a distribution, e.g. `normal(mlp(x))`, or the network "
                                     f"computing the parameters of the declared family; got {_describe(value)}",
                          code="not-a-distribution")

    def _assume(self, s: ast.AssumeDecl) -> list[Assumption]:
        first = s.left[0] if s.left else None
        binder = first.index if first is not None and isinstance(first.index, ast.IndexBinder) else None
        if binder is not None:
            lo, hi = self._int(binder.low, {}), self._int(binder.high, {})
            if lo is None or hi is None or not self._range_ok(lo, hi, binder.span):
                return []
            envs = [{binder.var: i} for i in range(lo, hi + 1)]
        else:
            envs = [{}]
        out = []
        for env in envs:
            self.context = _context(env)

            def nodes(refs, skip_first=False):
                result = []
                for k, r in enumerate(refs):
                    if skip_first and k == 0 and binder is not None:
                        result.append(node_name(r.name, env[binder.var]))
                        continue
                    result.extend(self._parent_nodes(r, env))
                return tuple(result)
            out.append(Assumption(nodes(s.left, True), nodes(s.right), nodes(s.given), s.reason, s.span))
        return out

    # -- expressions -------------------------------------------------------------------------
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
            return ListValue(e.span, tuple(NodeRef(e.span, node_name(name, i), e.group) for i in info.indices))
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
            return ListValue(e.span, tuple(NodeRef(e.span, node_name(name, i), e.group) for i in range(lo, hi + 1)))
        if isinstance(idx, ast.IndexRelation):
            bound = self._int(idx.bound, env)
            if bound is None:
                return Invalid(e.span)
            keep = [i for i in info.indices if _COMPARE[idx.relation](i, bound)]
            return ListValue(e.span, tuple(NodeRef(e.span, node_name(name, i), e.group) for i in keep))
        return self.error(idx.span, "an index variable can only be bound in the target of a statement",
                          code="misplaced-binder")

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

    def _apply_bound(self, span, block: str, args: dict[str, Value]) -> Value:
        sig = lib.lookup(block, "block")
        bound = []
        for p in sig.params:
            bound.append((p.name, args[p.name] if p.name in args else Const(span, p.default)))
        return Apply(span, block, tuple(bound))

    def _call(self, e: ast.Call, env, target: Optional[Variable]) -> Value:
        kind = lib.kind_of(e.func)
        if kind == "block":
            sig = lib.lookup(e.func, "block")
            args = self._bind(sig, e, env, allow_missing={sig.out_param} if target is not None and sig.out_param else ())
            return Invalid(e.span) if args is None else Apply(e.span, sig.name, args)
        if kind in ("family", "combinator"):
            if target is None:
                return self.error(e.span, f"'{e.func}' is a distribution {kind}; distributions are the values of "
                                          f"prior, posterior and likelihood statements", code="misplaced-distribution")
            sig = lib.lookup(e.func, kind)
            args = self._bind(sig, e, env, allow_missing=(), target=target)
            if args is None:
                return Invalid(e.span)
            if kind == "combinator":
                return Combine(e.span, sig.name, args, target.name)
            return self._family(e, sig, args, target)
        if e.func in _CONSTANT_FUNCTIONS and not e.kwargs:
            return self._constant_function(e, env)
        # an option like bounded_log_scale(-5, 5), or an unknown name
        args = [self.expr(a, env) for a in e.args]
        if any(isinstance(a, Invalid) for a in args):
            return Invalid(e.span)
        if e.kwargs or not all(isinstance(a, Const) for a in args):
            known = [*lib.blocks(), *lib.families(), *lib.combinators()]
            return self.error(e.span, f"unknown block '{e.func}'", hint=lib.suggest(e.func, known),
                              code="unknown-block")
        return Symbol(e.span, e.func, tuple(a.value for a in args))

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

    def _family(self, e, sig, args, target: Variable) -> Value:
        bound = dict(args)
        declared = target.family
        if declared is not None and declared.family == sig.name:
            explicit = {k.name for k in e.kwargs}
            for name, value in declared.args:
                p = sig.param(name)
                if name not in explicit and not p.tensor_valued:
                    bound[name] = value
        options = {k: v for k, v in bound.items() if isinstance(v, (Const, Symbol)) and not sig.param(k).tensor_valued}
        for pname in sig.packed_params:
            value = bound.get(pname)
            if value is not None and not (isinstance(value, Const) and value.value is None):
                bound[pname] = self._infer_out(value, sig, pname, target, options)
        tensors = [p for p in sig.packed_params if not (isinstance(bound.get(p), Const) and bound[p].value is None)]
        if sig.conditional and not tensors:
            return self.error(e.span, f"{sig.name}(...) needs its parameters: "
                                      + " or ".join(f"'{p}'" for p in sig.packed_params), code="missing-argument")
        return Dist(e.span, sig.name, tuple((p.name, bound[p.name]) for p in sig.params), target.name)

    def _infer_out(self, value: Value, fam, pname: str, target: Variable, options: dict) -> Value:
        """Fill the output width of a parameter network from what the family needs."""
        if not isinstance(value, Apply):
            return value
        bsig = lib.lookup(value.block, "block")
        if bsig.out_param is None:
            return value
        current = dict(value.args)[bsig.out_param]
        if not (isinstance(current, Const) and current.value is lib.REQUIRED):
            return value
        opts = {k: (v.value if isinstance(v, Const) else v) for k, v in options.items()}
        if pname == "params":
            channels = fam.param_channels(target.shape, opts)
        else:
            channels = target.shape[0]
        width = channels
        if bsig.out_kind == "vector" and len(target.shape) == 3:
            width = channels * target.shape[1] * target.shape[2]
        return Apply(value.span, value.block, tuple(
            (k, Const(value.span, width) if k == bsig.out_param else v) for k, v in value.args))

    # -- argument binding ----------------------------------------------------------------------
    def _bind(self, sig, call: ast.Call, env, allow_missing=(), target=None):
        """Bind a call's arguments to `sig`'s params; None if anything is wrong (already reported)."""
        params = list(sig.params)
        values: dict[str, Value] = {}
        ok = True
        positional = list(call.args)
        pos_params = [p for p in params]
        i = 0
        for p in pos_params:
            if not positional:
                break
            if p.variadic:
                items = [self.expr(a, env, target) for a in positional]
                positional = []
                values[p.name] = self._as_list(items, call.span)
                break
            values[p.name] = self.expr(positional.pop(0), env, target if _takes_target(sig, p) else None)
            i += 1
        if positional:
            ok = False
            self.error(positional[0].span, f"{sig.name}() takes at most {i} positional argument"
                                           f"{'s' if i != 1 else ''}", hint="name the argument: `key = value`",
                       code="too-many-arguments")
        for kw in call.kwargs:
            p = sig.param(kw.name)
            if p is None:
                ok = False
                self.error(kw.span, f"{sig.name}() has no argument '{kw.name}'",
                           hint=lib.suggest(kw.name, sig.param_names) or
                           "its arguments: " + ", ".join(sig.param_names), code="unknown-argument")
                continue
            if kw.name in values:
                ok = False
                self.error(kw.span, f"{sig.name}() got '{kw.name}' twice", code="duplicate-argument")
                continue
            v = self.expr(kw.value, env, target if _takes_target(sig, p) else None)
            values[kw.name] = self._as_list([v], kw.span) if p.variadic or p.kind == "features" else v
        bound = []
        for p in params:
            if p.name in values:
                v = values[p.name]
                if isinstance(v, Invalid):
                    ok = False
                    continue
                checked = self._check_kind(sig, p, v)
                if checked is None:
                    ok = False
                    continue
                bound.append((p.name, checked))
            elif p.required:
                if allow_missing is True or p.name in allow_missing:
                    bound.append((p.name, Const(call.span, lib.REQUIRED)))
                else:
                    ok = False
                    self.error(call.span, f"{sig.name}() needs '{p.name}'" + (f" ({p.doc})" if p.doc else ""),
                               code="missing-argument")
            else:
                default = Const(call.span, p.default)
                if p.kind == "option" and isinstance(p.default, str):
                    default = Symbol(call.span, p.default)
                bound.append((p.name, default))
        return tuple(bound) if ok else None

    def _as_list(self, items: list[Value], span) -> Value:
        if any(isinstance(v, Invalid) for v in items):
            return Invalid(span)
        flat = []
        for v in items:
            flat.extend(v.items if isinstance(v, ListValue) else [v])
        return ListValue(span, tuple(flat))

    def _check_kind(self, sig, p, v: Value) -> Optional[Value]:
        """Validate one argument against its parameter kind; report and return None if wrong."""
        where = f"{sig.name}(): '{p.name}'"
        k = p.kind
        if k == "feature":
            if p.default is None and isinstance(v, Const) and v.value is None:
                return v
            if _is_tensor(v):
                return v
            return self._kind_error(where, "a feature", v)
        if k == "features":
            if isinstance(v, ListValue) and all(_is_tensor(x) for x in v.items):
                return v
            bad = next((x for x in (v.items if isinstance(v, ListValue) else [v]) if not _is_tensor(x)), v)
            return self._kind_error(where, "features", bad)
        if k == "number_or_feature":
            if _is_tensor(v) or _is_number(v) or (isinstance(v, Const) and v.value is None):
                return v
            return self._kind_error(where, "a number or a feature", v)
        if k == "dist":
            if isinstance(v, (Dist, Combine, FactorRefValue)):
                return v
            return self._kind_error(where, "a distribution such as prior(z[l]) or normal(...)", v)
        if k == "factor":
            if isinstance(v, FactorRefValue):
                return v
            return self._kind_error(where, "a factor reference such as posterior(z[1])", v)
        if k in ("choice", "option"):
            if isinstance(v, Const) and isinstance(v.value, str):
                v = Symbol(v.span, v.value)
            if not isinstance(v, Symbol):
                return self._kind_error(where, "one of " + ", ".join(p.choices), v)
            choices = p.choices
            if v.name not in choices:
                self.error(v.span, f"{where} cannot be '{v.name}'",
                           hint=lib.suggest(v.name, list(choices)) or "choose one of: " + ", ".join(choices),
                           code="bad-choice")
                return None
            arity = choices[v.name] if isinstance(choices, dict) else 0
            if len(v.args) != arity:
                self.error(v.span, f"{where}: '{v.name}' takes {arity} argument{'s' if arity != 1 else ''}, "
                                   f"got {len(v.args)}", code="bad-choice")
                return None
            if v.args and lib.kind_of(v.name) == "option":
                for param, value in zip(lib.lookup(v.name, "option").params, v.args):
                    if param.kind in ("int", "float") and not _is_number(Const(v.span, value)) or \
                            param.kind == "int" and not float(value).is_integer():
                        self.error(v.span, f"{where}: the '{param.name}' of '{v.name}' must be "
                                           f"{_KIND_WORDS[param.kind]}, got {value!r}", code="bad-choice")
                        return None
            return v
        if not isinstance(v, Const):
            return self._kind_error(where, _KIND_WORDS[k], v)
        x = v.value
        if k == "int":
            if isinstance(x, float) and x.is_integer():
                return Const(v.span, int(x))
            good = isinstance(x, int) and not isinstance(x, bool)
        elif k == "float":
            good = isinstance(x, (int, float)) and not isinstance(x, bool)
            if good:
                return Const(v.span, float(x))
        elif k == "bool":
            good = isinstance(x, bool) or x in (0, 1)
            if good:
                return Const(v.span, bool(x))
        elif k == "str":
            good = isinstance(x, str)
        elif k == "ints":
            if isinstance(x, int) and not isinstance(x, bool):
                x = (x,)
            good = isinstance(x, tuple) and all(isinstance(i, int) and not isinstance(i, bool) for i in x)
            if good:
                return Const(v.span, x)
        elif k == "floats":
            good = isinstance(x, tuple) and all(isinstance(i, (int, float)) and not isinstance(i, bool) for i in x)
        else:
            good = True
        return v if good else self._kind_error(where, _KIND_WORDS[k], v)

    def _kind_error(self, where, wanted, v):
        hint = None
        if isinstance(v, Symbol) and not v.args:
            close = lib.suggest(v.name, [*self.arrays, *self.constants])
            hint = f"'{v.name}' is not defined" + (f"; {close}" if close else "")
        self.error(v.span, f"{where} expects {wanted}, got {_describe(v)}", hint=hint, code="bad-argument")
        return None


_CONSTANT_FUNCTIONS = ("one_of", "min", "max")

_KIND_WORDS = {"int": "an integer", "float": "a number", "bool": "true or false", "str": "a string",
               "ints": "a list of integers such as [256, 256]", "floats": "a list of numbers"}


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


def _context(env: dict[str, int]) -> str:
    return ", ".join(f"{k} = {v}" for k, v in env.items())


def _takes_target(sig, p) -> bool:
    """Arguments that are distributions, or parameter networks of one, know the variable they are for."""
    return p.kind == "dist" or (isinstance(sig, lib.FamilySignature) and p.name in sig.packed_params)


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
