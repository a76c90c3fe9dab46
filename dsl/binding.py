"""Argument binding for the elaborator: calls of blocks, distribution families and combinators.

Each call's positional and keyword arguments are matched to the parameters of its library
signature, checked against the parameter's kind (feature, distribution, choice, integer, ...), and
completed with defaults. The output width of a parameter network is inferred from the family it
parameterizes, so a spec writes ``normal(mlp(x, [256]))`` without counting channels.
"""
from __future__ import annotations

from typing import Optional

from . import ast
from . import library as lib
from .expressions import _CONSTANT_FUNCTIONS, _describe, _is_number, _is_tensor
from .limits import violation
from .values import Apply, Combine, Const, Dist, FactorRefValue, Invalid, ListValue, Symbol, Value, Variable

__all__ = ["BindingMixin"]


class BindingMixin:
    """Binds call arguments to library signatures; errors go to ``self.error``."""

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
                if checked is not None and isinstance(checked, Const) \
                        and p.kind in ("int", "ints", "float"):
                    problem = violation(p.name, p.kind, checked.value)
                    if problem is not None:
                        self.error(checked.span, f"{sig.name}(): '{p.name}' {problem}", code="bad-value",
                                   hint=f"{p.name}: {p.doc}" if p.doc else None)
                        checked = None
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


_KIND_WORDS = {"int": "an integer", "float": "a number", "bool": "true or false", "str": "a string",
               "ints": "a list of integers such as [256, 256]", "floats": "a list of numbers"}

def _takes_target(sig, p) -> bool:
    """Arguments that are distributions, or parameter networks of one, know the variable they are for."""
    return p.kind == "dist" or (isinstance(sig, lib.FamilySignature) and p.name in sig.packed_params)
