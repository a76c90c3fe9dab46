"""Every example of the syntax-error catalogue gets its own message, at the right place.

The catalogue (`dsl/syntax_errors.py`) maps a message to minimal specs that make that mistake;
the parser picks a message by the parser state an error happens in. Here each example must
produce exactly its label, at the line and column written down below by hand, and no message
may leak a grammar-internal token name.
"""
from __future__ import annotations

import re

import pytest

from dsl import SpecSyntaxError, parse_spec
from dsl.syntax_errors import SYNTAX_ERRORS

# The column of each example's error (line 1), read off the example: the offending token, or one
# past the last character for an unexpected end of file.
POSITIONS = {
    "latent z [32]": 14,  # end of file: `z [32]` is read as the target z[32], then ':' is missing
    "latent z[1..4] [10]": 16,  # the second '['
    "observed x ~ bernoulli": 12,  # '~'
    "pseudo u [1, 7, 7]": 12,  # the ',' inside what reads as the index u[1
    "feature h mlp(x)": 11,  # 'mlp'
    "feature h[l in 1..3] mlp(x)": 22,  # 'mlp'
    "prior z normal(loc = 0, scale = 1)": 9,  # 'normal'
    "posterior z[1] mlp(x)": 16,  # 'mlp'
    "likelihood x mlp(z)": 14,  # 'mlp'
    "prior z | x mlp(x)": 13,  # 'mlp'
    "posterior z[2] | x, z[1] mlp(x)": 26,  # 'mlp'
    "likelihood x | z mlp(z)": 18,  # 'mlp'
    "posterior z | x z = mlp(x)": 17,  # the second 'z'
    "prior z[2] | z[1] x = mlp(z[1])": 19,  # 'x'
    "let L 16": 7,  # '16'
    "let = 16": 5,  # '='
    "latent z[1:4] : [10]": 11,  # ':'
    "prior z[l in 2:5] | z[l-1] = mlp(z[l-1])": 15,  # ':'
    "prior z[for l in 2..5] | z[l-1] = mlp(z[l-1])": 13,  # 'l' after `for`
    "feature h = mlp(x, hidden = [10, 10)": 36,  # ')'
    "z = 3": 1,
    "const L = 3": 1,
    "h = mlp(x)": 1,
    "feature h = mlp(x hidden = [10])": 19,  # 'hidden'
    "feature h = mlp(x, hidden = [10] out = 4)": 34,  # 'out'
    "feature h = mlp(x, k = 3 out = 4)": 26,  # 'out'
    "let L = 3 4": 11,  # '4'
    "let L = a b": 11,  # 'b'
    "model a VAE": 7,  # 'a'
    "paper Kingma 2014": 7,  # 'Kingma'
    "assume u independent z given x": 22,  # 'z' where 'of' belongs
    "assume u of z given x": 10,  # 'of' where 'independent' belongs
}

CASES = [(label, example) for label, examples in SYNTAX_ERRORS.items() for example in examples]
IDS = [example for _, example in CASES]


def _error(text: str):
    with pytest.raises(SpecSyntaxError) as info:
        parse_spec(text, path="bad.hvae")
    assert len(info.value.diagnostics) == 1
    return info.value.first


def assert_plain_english(text: str) -> None:
    """No lark-internal names: `__ANON_0`, `$END`, or terminal names such as NAME or LSQB."""
    assert "__" not in text and "$END" not in text, text
    unquoted = re.sub(r"'[^']*'|`[^`]*`|\"[^\"]*\"", "", text)
    assert not re.search(r"\b[A-Z][A-Z_]+\b", unquoted), text


def test_every_example_has_a_hand_checked_position():
    assert sorted(IDS) == sorted(POSITIONS), "add the new catalogue examples to POSITIONS"


@pytest.mark.parametrize("label,example", CASES, ids=IDS)
def test_example_gets_its_message_at_its_position(label, example):
    d = _error(example)
    assert d.message == label
    assert (d.span.path, d.span.line, d.span.column) == ("bad.hvae", 1, POSITIONS[example])
    assert d.code == "syntax"
    assert_plain_english(d.message)
    assert_plain_english(d.hint)
    rendered = str(d)
    assert rendered.startswith(f"bad.hvae:1:{POSITIONS[example]}: error: {label}")
    caret_line = rendered.splitlines()[2]
    assert caret_line.index("^") - caret_line.index("|") - 2 == POSITIONS[example] - 1


@pytest.mark.parametrize("label,example", CASES, ids=IDS)
def test_lines_are_counted_past_comments_and_blank_lines(label, example):
    d = _error("# a comment\n\n   # another one\n" + example)
    assert (d.message, d.span.line, d.span.column) == (label, 4, POSITIONS[example])


@pytest.mark.parametrize("label,example", CASES, ids=IDS)
def test_message_does_not_depend_on_the_statement_before(label, example):
    # after a complete `let`, `z = 3` could also continue its expression; a name that starts a
    # line is still read as a statement without its keyword
    d = _error("let A = 1\n" + example)
    assert (d.message, d.span.line, d.span.column) == (label, 2, POSITIONS[example])


def test_feature_and_factor_mistakes_in_the_same_parser_state_get_their_own_message():
    feature = _error("feature h mlp(x)").message
    factor = _error("prior z mlp(x)").message
    assert feature.startswith("a feature needs '='")
    assert factor.startswith("a factor needs '='")


@pytest.mark.parametrize("text,found", [
    ("latent z : [10] ~", "end of file"),
    ("let L = 3 $", "character '$'"),
    ("let L = 3\nlatent z : [L] ~ normal(loc = @)", "character '@'"),
    ("feature h = mlp(x, hidden = [10,, 10])", "','"),
])
def test_uncatalogued_errors_say_what_was_found_and_expected(text, found):
    d = _error(text)
    assert found in d.message or found in (d.hint or "")
    assert "expected" in (d.hint or "")
    assert_plain_english(d.message)
    assert_plain_english(d.hint)


def test_unexpected_end_of_file_points_past_the_last_character():
    d = _error("let L = 3\nlatent z : [L] ~")
    assert (d.span.line, d.span.column) == (2, 17)


@pytest.mark.parametrize("text,where,bracket,before", [
    # the bracket that is never closed, not the statement after it (issue 12, item 6)
    ("let L = 3\nfeature h = mlp(x, hidden = [L]\n\nprior z = normal(0, 1)\n", (2, 16), "(", "'prior' at 4:1"),
    ("latent z : [10", (1, 12), "[", "the end of the file"),
    ("feature h = mlp(x, hidden = [10, 10]", (1, 16), "(", "the end of the file"),
    ("feature h = f(g(x), [1, (2\n# a ( in a comment\nlet a = \"(\"\nlet b = 1", (1, 25), "(", "'let' at 3:1"),
])
def test_an_unclosed_bracket_is_reported_where_it_opened(text, where, bracket, before):
    d = _error(text)
    assert d.message == f"this '{bracket}' is never closed"
    assert (d.span.line, d.span.column) == where
    assert d.hint == f"add '{ {'(': ')', '[': ']'}[bracket] }' before {before}"
    assert_plain_english(d.hint)
