"""`zoo check`: exit codes, printed violations and the --json fields."""
from __future__ import annotations

import json
import pathlib

from zoo.cli import main

FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures" / "specs"


def spec(name: str) -> str:
    return str(FIXTURES / f"{name}.hvae")


def test_faithful_specs_exit_0(capsys):
    assert main(["check", "vae", "ladder", spec("chain_topdown")]) == 0
    out = capsys.readouterr().out
    assert out.count(": faithful: every posterior factor") == 3


def test_acknowledged_departures_exit_0(capsys):
    assert main(["check", "dlgm", spec("dvp")]) == 0
    out = capsys.readouterr().out
    assert "dlgm: faithful up to 9 acknowledged departure(s)" in out
    # summarised under the assumption: one example, the list of latents, no per-factor repairs
    assert "dlgm.hvae:34:1: assumption `assume z[l in 2..L] independent of z[<l] given x`: acknowledges 9" in out
    assert "e.g. q(z[2] | x) leaves out z[1]; active path: z[2] <- z[1]" in out
    assert "acknowledged: z[2], z[3], z[4], z[5], ... (4 more), z[10]" in out
    assert "repair:" not in out.split("\n\n")[0]  # the dlgm report
    # -v lists every acknowledged factor with its repair and the assumption that covers it
    assert main(["check", "dlgm", "-v"]) == 0
    out = capsys.readouterr().out
    assert out.count("acknowledged by the assumption at") == 9 and "dlgm.hvae:34:1" in out
    assert "repair: also condition on z[1], z[2]" in out


def test_unacknowledged_violation_exits_1_and_prints_location_witness_and_repair(capsys):
    assert main(["check", "vae", spec("skip_markov")]) == 1
    out = capsys.readouterr().out
    assert "skip_markov: NOT faithful: 2 unacknowledged violation(s)" in out
    assert "skip_markov.hvae:10:1: violation: q(z[3] | z[2], x) leaves out z[1]" in out
    assert "active path: z[3] -> x <- z[1]" in out
    assert "repair: also condition on z[1]" in out


def test_spec_error_exits_2_even_with_violations_elsewhere(capsys, tmp_path):
    bad = tmp_path / "bad.hvae"
    bad.write_text("observed x : [4] ~ bernoulli\nlatent z : [2] ~ normal\nprior z = normal(loc = 0, scale = 1)\n")
    assert main(["check", spec("skip_markov"), str(bad)]) == 2
    captured = capsys.readouterr()
    assert "bad.hvae" in captured.err and "Traceback" not in captured.err
    assert main(["check", "no_such_model"]) == 2
    assert "no model named 'no_such_model'" in capsys.readouterr().err


def test_set_overrides_apply(capsys):
    assert main(["check", spec("sere"), "--set", "all_z=false"]) == 0
    assert main(["check", spec("sere"), "--set", "all_z=true"]) == 1
    assert "eps[3] -> z[3] -> x <- z[1] <- eps[1]" in capsys.readouterr().out


def test_json_lists_one_object_per_spec(capsys):
    assert main(["check", "vae", spec("skip_markov"), spec("unneeded_assumption"), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert [d["model"] for d in data] == ["vae", "skip_markov", "unneeded_assumption"]
    for d in data:
        assert {"model", "passes_check", "respects_exact_factorization", "violations", "assumptions",
                "suggested_parents", "diagnostics"} <= set(d)
    vae, skip, unneeded = data
    assert vae["passes_check"] and vae["respects_exact_factorization"] and vae["violations"] == []
    assert not skip["passes_check"] and not skip["respects_exact_factorization"]
    v = skip["violations"][0]
    assert v["latent"] == "z[3]" and v["missing"] == ["z[1]"] and v["witness"] == ["z[3]", "x", "z[1]"]
    assert v["line"] == 10 and v["acknowledged"] is False
    assert skip["suggested_parents"] == {"z[3]": ["z[1]"], "z[4]": ["z[1]", "z[2]"]}
    assert unneeded["passes_check"] and unneeded["assumptions"][0]["used"] is False
    assert "assumption is not needed" in unneeded["warnings"][0]["message"]
    assert unneeded["warnings"][0]["severity"] == "warning" and unneeded["warnings"][0]["line"] == 11


def test_json_reports_spec_errors(capsys):
    assert main(["check", "vae", "no_such_model", "--json"]) == 2
    data = json.loads(capsys.readouterr().out)
    assert data[0]["passes_check"] and data[1]["status"] == "error"
    assert "no model named" in data[1]["diagnostics"][0]["message"]


def test_build_prints_the_verdict(capsys):
    assert main(["build", spec("skip_markov"), "--no-lower"]) == 0
    out = capsys.readouterr().out
    assert "factorization: NOT faithful, 2 unacknowledged violation(s)" in out
    assert "active path z[3] -> x <- z[1]; add z[1]" in out


def test_a_directory_checks_its_models_and_skips_fragments(capsys, tmp_path):
    (tmp_path / "_part.hvae").write_text("latent z : [2] ~ normal\n")  # not a model on its own
    for name in ("chain_topdown", "skip_markov"):
        (tmp_path / f"{name}.hvae").write_text((FIXTURES / f"{name}.hvae").read_text())
    assert main(["check", str(tmp_path), "--json"]) == 1
    assert [d["model"] for d in json.loads(capsys.readouterr().out)] == ["chain_topdown", "skip_markov"]


def test_checking_a_fragment_explains_what_it_is(capsys, tmp_path):
    fragment = tmp_path / "_part.hvae"
    fragment.write_text("latent z : [2] ~ normal\n")
    assert main(["check", str(fragment)]) == 2
    assert "is a fragment (its name starts with '_')" in capsys.readouterr().err
    assert main(["build", str(fragment)]) == 2  # every command that compiles a spec says it
    assert "is a fragment (its name starts with '_')" in capsys.readouterr().err
