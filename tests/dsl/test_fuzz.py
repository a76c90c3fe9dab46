"""Fuzzing the front end with random mutations of the zoo's specs (hypothesis).

Every mutated spec must either build -- through the same path as `zoo build --no-lower`: load and
parse, elaborate and check, build the graph, validate it -- or fail with a `SpecError` whose first
diagnostic points into the file (line >= 1) and renders without error. Any other exception (a
`KeyError`, a lark `VisitError`, a `RecursionError`...) is a bug in the compiler.

Mutations work on tokens, the way typos and bad edits do: delete, duplicate, swap or replace a
token, change a number, rename an identifier, drop or duplicate a line, insert a random token of
the language. The corpus is each zoo spec without its comments and with its layer count cut to 3,
so a mutant that parses compiles in tens of milliseconds.
"""
from __future__ import annotations

import pathlib
import re
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dsl import SpecError, SpecSyntaxError
from zoo.registry import compile_spec

from .test_syntax_errors import assert_plain_english

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
EXAMPLES = 1000

_TOKEN = re.compile(r'"[^"\n]*"|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|[A-Za-z_][A-Za-z0-9_]*|\.\.|\*\*|//|<=|>=|==|!='
                    r'|\s+|.', re.S)
_VOCABULARY = (
    "model paper dataset import with let observed latent pseudo feature split prior posterior likelihood assume "
    "independent of given in if else and or not true false "
    "( ) [ ] , = : ~ | . .. + - * / // % ** < <= > >= == != "
    "x z h e c l L C out mlp conv normal bernoulli residual concat 0 1 2 16 \"s\" # \n"
).split(" ")
_NUMBERS = ["0", "1", "2", "3", "7", "16", "64", "0.5", "1e-3", "2.0"]


def _corpus() -> list[str]:
    """The zoo's specs, comments stripped, with at most 3 layers."""
    out = []
    for path in sorted((ROOT / "specs").glob("*.hvae")):
        lines = [re.sub(r"#.*", "", line).rstrip() for line in path.read_text(encoding="utf-8").splitlines()]
        text = "\n".join(line for line in lines if line) + "\n"
        out.append(re.sub(r"^let L = \d+", "let L = 3", text, flags=re.M))
    return out


CORPUS = _corpus()


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _significant(tokens: list[str]) -> list[int]:
    return [i for i, t in enumerate(tokens) if not t.isspace()]


@st.composite
def mutants(draw) -> str:
    text = draw(st.sampled_from(CORPUS))
    for _ in range(draw(st.integers(1, 3))):
        text = _mutate(draw, text)
    return text


def _mutate(draw, text: str) -> str:
    op = draw(st.sampled_from(["delete", "duplicate", "swap", "replace", "number", "rename", "drop_line",
                               "duplicate_line", "insert"]))
    if op in ("drop_line", "duplicate_line"):
        lines = text.splitlines(keepends=True)
        i = draw(st.integers(0, len(lines) - 1))
        lines[i:i + 1] = [] if op == "drop_line" else [lines[i], lines[i]]
        return "".join(lines)
    tokens = _tokens(text)
    where = _significant(tokens)
    i = where[draw(st.integers(0, len(where) - 1))]
    if op == "delete":
        tokens[i] = ""
    elif op == "duplicate":
        tokens[i] = tokens[i] + " " + tokens[i]
    elif op == "swap":
        j = where[draw(st.integers(0, len(where) - 1))]
        tokens[i], tokens[j] = tokens[j], tokens[i]
    elif op == "replace":
        tokens[i] = draw(st.sampled_from(_VOCABULARY))
    elif op == "insert":
        tokens[i] = draw(st.sampled_from(_VOCABULARY)) + " " + tokens[i]
    elif op == "number":
        numbers = [k for k in where if tokens[k][0].isdigit()]
        if numbers:
            tokens[numbers[draw(st.integers(0, len(numbers) - 1))]] = draw(st.sampled_from(_NUMBERS))
    elif op == "rename":
        names = sorted({tokens[k] for k in where if re.fullmatch(r"[A-Za-z_]\w*", tokens[k])})
        old = draw(st.sampled_from(names))
        new = draw(st.sampled_from(names + [old + "_", old[:-1] or "q", old.upper(), "undefined"]))
        every = draw(st.booleans())  # a consistent rename, or one occurrence only
        for k in where:
            if tokens[k] == old and (every or k == i or tokens[i] != old):
                tokens[k] = new
                if not every:
                    break
    return "".join(tokens)


class _Stats:
    built = syntax = semantic = 0
    seconds = 0.0


STATS = _Stats()


def check_mutant(text: str, tmp_dir: pathlib.Path) -> None:
    path = tmp_dir / "mutant.hvae"
    path.write_text(text, encoding="utf-8")
    start = time.perf_counter()
    try:
        compile_spec(str(path))
    except SpecError as err:
        first = err.diagnostics[0]
        assert first.span is not None and first.span.line >= 1 and first.span.column >= 1, (str(err), text)
        assert first.span.path == str(path)
        str(err)  # renders
        if isinstance(err, SpecSyntaxError):
            STATS.syntax += 1
            assert_plain_english(first.message)
            assert_plain_english(first.hint or "")
        else:
            STATS.semantic += 1
    else:
        STATS.built += 1
    finally:
        STATS.seconds += time.perf_counter() - start


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(mutants())
def _fuzz(text):
    check_mutant(text, _fuzz.tmp_dir)


def test_mutated_specs_build_or_fail_with_a_located_spec_error(tmp_path):
    _fuzz.tmp_dir = tmp_path
    _fuzz()
    total = STATS.built + STATS.syntax + STATS.semantic
    assert total >= EXAMPLES
    # the mutations exercise every stage: some build, some fail to parse, some fail the checks
    assert STATS.built > 0 and STATS.syntax > 100 and STATS.semantic > 100, vars(STATS)


@pytest.mark.parametrize("text", [
    "",  # an empty spec
    "latent z : [4] ~ normal\n",  # no observed variable
    "observed x : [4] ~ bernoulli\n",  # no likelihood
    "let L = 3\n",
])
def test_degenerate_specs(text, tmp_path):
    check_mutant(text, tmp_path)
