"""Every kind of `--json` output validates against docs/diagnostics.schema.json."""
from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from zoo.cli import main

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "docs" / "diagnostics.schema.json").read_text())
BAD = sorted((ROOT / "tests" / "fixtures" / "bad_specs").glob("*.hvae"))
FIXTURES = ROOT / "tests" / "fixtures" / "specs"


def sets(path: Path) -> list[str]:
    """The fixture's `# set: NAME=VALUE` lines as --set arguments."""
    out = []
    for line in path.read_text().splitlines():
        if line.startswith("# set:"):
            out += ["--set", line[len("# set:"):].strip()]
    return out


def run_json(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr().out
    document = json.loads(out)  # stdout is one JSON document and nothing else
    jsonschema.validate(document, SCHEMA)
    return code, document


def test_schema_is_a_valid_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_build_of_a_broken_spec_prints_located_diagnostics(capsys, path):
    code, doc = run_json(capsys, "build", str(path), "--json", "--no-lower", *sets(path))
    assert code == 2 and doc["status"] == "error" and doc["command"] == "build"
    errors = [d for d in doc["diagnostics"] if d["severity"] == "error"]
    assert errors
    located = [d for d in errors if d["line"] is not None]
    for d in located:
        assert d["column"] >= 1 and (d["end_line"], d["end_column"]) >= (d["line"], d["column"])


def test_duplicate_definition_points_at_the_first_one(capsys):
    _, doc = run_json(capsys, "build", str(ROOT / "tests/fixtures/bad_specs/duplicate_definition.hvae"), "--json")
    related = [r for d in doc["diagnostics"] for r in d["related"]]
    assert related and related[0]["message"] == "first defined here" and related[0]["line"] >= 1


def test_check_of_an_unfaithful_fixture(capsys):
    code, (entry,) = run_json(capsys, "check", str(FIXTURES / "skip_markov.hvae"), "--json")
    assert code == 1 and entry["status"] == "fails"
    assert not entry["passes_check"] and not entry["respects_exact_factorization"]
    errors = [d for d in entry["diagnostics"] if d["code"] == "unfaithful-posterior"]
    assert [(d["line"], d["column"]) for d in errors] == [(10, 1), (10, 1)]
    assert "z[1]" in errors[0]["hints"][0]
    (repair,) = entry["repairs"]
    assert repair["line"] == 10 and repair["latents"] == ["z[3]", "z[4]"]
    assert repair["after"] == "posterior z[l in 2..L] | z[<l], x = linear(concat(z[<l], x))"


@pytest.mark.parametrize("name", ["sere_mlp", "dlgm"])
def test_acknowledged_departure_passes_but_is_not_called_exact(capsys, name):
    code, (entry,) = run_json(capsys, "check", name, "--json")
    assert code == 0 and entry["passes_check"] and entry["status"] == "passes"
    assert entry["respects_exact_factorization"] is False


def test_check_with_a_broken_and_a_good_spec(capsys):
    code, doc = run_json(capsys, "check", "vae", str(BAD[0]), "--json")
    assert code == 2 and doc[0]["respects_exact_factorization"] and doc[1]["status"] == "error"


def test_build_summary_and_its_warnings(capsys):
    code, doc = run_json(capsys, "build", str(ROOT / "tests/fixtures/lint_specs/lints.hvae"), "--json", "--no-lower")
    assert code == 0 and len(doc["warnings"]) == 3 and "factorization" in doc


def test_render(capsys, tmp_path):
    out = tmp_path / "g.dot"
    code, doc = run_json(capsys, "render", "ladder", "-o", str(out), "--json")
    assert code == 0 and doc["outputs"] == [str(out)] and out.read_text().startswith("digraph")
    code, doc = run_json(capsys, "render", str(BAD[0]), "--json")
    assert code == 2 and doc["command"] == "render"


def test_train_error_and_success(capsys, tmp_path):
    code, doc = run_json(capsys, "train", str(ROOT / "tests/fixtures/bad_specs/undeclared_parent.hvae"),
                         "--data", "digits", "--steps", "1", "--out", str(tmp_path / "bad"), "--json")
    assert code == 2 and doc["diagnostics"][0]["line"]
    code, doc = run_json(capsys, "train", "vae", "--data", "digits", "--set", "W=8", "--set", "H=16", "--set", "D=4",
                         "--steps", "2", "--out", str(tmp_path / "run"), "--no-progress",
                         "--recipe-set", "batch_size=20", "--recipe-set", "log_every=1", "--json")
    assert code == 0 and doc["steps"] == 2 and Path(doc["checkpoint"]).exists()


def test_unknown_model_is_an_unlocated_diagnostic(capsys):
    code, doc = run_json(capsys, "build", "no_such_model", "--json")
    assert code == 2 and doc["diagnostics"][0]["code"] == "zoo" and doc["diagnostics"][0]["line"] is None


def test_a_declared_but_unread_parent_is_not_hinted_as_missing(capsys):
    code, (entry,) = run_json(capsys, "check", str(FIXTURES / "explaining_away.hvae"), "--json")
    (d,) = [d for d in entry["diagnostics"] if d["code"] == "unfaithful-posterior"]
    assert code == 1 and "declared after '|' but never read" in d["hints"][0]
    assert "condition on" not in d["hints"][0]
    assert (d["line"], d["column"], d["end_line"]) == (12, 1, 12) and d["end_column"] > 50  # the whole statement
    (repair,) = entry["repairs"]
    assert repair["after"].endswith("linear(concat(a, x) if coupled else concat(x, a))")
