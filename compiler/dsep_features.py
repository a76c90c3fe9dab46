"""Which deterministic nodes the factorization check's generative graph has, read off the IR.

The generative graph of the check (:class:`compiler.dsep_problem.Problem`) has the random
variables and three sorts of deterministic nodes:

* *PGM features*: features a statement names as a parent (a bijector output ``z[l]``);
* *generative summaries*: features computed with the generative model's parameters that a
  posterior reads -- the top-down state ``c[l]`` of a ladder VAE, an attention context, the prior's
  own parameters when a residual posterior reads ``prior(z[l])``. The exact posterior is defined for
  the generative model's fixed parameters, and the posterior network sees only the feature's value,
  so the check must condition on that value, not on everything it is computed from
  (docs/factorization.md, "Generative features a posterior reads"). A feature computed by the
  inference network's own parameters is mechanism and is traced through: it can be as expressive as
  its inputs allow.
* nothing else: every other computation is traced through to the nodes above -- on the inference
  side also a feature named as a parent that only the inference network computes (its parameters
  are the encoder's, so it can be as expressive as its inputs allow).

:func:`generative_structure` finds the summaries (the first generative node on each path back
from a posterior that reads a latent), the parents of every random variable and deterministic
node in this graph, each latent's inference parents, and the *inverse rules* of the deterministic
nodes: which of a node's parents its value determines once some others are known, from the
``invertible`` marks of the block signatures (:class:`dsl.library.signature.BlockSignature`) and
identity aliases (``feature f = e``).
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["GenerativeStructure", "generative_structure"]


@dataclass(frozen=True)
class GenerativeStructure:
    """The check's view of a compiled spec (see the module docstring).

    Attributes:
        deterministic: PGM features and generative summaries.
        summaries: the generative summaries (a subset of `deterministic`).
        parents: generative parents of every random variable and deterministic node.
        inference_parents: each latent's inference parents.
        inverses: for a deterministic node d, pairs (n, R): d and R together determine its parent n.
    """

    deterministic: frozenset
    summaries: frozenset
    parents: dict
    inference_parents: dict
    inverses: dict


def generative_structure(mg, *, summaries: bool = True) -> GenerativeStructure:
    """The generative graph of the check, with the summaries a posterior reads made nodes.

    Args:
        mg: a :class:`compiler.graph.ModelGraph`.
        summaries: False traces through generative features too (the PGM the statements declare,
            which the diagrams draw; the check must not decide on it).
    """
    from compiler.nodes import VarInfo

    g = mg.graph
    data_pred = {n: [p for p in g.pred[n] if g.edges[p, n]["data"]] for n in g.nodes}
    variables = {n for n, d in g.nodes(data=True) if isinstance(d["info"], VarInfo)}
    latents = {n for n in variables if g.nodes[n]["info"].kind != "observed"}
    named = {n for n, d in g.nodes(data=True) if d.get("pgm_feature")}
    reads_latent: dict = {}

    def has_latent(n) -> bool:  # whether a latent's value flows into n (iterative: deep hierarchies)
        stack = [n]
        while stack:
            m = stack[-1]
            if m in reads_latent:
                stack.pop()
                continue
            todo = [p for p in data_pred[m] if p not in variables and p not in reads_latent]
            if todo:
                stack.extend(todo)
                continue
            reads_latent[m] = any(p in latents or (p not in variables and reads_latent[p]) for p in data_pred[m])
            stack.pop()
        return reads_latent[n]

    # the inference side: trace back from each posterior through the inference network's own nodes
    frontier: set = set()
    inference_parents: dict = {}
    stops_q = variables | named  # a named feature the inference network alone computes is traced through
    for v in mg.latent_order:
        factor = f"posterior({v})"
        found: set = set()
        if factor in g:
            seen, stack = {factor}, [factor]
            while stack:
                n = stack.pop()
                for p in data_pred[n]:
                    if p in seen:
                        continue
                    seen.add(p)
                    generative = "p" in g.nodes[p].get("models", ())
                    if p in variables or (p in named and (generative or not summaries)):
                        found.add(p)
                    elif summaries and generative and has_latent(p):
                        found.add(p)
                        frontier.add(p)
                    else:
                        stack.append(p)
        inference_parents[v] = frozenset(found)
    # a named PGM feature computed with generative parameters that a posterior reads is a summary too
    read = set().union(*inference_parents.values()) if inference_parents else set()
    if summaries:
        frontier |= {n for n in named & read if "p" in g.nodes[n].get("models", ())}
    stops = stops_q | frontier
    deterministic = frozenset(named | frontier)
    memo: dict = {}

    def sources(n) -> frozenset:
        """The stop nodes whose values flow into n, tracing through every other node (n itself may
        be a stop; a stop met on the way is never traced through)."""
        stack = [(n, False)]
        while stack:
            m, done = stack.pop()
            if m in memo:
                continue
            if done:
                out: set = set()
                for p in data_pred[m]:
                    out |= {p} if p in stops else memo[p]
                memo[m] = frozenset(out)
            else:
                stack.append((m, True))
                stack.extend((p, False) for p in data_pred[m] if p not in stops and p not in memo)
        return memo[n]

    parents: dict = {v: set() for v in variables}
    for f in mg.spec.factors:
        if f.kind != "posterior":  # a prior the posterior reads is itself a node: z's parent is its value
            parents[f.target].update({f.id} if f.id in stops else sources(f.id))
    for d in deterministic:
        parents[d] = set(sources(d))
    inverses = {d: tuple(_inverse_rules(g, d, data_pred, stops, sources)) for d in deterministic}
    return GenerativeStructure(deterministic, frozenset(frontier), {n: frozenset(p) for n, p in parents.items()},
                               inference_parents, {d: r for d, r in inverses.items() if r})


def _inverse_rules(g, d: str, data_pred: dict, stops: set, sources) -> list:
    """Pairs (n, R): the value of `d` and the nodes R determine the stop node n that d reads.

    The rule follows d's expression down through arguments its blocks are invertible in: for
    ``d = affine_rank1(eps, cond = z)`` it is (eps, {z}); for ``d = concat(a, b)``, (a, {}) and (b, {});
    for an identity alias ``f = e``, (e, {}).
    """
    from dsl import library as lib

    def rec(n: str, top: bool) -> list:
        if n in stops and not top:
            return [(n, frozenset())]
        info = g.nodes[n]["info"]
        if getattr(info, "kind", None) != "feature":
            return []
        if info.op == "identity":
            invertible, separable = ("x",), True
        else:
            sig = lib.lookup(info.op, "block")
            invertible, separable = sig.invertible, sig.separable
        if not invertible:
            return []
        args = [(name, list(inp) if isinstance(inp, tuple) else [inp]) for name, inp in info.inputs]
        out = []
        for name, items in args:
            if name not in invertible:
                continue
            for i, item in enumerate(items):
                others = [o for pname, its in args for j, o in enumerate(its)
                          if not (pname == name and (j == i or separable))]
                need: set = set()
                for o in others:
                    need |= {o} if o in stops else sources(o)
                for recovered, req in rec(item, False):
                    if recovered not in need:
                        out.append((recovered, frozenset(need | req)))
        return out

    return rec(d, True)
