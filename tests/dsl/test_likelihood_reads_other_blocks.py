"""A likelihood may read other observed variables (p(x_l | z_l, x_{l-1}), data in blocks);
a prior still may not read data, and a likelihood may not read its own target."""
from __future__ import annotations

import pytest

import dsl

HEAD = """
observed x[1..2] : [3] ~ bernoulli
latent z[1..2] : [2] ~ normal
prior z[1] = normal(loc = 0, scale = 1)
prior z[2] | z[1] = mlp(z[1], hidden = [4])
posterior z[l in 1..2] | x = mlp(concat(x), hidden = [4])
likelihood x[1] | z[1] = mlp(z[1], hidden = [4])
"""


def _codes(text):
    return [d.code for d in dsl.check_spec(dsl.parse_spec(text, path="blocks.hvae")) if d.is_error]


def test_a_likelihood_may_read_an_earlier_observed_block():
    assert _codes(HEAD + "likelihood x[2] | z[2], x[1] = mlp(concat(z[2], x[1]), hidden = [4])\n") == []


def test_a_likelihood_reading_its_own_target_is_still_an_error():
    codes = _codes(HEAD + "likelihood x[2] | z[2], x[2] = mlp(concat(z[2], x[2]), hidden = [4])\n")
    assert "generative-reads-data" in codes


@pytest.mark.parametrize("prior", ["prior z[2] | x[1] = mlp(x[1], hidden = [4])"])
def test_a_prior_reading_data_is_still_an_error(prior):
    text = HEAD.replace("prior z[2] | z[1] = mlp(z[1], hidden = [4])", prior)
    assert "generative-reads-data" in _codes(text + "likelihood x[2] | z[2] = mlp(z[2], hidden = [4])\n")
