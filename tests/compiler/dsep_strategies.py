"""Hypothesis strategies for the property tests of the factorization check: random generative DAGs
with random inference models (tests/compiler/test_dsep_properties.py, test_dsep_invertible.py)."""
from __future__ import annotations

from hypothesis import strategies as st

from compiler.dsep_problem import problem_from_edges
from compiler.nami import random_sources

__all__ = ["problems"]


@st.composite
def problems(draw, *, deterministic: int = 1, max_nodes: int = 7, extensions: bool = False):
    """A random generative DAG (nodes n0..nk in topological order), each node observed, latent or
    deterministic, and a random inference model: a random order of the latents, and for each
    latent random parents among the earlier latents, the observed nodes, and the deterministic
    nodes computable from those.

    Args:
        deterministic: the weight of "deterministic" among the node kinds (latent has 2, observed 1;
            0 draws no deterministic node).
        max_nodes: the largest graph.
        extensions: also draw the check's two extensions: each deterministic node may be invertible
            in one of its parents given the others (an inverse rule) and may be a summary a
            posterior reads.
    """
    n = draw(st.integers(3, max_nodes))
    kinds = draw(st.lists(st.sampled_from(["latent", "latent", "observed"] + ["det"] * deterministic),
                          min_size=n, max_size=n))
    if "latent" not in kinds:
        kinds[0] = "latent"
    names = [f"n{i}" for i in range(n)]
    edges = [(names[i], names[j]) for i in range(n) for j in range(i + 1, n) if draw(st.booleans())]
    latents = [m for m, k in zip(names, kinds) if k == "latent"]
    observed = [m for m, k in zip(names, kinds) if k == "observed"]
    det = [m for m, k in zip(names, kinds) if k == "det"]
    inverses = {}
    if extensions:
        for d in det:
            ps = sorted(a for a, b in edges if b == d)
            if ps and draw(st.booleans()):
                k = draw(st.integers(0, len(ps) - 1))
                inverses[d] = ((ps[k], frozenset(ps[:k] + ps[k + 1:])),)
    order = draw(st.permutations(latents))
    probe = problem_from_edges(edges, order=order, parents={}, observed=observed, deterministic=det, nodes=names)
    sources = random_sources(probe)
    parents = {}
    for i, v in enumerate(order):
        known = set(order[:i]) | set(observed)
        usable = sorted(known) + [d for d in det if sources[d] <= known]
        parents[v] = [p for p in usable if draw(st.booleans())]
    if not extensions:
        return problem_from_edges(edges, order=order, parents=parents, observed=observed, deterministic=det,
                                  nodes=names)
    summaries = [d for d in det if draw(st.booleans())]
    return problem_from_edges(edges, order=order, parents=parents, observed=observed, deterministic=det,
                              nodes=names, summaries=summaries, inverses=inverses)
