"""`zoo fmt`: specs are formatted, comments and hand layout survive, the AST never changes."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dsl import parse_spec
from dsl.format import format_spec
from dsl.layout import format_source
from zoo.cli import main

from ..dsl.ast_strategies import specs

ROOT = Path(__file__).resolve().parents[2]
ALL = sorted((ROOT / "specs").glob("*.hvae")) + sorted((ROOT / "tests" / "fixtures").rglob("*.hvae"))
PARSEABLE = [p for p in ALL if "syntax_error" not in p.name and "bad_specs" not in str(p)]

MESSY = """\
# header comment
let L=3     # layers
let   H = 2*(L+1)


observed x:[4]~bernoulli   # data
latent   z[l in 1..L] : [2] ~ normal
# the prior
prior z[1]=normal(loc=0,scale=1)
prior z[l in 2..L] | z[l - 1] = linear(z[l-1])
posterior z[l in 1..L] | x = normal(loc = linear(x),
                                    scale = linear(x))   # hand-aligned
likelihood x | z[L] = linear(z[L],
    # a comment inside a statement keeps it as written
    out = 4)
# trailing comment
"""


def test_zoo_fmt_check_specs_exits_0(capsys):
    assert main(["fmt", "--check", "specs/", "tests/fixtures/specs/"]) == 0
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("path", PARSEABLE, ids=lambda p: p.stem)
def test_formatting_keeps_the_ast_and_is_idempotent(path):
    text = path.read_text()
    once = format_source(text, path=str(path))
    assert parse_spec(once) == parse_spec(text)
    assert format_source(once) == once


def test_comments_and_hand_layout_survive():
    out = format_source(MESSY)
    assert parse_spec(out) == parse_spec(MESSY)
    assert out == """\
# header comment
let L = 3   # layers
let   H = 2 * (L + 1)

observed x : [4] ~ bernoulli  # data
latent   z[l in 1..L] : [2] ~ normal
# the prior
prior z[1] = normal(loc = 0, scale = 1)
prior z[l in 2..L] | z[l-1] = linear(z[l-1])
posterior z[l in 1..L] | x = normal(loc = linear(x),
                                    scale = linear(x))   # hand-aligned
likelihood x | z[L] = linear(z[L],
    # a comment inside a statement keeps it as written
    out = 4)
# trailing comment
"""
    for line in MESSY.splitlines():
        if "#" in line:
            assert line[line.index("#"):] in out


def test_check_lists_files_that_would_change_and_write_fixes_them(tmp_path, capsys):
    (tmp_path / "sub").mkdir()
    messy, clean = tmp_path / "sub" / "messy.hvae", tmp_path / "clean.hvae"
    messy.write_text(MESSY)
    clean.write_text(format_source(MESSY))
    assert main(["fmt", "--check", str(tmp_path)]) == 1
    assert capsys.readouterr().out == f"would reformat {messy}\n"
    assert main(["fmt", "--diff", str(messy)]) == 0
    assert "+let L = 3   # layers" in capsys.readouterr().out and messy.read_text() == MESSY
    assert main(["fmt", str(tmp_path)]) == 0
    assert messy.read_text() == clean.read_text()
    assert main(["fmt", "--check", str(tmp_path)]) == 0


def test_a_file_that_does_not_parse_is_an_error_and_is_left_alone(tmp_path, capsys):
    bad = tmp_path / "bad.hvae"
    bad.write_text("let L = (1 + \n")
    assert main(["fmt", str(bad)]) == 2
    assert "bad.hvae:" in capsys.readouterr().err and bad.read_text() == "let L = (1 + \n"
    assert main(["fmt", str(tmp_path / "missing.hvae")]) == 2


def test_fmt_and_the_language_server_do_not_import_torch():
    code = ("import sys, json\n"
            "from zoo.cli import main\n"
            "main(['fmt', '--check', 'specs/'])\n"
            "from zoo.lsp.server import build_server\n"
            "from zoo.lsp.analysis import analyse\n"
            "build_server()\n"
            "path = 'tests/fixtures/specs/skip_markov.hvae'\n"
            "a = analyse(path, open(path).read())\n"
            "assert a.repairs() and a.hover(9, 11) and a.formatted()\n"
            "print(json.dumps('torch' in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) is False


def test_two_statements_on_one_line_are_split_and_keep_the_comment():
    text = 'let a = 1   let b=2   # both\nobserved x : [4] ~ bernoulli\n'
    out = format_source(text)
    assert out == "let a = 1\nlet b = 2  # both\nobserved x : [4] ~ bernoulli\n"
    assert parse_spec(out) == parse_spec(text)


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(specs, st.data())
def test_random_specs_with_comments_keep_ast_and_comments(spec, data):
    """Random ASTs written out, with comment lines, trailing comments and blank lines sprinkled in."""
    lines = []
    for i, line in enumerate(format_spec(spec, width=60).split("\n")[:-1]):
        kind = data.draw(st.sampled_from(["", "", "above", "trailing", "blank"]), label=f"line {i}")
        if kind == "above":
            lines.append(f"# note {i}")
        elif kind == "blank":
            lines += ["", ""]
        lines.append(line + (f"   # tail {i}" if kind == "trailing" else ""))
    text = "\n".join(lines) + "\n"
    out = format_source(text, path=spec.path)
    assert parse_spec(out, path=spec.path) == spec, out
    assert format_source(out) == out
    for comment in (x[x.index("#"):] for x in lines if "#" in x.replace('"#', "")):
        if comment.startswith("# "):
            assert comment in out
