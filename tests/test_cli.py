"""`zoo list` and `zoo build` through `zoo.cli.main`: exit codes, the JSON summary, and errors that
name path:line:col with a caret and never a traceback."""
from __future__ import annotations

import json
import pathlib

import pytest
import yaml

from zoo.cli import main
from zoo.registry import list_models

ROOT = pathlib.Path(__file__).resolve().parent.parent
BAD = ROOT / "tests" / "fixtures" / "bad_specs"
LINT = ROOT / "tests" / "fixtures" / "lint_specs" / "lints.hvae"


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_list(capsys):
    code, out, _ = run(capsys, "list")
    assert code == 0
    for name in ("vae", "ladder", "dlgm", "nvae8", "nvae16"):
        assert any(line.startswith(name + " ") for line in out.splitlines()), name
    code, out, _ = run(capsys, "list", "nvae*", "--json")
    assert code == 0
    assert [m["model"] for m in json.loads(out)] == ["nvae16", "nvae8"]


def test_build_json(capsys):
    code, out, err = run(capsys, "build", "vae", "--json")
    assert code == 0 and err == ""
    summary = json.loads(out)
    assert summary["model"] == "vae"
    assert summary["parameters"] == 425_284 and isinstance(summary["parameters"], int)
    assert summary["latent_layers"] == 1 and summary["latent_dims"] == [50]
    assert summary["warnings"] == []
    assert sum(c["parameters"] for c in summary["components"]) == summary["parameters"]


def test_build_with_overrides_and_a_spec_path(capsys):
    code, out, _ = run(capsys, "build", str(ROOT / "specs" / "dlgm.hvae"), "--set", "L=3", "--set", "D=4", "--json")
    assert code == 0
    summary = json.loads(out)
    assert summary["latent_layers"] == 3 and summary["latent_dims"] == [4, 4, 4]
    assert summary["constants"]["L"] == 3


def test_build_table(capsys):
    code, out, _ = run(capsys, "build", "vae")
    assert code == 0
    assert "425,284" in out and "inference" in out and "generative" in out


def test_warnings_are_reported_and_do_not_fail_the_build(capsys):
    code, out, _ = run(capsys, "build", str(LINT), "--json")
    assert code == 0
    warnings = json.loads(out)["warnings"]
    assert len(warnings) == 3 and all(w["severity"] == "warning" and w["line"] and w["code"] for w in warnings)


def test_build_emits_the_ir(capsys, tmp_path):
    target = tmp_path / "graph.yaml"
    code, _, _ = run(capsys, "build", "ladder", "--no-lower", "--emit", str(target))
    assert code == 0
    ir = yaml.safe_load(target.read_text())
    assert ir["model"] == "ladder" and ir["latent_order"][0] == "z[1]"
    assert ["z[4]", "z[5]"] in ir["generative_edges"]
    code, _, err = run(capsys, "build", "vae", "--no-lower", "--emit", str(tmp_path / "graph.txt"))
    assert code == 2 and ".yaml, .yml or .json" in err
    # refused before compiling: a bad target is reported even for a spec that would not build
    code, _, err = run(capsys, "build", "no_such_model", "--emit", str(tmp_path / "missing" / "graph.json"))
    assert code == 2 and "does not exist" in err and "no_such_model" not in err


@pytest.mark.parametrize("fixture,where", [
    ("unknown_block.hvae", "unknown_block.hvae:6:19: error: unknown block 'mpl'"),
    ("syntax_error.hvae", "syntax_error.hvae:4:14: error: a latent, observed or pseudo-input variable"),
    ("many_errors.hvae", "many_errors.hvae:12:34: error: 'h' has no element 4"),
])
def test_a_bad_spec_exits_2_with_a_located_message(capsys, fixture, where):
    code, out, err = run(capsys, "build", str(BAD / fixture))
    assert code == 2 and out == ""
    assert where in err
    lines = err.splitlines()
    carets = [i for i, line in enumerate(lines) if line.strip().startswith("|") and "^" in line]
    assert carets, err
    source = lines[carets[0] - 1]  # '  6 | posterior z | x = mpl(...)' above its caret line
    assert source.lstrip().split(" | ", 1)[0].isdigit()
    if fixture == "many_errors.hvae":
        assert err.rstrip().endswith("4 errors")


@pytest.mark.parametrize("argv,message", [
    (["build", "vea"], "did you mean 'vae'?"),
    (["build", "no/such/file.hvae"], "spec file not found"),
    (["build", "vae", "--set", "H=[1,"], "--set H=[1,"),
    (["build", "vae", "--set", "HH=3"], "the spec has no constant 'HH'"),
    (["build", "vae", "--set", "H"], "--set expects NAME=VALUE"),
])
def test_user_mistakes_exit_2_without_a_traceback(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and message in err


def test_argument_errors_are_argparse_usage_errors(capsys):
    with pytest.raises(SystemExit) as info:
        main(["build"])
    assert info.value.code == 2
    assert "usage:" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--debug", "build"], ["build", "--debug"]], ids=["before", "after"])
def test_debug_reraises_for_the_traceback(argv):
    from dsl import SpecSemanticError

    with pytest.raises(SpecSemanticError):
        main(argv + [str(BAD / "unknown_block.hvae")])


@pytest.mark.parametrize("name", [m.name for m in list_models()])
def test_every_zoo_spec_builds(capsys, name):
    code, out, _ = run(capsys, "build", name, "--no-lower", "--json")
    assert code == 0
    summary = json.loads(out)
    assert summary["model"] == name and summary["latent_layers"] == len(summary["latent_dims"]) > 0


@pytest.mark.slow
@pytest.mark.parametrize("name", [m.name for m in list_models()])
def test_every_zoo_spec_builds_and_lowers_at_full_size(capsys, name):
    code, out, _ = run(capsys, "build", name, "--json")
    assert code == 0 and json.loads(out)["parameters"] > 0
