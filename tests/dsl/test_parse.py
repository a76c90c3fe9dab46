"""Parsing: every zoo spec parses and survives a round trip through the formatter; random ASTs do
too; imports splice and rebind; `--set` values parse as constants of the language."""
from __future__ import annotations

import pathlib

import pytest
from hypothesis import HealthCheck, given, settings

import dsl
from dsl import ast, parse_override, parse_spec
from dsl.format import format_expr, format_spec
from zoo.registry import compile_spec, list_models

from .ast_strategies import exprs, specs

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
SPECS = sorted((ROOT / "specs").glob("*.hvae"))
MODELS = [p for p in SPECS if not p.name.startswith("_")]  # `_name.hvae` files are fragments to import
IMPORTS = ROOT / "tests" / "fixtures" / "imports"


def test_the_zoo_has_specs():
    assert {p.stem for p in SPECS} >= {"vae", "ladder", "dlgm", "nvae8", "nvae16"}
    assert {m.name for m in list_models()} == {p.stem for p in MODELS}


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_spec_round_trips_through_the_formatter(path):
    text = path.read_text(encoding="utf-8")
    spec = parse_spec(text, path=str(path))
    formatted = format_spec(spec)
    assert parse_spec(formatted, path=str(path)) == spec
    assert format_spec(parse_spec(formatted, path=str(path))) == formatted  # canonical: a fixed point
    assert "#" not in formatted.replace('"', "").split("model", 1)[0]  # comments are not kept


@pytest.mark.parametrize("path", MODELS, ids=[p.stem for p in MODELS])
def test_formatted_spec_builds_the_same_graph(path, tmp_path):
    formatted = tmp_path / path.name  # imports spliced in: the formatted text stands alone
    formatted.write_text(format_spec(dsl.load_spec(str(path))), encoding="utf-8")
    a, b = compile_spec(str(path)), compile_spec(str(formatted))
    assert a.infer_plan == b.infer_plan and a.generate_plan == b.generate_plan
    assert set(a.graph.edges) == set(b.graph.edges)


def test_spans_point_into_the_source():
    spec = parse_spec("let L = 4\n\nlatent z[l in 1..L] : [2 ** l]\n", path="f.hvae")
    let, latent = spec.statements
    assert (let.span.path, let.span.line, let.span.column) == ("f.hvae", 1, 1)
    assert (latent.span.line, latent.span.column, latent.span.end_line) == (3, 1, 3)
    assert (latent.target.index.span.line, latent.target.index.span.column) == (3, 10)
    assert (latent.shape.span.column, latent.shape.span.end_column) == (23, 31)


@settings(max_examples=100, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(specs)
def test_random_asts_round_trip(spec):
    text = format_spec(spec)
    assert parse_spec(text, path=spec.path) == spec, text


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(exprs)
def test_random_expressions_round_trip_with_minimal_parentheses(expr):
    text = format_expr(expr)
    (stmt,) = parse_spec(f"let a = {text}").statements
    assert stmt.value == expr, text
    # every pair of parentheses is needed: removing one changes the tree or breaks the parse
    in_string = _string_mask(text)
    for i, ch in enumerate(text):
        if ch != "(" or in_string[i] or (i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_")):
            continue  # inside a string, or a call's parentheses
        close = _matching(text, i)
        shorter = text[:i] + text[i + 1:close] + text[close + 1:]
        try:
            (other,) = parse_spec(f"let a = {shorter}").statements
        except dsl.SpecSyntaxError:
            continue
        assert other.value != expr, f"redundant parentheses in {text!r}"


def _string_mask(text: str) -> list[bool]:
    mask, inside = [], False
    for ch in text:
        if ch == '"':
            inside = not inside
            mask.append(True)
        else:
            mask.append(inside)
    return mask


def _matching(text: str, i: int) -> int:
    in_string = _string_mask(text)
    depth = 0
    for j in range(i, len(text)):
        if not in_string[j]:
            depth += {"(": 1, ")": -1}.get(text[j], 0)
        if depth == 0:
            return j
    raise AssertionError(text)


@pytest.mark.parametrize("text,expected", [
    ("a - (b - c)", "a - (b - c)"),
    ("(a - b) - c", "a - b - c"),
    ("-(2 ** 3)", "-2 ** 3"),
    ("(-2) ** 3", "(-2) ** 3"),
    ("2 ** (3 ** 4)", "2 ** 3 ** 4"),
    ("(2 ** 3) ** 4", "(2 ** 3) ** 4"),
    ("2 ** -l", "2 ** -l"),
    ("(a if b else c) if d else e", "(a if b else c) if d else e"),
    ("a if b else (c if d else e)", "a if b else c if d else e"),
    ("not (a and b)", "not (a and b)"),
    ("(a < b) == c", "(a < b) == c"),
    ("(a or b) and c", "(a or b) and c"),
    ("f(x, k = (1 + 2) * 3)", "f(x, k = (1 + 2) * 3)"),
    ("[1.5, 1e-3, 10, \"s\", true]", "[1.5, 0.001, 10, \"s\", true]"),
    ("prior(z[l - 1]) ", "prior(z[l-1])"),
    ("z[2 * l - 1]", "z[2 * l - 1]"),
    ("d[<l].key", "d[<l].key"),
])
def test_expression_formatting(text, expected):
    (stmt,) = parse_spec(f"let a = {text}").statements
    assert format_expr(stmt.value) == expected


def test_long_statements_wrap_and_still_parse():
    args = ", ".join(f"k{i} = {i}" for i in range(30))
    spec = parse_spec(f"feature h = mlp(x, {args})")
    text = format_spec(spec, width=60)
    assert all(len(line) <= 60 for line in text.splitlines())
    assert parse_spec(text) == spec


def test_format_refuses_what_the_grammar_cannot_write():
    with pytest.raises(ValueError):
        format_expr(ast.Number(None, -1))
    with pytest.raises(ValueError):
        format_expr(ast.String(None, 'a "quote"'))


# -- imports -----------------------------------------------------------------------------------------

def test_imports_splice_and_rebind():
    spec = dsl.load_spec(str(IMPORTS / "child.hvae"))
    concrete, _, _ = dsl.checked(spec)
    assert concrete.constants == {"L": 3, "H": 16}
    assert [v for v in concrete.variables if v.startswith("z")] == ["z[1]", "z[2]", "z[3]"]
    assert concrete.description == "child model"  # the importer's header wins
    assert concrete.paper == "nobody, 2024"  # the imported header fills in the rest
    assert concrete.name == "child"


def test_the_importers_header_wins_before_or_after_its_import(tmp_path):
    (tmp_path / "base.hvae").write_text((IMPORTS / "base.hvae").read_text())
    for order in ("header first", "import first"):
        header = 'model "own header"\ndataset omniglot\n'
        body = 'import "base.hvae"\n'
        (tmp_path / "m.hvae").write_text(header + body if order == "header first" else body + header)
        concrete, _, _ = dsl.checked(dsl.load_spec(str(tmp_path / "m.hvae")))
        assert (concrete.description, concrete.dataset) == ("own header", "omniglot"), order
        assert concrete.paper == "nobody, 2024", order  # not given here: the imported one


def test_imports_resolve_relative_to_the_importing_file(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # not the fixture folder
    mg = compile_spec(str(IMPORTS / "sub" / "grandchild.hvae"))
    assert mg.spec.constants == {"L": 3, "H": 8}
    assert len(mg.latent_order) == 3
    # spans name the file a statement comes from
    assert mg.info("z[1]").span.path.endswith("base.hvae")


def test_parse_spec_alone_does_not_follow_imports():
    spec = parse_spec('import "base.hvae"\n')
    assert spec.statements == (ast.ImportDecl(None, "base.hvae", ()),)
    with pytest.raises(dsl.SpecSemanticError, match="imports are resolved by load_spec"):
        dsl.checked(spec)


# -- --set -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,expected", [
    ("L=8", ("L", 8)),
    (" L = 8 ", ("L", 8)),
    ("lr=1e-3", ("lr", 0.001)),
    ("scale=0.5", ("scale", 0.5)),
    ("flag=false", ("flag", False)),
    ("hidden=[256,256]", ("hidden", (256, 256))),
    ('name="a b"', ("name", "a b")),
    ("C=2*64", ("C", 128)),
    ("shift=-3", ("shift", -3)),
    ("nested=[[1, 2], [3]]", ("nested", ((1, 2), (3,)))),
])
def test_set_values_are_constants_of_the_language(text, expected):
    assert parse_override(text) == expected


@pytest.mark.parametrize("text", ["L", "L=", "=3", "L=[1,", "L=mlp(x)", "L=z[1]", "L=1/0", "a b=3"])
def test_bad_set_values_are_spec_errors(text):
    with pytest.raises(dsl.SpecSemanticError) as info:
        parse_override(text)
    assert info.value.first.code == "bad-override"
    assert "--set" in info.value.first.message


def test_set_overrides_change_the_model():
    assert len(compile_spec("ladder", {"L": 3}).latent_order) == 3
    assert compile_spec("nvae8", {"C": 16}).info("c[1]").shape == (32, 16, 16)
