"""The model's size is known, and refused above a budget, before any weight is allocated (issue 16)."""
from __future__ import annotations

import math

import pytest

from zoo.runtime.lower import lower
from dsl import SpecError
from zoo.training.budget import check_budget, estimate
from zoo.cli import main
from zoo.registry import compile_spec


@pytest.mark.parametrize("name", ["vae", "vampprior_mnist", "dvp_mnist", "ladder"])
def test_the_estimate_is_the_exact_parameter_count(name):
    mg = compile_spec(name)
    est = estimate(mg)
    assert est.parameters == lower(mg).num_parameters()
    assert sum(est.by_statement.values()) <= est.parameters
    assert est.activations > sum(math.prod(v.shape) for v in mg.observed)


def test_a_model_above_the_parameter_budget_is_refused_at_its_largest_statement():
    mg = compile_spec("vae", {"H": 100_000})  # 2 * 10^10 parameters: 80 GB, never allocated
    with pytest.raises(SpecError) as info:
        check_budget(mg)
    d = info.value.first
    assert d.code == "model-too-large"
    assert "20,172,200,884 (20.2 billion) parameters" in d.message
    assert (d.span.line, d.span.column) == (18, 1)  # the posterior holds the most
    check_budget(mg, max_parameters=10 ** 11, memory=None)  # a raised budget lets it through


def test_a_model_above_the_memory_available_is_refused():
    mg = compile_spec("vae")
    with pytest.raises(SpecError, match="only 1 MB are available now"):
        check_budget(mg, memory=10 ** 6, training=True, batch_size=64)
    est = check_budget(mg, memory=10 ** 9, training=True, batch_size=64)
    assert est.bytes_needed(batch_size=64, training=True) == est.parameters * 16 + est.activations * 64 * 8


def test_the_cli_refuses_before_allocating(capsys):
    assert main(["build", "vae", "--set", "H=100000"]) == 2
    assert "above the budget of 10,000,000,000" in capsys.readouterr().err
    assert main(["build", "vae", "--max-parameters", "1000"]) == 2
    assert "--max-parameters" in capsys.readouterr().err


def test_sizes_past_pytorchs_counters_are_a_located_error(tmp_path):
    spec = tmp_path / "conv.hvae"
    spec.write_text("observed x : [1, 8, 8] ~ bernoulli\nlatent z : [4, 8, 8] ~ normal\n"
                    "feature h = conv(x, out = 16777216, k = 16777215)\nprior z = normal(loc = 0, scale = 1)\n"
                    "posterior z | x = conv(h, k = 1)\nlikelihood x | z = conv(z, k = 3)\n")
    with pytest.raises(SpecError, match="overflow") as info:
        check_budget(compile_spec(str(spec)))
    assert (info.value.first.span.line, info.value.first.span.column) == (3, 1)
