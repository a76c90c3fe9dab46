"""Semantic checks, driven by the fixture specs, and shape inference.

Each `tests/fixtures/bad_specs/*.hvae` starts with one `# expect:` line per error it must produce::

    # expect: SpecSemanticError 7:34 'hh' is not defined | did you mean 'h'?

that is: the exception class, where (`line:col` in the file itself, `path:line:col` relative to
the fixture folder for an error inside an imported file, or `-` for an error about the command
line), a fragment of the message and, after `|`, a fragment of the hint. Errors are collected, so
the lines list every error of one run, in order. `# set: NAME=VALUE` lines are `--set` overrides.
`tests/fixtures/lint_specs/*.hvae` must build, with exactly the `# expect: warning ...` lints.
"""
from __future__ import annotations

import os
import pathlib
import re
from dataclasses import dataclass
from typing import Optional

import pytest

import dsl
from dsl import SpecError, SpecSemanticError, SpecSyntaxError
from dsl.elaborate import elaborate_collect
from zoo.registry import compile_spec, spec_path

FIXTURES = pathlib.Path(__file__).resolve().parent.parent / "fixtures"
BAD = sorted((FIXTURES / "bad_specs").glob("*.hvae"))
LINT = sorted((FIXTURES / "lint_specs").glob("*.hvae"))
ERROR_CLASSES = {"SpecSemanticError": SpecSemanticError, "SpecSyntaxError": SpecSyntaxError}

_EXPECT = re.compile(r"#\s*expect:\s*(?P<cls>\w+)\s+(?P<where>\S+)\s+(?P<message>.*?)(?:\s+\|\s+(?P<hint>.*))?$")


@dataclass(frozen=True)
class Expected:
    cls: str
    path: Optional[str]  # relative to the fixture's folder; None: the fixture itself
    line: Optional[int]  # None: an unlocated (command-line) diagnostic
    column: Optional[int]
    message: str
    hint: Optional[str]


def expectations(path: pathlib.Path) -> tuple[list[Expected], list[str]]:
    expected, overrides = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# set:"):
            overrides.append(line.split(":", 1)[1].strip())
            continue
        m = _EXPECT.match(line)
        if not m:
            continue
        where = m["where"]
        if where == "-":
            file, ln, col = None, None, None
        else:
            parts = where.split(":")
            file = ":".join(parts[:-2]) or None
            ln, col = int(parts[-2]), int(parts[-1])
        expected.append(Expected(m["cls"], file, ln, col, m["message"], m["hint"]))
    assert expected, f"{path.name} has no '# expect:' line"
    return expected, overrides


def assert_matches(diagnostics, expected: list[Expected], fixture: pathlib.Path) -> None:
    got = [(str(d.span) if d.span else "-", d.message) for d in diagnostics]
    assert len(diagnostics) == len(expected), f"{fixture.name}: expected {len(expected)} diagnostics, got {got}"
    for d, e in zip(diagnostics, expected):
        if e.line is None:
            assert d.span is None, d
        else:
            want = fixture if e.path is None else fixture.parent / e.path
            assert os.path.samefile(d.span.path, want), (d.span.path, want)
            assert (d.span.line, d.span.column) == (e.line, e.column), f"{fixture.name}: {d}"
        assert e.message in d.message, f"{fixture.name}: {e.message!r} not in {d.message!r}"
        if e.hint is not None:
            assert e.hint in (d.hint or ""), f"{fixture.name}: hint {e.hint!r} not in {d.hint!r}"


@pytest.mark.parametrize("fixture", BAD, ids=[p.stem for p in BAD])
def test_bad_spec_reports_its_errors(fixture, monkeypatch):
    monkeypatch.chdir(FIXTURES.parent.parent)  # spans are relative to the working directory
    expected, sets = expectations(fixture)
    classes = {e.cls for e in expected}
    assert len(classes) == 1 and classes <= set(ERROR_CLASSES), classes
    with pytest.raises(SpecError) as info:
        overrides = dict(dsl.parse_override(s) for s in sets)
        compile_spec(str(fixture.relative_to(FIXTURES.parent.parent)), overrides)
    assert type(info.value) is ERROR_CLASSES[classes.pop()]
    assert_matches(info.value.diagnostics, expected, fixture)
    text = str(info.value)
    for d in info.value.diagnostics:  # every located error renders its line and a caret
        if d.span is not None:
            assert f"{d.span.line} | " in text and "^" in text


def test_bad_specs_cover_the_documented_errors():
    codes = set()
    for fixture in BAD:
        expected, sets = expectations(fixture)
        try:
            overrides = dict(dsl.parse_override(s) for s in sets)
            compile_spec(str(fixture), overrides)
        except SpecError as err:
            codes |= {d.code for d in err.diagnostics}
    assert {"undefined-name", "unknown-block", "unknown-argument", "bad-choice", "index-out-of-range",
            "duplicate-name", "missing-factor", "wrong-factor", "shape", "group-width", "undeclared-parent",
            "posterior-blind", "no-path-to-data", "generative-reads-data", "cycle", "bad-override",
            "missing-file", "import-cycle", "bad-import-binding", "bad-import", "bad-argument", "syntax"} <= codes
    assert len(BAD) >= 16
    assert max(len(expectations(f)[0]) for f in BAD) >= 3  # errors are collected


@pytest.mark.parametrize("fixture", LINT, ids=[p.stem for p in LINT])
def test_lints_are_warnings_not_errors(fixture, monkeypatch):
    monkeypatch.chdir(FIXTURES.parent.parent)
    expected, _ = expectations(fixture)
    mg = compile_spec(str(fixture.relative_to(FIXTURES.parent.parent)))  # builds despite the lints
    assert all(w.severity == "warning" for w in mg.warnings)
    assert_matches(list(mg.warnings), expected, fixture)
    codes = {w.code for w in mg.warnings}
    assert {"unused-constant", "unused-feature", "unused-parent"} <= codes


def test_check_spec_returns_warnings_beside_errors():
    spec = dsl.load_spec(str(FIXTURES / "lint_specs" / "lints.hvae"))
    diagnostics = dsl.check_spec(spec)
    assert diagnostics and not any(d.is_error for d in diagnostics)


def test_overriding_a_constant_silences_its_unused_lint():
    spec = dsl.load_spec(str(FIXTURES / "lint_specs" / "lints.hvae"))
    codes = [d.code for d in dsl.check_spec(spec, {"UNUSED": 4})]
    assert "unused-constant" not in codes


# -- shape inference -------------------------------------------------------------------------------

def shapes_of(model: str, overrides=None) -> dict:
    _, shapes, _ = dsl.checked(dsl.load_spec(spec_path(model)), overrides)
    return dict(shapes)


def test_nvae16_feature_shapes():
    # C = 128: the stem conv gives [128, 32, 32]; the preprocessing cell's downsampling block
    # doubles channels and halves the resolution; every other cell keeps [2C, 16, 16]; the output
    # cell upsamples back to [C, 32, 32].
    shapes = shapes_of("nvae16")
    for l in range(1, 18):
        assert shapes[f"e[{l}]"] == (256, 16, 16), l
    for l in range(1, 17):
        assert shapes[f"c[{l}]"] == (256, 16, 16), l
        assert shapes[f"z[{l}]"] == (20, 16, 16), l
    assert shapes["out"] == (128, 32, 32)
    assert shapes["x"] == (3, 32, 32)


def test_nvae_shapes_follow_overrides():
    shapes = shapes_of("nvae8", {"C": 8, "Z": 4, "L": 2})
    assert shapes["e[3]"] == shapes["c[2]"] == (16, 16, 16)
    assert shapes["z[2]"] == (4, 16, 16)
    assert shapes["out"] == (8, 32, 32)


def test_ladder_feature_shapes():
    # h[5] = 512 units from x; h[l] = 2 ** (l + 4) for l = 1..4; z[l] has 2 ** (l + 1) units
    shapes = shapes_of("ladder")
    assert shapes["h[5]"] == (512,)
    assert [shapes[f"h[{l}]"] for l in range(1, 5)] == [(32,), (64,), (128,), (256,)]
    assert [shapes[f"z[{l}]"] for l in range(1, 6)] == [(4,), (8,), (16,), (32,), (64,)]


def test_inferred_parameter_network_widths():
    mg = compile_spec("nvae8", {"L": 2, "C": 8, "Z": 4})
    # a Gaussian needs loc and scale per latent channel; the mixture of 5 logistics over RGB needs
    # 5 * (1 + 2 * 3 + 3) = 50 channels
    assert mg.info("posterior(z[1])/params").shape == (8, 16, 16)
    assert mg.info("prior(z[2])/params").shape == (8, 16, 16)
    assert mg.info("likelihood(x)/params").shape == (50, 32, 32)
    vae = compile_spec("vae")
    assert vae.info("posterior(z)/params").shape == (100,)
    assert vae.info("likelihood(x)/params").shape == (784,)


def test_groups_get_their_own_shapes():
    spec = dsl.parse_spec(
        "observed x : [3, 8, 8] ~ bernoulli\n"
        "latent z : [2, 8, 8] ~ normal\n"
        "feature d = conv(x, out = 7, k = 1) split (a = 3, b = 4)\n"
        "prior z = normal(loc = 0, scale = 1)\n"
        "posterior z | x = conv(concat(d.a, d.b), k = 1)\n"
        "likelihood x | z = conv(z, k = 1)\n")
    _, shapes, _ = dsl.checked(spec)
    assert (shapes["d"], shapes["d.a"], shapes["d.b"]) == ((7, 8, 8), (3, 8, 8), (4, 8, 8))


# -- limits: a mistyped constant is an error, not a hang -------------------------------------------

@pytest.mark.parametrize("text,code", [
    ("let A = 2 ** 2 ** 64", "type-error"),
    ("let A = 2 ** 4000\nlet B = A * A", "type-error"),
    ("let A = [1] * 100000000", "type-error"),
    ('let A = "ab" * 100000000', "type-error"),
    ("latent z[1..100000000] : [1]", "range-too-large"),
    ("feature h[l in 0..10 ** 12] = mlp(x, out = 2)", "range-too-large"),
    ("observed x : [2] ~ bernoulli\nlatent z[1..2] : [2]\nfeature h = concat(z[1..10 ** 12])", "range-too-large"),
    ("assume z[l in 1..10 ** 10] independent of x", "range-too-large"),
])
def test_runaway_constants_are_located_errors(text, code):
    errors = [d for d in dsl.check_spec(dsl.parse_spec(text, path="big.hvae")) if d.is_error]
    hits = [d for d in errors if d.code == code]
    assert hits and hits[0].span is not None and hits[0].span.line >= 1, errors


def test_small_powers_products_and_ranges_are_fine():
    spec = dsl.parse_spec("let A = 2 ** 64 * 3\nlet B = [0] * 64\nlet C = 7 ** 300\n")
    concrete, diagnostics = elaborate_collect(spec)
    assert not [d for d in diagnostics if d.is_error]
    assert concrete.constants["A"] == 3 * 2 ** 64 and concrete.constants["B"] == (0,) * 64
    assert concrete.constants["C"] == 7 ** 300


def test_a_number_too_long_to_read_is_a_syntax_error():
    with pytest.raises(SpecSyntaxError) as info:
        dsl.parse_spec("let L = 3\nlet A = " + "9" * 5000, path="long.hvae")
    assert (info.value.first.span.line, info.value.first.span.column) == (2, 9)
    assert "too long" in info.value.first.message


def test_observed_blocks_that_read_each_other_are_a_generative_cycle():
    text = ("observed x[1..2] : [3] ~ bernoulli\nlatent z : [2] ~ normal\n"
            "prior z = normal(loc = 0, scale = 1)\nposterior z | x = mlp(concat(x), hidden = [4])\n"
            "likelihood x[1] | z, x[2] = mlp(concat(z, x[2]), hidden = [4])\n"
            "likelihood x[2] | z, x[1] = mlp(concat(z, x[1]), hidden = [4])\n")
    errors = [d for d in dsl.check_spec(dsl.parse_spec(text, path="blocks.hvae")) if d.is_error]
    assert [d.code for d in errors] == ["cycle"]
    assert "x[1] -> x[2] -> x[1]" in errors[0].message or "x[2] -> x[1] -> x[2]" in errors[0].message
