"""Range statements, and the structural certificates that decide them without a search.

A spec states its hierarchy with range statements -- ``posterior z[l in 2..L] | x, z[<l]`` --
and elaboration expands each into one factor per index, all sharing the statement's
:class:`dsl.values.Origin`. The check runs a range statement as one unit (:func:`statements`),
and first tries two certificates that settle an element from bookkeeping on sets, with no
d-separation search at all (docs/factorization.md, "Checking a range statement once", proves
both):

* **Chain rule** (:func:`chain_rule`). An element that conditions on every latent sampled
  before it has nothing left out; its factor is the chain rule's and is faithful. A statement
  such as ``z[l] | z[<l]`` sampled in index order meets this for its whole range.
* **Local links** (:func:`local_links`). An earlier latent u that the factor of v leaves out but
  that is adjacent to v in the generative graph, or shares with v a child that is conditioned on,
  is d-connected to v by a path of one or two edges whatever else is conditioned on. So it is
  in the missing set, that path is a witness, and it belongs to *every* repair. When all the
  left-out latents of an element are linked like this, the verdict, the missing set and the
  minimal repair are all known: the left-out set itself. This is what decides a fully connected
  hierarchy with a bottom-up Markov posterior, whose every element leaves out its own children.

An element for which neither certificate holds falls back to the per-latent search
(:mod:`compiler.dsep_paths`); a statement is reported with the method that decided each element.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from .dsep_problem import Problem, RangeKey

__all__ = ["chain_rule", "local_links", "statements", "StatementGroup"]


def chain_rule(missing: list) -> bool:
    """An element that leaves out no earlier latent is faithful (the chain rule)."""
    return not missing


def local_links(problem: Problem, latent: str, missing: list, given: frozenset) -> dict:
    """The left-out latents linked to `latent` by an edge or by a conditioned common child.

    Args:
        problem: the factorization problem.
        latent: the factor's variable v.
        missing: the earlier latents it leaves out, in inference order.
        given: its closed conditioning set.

    Returns:
        {u: witness path} for every linked u in `missing`: ``[v, u]`` for an edge, ``[v, c, u]``
        for v -> c <- u with c conditioned on. Adjacent links are found first; co-parents are
        looked up only for what adjacency leaves.
    """
    graph = problem.graph
    adjacent = set(graph.pred[latent]).union(graph.succ[latent])
    out: dict = {}
    rest = []
    for u in missing:
        if u in adjacent:
            out[u] = [latent, u]
        else:
            rest.append(u)
    if rest:
        via: dict = {}
        for c in graph.succ[latent]:
            if c in given:
                for u in graph.pred[c]:
                    via.setdefault(u, c)
        for u in rest:
            if u in via:
                out[u] = [latent, via[u], u]
    return out


@dataclass
class StatementGroup:
    """The elements of one posterior statement, in inference order."""

    key: Optional[RangeKey]
    latents: list = field(default_factory=list)

    @property
    def is_range(self) -> bool:
        return self.key is not None and self.key.binder is not None and len(self.latents) > 1


def statements(problem: Problem) -> list:
    """The posterior statements of a problem, each with its elements in inference order.

    Latents without a known statement (problems built from edge lists) form one group each.
    """
    groups: dict = {}
    out = []
    for v in problem.order:
        key = problem.ranges.get(v)
        if key is None:
            out.append(StatementGroup(None, [v]))
            continue
        if key not in groups:
            groups[key] = StatementGroup(key, [])
            out.append(groups[key])
        groups[key].latents.append(v)
    return out
