"""The factorization problem: the generative PGM and the inference model, as plain sets.

:func:`problem_from_graph` extracts from a :class:`compiler.graph.ModelGraph` what the check
needs -- the generative DAG over random variables and deterministic PGM features, which nodes are
deterministic and which observed, the inference order and each latent's inference parents, and
where each factor and assumption was written -- so that :mod:`compiler.dsep` never touches the
IR's views again (they filter every edge on each access) and the property tests can pose the same
problem on random graphs with :func:`problem_from_edges`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping, Optional

import networkx as nx

from .nodes import natural

__all__ = ["Problem", "AssumptionSpec", "RangeKey", "problem_from_graph", "problem_from_edges"]


@dataclass(frozen=True)
class RangeKey:
    """The statement a factor was expanded from: its position in the spec, binder and range."""

    statement: int
    binder: Optional[str] = None
    low: Optional[int] = None
    high: Optional[int] = None
    text: str = ""  # e.g. "posterior z[l in 2..16]"


@dataclass(frozen=True)
class AssumptionSpec:
    """One elaborated `assume LEFT independent of RIGHT given GIVEN` (a range gives one per index)."""

    left: frozenset
    right: frozenset
    given: frozenset  # expanded to PGM nodes (evidence features become the data they summarise)
    reason: Optional[str]
    location: str  # "path:line:col" of the statement
    line: Optional[int]
    text: str  # the statement as the user wrote it (first line)
    span: object = field(default=None, compare=False)  # dsl.ast.Span, for diagnostics
    sufficient: bool = False  # `assume LEFT sufficient`: the summaries LEFT are sufficient for their inputs


@dataclass
class Problem:
    """What the factorization check reads.

    Attributes:
        name: the model's name.
        graph: the generative DAG over random variables and deterministic nodes (a mutable copy).
        deterministic: its deterministic nodes (PGM features).
        observed: its observed random variables.
        order: the inference order of the latents (latent and pseudo variables).
        parents: each latent's inference parents (random variables and deterministic nodes).
        location, line: where each latent's posterior statement is ("path:line:col", line).
        ranges: the statement each posterior was expanded from.
        index: each latent's index in its array (None for scalars).
        assumptions: the spec's assumptions, one per elaborated index.
        warnings: spec warnings carried along for `zoo check`.
        summaries: the deterministic nodes computed with generative parameters that a posterior
            reads (:mod:`compiler.dsep_features`); a factor may rest on their sufficiency.
        inverses: the backward rules of deterministic nodes: d -> ((n, R), ...), meaning that d and
            the nodes R determine n (an argument d's block is invertible in).
    """

    name: str
    graph: nx.DiGraph
    deterministic: frozenset
    observed: frozenset
    order: tuple
    parents: dict
    location: dict = field(default_factory=dict)
    line: dict = field(default_factory=dict)
    ranges: dict = field(default_factory=dict)
    index: dict = field(default_factory=dict)
    assumptions: tuple = ()
    warnings: tuple = ()
    sources: dict = field(default_factory=dict)  # path -> text, to quote lines in diagnostics
    summaries: frozenset = frozenset()
    inverses: dict = field(default_factory=dict)
    cache: dict = field(default_factory=dict, repr=False, compare=False)  # derived data, e.g. random sources

    @property
    def latents(self) -> frozenset:
        return frozenset(self.order)

    def random(self, node: str) -> bool:
        return node not in self.deterministic


def _location(span) -> tuple[str, Optional[int]]:
    if span is None:
        return "", None
    return f"{span.path}:{span.line}:{span.column}", span.line


def _statement_text(mg, span) -> str:
    source = mg.spec.sources.get(span.path) if span is not None else None
    if not source:
        return ""
    lines = source.splitlines()
    return lines[span.line - 1].strip() if 0 < span.line <= len(lines) else ""


def problem_from_graph(mg, *, summaries: bool = True) -> Problem:
    """The factorization problem of a compiled spec.

    Args:
        mg: a :class:`compiler.graph.ModelGraph`.
        summaries: make the generative features a posterior reads nodes of the graph
            (:mod:`compiler.dsep_features`); False gives the PGM over the statements' parents that the
            diagrams draw, which the check must not decide on.

    Returns:
        A :class:`Problem` whose graph is a fresh mutable DiGraph (the IR stays frozen).
    """
    from dsl.depends import Dependencies

    from .dsep_features import generative_structure

    structure = generative_structure(mg, summaries=summaries)
    graph = nx.DiGraph()
    graph.add_nodes_from(v.name for v in mg.variables())
    # in a fixed order (not the hash order of sets), so that searches, witnesses and repairs are the
    # same in every process
    graph.add_nodes_from(sorted(structure.deterministic, key=natural))
    graph.add_edges_from((p, n) for n in sorted(structure.parents, key=natural)
                         for p in sorted(structure.parents[n], key=natural))
    inference_parents = structure.inference_parents
    deterministic = structure.deterministic
    observed = frozenset(v.name for v in mg.variables("observed"))
    location, line, ranges, index = {}, {}, {}, {}
    for v in mg.latent_order:
        info = mg.info(v)
        index[v] = info.index
        factor = mg.factor("posterior", v)
        span = factor.span if factor is not None else info.span
        location[v], line[v] = _location(span)
        origin = factor.origin if factor is not None else None
        if origin is not None:
            if origin.binder:
                text = f"posterior {origin.array}[{origin.binder} in {origin.low}..{origin.high}]"
            elif origin.low is not None and origin.high is not None and origin.low != origin.high:
                text = f"posterior {origin.array}[{origin.low}..{origin.high}]"
            else:
                text = f"posterior {v}"
            ranges[v] = RangeKey(origin.statement, origin.binder, origin.low, origin.high, text)
    deps = None
    assumptions = []
    for a in mg.spec.assumptions:
        given = set()
        for n in a.given:
            if n in graph:
                given.add(n)
            else:  # an evidence feature: conditioning on it is conditioning on what it reads
                deps = deps or Dependencies(mg.spec)
                given |= {s for s in deps.sources(n) if s in graph}
        loc, ln = _location(a.span)
        assumptions.append(AssumptionSpec(frozenset(a.left), frozenset(a.right), frozenset(given), a.reason, loc, ln,
                                          _statement_text(mg, a.span), a.span, a.sufficient))
    return Problem(mg.name, graph, deterministic, observed, tuple(mg.latent_order),
                   {v: frozenset(p) for v, p in inference_parents.items()}, location, line, ranges, index,
                   tuple(assumptions), tuple(mg.warnings), dict(mg.spec.sources),
                   structure.summaries, structure.inverses)


def problem_from_edges(edges: Iterable[tuple], *, order: Iterable[str], parents: Mapping[str, Iterable[str]],
                       observed: Iterable[str] = (), deterministic: Iterable[str] = (), nodes: Iterable[str] = (),
                       assumptions: Iterable[AssumptionSpec] = (), name: str = "graph",
                       summaries: Iterable[str] = (), inverses: Optional[Mapping] = None) -> Problem:
    """A problem from a generative edge list (for tests and benchmarks).

    Example:
        >>> p = problem_from_edges([("z1", "z2"), ("z2", "x")], order=["z1", "z2"],
        ...                        parents={"z1": ["x"], "z2": ["z1", "x"]}, observed=["x"])
        >>> sorted(p.graph.edges())
        [('z1', 'z2'), ('z2', 'x')]
    """
    graph = nx.DiGraph()
    graph.add_nodes_from(nodes)
    graph.add_edges_from(edges)
    order = tuple(order)
    graph.add_nodes_from(order)
    graph.add_nodes_from(observed)
    return Problem(name, graph, frozenset(deterministic), frozenset(observed), order,
                   {v: frozenset(parents.get(v, ())) for v in order}, assumptions=tuple(assumptions),
                   summaries=frozenset(summaries),
                   inverses={d: tuple((n, frozenset(r)) for n, r in rules) for d, rules in (inverses or {}).items()})
