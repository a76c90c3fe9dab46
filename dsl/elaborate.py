"""Elaboration: from a parsed :class:`Spec` to a :class:`ConcreteSpec`.

It evaluates `let` constants (with command-line overrides), expands index ranges into one element
per index, resolves references to node names, folds constant arithmetic, decides conditional
expressions, and binds every call's arguments to the parameters of its block, family, combinator
or option. Problems are collected, not raised one at a time: :func:`elaborate_collect` returns
every diagnostic it found.
"""
from __future__ import annotations

import math
import os
from typing import Any, Mapping, Optional, Union

from . import ast
from . import library as lib
from .errors import Diagnostic, Related, SpecError, SpecSemanticError
from .binding import BindingMixin
from .expressions import ExpressionMixin, SpecTooLarge, _Bad, _BAD, _describe, _is_tensor
from .limits import MAX_ELEMENTS, MAX_NODES
from .parser import parse_spec
from .values import (ArrayInfo, Assumption, Combine, ConcreteSpec, Const, Dist, Factor, Feature, Invalid, ListValue,
                     NodeRef, Origin, Value, Variable, node_name)

__all__ = ["elaborate", "elaborate_collect", "parse_override"]


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


class _Elaborator(ExpressionMixin, BindingMixin):
    """Elaborates one spec: the driver, constants and declarations; expressions and argument
    binding come from the mixins."""

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
    def error(self, span, message, hint=None, code="semantic", related=()):
        key = (span, message)
        if key not in self._reported:
            self._reported.add(key)
            if self.context:
                message = f"{message} (where {self.context})"
            self.errors.append(Diagnostic(message, span, hint, "error", code, related=tuple(related)))
        return Invalid(span)

    def warn(self, span, message, hint=None, code="lint"):
        self.warnings.append(Diagnostic(message, span, hint, "warning", code))

    # -- driver ------------------------------------------------------------------------------
    def run(self) -> Optional[ConcreteSpec]:
        try:
            return self._run()
        except SpecTooLarge:  # reported where the limit was crossed; the rest would only be slow
            return None

    def _run(self) -> Optional[ConcreteSpec]:
        stmts = self.spec.statements
        header = {type(s): s for s in stmts if isinstance(s, (ast.ModelDecl, ast.PaperDecl, ast.DatasetDecl))}
        for s in stmts:
            if isinstance(s, ast.ImportDecl):
                self.error(s.span, "imports are resolved by load_spec(); parse_spec() text cannot import",
                           hint="load the file with dsl.load_spec(path)", code="unresolved-import")
        self._constants(stmts)
        self._declare_arrays(stmts)
        if not self._few_enough_nodes():
            return None
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
        description = self._description(header.get(ast.ModelDecl))
        for name, span in self.constant_spans.items():
            if name not in self.used_constants and name not in self.overrides:
                self.warn(span, f"constant '{name}' is never used", code="unused-constant")
        stem = os.path.splitext(os.path.basename(self.spec.path))[0]
        return ConcreteSpec(
            name=stem,
            description=description,
            paper=header[ast.PaperDecl].text if ast.PaperDecl in header else "",
            dataset=header[ast.DatasetDecl].name if ast.DatasetDecl in header else "",
            constants=dict(self.constants), variables=dict(self.variables), features=features,
            factors=tuple(factors), assumptions=tuple(assumptions), arrays=dict(self.arrays),
            sources=self.spec.source_map, overrides=dict(self.overrides))

    def _description(self, decl: Optional[ast.ModelDecl]) -> str:
        """The `model` header with its ``{NAME}`` constants filled in (dsl/describe.py)."""
        from .describe import interpolate, placeholders

        if decl is None:
            return ""
        for name in placeholders(decl.description):
            if name in self.constants:
                self.used_constants.add(name)
            else:
                hint = lib.suggest(name, sorted(self.constants)) or "only constant names go between braces; " \
                    "write {{ and }} for literal braces"
                self.error(decl.span, f"the model description names '{{{name}}}', which is not a constant",
                           hint=hint, code="undefined-name")
        return interpolate(decl.description, self.constants)

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
                           hint=f"first defined at {self.constant_spans[s.name]}", code="duplicate-name",
                           related=[Related("first defined here", self.constant_spans[s.name])])
                continue
            self.constant_spans[s.name] = s.span
            if s.name in self.overrides:
                if self._override_fits(s):
                    self.constants[s.name] = self.overrides[s.name]
                    self._check_enumerated_override(s)
            else:
                value = self.const(s.value, {})
                if not isinstance(value, _Bad):
                    self.constants[s.name] = value

    def _override_fits(self, s: ast.LetDecl) -> bool:
        """A --set value must be of the kind the spec's own value is (an integer for `let L = 16`).

        Otherwise one error says so, and the spec's own value is kept, so that the mistake does
        not cascade into an error at every use of the constant.
        """
        default = self.const(s.value, {})
        if isinstance(default, _Bad) or (isinstance(s.value, ast.Call) and s.value.func == "one_of"):
            return True
        value = self.overrides[s.name]
        kind = _value_kind(default)
        if kind is None or _value_kind(value) == kind or (kind == "a number" and _value_kind(value) == "an integer"):
            return True
        shown = value if isinstance(value, str) else _shown(value)
        self.error(s.value.span, f"--set {s.name}={shown}: '{shown}' is not a valid {kind.split(' ', 1)[1]} for {s.name}",
                   hint=f"the spec sets {s.name} to {kind} here, e.g. --set {s.name}={_shown(default)}",
                   code="bad-override")
        self.constants[s.name] = default
        return False

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
                               hint=f"first defined at {slots[i]}", code="duplicate-name",
                               related=[Related("first defined here", slots[i])])
                else:
                    slots[i] = s.target.span
            previous = info.indices if info is not None and info.indices else ()
            merged = None if indices is None else tuple(sorted(set(previous) | set(indices)))
            self.arrays[name] = ArrayInfo(name, kind, merged, info.span if info else s.target.span)
            if isinstance(s, ast.FeatureDecl):
                self.groups[name] = tuple(g.name for g in s.groups)

    def _few_enough_nodes(self) -> bool:
        """At most :data:`dsl.limits.MAX_NODES` variables and features; else one error at the largest array."""
        sizes = {name: len(info.indices) if info.indices else 1 for name, info in self.arrays.items()}
        total = sum(sizes.values())
        if total <= MAX_NODES:
            return True
        largest = max(sizes, key=sizes.get)
        self.error(self.arrays[largest].span, f"the spec declares {total:,} variables and features ('{largest}' alone has "
                                              f"{sizes[largest]:,}); at most {MAX_NODES:,} are compiled",
                   hint="use fewer layers", code="spec-too-large")
        return False

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
            if math.prod(shape) > MAX_ELEMENTS:
                self.error(s.shape.span, f"{name} has shape {list(shape)}: {math.prod(shape):,} elements per example; "
                                         f"a variable has at most {MAX_ELEMENTS:,}", code="bad-shape")
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
                first_span: dict[str, ast.Span] = {}  # parent -> the span naming it first, in order
                for ref in s.parents:
                    for p in self._parent_nodes(ref, env):
                        first_span.setdefault(p, ref.span)
                parents, spans = tuple(first_span), tuple(first_span.values())
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
                        name = node_name(r.name, env[binder.var])
                        result.append(f"{name}.{r.group}" if r.group else name)
                        continue
                    result.extend(self._parent_nodes(r, env))
                return tuple(result)
            out.append(Assumption(nodes(s.left, True), nodes(s.right), nodes(s.given), s.reason, s.span,
                                  s.sufficient))
        return out


def _value_kind(value: Any) -> Optional[str]:
    """The kind of a constant, as --set errors name it."""
    if isinstance(value, bool):
        return "a boolean (true or false)"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, tuple):
        return "a list"
    return None


def _shown(value: Any) -> str:
    """A constant as it is written on the command line."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return "[" + ",".join(_shown(v) for v in value) + "]"
    return f'"{value}"' if isinstance(value, str) else repr(value)


def _context(env: dict[str, int]) -> str:
    return ", ".join(f"{k} = {v}" for k, v in env.items())
