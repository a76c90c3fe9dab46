"""Shape inference for the semantic checks: every feature's shape from its block's signature, and
every distribution's parameters checked against what its family needs.

A feature's shape is inferred on demand, recursively through the features it reads, with cycles
among features reported once; channel groups (`split (h = H, key = K)`) must add up to the block's
output. Shapes land in ``self.shapes`` (node key -> shape), which the compiler reuses.
"""
from __future__ import annotations

from typing import Optional

from . import library as lib
from .values import Apply, Combine, Const, Dist, FactorRefValue, NodeRef, Symbol, Value

__all__ = ["ShapeMixin"]


class ShapeMixin:
    """Infers and checks shapes for :class:`dsl.check._Checker` (errors go to ``self.error``)."""

    def feature_shape(self, name: str):
        if name in self.shapes:
            return self.shapes[name]
        if name in self._failed:
            return None
        feat = self.spec.features[name]
        if name in self._visiting:
            cycle = self._visiting[self._visiting.index(name):] + [name]
            self.error(feat.span, "features depend on each other in a cycle: " + " -> ".join(cycle),
                       code="cycle")
            for n in cycle:
                self._failed.add(n)
            return None
        self._visiting.append(name)
        shape = self.value_shape(feat.value)
        self._visiting.pop()
        if shape is None:
            self._failed.add(name)
            return None
        if feat.groups:
            total = sum(w for _, w in feat.groups)
            if total != shape[0]:
                parts = " + ".join(f"{g} {w}" for g, w in feat.groups)
                self.error(feat.span, f"the groups of {name} add up to {total} channels ({parts}) but it has "
                                      f"{shape[0]}", code="group-width")
                self._failed.add(name)
                return None
            for g, w in feat.groups:
                self.shapes[f"{name}.{g}"] = (w,) + tuple(shape[1:])
        self.shapes[name] = shape
        return shape

    def value_shape(self, v: Value):
        if isinstance(v, NodeRef):
            if v.node in self.spec.variables:
                if v.group is not None:
                    self.error(v.span, f"{v.node} is a random variable and has no channel groups", code="unknown-group")
                    return None
                return self.spec.variables[v.node].shape
            shape = self.feature_shape(v.node)
            if shape is None or v.group is None:
                return shape
            if v.key not in self.shapes:  # another statement of the array declares the groups
                self.error(v.span, f"{v.node} has no channel group '{v.group}': its statement declares no "
                                   f"`split (...)`", code="unknown-group")
            return self.shapes.get(v.key)
        if isinstance(v, Apply):
            sig = lib.lookup(v.block, "block")
            shapes, values = {}, {}
            ok = True
            for name, arg in v.args:
                p = sig.param(name)
                if p.kind == "features":
                    items = [self.value_shape(x) for x in arg.items]
                    if any(s is None for s in items):
                        ok = False
                    shapes[name] = items
                elif p.kind == "feature" or (p.kind == "number_or_feature" and not isinstance(arg, Const)):
                    if isinstance(arg, Const):
                        shapes[name] = None
                    else:
                        s = self.value_shape(arg)
                        ok = ok and s is not None
                        shapes[name] = s
                else:
                    if isinstance(arg, Const) and arg.value is lib.REQUIRED:
                        self.error(v.span, f"{v.block}() needs '{name}'" + (
                            f"; it can be left out only when {v.block} directly computes a distribution's parameters"
                            if name == sig.out_param else ""), code="missing-argument")
                        ok = False
                    values[name] = arg.value if isinstance(arg, Const) else arg.name if isinstance(arg, Symbol) else arg
            if not ok:
                return None
            try:
                shape = tuple(sig.shape_rule(lib.ShapeArgs(v.block, shapes, values)))
            except lib.ShapeError as err:
                self.error(v.span, str(err), code="shape")
                return None
            if not shape or any((not isinstance(d, int)) or d <= 0 for d in shape):
                self.error(v.span, f"{v.block}() would produce an empty shape {list(shape)}", code="shape")
                return None
            return shape
        return None

    # -- distributions ---------------------------------------------------------------------------
    def _dist(self, v: Value, factor, *, nested=False):
        var = self.spec.variables[factor.target]
        if isinstance(v, FactorRefValue):
            ref = self.deps.factor(v.kind, v.node)
            if ref is None:
                self.error(v.span, f"{v.factor_id} is not defined", code="undefined-name")
            elif v.node != factor.target:
                self.error(v.span, f"{factor.id} combines {v.factor_id}, a distribution over another variable",
                           code="bad-combinator")
            return
        if isinstance(v, Combine):
            for name, arg in v.args:
                self._dist(arg, factor, nested=True)
                fam = self._family_of(arg)
                if fam is not None and fam != "normal":
                    self.error(arg.span, f"{v.combinator}() combines diagonal Gaussians; '{name}' is {fam}",
                               code="bad-combinator")
            return
        if not isinstance(v, Dist):
            return
        sig = lib.lookup(v.family, "family")
        shape = var.shape
        options = {k: (a.value if isinstance(a, Const) else a) for k, a in v.args
                   if not sig.param(k).tensor_valued}
        self._parameter_sets(v, sig)
        for pname in sig.packed_params:
            arg = dict(v.args).get(pname)
            if arg is None or (isinstance(arg, Const) and (arg.value is None)):
                continue
            if isinstance(arg, Const):
                continue  # a constant loc or scale
            got = self.value_shape(arg)
            if got is None:
                continue
            channels = sig.param_channels(shape, options) if pname == "params" else shape[0]
            want = (channels,) + tuple(shape[1:])
            flat = (channels * _numel(shape[1:]),)
            if got not in (want, flat):
                hint = (f"{v.family} needs {channels} channels per element here" if pname == "params"
                        else f"'{pname}' must have the shape of {var.name}")
                self.error(arg.span, f"the '{pname}' of {factor.id} has shape {list(got)}, but {v.family} over "
                                     f"{var.name} {list(shape)} needs {list(want)}" +
                                     (f" (or flat {list(flat)})" if len(shape) == 3 else ""),
                           hint=hint, code="shape")

    def _parameter_sets(self, v: Dist, sig) -> None:
        """A family whose parameters come packed in `params` or separately (`normal(mlp(x))` or
        `normal(loc = ..., scale = ...)`) takes one form or the other, the separate ones all
        together; a constant scale is > 0."""
        if len(sig.packed_params) < 2 or sig.packed_params[0] != "params":
            return
        args = dict(v.args)
        given = [p for p in sig.packed_params if not (isinstance(args.get(p), Const) and args[p].value is None)]
        packed, separate = sig.packed_params[0], sig.packed_params[1:]
        if packed in given and len(given) > 1:
            self.error(v.span, f"{v.family}(...) takes either '{packed}' or {_quoted(separate)}, not both "
                               f"(it got {_quoted(given)})", code="bad-argument")
        elif packed not in given and given and len(given) < len(separate):
            missing = [p for p in separate if p not in given]
            self.error(v.span, f"{v.family}(...) got {_quoted(given)} but not {_quoted(missing)}",
                       hint=f"give {_quoted(separate)} together, e.g. {v.family}(loc = 0, scale = 1)",
                       code="missing-argument")
        scale = args.get("scale")
        if isinstance(scale, Const) and scale.value is not None and not scale.value > 0:
            self.error(scale.span, f"{v.family}(...): a constant 'scale' is a standard deviation and must be "
                                   f"positive, got {scale.value!r}", code="bad-argument")

    def _family_of(self, v: Value) -> Optional[str]:
        if isinstance(v, Dist):
            return v.family
        if isinstance(v, Combine):
            return "normal"
        if isinstance(v, FactorRefValue):
            ref = self.deps.factor(v.kind, v.node)
            return self._family_of(ref.value) if ref is not None else None
        return None


def _quoted(names) -> str:
    names = [f"'{n}'" for n in names]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _numel(dims) -> int:
    out = 1
    for d in dims:
        out *= d
    return out
