"""Property tests for the two extensions of the check (docs/factorization.md, "Generative features a
posterior reads" and "Invertible features"): on random DAGs whose deterministic nodes carry random
inverse rules and some of which are generative summaries a posterior reads, the verdicts, missing
sets, repairs and sufficiency sets agree with the brute-force oracle (tests/compiler/dsep_oracle.py),
whose closure derives functional dependencies by naive enumeration."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from compiler.dsep import check_problem
from compiler.dsep_paths import closure
from compiler.dsep_problem import problem_from_edges

from . import dsep_oracle as oracle
from .dsep_strategies import problems

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@given(problems(deterministic=2, max_nodes=8, extensions=True))
@SETTINGS
def test_closure_with_backward_rules_agrees_with_enumerated_dependencies(problem):
    for v in problem.order:
        start = set(problem.parents[v]) | problem.observed
        assert set(closure(problem.graph, start, problem.deterministic, problem.inverses)) == \
            oracle.closure(problem.graph, start, problem.deterministic, problem.inverses)


@given(problems(deterministic=2, max_nodes=8, extensions=True))
@SETTINGS
def test_verdicts_missing_sets_and_sufficiency_agree_with_the_oracle(problem):
    report = check_problem(problem, inverse=False)
    departures = {v.latent: v for v in report.violations + report.resting}
    for v in problem.order:
        expected = oracle.missing(problem, v)
        if not expected:
            assert v not in departures, f"{v} is faithful but reported: {departures.get(v)}"
            continue
        assert v in departures and list(departures[v].missing) == expected
        d = departures[v]
        summaries = problem.summaries
        if d.sufficiency:  # faithful when they are sufficient, and each of them is needed
            assert not oracle.missing(problem, v, sufficient=d.sufficiency)
            for s in d.sufficiency:
                assert oracle.missing(problem, v, sufficient=set(d.sufficiency) - {s})
        else:  # no summary can help: a violation even if every summary were sufficient
            assert oracle.missing(problem, v, sufficient=summaries)
        repair = set(d.suggested_parents)
        assert not oracle.missing(problem, v, repair)
        for u in repair:
            assert oracle.missing(problem, v, repair - {u})
    assert report.faithful == (not departures)


@given(problems(deterministic=2, max_nodes=8, extensions=True))
@SETTINGS
def test_backward_rules_only_remove_departures(problem):
    """Invertibility adds knowledge: every factor faithful without the inverse rules stays faithful."""
    plain = problem_from_edges(problem.graph.edges(), order=problem.order, parents=problem.parents,
                               observed=problem.observed, deterministic=problem.deterministic,
                               nodes=problem.graph.nodes())
    before = {v.latent for v in check_problem(plain, inverse=False).violations}
    report = check_problem(problem, inverse=False)
    after = {v.latent for v in report.violations + report.resting}
    assert after <= before
