"""Semantic checks of an elaborated spec: every problem found, each with a location and a hint.

:func:`check_spec` runs elaboration and then, over the concrete spec:

* factor completeness -- every latent and pseudo-input has one prior and one posterior, every
  observed variable one likelihood and nothing else;
* shapes -- every feature's shape is inferred from its block's signature, channel groups must add
  up, every distribution's parameter network must produce what its family needs;
* parents -- a factor may read only what its statement declares (`prior z[3] | z[2] = ...`), and
  a declared parent it never reads is a warning;
* model structure -- the generative model never reads the data, every posterior sees the data,
  every latent has a path to the data, and neither model has a cycle.

Warnings (lints) are returned beside errors; only errors stop `zoo build`.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional

from . import ast
from .depends import Dependencies, direct_reads
from .elaborate import elaborate_collect
from .errors import Diagnostic, Related, SpecSemanticError
from .shapes import ShapeMixin
from .values import ConcreteSpec, FactorRefValue

__all__ = ["check_spec", "check_concrete", "ShapeTable", "infer_shapes", "checked"]


def check_spec(spec: ast.Spec, overrides: Optional[Mapping[str, Any]] = None) -> list[Diagnostic]:
    """Every diagnostic (errors and warnings) for a loaded spec.

    Args:
        spec: from :func:`dsl.load_spec` or :func:`dsl.parse_spec`.
        overrides: ``--set`` constant values.

    Returns:
        Diagnostics in source order; errors have ``severity == "error"``.

    Example:
        >>> from dsl import parse_spec
        >>> [d.code for d in check_spec(parse_spec("latent z : [4]"))]
        ['missing-factor', 'missing-factor', 'no-data']
    """
    concrete, diagnostics = elaborate_collect(spec, overrides)
    if concrete is not None and not any(d.is_error for d in diagnostics):
        diagnostics += check_concrete(concrete)
    return _sorted(diagnostics)


def checked(spec: ast.Spec, overrides: Optional[Mapping[str, Any]] = None):
    """Elaborate and check; return ``(concrete, shapes, warnings)`` or raise SpecSemanticError."""
    concrete, diagnostics = elaborate_collect(spec, overrides)
    shapes = None
    if not any(d.is_error for d in diagnostics):
        checker = _Checker(concrete)
        diagnostics += [d.with_source(concrete.sources) for d in checker.run()]
        shapes = checker.shapes
    diagnostics = _sorted(diagnostics)
    errors = [d for d in diagnostics if d.is_error]
    if errors:
        raise SpecSemanticError(errors)
    return concrete, shapes, [d for d in diagnostics if not d.is_error]


def _dependencies_first(features) -> list[str]:
    """Feature names, each after the features it reads, then every name in declaration order.

    Inferring shapes in the first order never recurses through a chain of earlier layers (a chain
    of 400 contexts `c[l] = f(c[l-1])` would otherwise exceed Python's recursion limit); features
    on a cycle are left to the second, so that the cycle is reported from its first declared
    feature, as before. An iterative depth-first search, for the same reason.
    """
    order, done, cyclic = [], set(), set()
    for root in features:
        if root in done:
            continue
        done.add(root)
        path = [root]
        stack = [iter(_feature_reads(features, root))]
        while stack:
            child = next(stack[-1], None)
            if child is None:
                stack.pop()
                order.append(path.pop())
            elif child in path:
                cyclic.update(path[path.index(child):])
            elif child not in done:
                done.add(child)
                path.append(child)
                stack.append(iter(_feature_reads(features, child)))
    return [n for n in order if n not in cyclic] + list(features)


def _feature_reads(features, name: str) -> list[str]:
    return [r.node for r in direct_reads(features[name].value) if getattr(r, "node", None) in features]


def check_concrete(concrete: ConcreteSpec) -> list[Diagnostic]:
    return [d.with_source(concrete.sources) for d in _Checker(concrete).run()]


def _sorted(diagnostics):
    def key(d):
        s = d.span
        return (s is None, s.path if s else "", s.line if s else 0, s.column if s else 0)
    return sorted(diagnostics, key=key)


class ShapeTable(dict):
    """Node key (``h[3]``, ``d[2].key``) -> inferred shape."""


def infer_shapes(concrete: ConcreteSpec) -> ShapeTable:
    checker = _Checker(concrete)
    checker.run()
    return checker.shapes


class _Checker(ShapeMixin):
    """Runs every check over one concrete spec; shape inference comes from :class:`ShapeMixin`."""

    def __init__(self, spec: ConcreteSpec):
        self.spec = spec
        self.deps = Dependencies(spec)
        self.out: list[Diagnostic] = []
        self.shapes = ShapeTable()
        self._visiting: list[str] = []
        self._failed: set[str] = set()

    def error(self, span, message, hint=None, code="semantic", related=()):
        self.out.append(Diagnostic(message, span, hint, "error", code, related=tuple(related)))

    def warn(self, span, message, hint=None, code="lint"):
        self.out.append(Diagnostic(message, span, hint, "warning", code))

    def run(self) -> list[Diagnostic]:
        for v in self.spec.variables.values():
            self.shapes[v.name] = v.shape
        self._completeness()
        for name in _dependencies_first(self.spec.features):
            self.feature_shape(name)
        for f in self.spec.factors:
            self._dist(f.value, f)
        if any(d.is_error for d in self.out):
            return self.out
        self._parents()
        self._structure()
        self._unused()
        self._assumptions()
        return self.out

    # -- completeness --------------------------------------------------------------------------
    def _completeness(self):
        seen: dict[str, Any] = {}
        for f in self.spec.factors:
            var = self.spec.variables[f.target]
            allowed = {"observed": ("likelihood",), "latent": ("prior", "posterior"),
                       "pseudo": ("prior", "posterior")}[var.kind]
            if f.kind not in allowed:
                self.error(f.span, f"{var.kind} variable {var.name} cannot have a {f.kind}",
                           hint=f"{var.kind} variables take: {', '.join(allowed)}", code="wrong-factor")
            if f.id in seen:
                self.error(f.span, f"{f.id} is defined twice", hint=f"first defined at {seen[f.id].span}",
                           code="duplicate-factor", related=[Related("first defined here", seen[f.id].span)])
            seen[f.id] = f
        for v in self.spec.variables.values():
            needed = {"observed": ("likelihood",), "latent": ("prior", "posterior"),
                      "pseudo": ("prior", "posterior")}[v.kind]
            for kind in needed:
                if f"{kind}({v.name})" not in seen:
                    self.error(v.span, f"{v.kind} variable {v.name} has no {kind}",
                               hint=f"add `{kind} {v.name} | ... = ...`", code="missing-factor")
        if not any(v.kind == "observed" for v in self.spec.variables.values()):
            # about the whole spec: point at the start of its file
            root = next(iter(self.spec.sources), None)
            self.error(ast.Span(root, 1, 1, 1, 1) if root else None, "the spec declares no observed variable",
                       hint="add e.g. `observed x : [1, 28, 28] ~ bernoulli`", code="no-data")

    # -- parents -------------------------------------------------------------------------------
    def _parents(self):
        for f in self.spec.factors:
            sources = self.deps.sources(f.id)
            declared = f.parents or ()
            covered = self.deps.covered(declared)
            missing = sorted(s for s in sources if s not in covered)
            if missing:
                if f.parents is None:
                    self.error(f.span, f"{f.id} reads {_names(missing)} but declares no parents",
                               hint=f"write `{f.kind} {f.target} | {', '.join(missing)} = ...`", code="undeclared-parent")
                else:
                    self.error(f.span, f"{f.id} reads {_names(missing)}, which its parents "
                                       f"({', '.join(declared)}) do not include",
                               hint="add them after '|', or change the expression", code="undeclared-parent")
            used = set(sources)
            for s in sources:
                if s in self.deps.pgm_features:  # a variable has no PGM ancestors to add
                    used |= self.deps.pgm_ancestors(s)
            for p, span in zip(declared, f.parent_spans):
                cover = {p} if p in self.spec.variables or p in self.deps.pgm_features else self.deps.covered([p])
                if not (cover & used):
                    self.warn(span, f"{f.id} declares {p} as a parent but never reads it", code="unused-parent")

    # -- model structure -----------------------------------------------------------------------
    def _structure(self):
        observed = self.deps.observed
        for f in self.spec.factors:
            if f.kind in ("prior", "likelihood"):
                seen = self.deps.variable_ancestors(f.id) & observed
                if f.kind == "likelihood":
                    # p(x_l | z_l, x_{l-1}): a likelihood may read *other* observed blocks (a
                    # factorization of the data); reading its own target is a cycle, reported below
                    seen -= {o for o in seen if o != f.target}
                if seen:
                    self.error(f.span, f"{f.id} reads the data ({_names(sorted(seen))}); the generative model "
                                       f"must not see its own observations", code="generative-reads-data")
        # generative graph over PGM nodes
        # edges from the data into a latent, or into its own likelihood, were just reported; they
        # would also close spurious cycles (x -> z -> x). Edges between observed blocks stay.
        p_edges = [(a, b) for a, b in self._edges(("prior", "likelihood"))
                   if not (a in observed and (b not in observed or a == b))]
        q_edges = self._edges(("posterior",))
        for model, edges in (("generative", p_edges), ("inference", q_edges)):
            cycle = find_cycle(edges)
            if cycle:
                # point at the statement of the edge that closes the cycle: the factor of cycle[0];
                # a node on the cycle may be a feature (a PGM feature), which has its own statement
                where = None
                for head in cycle:
                    kind = "posterior" if model == "inference" else "likelihood" if head in observed else "prior"
                    factor = self.deps.factor(kind, head)
                    node = factor or self.spec.variables.get(head) or self.spec.features.get(head)
                    if node is not None:
                        where = node.span
                        break
                self.error(where, f"the {model} model has a cycle: " + " -> ".join(cycle + [cycle[0]]), code="cycle")
        # every latent reaches the data in p
        reaches_data = _reaching(observed, ((b, a) for a, b in p_edges))
        for v in self.spec.variables.values():
            if v.kind == "observed":
                continue
            if v.name not in reaches_data:
                self.error(v.span, f"{v.name} has no path to the data: no likelihood or prior reads it, directly "
                                   f"or through other variables", code="no-path-to-data")
        # every posterior sees the data (through earlier posteriors, too)
        sees_data = _reaching(observed, q_edges)
        for v in self.spec.variables.values():
            if v.kind == "observed" or self.deps.factor("posterior", v.name) is None:
                continue
            if v.name not in sees_data:
                f = self.deps.factor("posterior", v.name)
                self.error(f.span, f"posterior({v.name}) never sees the data: neither it nor any posterior it "
                                   f"reads depends on {_names(sorted(observed))}", code="posterior-blind")

    def _edges(self, kinds) -> list[tuple[str, str]]:
        edges = []
        for f in self.spec.factors:
            if f.kind in kinds:
                for s in self.deps.sources(f.id):
                    edges.append((s, f.target))
        for feat in self.deps.pgm_features:
            for s in self.deps.sources(feat):
                edges.append((s, feat))
        return edges

    def _unused(self):
        from .depends import direct_reads
        roots = [f.id for f in self.spec.factors]
        # function-style references (e.g. a VampPrior's encoder) keep their whole subgraph alive
        roots += [r.factor_id for f in self.spec.factors for r in direct_reads(f.value, functions=True)
                  if isinstance(r, FactorRefValue)]
        read: set[str] = set()
        stack = roots
        while stack:
            item = stack.pop()
            for key in self.deps.read_nodes(item):
                if key not in read:
                    read.add(key)
                    stack.append(key)
        reported = set()
        for name, feat in self.spec.features.items():
            if name not in read and feat.origin.statement not in reported:
                unused = [n for n, g in self.spec.features.items() if g.origin.statement == feat.origin.statement
                          and n not in read]
                reported.add(feat.origin.statement)
                self.warn(feat.span, f"feature {_names(unused)} is computed but never used", code="unused-feature")

    def _assumptions(self):
        for a in self.spec.assumptions:
            if a.sufficient:
                for n in a.left:
                    if n not in self.spec.features and n.rsplit(".", 1)[0] not in self.spec.features:
                        self.error(a.span, f"`assume ... sufficient` names features (a state, an attention context) "
                                           f"whose value a posterior reads; {n} is not a feature",
                                   code="bad-assumption")
                continue
            for n in a.left + a.right:
                v = self.spec.variables.get(n)
                if v is None or v.kind == "observed":
                    self.error(a.span, f"an assumption relates latent variables; {n} is "
                                       f"{'observed' if v else 'not a random variable'}", code="bad-assumption")
            for n in a.given:
                if n not in self.spec.variables and n not in self.spec.features:
                    self.error(a.span, f"'{n}' in the given-clause is not a variable or feature", code="bad-assumption")


def _names(names) -> str:
    names = list(names)
    if len(names) > 6:
        return ", ".join(names[:5]) + f" and {len(names) - 5} more"
    return ", ".join(names)


def find_cycle(edges) -> Optional[list[str]]:
    """A cycle of the directed graph with these `(a, b)` edges, as the list of its nodes, or None.

    Plain dicts and one depth-first search: the checker and :func:`compiler.validate.validate_graph`
    run it on every PGM, whose edges number L^2 / 2 when priors read every earlier layer.
    """
    graph: dict[str, list[str]] = {}
    for a, b in edges:
        graph.setdefault(a, []).append(b)
    state: dict[str, int] = {}
    for root in list(graph):
        if state.get(root):
            continue
        stack = [(root, iter(graph.get(root, ())))]
        path = [root]
        state[root] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
                path.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt):]
            elif not state.get(nxt):
                state[nxt] = 1
                stack.append((nxt, iter(graph.get(nxt, ()))))
                path.append(nxt)
    return None


def _reaching(starts, edges) -> set[str]:
    """The nodes reached from `starts` along one or more `edges` (pairs a -> b): one search for
    all nodes at once, where a search per variable was quadratic in the depth of the hierarchy."""
    adjacency: dict[str, list[str]] = {}
    for a, b in edges:
        adjacency.setdefault(a, []).append(b)
    reached: set[str] = set()
    stack = list(starts)
    while stack:
        for m in adjacency.get(stack.pop(), ()):
            if m not in reached:
                reached.add(m)
                stack.append(m)
    return reached
