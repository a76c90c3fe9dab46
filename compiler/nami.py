"""A faithful minimal inverse of the generative model (NaMI, Webb et al. 2018).

Given only the generative graph, which inference model would respect every conditional
independence of the exact posterior while conditioning on as little as possible? Webb et al.'s
*Natural Minimal I-map generator* answers it by simulating variable elimination:

1. Work on the random variables. A deterministic node is a function of its parents, so it is
   projected out: u becomes a parent of w when a directed path leads from u to w through
   deterministic nodes only (e.g. ``eps[l] -> z[l] -> eps[l+1]`` gives ``eps[l] -> eps[l+1]``).
   The projected DAG represents the same joint distribution of the random variables.
2. Start from its skeleton, and join the parents of every observed node (conditioning on an
   observed child couples its parents: explaining away). Observed nodes are never eliminated.
3. Eliminate the latents children first: at each step pick, among the latents whose latent
   children are all eliminated, one to eliminate; its current neighbours become its parents in
   the inverse, and are joined pairwise (the fill-in of variable elimination). Because children go
   first, the moral edges between co-parents of a latent child appear exactly when that child is
   eliminated, not before.
4. The inverse samples in the reverse order of elimination, each latent conditioned on its parents.

Elimination is exact, so the inverse is faithful for any choice in step 3 (an I-map of the
posterior). Webb et al. choose with a min-fill heuristic; we choose the latent that the spec's
own inference model samples last, so that the inverse samples in the spec's order whenever that
order is a natural (parents-first) one and the two models can be compared edge by edge.

Elimination can over-connect: co-parents of a latent that has no observed descendant are joined
when it is eliminated although they stay independent a posteriori. So a last step keeps a parent u
of v only if it is in the Markov boundary of v among what is sampled before it -- u is
d-connected to v given everything else sampled before v and the observations -- which makes the
inverse minimal: no edge can be removed without losing faithfulness.

References:
    Webb, Golinski, Zinkov, Siddharth, Rainforth, Teh & Wood. Faithful Inversion of Generative
    Models for Effective Amortized Inference. NeurIPS 2018.
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass

import networkx as nx

from .dsep_problem import Problem

__all__ = ["Inverse", "faithful_inverse", "random_sources"]


@dataclass(frozen=True)
class Inverse:
    """A faithful minimal inverse and how the spec's inference model differs from it.

    Attributes:
        order: the inverse's sampling order (latents).
        parents: each latent's parents in the inverse (random variables only).
        missing: edges (u, v) of the inverse that the spec's inference model lacks: v's posterior
            does not read u, directly or through a deterministic parent computed from u.
        summarised: triples (u, v, d): the inverse has u -> v, and v's posterior reads u only through
            the deterministic parent d (``z[l-1]`` for ``eps[<l]`` in a self-reflective VAE). The
            inverse is over random variables and cannot say whether the summary suffices; the
            factorization check can, and reports a violation or a sufficiency assumption where it might not.
        unnecessary: edges (p, v) of the spec's inference model that the inverse does without.
        same_order: whether the inverse samples in the spec's order.
    """

    order: tuple
    parents: dict
    missing: tuple
    summarised: tuple
    unnecessary: tuple
    same_order: bool

    def to_dict(self) -> dict:
        return {"order": list(self.order), "parents": {v: list(p) for v, p in self.parents.items()},
                "missing": [list(e) for e in self.missing], "summarised": [list(e) for e in self.summarised],
                "unnecessary": [list(e) for e in self.unnecessary], "same_order": self.same_order}


def random_sources(problem: Problem) -> dict:
    """For every deterministic node, the random variables it is a function of (through deterministic
    nodes only)."""
    memo: dict = {}
    graph, det = problem.graph, problem.deterministic
    for d in nx.topological_sort(graph.subgraph(det)):
        memo[d] = frozenset(_random_parents(problem, d, memo))
    return memo


def _random_parents(problem: Problem, node: str, sources: dict) -> set:
    """`node`'s parents, each deterministic one replaced by the random variables it is a function of."""
    out: set = set()
    for p in problem.graph.pred[node]:
        out |= sources[p] if p in problem.deterministic else {p}
    return out


def _projection(problem: Problem, sources: dict) -> dict:
    """Random parents of every random node, with deterministic nodes projected out."""
    return {r: _random_parents(problem, r, sources) for r in problem.graph.nodes if r not in problem.deterministic}


def faithful_inverse(problem: Problem) -> Inverse:
    """The NaMI inverse of the generative graph, compared with the spec's inference model.

    Args:
        problem: the factorization problem (its `order` breaks ties between eligible latents).

    Returns:
        An :class:`Inverse`.

    Example:
        >>> from compiler.dsep_problem import problem_from_edges
        >>> p = problem_from_edges([("z1", "z2"), ("z2", "x")], order=["z1", "z2"],
        ...                        parents={"z1": ["x"], "z2": ["x"]}, observed=["x"])
        >>> inv = faithful_inverse(p)
        >>> inv.order, sorted(inv.parents["z2"]), inv.missing
        (('z1', 'z2'), ['x', 'z1'], (('z1', 'z2'),))
    """
    sources = random_sources(problem)
    rparents = _projection(problem, sources)
    latents, observed = set(problem.order), problem.observed
    position = {v: i for i, v in enumerate(problem.order)}
    # The undirected working graph as bitsets: node i's neighbours are the set bits of adj[i].
    names = list(rparents)
    index = {n: i for i, n in enumerate(names)}
    adj = [0] * len(names)
    # step 2: skeleton plus the moral edges of observed nodes
    for c, ps in rparents.items():
        for p in ps:
            adj[index[p]] |= 1 << index[c]
            adj[index[c]] |= 1 << index[p]
    for o in observed:
        mask = _mask(rparents[o], index)
        for p in rparents[o]:
            adj[index[p]] |= mask & ~(1 << index[p])
    # step 3: eliminate children first, ties broken by the spec's order (latest first)
    waiting = {v: 0 for v in latents}
    for c in latents:
        for p in rparents[c]:
            if p in latents:
                waiting[p] += 1
    heap = [(-position[v], v) for v in latents if waiting[v] == 0]
    heapq.heapify(heap)
    eliminated, parents, alive = [], {}, (1 << len(names)) - 1
    while heap:
        _, v = heapq.heappop(heap)
        i = index[v]
        alive &= ~(1 << i)
        nbrs = adj[i] & alive
        members = _bits(nbrs)
        parents[v] = {names[j] for j in members}
        for j in members:  # the fill-in: join the neighbours pairwise
            adj[j] |= nbrs & ~(1 << j)
        eliminated.append(v)
        for p in rparents[v]:
            if p in latents:
                waiting[p] -= 1
                if waiting[p] == 0:
                    heapq.heappush(heap, (-position[p], p))
    if len(eliminated) != len(latents):  # cannot happen for a DAG
        raise ValueError("the generative graph has a cycle among its latents")
    order = tuple(reversed(eliminated))
    parents = _minimal(problem, order, parents, rparents)
    return _compare(problem, order, parents, sources)


def _mask(nodes, index: dict) -> int:
    out = 0
    for n in nodes:
        out |= 1 << index[n]
    return out


def _bits(mask: int) -> list:
    """Indices of the set bits."""
    out = []
    while mask:
        low = mask & -mask
        out.append(low.bit_length() - 1)
        mask ^= low
    return out


def _minimal(problem: Problem, order: tuple, parents: dict, rparents: dict) -> dict:
    """Keep a parent only if it is in the Markov boundary of the latent among its predecessors."""
    observed = problem.observed
    children: dict = {}
    for c, ps in rparents.items():
        for p in ps:
            children.setdefault(p, set()).add(c)
    projected = None
    before: set = set()
    out = {}
    for v in order:
        kept = set()
        coparents = None
        for u in parents[v]:
            linked = u in rparents[v] or v in rparents.get(u, ())
            if not linked:
                if coparents is None:
                    coparents = set()
                    for c in children.get(v, ()):
                        if c in observed:
                            coparents |= rparents[c]
                linked = u in coparents
            if not linked:
                if projected is None:
                    projected = nx.DiGraph()
                    projected.add_nodes_from(rparents)
                    projected.add_edges_from((p, c) for c, ps in rparents.items() for p in ps)
                rest = (before | set(observed)) - {u}
                linked = not nx.is_d_separator(projected, {v}, {u}, rest)
            if linked:
                kept.add(u)
        out[v] = kept
        before.add(v)
    return out


def _compare(problem: Problem, order: tuple, parents: dict, sources: dict) -> Inverse:
    position = {v: i for i, v in enumerate(problem.order)}
    rank = {v: i for i, v in enumerate(order)}

    def key(n):
        return (0, rank[n], "") if n in rank else (1, 0, n)

    missing, summarised, unnecessary = [], [], []
    for v in order:
        stated = sorted(problem.parents[v], key=key)
        through = {}  # random variable -> the first deterministic parent computed from it
        for p in stated:
            if p in problem.deterministic:
                for u in sources[p]:
                    through.setdefault(u, p)
        for u in sorted(parents[v] - set(stated), key=key):
            if u in through:
                summarised.append((u, v, through[u]))
            else:
                missing.append((u, v))
        for p in stated:
            reads = sources[p] if p in problem.deterministic else {p}
            if not reads & parents[v]:
                unnecessary.append((p, v))
    same = tuple(sorted(order, key=position.__getitem__)) == order
    return Inverse(order, {v: tuple(sorted(parents[v], key=key)) for v in order}, tuple(missing),
                   tuple(summarised), tuple(unnecessary), same)
