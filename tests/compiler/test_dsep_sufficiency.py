"""The two examples of issue 11, as specs: a posterior that reads its parents only through a
generative feature (faithful only under a sufficiency assumption, never silently), and an invertible
feature whose argument the posterior therefore reads."""
from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest

import dsl
from compiler.dsep import check_posterior_factorization, format_report
from compiler.graph import build_graph

FIXTURES = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "specs"
ROOT = pathlib.Path(__file__).resolve().parents[2]


def report_of(text: str, **overrides):
    spec = dsl.parse_spec(text, path="spec.hvae")
    concrete, shapes, warnings = dsl.checked(spec, overrides)[:3] if overrides else dsl.checked(spec)[:3]
    return check_posterior_factorization(build_graph(concrete, shapes, warnings))


SUMMARY = (FIXTURES / "shared_summary.hvae").read_text()
ALIAS = (FIXTURES / "invertible_alias.hvae").read_text()


@pytest.mark.parametrize("named", [False, True])
def test_a_posterior_reading_a_generative_summary_is_not_certified(named):
    text = SUMMARY.replace("prior c | a, b =", "prior c | s =") if named else SUMMARY
    report = report_of(text)
    assert not report.faithful and not report.exact
    assert not report.violations  # not a structural violation: it rests on the summary
    (r,) = report.resting
    assert (r.latent, r.sufficiency, r.missing, r.witness_text) == ("c", ("s",), ("a", "b"), "c -> x <- a")
    assert r.suggested_parents == ("a",)
    (a,) = report.sufficiency
    assert (a.feature, a.sufficient_for, a.factors, a.acknowledged) == ("s", ("a", "b"), ("c",), False)
    text_out = format_report(report)
    assert "NOT certified" in text_out and "s is sufficient for a, b" in text_out
    assert "assume s sufficient" in text_out
    d = report.to_dict()
    assert d["passes_check"] is False and d["respects_exact_factorization"] is False and d["violations"] == []
    assert d["sufficiency_assumptions"] == [{"feature": "s", "sufficient_for": ["a", "b"], "factors": ["c"],
                                             "acknowledged": False, "acknowledged_by": []}]


def test_the_sufficiency_assumption_can_be_acknowledged():
    report = report_of(SUMMARY + 'assume s sufficient "s is as wide as it needs to be"\n')
    assert report.faithful and not report.exact
    (a,) = report.sufficiency
    assert a.acknowledged and a.acknowledged_by[0].startswith("spec.hvae:")
    assert report.assumptions[0].used and not report.warnings


def test_when_the_decoder_does_not_read_around_the_summary_the_factor_is_strictly_faithful():
    report = report_of(SUMMARY.replace("likelihood x | a, c = linear(concat(a, c))", "likelihood x | c = linear(c)"))
    assert report.exact and report.faithful


def test_assume_sufficient_names_features_only():
    with pytest.raises(dsl.SpecError, match="is not a feature"):
        report_of(SUMMARY + "assume a sufficient\n")


def test_assume_sufficient_round_trips_through_the_formatter():
    from dsl.format import format_spec

    text = SUMMARY + 'assume s sufficient "why"\n'
    out = format_spec(dsl.parse_spec(text))
    assert 'assume s sufficient "why"' in out
    assert format_spec(dsl.parse_spec(out)) == out


@pytest.mark.parametrize("bijector", [False, True])
def test_an_invertible_feature_gives_its_argument_back(bijector):
    report = report_of(ALIAS, BIJECTOR=bijector)
    assert report.exact and report.faithful
    (f,) = [f for f in report.factors if f.latent == "v"]
    assert f.faithful


def test_a_non_invertible_feature_does_not():
    report = report_of(ALIAS.replace("affine_rank1(e) if BIJECTOR else e", "linear(e, out = 2)"))
    assert not report.faithful


def test_zoo_check_json_lists_the_sufficiency_assumptions():
    out = subprocess.run([sys.executable, "-m", "zoo.cli", "check", "--json", str(FIXTURES / "shared_summary.hvae")],
                         capture_output=True, text=True, cwd=ROOT)
    data = json.loads(out.stdout)
    data = data[0] if isinstance(data, list) else data
    report = data.get("factorization", data)
    assert report["sufficiency_assumptions"][0]["feature"] == "s"


def test_an_evidence_feature_in_a_given_clause_stands_for_the_data_and_the_latents_it_reads():
    from compiler.dsep_problem import problem_from_graph

    text = """observed x : [4] ~ bernoulli
latent a : [2] ~ normal
latent b : [2] ~ normal
feature h = linear(concat(x, a), out = 3)
prior a = normal(loc = 0, scale = 1)
prior b | a = linear(a)
posterior a | x = linear(x)
posterior b | x, a = linear(h)
likelihood x | a, b = linear(concat(a, b))
assume b independent of a given h
"""
    spec = dsl.parse_spec(text, path="spec.hvae")
    mg = build_graph(*dsl.checked(spec)[:2])
    (a,) = problem_from_graph(mg).assumptions
    assert a.given == frozenset({"x", "a"})
