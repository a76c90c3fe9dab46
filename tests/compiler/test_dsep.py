"""Hand-checked factorization verdicts: the classic cases, every spec of the zoo, assumptions."""
from __future__ import annotations

import pathlib

import pytest

from compiler.dsep import check_posterior_factorization, format_report
from zoo.registry import compile_spec, list_models

FIXTURES = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "specs"


def check(name: str, **overrides):
    return check_posterior_factorization(compile_spec(str(FIXTURES / f"{name}.hvae"), overrides))


def violations(report) -> dict:
    return {v.latent: v for v in report.violations}


# -- faithful ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["chain_topdown", "skip_topdown"])
def test_top_down_posteriors_on_chains_and_skip_connected_decoders_are_faithful(name):
    report = check(name)
    assert report.exact and report.faithful
    assert report.inverse.same_order and not report.inverse.missing


def test_top_down_markov_posterior_on_a_chain_is_decided_by_search():
    report = check("chain_topdown", L=6)
    methods = {f.latent: f.method for f in report.factors}
    assert methods["z[1]"] == methods["z[2]"] == "chain rule"
    assert {methods[f"z[{l}]"] for l in range(3, 7)} == {"search"}


def test_chain_rule_posterior_needs_no_search():
    report = check("skip_topdown", L=8)
    assert {f.method for f in report.factors} == {"chain rule"}


# -- unfaithful -------------------------------------------------------------------------------

def test_skip_connected_decoder_breaks_a_markov_posterior():
    report = check("skip_markov")
    v = violations(report)
    assert set(v) == {"z[3]", "z[4]"}
    assert v["z[3]"].missing == ("z[1]",)
    assert v["z[3]"].witness_text == "z[3] -> x <- z[1]"
    assert v["z[4]"].suggested_parents == ("z[1]", "z[2]")
    assert not report.faithful


def test_per_layer_mean_field_is_unfaithful():
    report = check("meanfield")
    v = violations(report)
    assert set(v) == {"z[2]", "z[3]"}
    assert v["z[2]"].witness_text == "z[2] <- z[1]"
    # on a chain z[1] does matter for z[3], but conditioning on z[2] screens it off
    assert v["z[3]"].missing == ("z[1]", "z[2]")
    assert v["z[3]"].suggested_parents == ("z[2]",)
    assert v["z[2]"].line == 9 and v["z[2]"].location.endswith("meanfield.hvae:9:1")


def test_bottom_up_markov_posterior_on_a_fully_connected_hierarchy_is_unfaithful():
    report = check("bottomup", L=6)
    v = violations(report)
    # z[6] | x and z[5] | z[6], x leave nothing out; every later factor leaves out its children
    assert set(v) == {f"z[{l}]" for l in range(1, 5)}
    assert v["z[2]"].missing == ("z[6]", "z[5]", "z[4]")
    assert v["z[2]"].suggested_parents == ("z[6]", "z[5]", "z[4]")
    assert v["z[2]"].witness_text == "z[2] -> z[4]"
    assert {f.method for f in report.factors} == {"chain rule", "local links"}
    assert not report.inverse.same_order  # the faithful inverse samples top-down


def test_explaining_away_through_a_shared_child():
    report = check("explaining_away")
    (v,) = report.violations
    assert (v.latent, v.missing, v.witness_text) == ("b", ("a",), "b -> x <- a")
    assert check("explaining_away", coupled=True).exact


def test_self_reflective_structure_faithful_when_the_decoder_reads_only_the_last_layer():
    report = check("sere", all_z=False)
    assert report.exact
    # the inverse agrees once z[l-1] stands for eps[<l]
    assert not report.inverse.missing and report.inverse.summarised


def test_self_reflective_structure_rests_on_sufficiency_when_the_decoder_reads_every_layer():
    report = check("sere", all_z=True)
    assert not report.violations and not report.faithful
    v = {r.latent: r for r in report.resting}
    assert set(v) == {"eps[3]", "eps[4]"}
    # q(eps[3] | z[2], x) is faithful exactly when z[2] carries eps[1] and eps[2] (the decoder reads
    # z[1] = eps[1] directly); q(eps[4] | z[3], x) needs only z[3] to carry eps[<4]
    assert v["eps[3]"].sufficiency == ("z[2]",) and v["eps[4]"].sufficiency == ("z[3]",)
    assert [(a.feature, a.sufficient_for, a.factors) for a in report.sufficiency] == [
        ("z[2]", ("eps[1]", "eps[2]"), ("eps[3]",)), ("z[3]", ("eps[1]", "eps[2]", "eps[3]"), ("eps[4]",))]
    assert v["eps[3]"].witness == ("eps[3]", "z[3]", "x", "z[1]", "eps[1]")
    assert v["eps[3]"].witness_text == "eps[3] -> z[3] -> x <- z[1] <- eps[1]"
    # conditioning on eps[1] determines z[1] (D-separation), which blocks every path
    assert v["eps[3]"].suggested_parents == ("eps[1]",)
    assert v["eps[4]"].suggested_parents == ("eps[1]", "eps[2]")


# -- assumptions ------------------------------------------------------------------------------

def test_acknowledged_departure_does_not_fail():
    report = check("dvp")
    assert report.faithful and not report.exact
    assert all(v.acknowledged for v in report.violations)
    assert [v.latent for v in report.violations] == ["z[1]", "z[2]", "z[3]"]
    (a,) = report.assumptions
    assert a.used and a.acknowledges == ("z[1]", "z[2]", "z[3]") and a.left == ("u",)
    assert not report.warnings


def test_unneeded_assumption_is_a_warning():
    report = check("unneeded_assumption")
    assert report.faithful and report.exact
    (a,) = report.assumptions
    assert not a.used
    (w,) = report.warnings
    assert "unneeded_assumption.hvae:11:1: warning: assumption is not needed" in str(w)


def test_assumption_with_a_given_clause_the_factor_does_not_condition_on_does_not_apply(tmp_path):
    text = (FIXTURES / "meanfield.hvae").read_text()
    spec = tmp_path / "mf.hvae"
    spec.write_text(text + '\nassume z[l in 2..L] independent of z[<l] given x\n')
    assert check_posterior_factorization(compile_spec(str(spec))).faithful
    spec.write_text(text + '\nassume z[l in 2..L] independent of z[<l] given z[1]\n')
    report = check_posterior_factorization(compile_spec(str(spec)))
    assert not report.faithful and report.warnings


def test_partial_acknowledgement_leaves_the_violation_open(tmp_path):
    spec = tmp_path / "mf.hvae"
    spec.write_text((FIXTURES / "meanfield.hvae").read_text() + '\nassume z[3] independent of z[2] given x\n')
    v = violations(check_posterior_factorization(compile_spec(str(spec))))
    assert not v["z[3]"].acknowledged and v["z[3]"].unacknowledged == ("z[1]",)
    assert not v["z[2]"].acknowledged and not v["z[2]"].acknowledged_by


# -- the zoo ------------------------------------------------------------------------------------

# the verdicts docs/factorization.md (section 9) derives and the README's model table shows:
# "exact" = strictly faithful; "sufficiency" = faithful only through acknowledged sufficiency
# assumptions (no violation); "acknowledged" = acknowledged violations (and possibly sufficiency)
EXPECTED = {"vae": "exact", "ladder": "exact", "nvae8": "exact", "nvae16": "exact", "sere_mlp_top": "exact",
            "sere_nvae": "exact", "dlgm": "acknowledged",
            "attentive16": "sufficiency", "attentive15_mnist": "sufficiency", "attentive15_omniglot": "sufficiency",
            "attentive_ladder": "sufficiency", "sere_mlp": "sufficiency", "sere_resnet": "sufficiency",
            "sere_maf_cifar": "sufficiency", "vampprior_mnist": "sufficiency",
            "dvp_mnist": "acknowledged", "dvp_omniglot": "acknowledged", "dvp_cifar": "acknowledged",
            "dvp_nvae": "acknowledged"}


@pytest.mark.parametrize("name", [m.name for m in list_models()])
def test_every_spec_of_the_zoo_has_its_documented_verdict(name):
    report = check_posterior_factorization(compile_spec(name))
    expected = EXPECTED[name]
    assert report.faithful, format_report(report)
    assert report.exact == (expected == "exact")
    assert bool(report.violations) == (expected == "acknowledged")
    if expected == "sufficiency":
        assert report.sufficiency and all(a.acknowledged for a in report.sufficiency)
    assert report.to_dict()["model"] == name
    assert format_report(report).startswith(name)


def test_the_readme_model_table_shows_the_verdicts():
    readme = (pathlib.Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    for name, expected in EXPECTED.items():
        (row,) = [line for line in readme.splitlines() if line.startswith(f"| `{name}` |")]
        verdict = row.rstrip(" |").rsplit("|", 1)[1]
        assert ("strictly faithful" in verdict) == (expected == "exact"), row
        assert ("sufficiency" in verdict) == (expected == "sufficiency" or name.startswith("dvp")), row
        assert ("departure" in verdict) == (expected == "acknowledged"), row


def test_dlgm_mean_field_is_acknowledged_by_its_assumption():
    report = check_posterior_factorization(compile_spec("dlgm"))
    assert len(report.violations) == 9
    v = violations(report)["z[10]"]
    assert v.acknowledged and len(v.acknowledged_by) == 1 and v.acknowledged_by[0].endswith("dlgm.hvae:34:1")
    assert v.missing == tuple(f"z[{l}]" for l in range(1, 10))
    assert len(report.inverse.missing) == 45  # every z[j] -> z[l], j < l: x reads all layers


def test_report_dict_has_the_documented_keys():
    d = check("skip_markov").to_dict()
    assert {"model", "passes_check", "respects_exact_factorization", "violations", "assumptions",
            "suggested_parents"} <= set(d)
    assert {"latent", "missing", "witness", "line"} <= set(d["violations"][0])
    assert d["suggested_parents"] == {"z[3]": ["z[1]"], "z[4]": ["z[1]", "z[2]"]}
    assert d["violations"][0]["witness"] == ["z[3]", "x", "z[1]"]


def test_the_check_does_not_import_torch():
    import subprocess
    import sys

    code = ("import sys, compiler.dsep, compiler.nami, compiler.render; "
            "from compiler.dsep_problem import problem_from_edges; assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=pathlib.Path(__file__).resolve().parents[2])


@pytest.mark.parametrize("module", ["compiler.dsep", "compiler.nami", "compiler.dsep_problem", "compiler.render"])
def test_docstring_examples(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0
