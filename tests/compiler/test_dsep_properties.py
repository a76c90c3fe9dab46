"""Property tests: on random small DAGs with random inference models, the factorization check
agrees with a brute-force oracle (tests/compiler/dsep_oracle.py); its witnesses are active paths;
its repairs make the factor faithful and are minimal; the NaMI inverse is judged faithful and is
minimal; and the certificates never change an answer."""
from __future__ import annotations

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings

from compiler.dsep import check_problem
from compiler.dsep_paths import ancestors_of, closure, is_active_path
from compiler.dsep_problem import problem_from_edges
from compiler.nami import faithful_inverse

from . import dsep_oracle as oracle
from .dsep_strategies import problems

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@given(problems())
@SETTINGS
def test_verdict_and_missing_set_agree_with_brute_force(problem):
    report = check_problem(problem, inverse=False)
    by_latent = {v.latent: v for v in report.violations}
    for v in problem.order:
        expected = oracle.missing(problem, v)
        if expected:
            assert v in by_latent, f"{v} should be unfaithful: d-connected to {expected}"
            assert list(by_latent[v].missing) == expected
        else:
            assert v not in by_latent, f"{v} is faithful but reported: {by_latent.get(v)}"
    assert report.faithful == (not report.violations)  # no assumptions here


@given(problems())
@SETTINGS
def test_witness_is_an_active_path_to_a_missing_latent(problem):
    report = check_problem(problem, inverse=False)
    for v in report.violations:
        given_set = oracle.closure(problem.graph, set(problem.parents[v.latent]) | problem.observed,
                                   problem.deterministic)
        path = list(v.witness)
        assert path[0] == v.latent and path[-1] in v.missing
        assert len(set(path)) == len(path)
        assert all(problem.graph.has_edge(a, b) or problem.graph.has_edge(b, a) for a, b in zip(path, path[1:]))
        assert oracle.path_is_active(problem.graph, path, given_set)
        assert is_active_path(problem.graph, path, frozenset(given_set), ancestors_of(problem.graph, given_set))


@given(problems())
@SETTINGS
def test_repair_makes_the_factor_faithful_and_is_minimal(problem):
    report = check_problem(problem, inverse=False)
    for v in report.violations:
        repair = set(v.suggested_parents)
        assert repair <= set(oracle.left_out(problem, v.latent))
        assert not oracle.missing(problem, v.latent, repair), "the repaired factor must be faithful"
        for u in repair:  # no parent of the repair can be dropped
            assert oracle.missing(problem, v.latent, repair - {u})
        if not problem.deterministic:  # without deterministic nodes the minimum is unique
            valid = list(oracle.valid_repairs(problem, v.latent))
            minimal = [a for a in valid if not any(b < a for b in valid)]
            assert minimal == [frozenset(repair)]


@given(problems())
@SETTINGS
def test_closure_agrees_with_the_naive_fixed_point(problem):
    for v in problem.order:
        start = set(problem.parents[v]) | problem.observed
        assert closure(problem.graph, start, problem.deterministic) == \
            oracle.closure(problem.graph, start, problem.deterministic)


def _as_problem(problem, inverse):
    return problem_from_edges(problem.graph.edges(), order=inverse.order, parents=inverse.parents,
                              observed=problem.observed, deterministic=problem.deterministic,
                              nodes=problem.graph.nodes())


@given(problems())
@SETTINGS
def test_nami_inverse_is_judged_faithful(problem):
    inverse = faithful_inverse(problem)
    assert sorted(inverse.order) == sorted(problem.order)
    rebuilt = _as_problem(problem, inverse)
    assert check_problem(rebuilt, inverse=False).exact
    for v in rebuilt.order:  # and by the oracle
        assert not oracle.missing(rebuilt, v)


@given(problems(deterministic=0))
@SETTINGS
def test_nami_inverse_is_minimal(problem):
    inverse = faithful_inverse(problem)
    rebuilt = _as_problem(problem, inverse)
    for v in rebuilt.order:
        for u in inverse.parents[v]:
            if u in problem.observed:
                continue  # the check always conditions on the observations
            fewer = dict(inverse.parents)
            fewer[v] = tuple(p for p in fewer[v] if p != u)
            smaller = problem_from_edges(problem.graph.edges(), order=inverse.order, parents=fewer,
                                         observed=problem.observed, nodes=problem.graph.nodes())
            assert oracle.missing(smaller, v), f"dropping {u} -> {v} keeps the inverse faithful"


@given(problems(max_nodes=9))
@SETTINGS
def test_certificates_never_change_an_answer(problem):
    fast = check_problem(problem, inverse=False)
    slow = check_problem(problem, certificates=False, inverse=False)
    assert [(v.latent, v.missing, v.suggested_parents) for v in fast.violations] == \
        [(v.latent, v.missing, v.suggested_parents) for v in slow.violations]
    assert {f.method for f in slow.factors} <= {"chain rule", "search"}


def test_networkx_has_the_d_separation_api():
    assert hasattr(nx, "is_d_separator") and hasattr(nx, "find_minimal_d_separator")


@pytest.mark.parametrize("seed", range(3))
def test_random_dense_hierarchy_certificates_match_search(seed):
    import random

    rng = random.Random(seed)
    L = 12
    names = [f"z{i}" for i in range(L)]
    edges = [(a, b) for i, a in enumerate(names) for b in names[i + 1:] if rng.random() < 0.6]
    edges += [(z, "x") for z in names if rng.random() < 0.7]
    order = list(reversed(names))
    parents = {v: [order[i - 1], "x"] if i else ["x"] for i, v in enumerate(order)}
    problem = problem_from_edges(edges, order=order, parents=parents, observed=["x"])
    fast = check_problem(problem, inverse=False)
    slow = check_problem(problem, certificates=False, inverse=False)
    assert [(v.latent, v.missing, v.suggested_parents) for v in fast.violations] == \
        [(v.latent, v.missing, v.suggested_parents) for v in slow.violations]
