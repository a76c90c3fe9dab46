"""Dependency queries of :mod:`dsl.depends` against their definitions, computed naively.

The queries are written for speed at depth (memoised, counting, one pass); here each is
recomputed from its definition -- a fixpoint by re-scanning, a walk per node -- on every zoo spec
and on a deep self-reflective chain, for the factors' own parent sets and for random ones.
"""
from __future__ import annotations

import random

import pytest

import dsl
from dsl.depends import Dependencies
from zoo.registry import list_models, spec_path

CHAIN = """\
let L = 12
observed x : [4] ~ bernoulli
latent eps[1..L] : [2] ~ normal
feature z[1] = affine_rank1(eps[1], hidden = [4])
feature z[l in 2..L] = affine_rank1(eps[l], cond = z[l-1], hidden = [4])
prior eps[1] = normal(loc = 0, scale = 1)
prior eps[l in 2..L] | z[l-1] = linear(z[l-1])
posterior eps[1] | x = linear(x)
posterior eps[l in 2..L] | eps[<l], x = linear(concat(z[l-1], x))
likelihood x | z[1..L] = linear(concat(z[1..L]))
"""


def _specs():
    yield from ((m.name, dsl.load_spec(spec_path(m.name))) for m in list_models())
    yield "chain", dsl.parse_spec(CHAIN)


def _naive_covered(deps: Dependencies, declared) -> frozenset:
    out = set()
    for d in declared:
        if d in deps.spec.variables or d in deps.pgm_features:
            out.add(d)
        elif d in deps.spec.features:
            out |= deps.sources(d) if deps.is_evidence(d) else {d} | deps.sources(d)
    changed = True
    while changed:
        changed = False
        for f in deps.pgm_features:
            if f not in out and deps.pgm_inputs(f) and deps.pgm_inputs(f) <= out:
                out.add(f)
                changed = True
    return frozenset(out)


def _naive_ancestors(deps: Dependencies, node: str) -> frozenset:
    out, stack = set(), [node]
    while stack:
        n = stack.pop()
        for s in deps.sources(n) if n in deps.pgm_features else ():
            if s not in out:
                out.add(s)
                stack.append(s)
    return frozenset(out)


@pytest.mark.parametrize("name,spec", list(_specs()), ids=lambda v: v if isinstance(v, str) else "")
def test_covered_and_pgm_ancestors_match_their_definitions(name, spec):
    concrete = dsl.checked(spec)[0]
    deps = Dependencies(concrete)
    names = list(concrete.variables) + list(concrete.features)
    rng = random.Random(name)
    parent_sets = [f.parents or () for f in concrete.factors]
    parent_sets += [rng.sample(names, rng.randint(1, min(6, len(names)))) for _ in range(50)]
    for declared in parent_sets:
        assert deps.covered(declared) == _naive_covered(deps, declared), declared
    for node in names:
        assert deps.pgm_ancestors(node) == _naive_ancestors(deps, node), node
    if name == "chain":  # declaring eps[<l] determines the whole chain z[1..l-1]
        assert {f"z[{i}]" for i in range(1, 12)} <= deps.covered([f"eps[{i}]" for i in range(1, 12)])
