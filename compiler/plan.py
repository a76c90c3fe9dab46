"""Execution plans, computed once when the graph is built and never per step.

* The **inference plan** runs with the data given: every latent is sampled from its posterior as
  soon as the posterior's inputs exist, and every prior and the likelihood are computed so that
  the ELBO can score the samples. It is a topological order of the dataflow graph without the
  edges by which priors and likelihoods *produce* values.
* The **generation plan** is ancestral sampling: latents come from their priors and the data
  from the likelihood; computations that only the inference model needs are left out.

Ties are broken by the order of the spec's statements, so plans are deterministic and read in
the order the spec was written.
"""
from __future__ import annotations

import networkx as nx

from dsl.errors import Diagnostic, SpecSemanticError
from dsl.values import ConcreteSpec

__all__ = ["plans"]


def plans(g: nx.DiGraph, spec: ConcreteSpec) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """Return ``(infer_plan, generate_plan, latent_order)`` for a built (unfrozen) graph.

    Nodes are told apart by their records' ``is_random`` (variables) rather than by importing
    :mod:`compiler.graph`'s classes, which import this module.
    """
    rank = {n: i for i, n in enumerate(g.nodes)}
    data_edges = [(a, b, d["sample_model"]) for a, b, d in g.edges(data=True) if d["data"]]
    infer = _order(g, data_edges, rank, exclude_sample="p", mode="inference", spec=spec)
    keep = {n for n, d in g.nodes(data=True) if "p" in d["models"] or d["info"].is_random}
    generate = _order(g, data_edges, rank, exclude_sample="q", mode="generative", spec=spec, keep=keep)
    latent_order = tuple(n for n in infer if g.nodes[n]["info"].is_random
                         and g.nodes[n]["info"].kind != "observed")
    return infer, generate, latent_order


def _order(g, data_edges, rank, *, exclude_sample: str, mode: str, spec: ConcreteSpec,
           keep=None) -> tuple[str, ...]:
    # a plain graph of the edges that order this pass (not a filtered view: the sort queries
    # in-degrees repeatedly, and through a view's filters that dominated build time for deep
    # hierarchies)
    view = nx.DiGraph()
    view.add_nodes_from(n for n in g if keep is None or n in keep)
    view.add_edges_from((a, b) for a, b, sample_model in data_edges
                        if sample_model != exclude_sample and a in view and b in view)
    try:
        return tuple(nx.lexicographical_topological_sort(view, key=rank.__getitem__))
    except nx.NetworkXUnfeasible:
        cycle = [a for a, _ in nx.find_cycle(view)]
        info = g.nodes[cycle[0]]["info"]
        factors = [n for n in cycle if "(" in n]
        where = g.nodes[factors[0]]["info"].span if factors else info.span
        raise SpecSemanticError([Diagnostic(
            f"the {mode} pass cannot be ordered: " + " -> ".join(cycle + [cycle[0]]),
            where, hint="a posterior may only use what is computed before its variable is sampled "
                        "(e.g. a residual posterior needs its prior's parents sampled first)",
            code="cycle").with_source(spec.sources)]) from None
