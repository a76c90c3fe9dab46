"""An independent brute-force oracle for D-separation, for the property tests.

It shares no code with :mod:`compiler.dsep_paths`: the closure is a naive fixed-point loop over the
functional dependencies a problem states (a deterministic node is a function of its parents;
an inverse rule (n, R) of d says n is a function of d and R) that derives every dependency it
can until none is new, and
d-connection is decided by enumerating every simple path of the undirected skeleton and testing
each interior node with the textbook rules (a collider is open iff it or one of its descendants is
conditioned on; any other node blocks iff it is conditioned on). Exponential, so only for graphs
of a handful of nodes.
"""
from __future__ import annotations

import itertools

import networkx as nx


def dependencies(graph: nx.DiGraph, deterministic, inverses=None) -> list:
    """Every stated functional dependency as (frozenset of determinants, determined node)."""
    out = [(frozenset(graph.predecessors(d)), d) for d in deterministic]
    for d, rules in (inverses or {}).items():
        for n, need in rules:
            out.append((frozenset(need) | {d}, n))
    return out


def closure(graph: nx.DiGraph, given, deterministic, inverses=None) -> set:
    out = set(given)
    fds = dependencies(graph, deterministic, inverses)
    changed = True
    while changed:
        changed = False
        for lhs, rhs in fds:
            if rhs not in out and lhs <= out:
                out.add(rhs)
                changed = True
    return out


def path_is_active(graph: nx.DiGraph, path, given) -> bool:
    for a, n, b in zip(path, path[1:], path[2:]):
        if graph.has_edge(a, n) and graph.has_edge(b, n):
            if n not in given and not (nx.descendants(graph, n) & given):
                return False
        elif n in given:
            return False
    return True


def active_paths(graph: nx.DiGraph, source, target, given):
    skeleton = graph.to_undirected(as_view=True)
    for path in nx.all_simple_paths(skeleton, source, target):
        if path_is_active(graph, path, given):
            yield path


def connected(graph, source, target, given) -> bool:
    return next(active_paths(graph, source, target, given), None) is not None


def summarised(problem, s) -> set:
    """The non-observed random variables s is computed from: every random node that reaches s by a
    directed path whose interior is deterministic (enumerated path by path)."""
    out = set()
    for r in problem.graph.nodes:
        if r in problem.deterministic or r in problem.observed or r == s:
            continue
        for path in nx.all_simple_paths(problem.graph, r, s):
            if all(m in problem.deterministic for m in path[1:-1]):
                out.add(r)
                break
    return out


def left_out(problem, v):
    i = problem.order.index(v)
    return [u for u in problem.order[:i] if u not in problem.parents[v]]


def missing(problem, v, extra=(), sufficient=()):
    """The left-out latents d-connected to v given its parents, `extra` and the observations (those
    they determine are read, not left out); `sufficient` summaries determine all their parents."""
    inverses = dict(problem.inverses)
    for s in sufficient:
        inverses[s] = tuple(inverses.get(s, ())) + tuple((r, frozenset()) for r in summarised(problem, s))
    given = closure(problem.graph, set(problem.parents[v]) | set(extra) | set(problem.observed),
                    problem.deterministic, inverses)
    rest = [u for u in left_out(problem, v) if u not in extra and u not in given]
    return [u for u in rest if connected(problem.graph, v, u, given)]


def valid_repairs(problem, v):
    """Every subset A of the left-out latents after whose addition the factor is faithful."""
    out = left_out(problem, v)
    for k in range(len(out) + 1):
        for subset in itertools.combinations(out, k):
            if not missing(problem, v, subset):
                yield frozenset(subset)
