"""`zoo check --fix`: every unfaithful fixture and random unfaithful specs become faithful,
still build, and run a training step; the new parents are read, not only declared."""
from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

from compiler.dsep import check_posterior_factorization
from zoo.runtime.lower import lower
from zoo.cli import main
from zoo.registry import compile_spec

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = sorted((ROOT / "tests" / "fixtures" / "specs").glob("*.hvae"))
UNFAITHFUL = [p for p in FIXTURES if not check_posterior_factorization(compile_spec(str(p)), inverse=False).faithful]


def fix(tmp_path, text: str, capsys) -> str:
    path = tmp_path / "spec.hvae"
    path.write_text(text)
    code = main(["check", str(path), "--fix", "--write"])
    capsys.readouterr()
    assert code == 0, path.read_text()
    return path.read_text()


def assert_faithful_and_trains(path: Path) -> None:
    mg = compile_spec(str(path))
    report = check_posterior_factorization(mg, inverse=False)
    assert report.faithful and report.exact
    assert not [w for w in mg.warnings if w.code == "unused-parent"], "a declared parent is not read"
    torch.manual_seed(0)
    model = lower(mg)
    x = torch.bernoulli(torch.full((3, *mg.observed[0].shape), 0.5))
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-2)
    loss = -model(x).elbo.mean()
    loss.backward()
    optimizer.step()
    assert torch.isfinite(loss)


def test_there_are_unfaithful_fixtures():
    assert {p.stem for p in UNFAITHFUL} >= {"skip_markov", "meanfield", "explaining_away"}


@pytest.mark.parametrize("path", UNFAITHFUL, ids=lambda p: p.stem)
def test_fix_repairs_every_unfaithful_fixture(tmp_path, capsys, path):
    fixed = fix(tmp_path, path.read_text(), capsys)
    assert fixed != path.read_text()
    assert_faithful_and_trains(tmp_path / "spec.hvae")


def test_one_rewrite_for_an_index_range(tmp_path, capsys):
    fixed = fix(tmp_path, (ROOT / "tests/fixtures/specs/skip_markov.hvae").read_text(), capsys)
    assert "posterior z[l in 2..L] | z[<l], x = linear(concat(z[<l], x))" in fixed
    assert fixed.count("posterior") == (ROOT / "tests/fixtures/specs/skip_markov.hvae").read_text().count("posterior")


def test_a_declared_but_unread_parent_is_made_read(tmp_path, capsys):
    fixed = fix(tmp_path, (ROOT / "tests/fixtures/specs/explaining_away.hvae").read_text(), capsys)
    assert "posterior b | a, x = linear(concat(a, x) if coupled else concat(x, a))" in fixed


def test_diff_and_print_modes_leave_the_file(tmp_path, capsys):
    path = tmp_path / "s.hvae"
    original = (ROOT / "tests/fixtures/specs/meanfield.hvae").read_text()
    path.write_text(original)
    assert main(["check", str(path), "--fix", "--diff"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("---") and "+posterior z[l in 1..L] | x, z[<l] = linear(concat(x, z[<l]))" in out
    assert main(["check", str(path), "--fix"]) == 0
    assert "z[<l]" in capsys.readouterr().out and path.read_text() == original


def random_spec(rng: random.Random) -> str:
    """A random hierarchy whose posterior is likely unfaithful: random generative parents and
    decoder reads, a top-down posterior with random (often too few) parents."""
    n = rng.randint(2, 5)
    lines = ['model "random"', "observed x : [5] ~ bernoulli"]
    lines += [f"latent z{i} : [2] ~ normal" for i in range(1, n + 1)]
    lines.append("prior z1 = normal(loc = 0, scale = 1)")
    has_child = set()
    for i in range(2, n + 1):
        parents = sorted(rng.sample(range(1, i), rng.randint(1, i - 1)))
        has_child |= set(parents)
        refs = ", ".join(f"z{j}" for j in parents)
        lines.append(f"prior z{i} | {refs} = linear(concat({refs}))")
    for i in range(1, n + 1):
        earlier = sorted(rng.sample(range(1, i), rng.randint(0, i - 1))) if i > 1 else []
        refs = ", ".join(["x"] + [f"z{j}" for j in earlier])
        lines.append(f"posterior z{i} | {refs} = linear(concat({refs}))")
    leaves = set(range(1, n + 1)) - has_child  # every latent must reach the data
    read = sorted(set(rng.sample(range(1, n + 1), rng.randint(1, n))) | leaves)
    refs = ", ".join(f"z{j}" for j in read)
    lines.append(f"likelihood x | {refs} = linear(concat({refs}))")
    return "\n".join(lines) + "\n"


def fix_random_specs(tmp_path, capsys, make, rng: random.Random, attempts: int, wanted: int = 8) -> None:
    """Draw specs with `make(rng)` until `wanted` of them are unfaithful; `--fix --write` each, and
    assert that the result passes, respects the exact factorization, builds and trains, with one
    rewrite per posterior statement."""
    tried = 0
    for k in range(attempts):
        text = make(rng)
        path = tmp_path / f"r{k}.hvae"
        path.write_text(text)
        if check_posterior_factorization(compile_spec(str(path)), inverse=False).faithful:
            continue
        tried += 1
        assert main(["check", str(path), "--fix", "--write"]) == 0, text
        capsys.readouterr()
        assert path.read_text().count("posterior") == text.count("posterior"), "one rewrite per statement"
        assert_faithful_and_trains(path)
        if tried == wanted:
            break
    assert tried == wanted


def test_fix_repairs_random_unfaithful_specs(tmp_path, capsys):
    fix_random_specs(tmp_path, capsys, random_spec, random.Random(12), attempts=40)


def random_array_spec(rng: random.Random) -> str:
    """A random hierarchy over one latent array: Markov or dense prior, a decoder on z[L], on all
    of z or on z[k..L], and a posterior that is mean-field or top-down Markov (the prior reads every
    layer below the top, so each latent reaches the data)."""
    n = rng.randint(3, 6)
    prior = rng.choice(["prior z[l in 2..L] | z[l-1] = linear(z[l-1])",
                        "prior z[l in 2..L] | z[<l] = linear(concat(z[<l]))"])
    k = rng.randint(1, n)
    decoder = rng.choice(["likelihood x | z[L] = linear(z[L])", "likelihood x | z = linear(concat(z))",
                          f"likelihood x | z[{k}..L] = linear(concat(z[{k}..L]))"])
    posterior = rng.choice([
        ["posterior z[l in 1..L] | x = linear(x)"],
        ["posterior z[1] | x = linear(x)", "posterior z[l in 2..L] | z[l-1], x = linear(concat(z[l-1], x))"],
    ])
    lines = ['model "random array"', f"let L = {n}", "observed x : [5] ~ bernoulli", "latent z[1..L] : [2] ~ normal",
             "prior z[1] = normal(loc = 0, scale = 1)", prior, *posterior, decoder]
    return "\n".join(lines) + "\n"


def test_fix_repairs_random_unfaithful_array_specs(tmp_path, capsys):
    fix_random_specs(tmp_path, capsys, random_array_spec, random.Random(7), attempts=60)


def test_fix_reaches_a_convolutional_network_inside_feature_arithmetic(tmp_path, capsys):
    """An NVAE-like hierarchy whose posteriors read only bottom-up features: the new parents join the
    input of the outer convolution, `conv(...) + e[l]`, and the model still builds and trains."""
    from bench.bench_compile import NVAE

    text = NVAE.format(L=3).replace("let C = 8", "let C = 4")
    start, end = text.index("posterior z[l in 2..L]"), text.index("feature out")
    text = text[:start] + "posterior z[l in 2..L] | x = normal(conv(conv(e[l], out = 2 * C, k = 1) + e[l], k = 3))\n" \
        + text[end:]
    fixed = fix(tmp_path, text, capsys)
    assert "posterior z[l in 2..L] | x, z[<l] = normal(conv(concat(conv(e[l], out = 2 * C, k = 1) + e[l], z[<l])," \
           " k = 3))" in fixed
    assert_faithful_and_trains(tmp_path / "spec.hvae")


def test_a_violation_in_an_imported_file_is_reported_not_rewritten(tmp_path, capsys):
    (tmp_path / "base.hvae").write_text((ROOT / "tests/fixtures/specs/meanfield.hvae").read_text())
    child = tmp_path / "child.hvae"
    child.write_text('import "base.hvae"\nmodel "child"\n')
    assert main(["check", str(child), "--fix", "--write"]) == 1
    err = capsys.readouterr().err
    assert "base.hvae:9:1: could not repair q(z[2], z[3])" in err and "NOT faithful" in err
    assert child.read_text() == 'import "base.hvae"\nmodel "child"\n'
    assert (tmp_path / "base.hvae").read_text() == (ROOT / "tests/fixtures/specs/meanfield.hvae").read_text()
