"""The intermediate representation: a :class:`ModelGraph` around one networkx DiGraph.

Nodes are of two sorts, each carrying one typed record in the ``info`` attribute:

* :class:`VarInfo` -- random variables: observed data, latents, pseudo-inputs;
* :class:`OpInfo` -- computations: a block application (``feature``), a channel-group slice
  (``slice``), or a distribution (``factor`` for a prior/posterior/likelihood statement, ``dist``
  for a distribution nested inside a combinator).

Node ids are the spec's names: ``x``, ``z[3]``, ``h[17]``, ``d[4].key``, ``prior(z[3])``. An
anonymous sub-expression is named by its path from the statement that contains it, e.g.
``prior(z[3])/params`` for the network computing the prior's parameters.

Edges carry two facts:

* ``data`` (bool): values flow along it at run time; ``models`` says in which model the target
  is computed -- ``{"q"}`` inference only, ``{"p"}`` generative only, ``{"p", "q"}`` shared;
* ``pgm`` (frozenset of "p"/"q"): it is an edge of the generative or inference probabilistic
  graphical model, between random variables and PGM features (see :mod:`dsl.depends`).

The generative and inference PGMs and the dataflow graph are frozen subgraphs of that one graph,
derived on first use.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Optional, Union

import networkx as nx

from dsl import library as lib
from dsl.check import ShapeTable
from dsl.depends import Dependencies
from dsl.errors import Diagnostic
from dsl.values import (Apply, Combine, ConcreteSpec, Const, Dist, FactorRefValue, ListValue, NodeRef, Symbol,
                        Value)

from .nodes import FunctionRef, Input, OpInfo, VarInfo
from .plan import plans

__all__ = ["VarInfo", "OpInfo", "FunctionRef", "ModelGraph", "build_graph", "Input"]


@dataclass(frozen=True)
class ModelGraph:
    """The compiled IR of one spec.

    Attributes:
        name, description, paper, dataset: from the spec header (name = file stem).
        graph: the frozen DiGraph (see module docstring).
        spec: the elaborated spec it was built from.
        infer_plan: node ids in execution order for the inference pass (x given, latents sampled
            from their posteriors, then every prior and the likelihood scored).
        generate_plan: node ids in execution order for ancestral sampling.
        latent_order: latents and pseudo-inputs in the order the inference pass samples them.
        warnings: lint diagnostics.
    """

    name: str
    description: str
    paper: str
    dataset: str
    graph: nx.DiGraph
    spec: ConcreteSpec = field(repr=False)
    infer_plan: tuple[str, ...] = ()
    generate_plan: tuple[str, ...] = ()
    latent_order: tuple[str, ...] = ()
    warnings: tuple[Diagnostic, ...] = ()

    # -- derived graphs ----------------------------------------------------------------------
    # Built once, on first use, as plain frozen DiGraphs: the IR never changes, and a filtered
    # view re-runs its filters on every adjacency query (checking that the generative PGM of a
    # 256-layer NVAE spec is acyclic took 1 s through a view).
    @property
    def generative(self) -> nx.DiGraph:
        """The generative PGM: random variables and PGM features, edges of p (structure only:
        the edges' facts are on :attr:`graph`)."""
        return self._pgms["p"]

    @property
    def inference(self) -> nx.DiGraph:
        """The inference PGM: random variables and PGM features, edges of q (structure only)."""
        return self._pgms["q"]

    @cached_property
    def _pgms(self) -> dict[str, nx.DiGraph]:
        g = self.graph
        nodes = [(n, d) for n, d in g.nodes(data=True) if isinstance(d["info"], VarInfo) or d.get("pgm_feature")]
        edges: dict[str, list] = {"p": [], "q": []}
        for a, b, models in g.edges(data="pgm"):
            for m in models:
                edges[m].append((a, b))
        return {m: _frozen(nodes, edges[m]) for m in ("p", "q")}

    @cached_property
    def dataflow(self) -> nx.DiGraph:
        """Every computation and variable, with the edges values flow along (and their data)."""
        g = self.graph
        return _frozen(g.nodes(data=True), [(a, b, d) for a, b, d in g.edges(data=True) if d["data"]])

    # -- queries ---------------------------------------------------------------------------
    def info(self, node: str) -> Union[VarInfo, OpInfo]:
        return self.graph.nodes[node]["info"]

    def variables(self, *kinds: str) -> list[VarInfo]:
        out = [d["info"] for _, d in self.graph.nodes(data=True) if isinstance(d["info"], VarInfo)]
        return [v for v in out if not kinds or v.kind in kinds]

    @property
    def observed(self) -> list[VarInfo]:
        return self.variables("observed")

    @property
    def latents(self) -> list[VarInfo]:
        """Latent and pseudo-input variables, in inference order."""
        return [self.info(n) for n in self.latent_order]

    def factor(self, kind: str, target: str) -> Optional[OpInfo]:
        node = f"{kind}({target})"
        return self.info(node) if node in self.graph else None

    def ops(self) -> list[OpInfo]:
        return [d["info"] for _, d in self.graph.nodes(data=True) if isinstance(d["info"], OpInfo)]

    def pgm_features(self) -> list[str]:
        return [n for n, d in self.graph.nodes(data=True) if d.get("pgm_feature")]

    def models_of(self, node: str) -> frozenset:
        return self.graph.nodes[node].get("models", frozenset())

    # -- notebook display (Jupyter calls these) ------------------------------------------------
    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        from .layout import repr_mimebundle

        return repr_mimebundle(self, include, exclude)

    def _repr_svg_(self):
        from .layout import svg

        return svg(self)


def _frozen(nodes, edges) -> nx.DiGraph:
    """A frozen DiGraph of `(node, data)` pairs and edges between them, in the order given."""
    sub = nx.DiGraph()
    sub.add_nodes_from(nodes)
    sub.add_edges_from(edges)
    return nx.freeze(sub)


# -- building --------------------------------------------------------------------------------

def build_graph(spec: ConcreteSpec, shapes: ShapeTable, warnings=()) -> ModelGraph:
    """Build the IR of a checked spec.

    Args:
        spec: an elaborated spec that passed :func:`dsl.checked` (no errors).
        shapes: the shape table the checker inferred.
        warnings: lint diagnostics to carry along.

    Returns:
        A :class:`ModelGraph` with a frozen graph and execution plans.

    Raises:
        SpecSemanticError: the inference or generative dataflow has a cycle (for example a
            posterior residual on a prior whose parents are sampled after it).

    Example:
        >>> import dsl
        >>> spec = dsl.parse_spec('''observed x : [4] ~ bernoulli
        ... latent z : [2] ~ normal
        ... prior z = normal(loc = 0, scale = 1)
        ... posterior z | x = mlp(x, hidden = [8])
        ... likelihood x | z = mlp(z, hidden = [8])''')
        >>> mg = build_graph(*dsl.checked(spec)[:2])
        >>> sorted(mg.generative.edges())
        [('z', 'x')]
    """
    builder = _Builder(spec, shapes)
    builder.build()
    g = builder.g
    infer, generate, order = plans(g, spec)
    nx.freeze(g)
    return ModelGraph(spec.name, spec.description, spec.paper, spec.dataset, g, spec, infer, generate, order,
                      tuple(warnings))


class _Builder:
    def __init__(self, spec: ConcreteSpec, shapes: ShapeTable):
        self.spec = spec
        self.shapes = shapes
        self.deps = Dependencies(spec)
        self.g = nx.DiGraph()

    def build(self):
        for v in self.spec.variables.values():
            self.g.add_node(v.name, info=VarInfo(v.name, v.kind, v.shape, v.family.family if v.family else None,
                                                 v.span, v.origin, v.array, v.index))
        for name, feat in self.spec.features.items():
            self._value(feat.value, name, feat.span, feat.origin, named=True)
        for f in self.spec.factors:
            self._value(f.value, f.id, f.span, f.origin, factor_kind=f.kind)
            model = "q" if f.kind == "posterior" else "p"
            self._edge(f.id, f.target, data=True, role="sample", sample_model=model)
        self._mark_models()
        self._pgm()

    # -- dataflow --------------------------------------------------------------------------
    def _edge(self, a: str, b: str, *, data=False, pgm=None, role="input", sample_model=None):
        if self.g.has_edge(a, b):
            e = self.g.edges[a, b]
            e["data"] = e["data"] or data
            e["pgm"] = e["pgm"] | (pgm or frozenset())
            return
        self.g.add_edge(a, b, **_edge_facts(data, pgm, role, sample_model))

    def _ref(self, ref: NodeRef) -> str:
        if ref.group is None:
            return ref.node
        key = ref.key
        if key not in self.g:
            feat = self.spec.features[ref.node]
            start = 0
            for g, w in feat.groups:
                if g == ref.group:
                    break
                start += w
            self.g.add_node(key, info=OpInfo(key, "slice", "slice", (("x", ref.node),), (), self.shapes[key],
                                             ref.span, feat.origin, named=True, role="slice",
                                             slice=(start, start + self.shapes[key][0])))
            self._edge(ref.node, key, data=True)
        return key

    def _input(self, value: Value, node_id: str, origin) -> Input:
        if isinstance(value, NodeRef):
            return self._ref(value)
        if isinstance(value, FactorRefValue):
            return value.factor_id
        if isinstance(value, ListValue):
            return tuple(self._input(v, f"{node_id}/{i}", origin) for i, v in enumerate(value.items))
        return self._value(value, node_id, value.span, origin)

    def _value(self, value: Value, node_id: str, span, origin, *, named=False, factor_kind=None) -> str:
        if isinstance(value, NodeRef):  # a feature defined as another node, e.g. `feature a = b`
            src = self._ref(value)
            shape = self.shapes[value.key]
            self.g.add_node(node_id, info=OpInfo(node_id, "feature", "identity", (("x", src),), (), shape, span,
                                                 origin, named=named, role="feature"))
            self._edge(src, node_id, data=True)
            return node_id
        if isinstance(value, Apply):
            sig = lib.lookup(value.block, "block")
            kind, op, shape, role, target = "feature", value.block, None, sig.role, None
        elif isinstance(value, Dist):
            sig = lib.lookup(value.family, "family")
            kind, op, role, target = ("factor" if factor_kind else "dist"), value.family, "distribution", value.target
            shape = self.spec.variables[value.target].shape
        elif isinstance(value, Combine):
            sig = lib.lookup(value.combinator, "combinator")
            kind, op, role, target = ("factor" if factor_kind else "dist"), value.combinator, "distribution", value.target
            shape = self.spec.variables[value.target].shape
        else:
            raise TypeError(f"cannot lower {type(value).__name__} at {node_id}")  # checked specs never get here
        inputs, params = [], []
        for pname, arg in value.args:
            p = sig.param(pname)
            if p.kind == "factor":
                params.append((pname, FunctionRef(arg.factor_id)))
            elif p.tensor_valued and not isinstance(arg, Const):
                inputs.append((pname, self._input(arg, f"{node_id}/{pname}", origin)))
            elif p.tensor_valued and arg.value is None:
                continue  # an optional tensor argument that was left out
            elif isinstance(arg, Symbol):
                params.append((pname, (arg.name, arg.args) if arg.args else arg.name))
            else:
                params.append((pname, arg.value if isinstance(arg, Const) else arg))
        if shape is None:
            shape = self._apply_shape(sig, dict(inputs), dict(params))
        info = OpInfo(node_id, kind, op, tuple(inputs), tuple(params), shape, span, origin, target, factor_kind,
                      named, role)
        self.g.add_node(node_id, info=info)
        for _, inp in inputs:
            for src in _flatten(inp):
                self._edge(src, node_id, data=True)
        return node_id

    def _apply_shape(self, sig, inputs: dict, params: dict):
        """Shape of a block from its (already lowered) inputs; the checker accepted it before."""
        def shape_of(inp):
            if isinstance(inp, tuple):
                return [shape_of(x) for x in inp]
            if inp in self.shapes:  # variables, named features and their groups
                return self.shapes[inp]
            return self.g.nodes[inp]["info"].shape  # anonymous nodes, built before their consumer
        shapes = {k: shape_of(v) for k, v in inputs.items()}
        return tuple(sig.shape_rule(lib.ShapeArgs(sig.name, shapes, params)))

    def _mark_models(self):
        """A node belongs to model m if a factor of m reads it: one backward search over data
        edges from all of m's factors at once (linear in the graph, where a search per factor
        was quadratic in the depth of a top-down hierarchy)."""
        g = self.g
        reached = {}
        for model in ("p", "q"):
            stack = [f.id for f in self.spec.factors if ("q" if f.kind == "posterior" else "p") == model]
            seen = set(stack)
            while stack:
                n = stack.pop()
                if isinstance(g.nodes[n]["info"], VarInfo):
                    continue  # a variable's value comes from its own factors
                for pred in g.predecessors(n):
                    if pred not in seen and g.edges[pred, n]["data"]:
                        seen.add(pred)
                        stack.append(pred)
            reached[model] = seen
        for n in g.nodes:
            g.nodes[n]["models"] = frozenset(m for m in ("p", "q") if n in reached[m])
        for a, b, d in g.edges(data=True):
            d["models"] = frozenset({d["sample_model"]}) if d["sample_model"] else g.nodes[b]["models"]

    # -- PGM ---------------------------------------------------------------------------------
    def _pgm(self):
        """Mark the PGM edges: collected first, then merged into the dataflow edges they share
        and added at once (a spec whose priors read every earlier layer has L^2 / 2 of them)."""
        pgm: dict[tuple[str, str], set[str]] = {}
        for feat in self.deps.pgm_features:
            self.g.nodes[feat]["pgm_feature"] = True
            for s in self.deps.sources(feat):
                pgm.setdefault((s, feat), set()).update(("p", "q"))
        for f in self.spec.factors:
            model = "q" if f.kind == "posterior" else "p"
            for s in self.deps.sources(f.id):
                pgm.setdefault((s, f.target), set()).add(model)
        new = []
        for (a, b), models in pgm.items():
            data = self.g.get_edge_data(a, b)
            if data is not None:
                data["pgm"] = data["pgm"] | models
            else:
                new.append((a, b, _edge_facts(pgm=models)))
        self.g.add_edges_from(new)


def _edge_facts(data=False, pgm=None, role="input", sample_model=None) -> dict[str, Any]:
    """The attributes of a new edge (``models`` is filled in by :meth:`_Builder._mark_models`)."""
    return {"data": data, "pgm": frozenset(pgm or ()), "role": role, "sample_model": sample_model,
            "models": frozenset()}


def _flatten(inp: Input):
    if isinstance(inp, tuple):
        for x in inp:
            yield from _flatten(x)
    else:
        yield inp
