"""Graph primitives of the factorization check: closure, active paths, witnesses, repairs.

Everything here works on a plain :class:`networkx.DiGraph` (the generative PGM, see
:mod:`compiler.dsep`) and on sets of node names, so that the property tests can call it on random
graphs without building a spec.

* :func:`closure` -- D-separation's rule for deterministic nodes: a deterministic node is
  observed when all of its parents are, iterated to a fixed point.
* :func:`active_reach` -- a breadth-first search over (node, direction) states that finds every
  node d-connected to a source given a conditioning set, and keeps predecessors so that
  :func:`witness_path` can return one *simple* active path to any of them.
* :func:`is_active_path` -- checks one path against the rules (used to verify witnesses).
* :func:`minimal_repair` -- the smallest set of parents to add to a factor, computed with
  :func:`networkx.find_minimal_d_separator` on the graph with one auxiliary sink.
"""
from __future__ import annotations

from collections import deque
from typing import Iterable, Mapping, Optional

import networkx as nx

__all__ = ["closure", "ClosureBase", "ancestors_of", "active_reach", "witness_path", "is_active_path", "arrows",
           "minimal_repair", "is_separated", "SINK"]

SINK = "\x00sink"  # the auxiliary node of minimal_repair; no spec name can contain a NUL


def closure(graph: nx.DiGraph, given: Iterable[str], deterministic: frozenset,
            inverses: Optional[Mapping] = None, base: Optional["ClosureBase"] = None) -> frozenset:
    """The conditioning set closed under functional determination.

    Forward rule: a deterministic node belongs to the closure when all of its parents do (a node
    with no parents is a constant and always does). Backward rule: a deterministic node d with an
    inverse rule (n, R) -- d's block is invertible in the argument n once R is known -- puts n in
    the closure when d and R are in it. Both are iterated to a fixed point; random nodes enter only
    through `given` or the backward rule (docs/factorization.md, "Invertible features", proves the
    closure sound).

    Args:
        graph: the generative DAG.
        given: the observed and conditioned nodes.
        deterministic: the deterministic nodes of `graph`.
        inverses: the backward rules, d -> ((n, R), ...) (:attr:`compiler.dsep_problem.Problem.inverses`).
        base: a :class:`ClosureBase` of the same graph and rules (the closure of the observations,
            which every conditioning set of the check contains): the search starts from its state.

    Returns:
        `given` plus every node it determines.
    """
    if base is None:
        base = ClosureBase(graph, (), deterministic, inverses)
    out, waiting, watch = set(base.out), dict(base.waiting), base.watch
    queue: deque = deque()  # nodes added to the closure whose consequences are still to be drawn
    _add_all(graph, (n for n in given if n not in out), out, waiting, watch, queue)
    return frozenset(out)


class ClosureBase:
    """The closure of `given` with the bookkeeping to extend it: the state :func:`closure` resumes."""

    def __init__(self, graph: nx.DiGraph, given: Iterable[str], deterministic: frozenset,
                 inverses: Optional[Mapping] = None):
        self.watch: dict = {}  # node -> the backward rules it takes part in
        for d, rules in (inverses or {}).items():
            for rule in rules:
                for m in (d, *rule[1]):
                    self.watch.setdefault(m, []).append((d, rule))
        self.waiting = {d: len(graph.pred[d]) for d in deterministic}  # parents not yet in the closure
        self.out: set = set()
        start = list(given) + [d for d, k in self.waiting.items() if k == 0]
        _add_all(graph, start, self.out, self.waiting, self.watch, deque())
        self.out = frozenset(self.out)


def _add_all(graph, nodes, out: set, waiting: dict, watch: dict, queue: deque) -> None:
    def add(n):
        if n not in out:
            out.add(n)
            waiting.pop(n, None)
            queue.append(n)

    for n in nodes:
        add(n)
    children = graph._succ
    while queue:
        n = queue.popleft()
        for c in children[n]:
            if c in waiting:
                waiting[c] -= 1
                if waiting[c] == 0:
                    add(c)
        for d, (m, need) in watch.get(n, ()):
            if m not in out and d in out and need <= out:
                add(m)


def ancestors_of(graph: nx.DiGraph, nodes: Iterable[str], known: frozenset = frozenset()) -> set:
    """`nodes` and all their ancestors (a collider is open iff it is in this set of the conditioning set).

    `known` is an optional set closed under taking parents (the ancestors of the observations, say)
    that the result contains anyway; the search does not enter it again.
    """
    out = set(known)
    stack = [n for n in nodes if n not in out]
    out.update(stack)
    parents = graph._pred
    while stack:
        n = stack.pop()
        for p in parents[n]:
            if p not in out:
                out.add(p)
                stack.append(p)
    return out


# A search state is (node, down): `down` is True when the path arrived along an edge that points
# into the node (from a parent), False when it arrived from a child.
State = tuple


def active_reach(graph: nx.DiGraph, source: str, given: frozenset, open_colliders: set,
                 stop: Optional[set] = None, any_stop: bool = False) -> dict:
    """Every state reachable from `source` along active paths given `given`.

    Rules at an interior node n: a chain or fork is active iff n is not conditioned on; a collider
    (both edges point into n) is active iff n is in `open_colliders` (the conditioning set and its
    ancestors).

    Args:
        graph: the generative DAG.
        source: the start node (never conditioned on).
        given: the (closed) conditioning set.
        open_colliders: ``ancestors_of(graph, given)``.
        stop: optional nodes at which the search ends early once all of them are reached.
        any_stop: end as soon as one node of `stop` is reached instead.

    Returns:
        A dict from each reached state to its predecessor state (the start states map to None).
        A node is d-connected to `source` iff some state of it is a key.
    """
    pred: dict[State, Optional[State]] = {}
    queue: deque = deque()
    children, parents = graph._succ, graph._pred  # the adjacency dicts: no view object per step
    for m in parents[source]:
        st = (m, False)
        if st not in pred:
            pred[st] = None
            queue.append(st)
    for m in children[source]:
        st = (m, True)
        if st not in pred:
            pred[st] = None
            queue.append(st)
    remaining = set(stop) if stop else None
    if remaining is not None and any_stop and any(n in remaining for n, _ in pred):
        return pred
    popleft, push = queue.popleft, queue.append
    while queue:
        state = popleft()
        n, down = state
        if remaining is not None and n in remaining:
            remaining.discard(n)
            if any_stop or not remaining:
                break
        if n == source:
            continue
        conditioned = n in given
        if not conditioned:  # chains and forks pass on to the children
            for m in children[n]:
                st = (m, True)
                if st not in pred:
                    pred[st] = state
                    push(st)
        if (down and n in open_colliders) or (not down and not conditioned):
            for m in parents[n]:  # collider (arrived down) or chain going up
                st = (m, False)
                if st not in pred:
                    pred[st] = state
                    push(st)
    return pred


def witness_path(pred: dict, source: str, target: str) -> list:
    """One simple active path from `source` to `target` out of :func:`active_reach`'s result.

    The predecessor chain is a shortest active *walk*; cutting out every loop (keeping the first
    visit of a repeated node) leaves a simple path that is still active: a loop can only return to
    a node n that the walk left through a non-collider or through an open collider, and the shortcut
    joins the first arrival to the last departure, which is again one of these (see
    docs/factorization.md, "Witness paths").
    """
    state = (target, True) if (target, True) in pred else (target, False)
    if state not in pred:
        raise KeyError(f"{target} is not d-connected to {source}")
    walk = []
    while state is not None:
        walk.append(state[0])
        state = pred[state]
    walk.append(source)
    walk.reverse()
    path: list = []
    position: dict = {}
    for n in walk:
        if n in position:  # a loop: drop it
            cut = position[n]
            for m in path[cut + 1:]:
                del position[m]
            del path[cut + 1:]
        else:
            position[n] = len(path)
            path.append(n)
    return path


def is_active_path(graph: nx.DiGraph, path: list, given: frozenset, open_colliders: set) -> bool:
    """Whether `path` (a list of nodes, consecutive ones adjacent) is a simple active path."""
    if len(set(path)) != len(path):
        return False
    for a, b in zip(path, path[1:]):
        if not (graph.has_edge(a, b) or graph.has_edge(b, a)):
            return False
    for a, n, b in zip(path, path[1:], path[2:]):
        collider = graph.has_edge(a, n) and graph.has_edge(b, n)
        if collider and n not in open_colliders:
            return False
        if not collider and n in given:
            return False
    return True


def arrows(graph: nx.DiGraph, path: list) -> str:
    """`eps[3] -> z[3] -> x <- z[1] <- eps[1]`."""
    out = [str(path[0])]
    for a, b in zip(path, path[1:]):
        out.append("->" if graph.has_edge(a, b) else "<-")
        out.append(str(b))
    return " ".join(out)


def is_separated(graph: nx.DiGraph, source: str, others: Iterable[str], given: frozenset,
                 known: frozenset = frozenset()) -> bool:
    """Whether `source` is d-separated from `others` given `given`.

    One breadth-first search of :func:`active_reach` that stops at the first member of `others` it
    reaches (networkx's ``is_d_separator`` answers the same but builds set views at every step and
    was 10x slower on the benchmark's deterministic shapes). The property tests check it against a
    brute-force path enumeration. `known`: see :func:`ancestors_of` (a subset of `given`'s ancestors).
    """
    others = set(others)
    if not others:
        return True
    pred = active_reach(graph, source, given, ancestors_of(graph, given, known), stop=others, any_stop=True)
    return not any((u, True) in pred or (u, False) in pred for u in others)


def _essential(graph: nx.DiGraph, source: str, added: set, given: frozenset, full: frozenset,
               deterministic: frozenset, inverses: Optional[Mapping], known: frozenset = frozenset()) -> set:
    """Members u of a repair that provably cannot be dropped, found with one search for all of them.

    Let Z_u be the closure of ``given | added - {u}``: a subset of `full` (the closure is monotone)
    that contains `given`. u is outside Z_u unless a backward rule (d, (u, R)) can fire without u --
    d is in `given`, or some rule recovers d, or d does not read u; otherwise d needs u itself. For
    such a u, it is enough to find one walk from `source` to u that is active given Z_u: u then stays
    d-connected once dropped. One search from `source` with `full` conditioned and the ancestors of
    `given` as the open colliders reaches states whose walks are active given every Z_u. A walk
    proves u essential when it reaches u, or reaches a deterministic child m of u that is outside
    Z_u (m is not in `given`, no rule recovers it, so it needs u) and can step on to u: arriving at
    m from a child (a chain through the unconditioned m), or from a parent with m an open collider.
    """
    produced = {n for rules in (inverses or {}).values() for n, _ in rules}
    maybe_recovered = set()
    for d, rules in (inverses or {}).items():
        if d not in full:
            continue
        for n, need in rules:
            if n in added and need <= full and (d in given or d in produced or n not in graph.pred[d]):
                maybe_recovered.add(n)
    opened = ancestors_of(graph, given, known)
    pred = active_reach(graph, source, full, opened)
    out = set()
    for u in added:
        if u in maybe_recovered:
            continue
        if (u, True) in pred or (u, False) in pred:
            out.add(u)
            continue
        for m in graph.succ[u]:
            if m in deterministic and m not in given and m not in produced and \
                    ((m, False) in pred or ((m, True) in pred and m in opened)):
                out.add(u)
                break
    return out


def minimal_repair(graph: nx.DiGraph, source: str, missing: Iterable[str], given: frozenset,
                   deterministic: frozenset, inverses: Optional[Mapping] = None, base: Optional[ClosureBase] = None,
                   known: frozenset = frozenset()) -> frozenset:
    """The smallest set A of `missing` such that `source` is D-separated from missing - A given A.

    With an auxiliary sink y that is a child of every node in `missing`, `source` is d-separated
    from ``missing - A`` given ``given | A`` exactly when it is d-separated from y given the same
    set (the last step of an active path into ``missing - A`` extends by the edge u -> y, u being a
    non-collider that is not conditioned on). So the repair is the minimal d-separator between
    `source` and y with ``given`` included and only ``given | missing`` allowed, which
    :func:`networkx.find_minimal_d_separator` finds in linear time. Without deterministic nodes
    this set is the unique minimum (docs/factorization.md, "Repairs"). With them, conditioning on
    A may determine further nodes, and only then can a member become redundant: when the closure of
    ``given | A`` is ``given | A`` itself, the closure of any subset is that subset (the closure is
    monotone) and networkx's minimality is the answer. Otherwise each member is dropped again if the
    rest still separates, which leaves an inclusion-minimal set.

    Args:
        graph: the generative DAG; it must be mutable (a copy), the sink is added and removed.
        source: the latent of the factor.
        missing: the earlier latents the factor does not condition on.
        given: the closed conditioning set of the factor.
        deterministic: the deterministic nodes (for the closure of the repaired set).
        inverses: the backward rules of the closure.
        base, known: the closure and the ancestors of the observations, to resume from (optional).

    Returns:
        The parents to add.
    """
    missing = set(missing)
    if not missing:
        return frozenset()
    added, from_networkx, essential = None, False, None
    if deterministic:  # first try all of `missing`, which is valid, and prove most members essential at once
        added = set(missing)
        full = closure(graph, set(given) | added, deterministic, inverses, base)
        essential = _essential(graph, source, added, given, full, deterministic, inverses, known)
        if len(added - essential) > 8:
            added = essential = None  # many candidates to drop: let networkx find a minimal separator first
    if added is None:
        graph.add_node(SINK)
        graph.add_edges_from((u, SINK) for u in missing)
        try:
            sep = nx.find_minimal_d_separator(graph, {source}, {SINK}, included=set(given),
                                              restricted=set(given) | missing)
        finally:
            graph.remove_node(SINK)
        if sep is None:  # cannot happen: given | missing always separates; keep the safe answer
            return frozenset(missing)
        added, from_networkx = set(sep) - set(given), True
    if not deterministic:
        return frozenset(added)
    while True:  # drop members the rest makes redundant, one at a time, until none is
        if essential is None:
            full = closure(graph, set(given) | added, deterministic, inverses, base)
            if from_networkx and len(full) == len(given) + len(added):
                break  # the closure adds nothing, so networkx's minimality is the answer (see above)
            essential = _essential(graph, source, added, given, full, deterministic, inverses, known)
        changed = False
        for u in sorted(added - essential):
            rest = added - {u}
            z = closure(graph, set(given) | rest, deterministic, inverses, base)
            if u in z:  # the rest determines u: same closure, same separation, same proofs
                added = rest
                continue
            if is_separated(graph, source, missing - z, z, known):
                added, essential, changed = rest, None, True
                break  # the closure changed: recompute which members are essential
        if not changed:
            break
    return frozenset(added)
