"""Which random variables each factor and feature really depends on.

A factor's *expression* says how its parameters are computed; its *sources* are the nodes of the
probabilistic graphical model (PGM) whose values flow into it. Sources are found by tracing
references through deterministic features until reaching either a random variable or a
*PGM feature*: a deterministic node that some statement names as a parent (for example the
shared bijector output ``z[l]`` in ``posterior eps[l] | z[l-1], x``). Features named only inside
expressions (contexts, bottom-up features, keys, queries) are mechanism, not graph structure,
and are traced through.

A feature computed from observed data (a bottom-up feature ``h[l]``) is an *evidence feature*:
naming it as a parent means conditioning on the data it summarises.
"""
from __future__ import annotations

from functools import cached_property
from typing import Iterable, Optional

from .values import (Apply, Combine, ConcreteSpec, Dist, Factor, FactorRefValue, ListValue, NodeRef,
                     Value)

__all__ = ["Dependencies", "direct_reads"]


def direct_reads(value: Value, *, functions: bool = False) -> list[Value]:
    """NodeRefs and FactorRefValues read by an expression, in order.

    Arguments of kind ``factor`` (a factor used as a function, e.g. the encoder of a VampPrior)
    are not reads of its value; they are included only when `functions` is True.
    """
    from . import library as lib

    out: list[Value] = []

    def visit(v: Value):
        if isinstance(v, (NodeRef, FactorRefValue)):
            out.append(v)
        elif isinstance(v, ListValue):
            for item in v.items:
                visit(item)
        elif isinstance(v, (Apply, Dist, Combine)):
            if isinstance(v, Apply):
                sig = lib.lookup(v.block, "block")
            elif isinstance(v, Dist):
                sig = lib.lookup(v.family, "family")
            else:
                sig = lib.lookup(v.combinator, "combinator")
            for name, arg in v.args:
                p = sig.param(name)
                if p is not None and p.kind == "factor" and not functions:
                    continue
                visit(arg)

    visit(value)
    return out


class Dependencies:
    """Dependency queries over one :class:`ConcreteSpec` (memoised; the spec is immutable)."""

    def __init__(self, spec: ConcreteSpec):
        self.spec = spec
        self._factors = {f.id: f for f in spec.factors}
        self._sources_cache: dict[str, frozenset[str]] = {}
        self._vars_cache: dict[str, frozenset[str]] = {}
        self._ancestors_cache: dict[str, frozenset[str]] = {}
        self._read_nodes_cache: dict[str, tuple[str, ...]] = {}

    # -- basic reads ------------------------------------------------------------------------
    def reads(self, node_or_factor: str) -> list[Value]:
        if node_or_factor in self.spec.features:
            return direct_reads(self.spec.features[node_or_factor].value)
        if node_or_factor in self._factors:
            return direct_reads(self._factors[node_or_factor].value)
        return []

    def read_nodes(self, node_or_factor: str) -> tuple[str, ...]:
        """Node and factor ids read directly (NodeRefs by node, factor refs by factor id)."""
        cached = self._read_nodes_cache.get(node_or_factor)
        if cached is None:  # every pass asks for the same items again (the editor re-checks on each edit)
            # a dict keeps the first occurrence of each key in order, in linear time
            cached = tuple(dict.fromkeys(r.node if isinstance(r, NodeRef) else r.factor_id
                                         for r in self.reads(node_or_factor)))
            self._read_nodes_cache[node_or_factor] = cached
        return cached

    # -- data dependence -----------------------------------------------------------------------
    def variable_ancestors(self, item: str) -> frozenset[str]:
        """Every random variable whose value flows into a feature or factor (through features
        and referenced factors). Cycles are cut; they are reported by the checker."""
        if item in self._vars_cache:
            return self._vars_cache[item]
        self._vars_cache[item] = frozenset()  # cycle guard
        out: set[str] = set()
        for key in self.read_nodes(item):
            if key in self.spec.variables:
                out.add(key)
            else:
                out |= self.variable_ancestors(key)
        self._vars_cache[item] = frozenset(out)
        return self._vars_cache[item]

    @cached_property
    def observed(self) -> frozenset[str]:
        return frozenset(v.name for v in self.spec.variables.values() if v.kind == "observed")

    def is_evidence(self, feature: str) -> bool:
        """A feature computed (also) from observed data."""
        return bool(self.variable_ancestors(feature) & self.observed)

    @cached_property
    def named_parents(self) -> frozenset[str]:
        """Features named as parents in some factor statement."""
        out = set()
        for f in self.spec.factors:
            for p in f.parents or ():
                if p in self.spec.features:
                    out.add(p)
        return frozenset(out)

    @cached_property
    def pgm_features(self) -> frozenset[str]:
        """Deterministic nodes of the PGM: named parents computed from latents only, and the
        features those are computed from that are themselves named parents."""
        return frozenset(f for f in self.named_parents if not self.is_evidence(f))

    def sources(self, item: str) -> frozenset[str]:
        """PGM nodes (variables and PGM features) whose values flow into `item`."""
        if item in self._sources_cache:
            return self._sources_cache[item]
        self._sources_cache[item] = frozenset()
        out: set[str] = set()
        for key in self.read_nodes(item):
            if key in self.spec.variables or key in self.pgm_features:
                out.add(key)
            else:
                out |= self.sources(key)
        self._sources_cache[item] = frozenset(out)
        return self._sources_cache[item]

    def pgm_inputs(self, feature: str) -> frozenset[str]:
        """The PGM parents of a PGM feature (its own sources)."""
        return self.sources(feature)

    def covered(self, declared: Iterable[str]) -> frozenset[str]:
        """What declaring `declared` as parents lets a factor read: the declared variables and PGM
        features, the sources of declared evidence features, and every PGM feature that is a
        function of those (D-separation's functional determination)."""
        out: set[str] = set()
        for d in declared:
            if d in self.spec.variables or d in self.pgm_features:
                out.add(d)
            elif d in self.spec.features:
                out |= self.sources(d) if self.is_evidence(d) else {d} | self.sources(d)
        # the least fixpoint of "a PGM feature whose inputs are all in `out` joins it", by counting
        # each feature's inputs still missing: linear, where re-scanning every feature until
        # nothing changed took one pass per link of a chain of bijector outputs
        missing: dict[str, int] = {}
        stack = list(out)
        while stack:
            for f in self._pgm_consumers.get(stack.pop(), ()):
                missing[f] = missing.get(f, len(self.pgm_inputs(f))) - 1
                if not missing[f] and f not in out:
                    out.add(f)
                    stack.append(f)
        return frozenset(out)

    @cached_property
    def _pgm_consumers(self) -> dict[str, list[str]]:
        """Node -> the PGM features that have it among their inputs."""
        consumers: dict[str, list[str]] = {}
        for f in self.pgm_features:
            for s in self.pgm_inputs(f):
                consumers.setdefault(s, []).append(f)
        return consumers

    def pgm_ancestors(self, node: str) -> frozenset[str]:
        """Variables and PGM features upstream of a PGM feature (for 'declared but unused').

        Memoised, like :meth:`sources`: a factor that reads every layer of a chain of PGM
        features (a decoder on every bijector output) would otherwise walk the chain once per
        layer. Computed children-first with an explicit stack, since chains are as long as the
        hierarchy is deep.
        """
        cache = self._ancestors_cache
        # open_: nodes on the stack whose sources are pending; skipping them cuts cycles, which
        # the checker reports
        stack, open_ = [node], set()
        while stack:
            n = stack[-1]
            if n in cache:
                stack.pop()
                continue
            sources = self.sources(n) if n in self.pgm_features else frozenset()
            pending = [s for s in sources if s not in cache and s not in open_]
            if pending and n not in open_:
                open_.add(n)
                stack.extend(pending)
                continue
            out = set(sources)
            for s in sources:
                out |= cache.get(s, frozenset())
            cache[n] = frozenset(out)
            open_.discard(n)
            stack.pop()
        return cache[node]

    def factor(self, kind: str, target: str) -> Optional[Factor]:
        return self._factors.get(f"{kind}({target})")

    def factor_sources(self, kind: str, target: str) -> frozenset[str]:
        return self.sources(f"{kind}({target})")
