"""Fuzzing the front end with random mutations of the zoo's specs (issue 16).

Every mutated spec must either build -- through the same path as `zoo build --no-lower`: load and
parse, elaborate and check, build the graph, validate it -- or fail with a `SpecError` whose every
diagnostic points into the file (line >= 1) and renders without error, within a time bound and a
memory bound per spec. Any other exception (a `KeyError`, a lark `VisitError`, a `RecursionError`,
a `UnicodeDecodeError`...) is a bug in the compiler.

Mutations work on tokens, the way typos and bad edits do: delete, duplicate, swap or replace a
token, change a number (to a huge one too), rename an identifier, drop or duplicate a line, insert
a random token of the language or a deep nesting burst; and on bytes, the way corrupt files and
wrong encodings do: overwrite, insert or delete bytes (non-UTF-8 and NUL included), truncate. The
corpus is every zoo spec (fragments included) without its comments and with its layer count cut to
3, so a mutant that parses compiles in tens of milliseconds.

The CI test runs 2,000 mutants with a fixed seed; the slow-marked campaign runs 50,000.
"""
from __future__ import annotations

import pathlib
import random
import re
import resource
import time

import pytest

from dsl import SpecError, SpecSyntaxError
from zoo.registry import compile_spec

from .test_syntax_errors import assert_plain_english

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent

_TOKEN = re.compile(r'"[^"\n]*"|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|[A-Za-z_][A-Za-z0-9_]*|\.\.|\*\*|//|<=|>=|==|!='
                    r'|\s+|.', re.S)
_VOCABULARY = (
    "model paper dataset import with let observed latent pseudo feature split prior posterior likelihood assume "
    "independent of given in if else and or not true false "
    "( ) [ ] , = : ~ | . .. + - * / // % ** < <= > >= == != "
    "x z h e c l L C out mlp conv normal bernoulli residual concat 0 1 2 16 \"s\" # \n"
).split(" ")
_NUMBERS = ["0", "1", "2", "3", "7", "16", "64", "0.5", "1e-3", "2.0"]
# sizes that once reached torch.empty or hung the compiler: `let L = 10**9`, widths of 10^9
_HUGE = ["10**9", "1000000000", "2**40", "10**100", "1e300", "65536", "9" * 5000]


def _corpus() -> list[str]:
    """The zoo's specs, comments stripped, with at most 3 layers."""
    out = []
    for path in sorted((ROOT / "specs").glob("*.hvae")):  # fragments (`_name.hvae`) too
        lines = [re.sub(r"#.*", "", line).rstrip() for line in path.read_text(encoding="utf-8").splitlines()]
        text = "\n".join(line for line in lines if line) + "\n"
        out.append(re.sub(r"^let L = \d+", "let L = 3", text, flags=re.M))
    return out


CORPUS = _corpus()


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _significant(tokens: list[str]) -> list[int]:
    return [i for i, t in enumerate(tokens) if not t.isspace()]


def mutant(rng: random.Random) -> bytes:
    """One to three mutations of a corpus spec: token-level edits, or byte-level corruption."""
    text = rng.choice(CORPUS)
    if rng.random() < 0.25:
        data = text.encode("utf-8")
        for _ in range(rng.randint(1, 3)):
            data = _mutate_bytes(rng, data)
        return data
    for _ in range(rng.randint(1, 3)):
        text = _mutate(rng, text)
    return text.encode("utf-8")


def _mutate_bytes(rng: random.Random, data: bytes) -> bytes:
    i = rng.randrange(len(data) + 1)
    op = rng.choice(["overwrite", "insert", "delete", "truncate"])
    noise = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    if op == "overwrite":
        return data[:i] + noise + data[i + len(noise):]
    if op == "insert":
        return data[:i] + noise + data[i:]
    if op == "delete":
        return data[:i] + data[i + rng.randint(1, 64):]
    return data[:i]


def _mutate(rng: random.Random, text: str) -> str:
    op = rng.choice(["delete", "duplicate", "swap", "replace", "number", "huge", "rename", "drop_line",
                     "duplicate_line", "insert", "nest"])
    if op in ("drop_line", "duplicate_line"):
        lines = text.splitlines(keepends=True)
        i = rng.randrange(len(lines))
        lines[i:i + 1] = [] if op == "drop_line" else [lines[i], lines[i]]
        return "".join(lines)
    tokens = _tokens(text)
    where = _significant(tokens)
    i = rng.choice(where)
    if op == "delete":
        tokens[i] = ""
    elif op == "duplicate":
        tokens[i] = tokens[i] + " " + tokens[i]
    elif op == "swap":
        j = rng.choice(where)
        tokens[i], tokens[j] = tokens[j], tokens[i]
    elif op == "replace":
        tokens[i] = rng.choice(_VOCABULARY)
    elif op == "insert":
        tokens[i] = rng.choice(_VOCABULARY) + " " + tokens[i]
    elif op == "nest":  # deep nesting: parentheses, unary operators, calls, lists
        n = rng.choice([50, 150, 600])
        opening, closing = rng.choice([("(", ")"), ("-", ""), ("not ", ""), ("mlp(", ")"), ("[", "]")])
        tokens[i] = opening * n + tokens[i] + closing * n
    elif op in ("number", "huge"):
        numbers = [k for k in where if tokens[k][0].isdigit()]
        if numbers:
            tokens[rng.choice(numbers)] = rng.choice(_NUMBERS if op == "number" else _HUGE)
    elif op == "rename":
        names = sorted({tokens[k] for k in where if re.fullmatch(r"[A-Za-z_]\w*", tokens[k])})
        old = rng.choice(names)
        new = rng.choice(names + [old + "_", old[:-1] or "q", old.upper(), "undefined"])
        every = rng.random() < 0.5  # a consistent rename, or one occurrence only
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


# Bounds per mutant: CPU seconds to build or fail, and the peak resident memory while compiling it.
SECONDS_PER_SPEC = 5.0
PEAK_GROWTH_MB = 500


def check_mutant(data, tmp_dir: pathlib.Path) -> None:
    """Compile one mutant; assert it builds or fails with located diagnostics, in bounded time."""
    path = tmp_dir / "mutant.hvae"
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    _reset_peak_memory()
    before_mb = _peak_memory_mb()
    start = time.process_time()
    try:
        compile_spec(str(path))
    except SpecError as err:
        for d in err.diagnostics:  # zero unlocated errors
            assert d.span is not None and d.span.line >= 1 and d.span.column >= 1, (str(err), data)
            assert d.span.path == str(path), (str(err), data)
        str(err)  # renders
        first = err.diagnostics[0]
        if isinstance(err, SpecSyntaxError):
            STATS.syntax += 1
        if first.code == "syntax":  # the messages built from lark's errors name no lark internals
            assert_plain_english(first.message)
            assert_plain_english(first.hint or "")
        if not isinstance(err, SpecSyntaxError):
            STATS.semantic += 1
    else:
        STATS.built += 1
    finally:
        seconds = time.process_time() - start
        STATS.seconds += seconds
    assert seconds < SECONDS_PER_SPEC, (seconds, data)
    grown_mb = _peak_memory_mb() - before_mb
    assert grown_mb < PEAK_GROWTH_MB, (grown_mb, data)


def _reset_peak_memory() -> None:
    """Start a new peak-memory window (Linux: writing 5 to clear_refs resets VmHWM)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
            handle.write("5")
    except OSError:
        pass  # elsewhere the window is the process's lifetime, a weaker bound


def _peak_memory_mb() -> float:
    """The resident-set peak since the last reset, in MB."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_campaign(count: int, seed: int, tmp_dir: pathlib.Path) -> None:
    rng = random.Random(seed)
    for _ in range(count):
        check_mutant(mutant(rng), tmp_dir)
    total = STATS.built + STATS.syntax + STATS.semantic
    assert total >= count
    # the mutations exercise every stage: some build, some fail to parse, some fail the checks
    assert STATS.built > count // 100 and STATS.syntax > count // 10 and STATS.semantic > count // 10, vars(STATS)


def test_2000_mutated_specs_build_or_fail_with_located_errors(tmp_path):
    start = time.process_time()  # CPU time: wall time on a shared machine says more about the neighbours
    run_campaign(2000, seed=16, tmp_dir=tmp_path)
    assert time.process_time() - start < 90  # about 30 s


@pytest.mark.slow
def test_50000_mutated_specs_build_or_fail_with_located_errors(tmp_path):
    run_campaign(50_000, seed=1616, tmp_dir=tmp_path)


@pytest.mark.parametrize("text", [
    "",  # an empty spec
    "latent z : [4] ~ normal\n",  # no observed variable
    "observed x : [4] ~ bernoulli\n",  # no likelihood
    "let L = 3\n",
])
def test_degenerate_specs(text, tmp_path):
    check_mutant(text, tmp_path)
