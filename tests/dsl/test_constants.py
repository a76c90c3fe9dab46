"""Constants: --set overrides, enumerated constants, and constant functions."""
from __future__ import annotations

import pytest

import dsl
from dsl import parse_override

BASE = '''
let KIND = one_of("dct", ["dct", "downsample"])
let A = 3
let B = 4
let W = max(A, B) if KIND == "dct" else min(A, B)
observed x : [W] ~ bernoulli
latent z : [2] ~ normal
prior z = normal(loc = 0, scale = 1)
posterior z | x = mlp(x)
likelihood x | z = mlp(z)
'''


def _concrete(overrides=None):
    return dsl.checked(dsl.parse_spec(BASE, path="k.hvae"), overrides)[0]


def test_enumerated_constant_default_and_override():
    assert _concrete().variables["x"].shape == (4,)
    assert _concrete({"KIND": "downsample"}).variables["x"].shape == (3,)


def test_enumerated_constant_rejects_a_value_outside_its_choices():
    with pytest.raises(dsl.SpecSemanticError) as info:
        _concrete({"KIND": "dtc"})
    assert "KIND is one of dct, downsample" in str(info.value)
    assert "did you mean 'dct'" in str(info.value)


def test_one_of_default_outside_choices_is_located():
    spec = dsl.parse_spec(BASE.replace('one_of("dct"', 'one_of("dtc"'), path="k.hvae")
    errors = [d for d in dsl.check_spec(spec) if d.is_error]
    assert errors[0].span.line == 2 and "not one of the allowed values" in errors[0].message


def test_constants_of_the_branch_not_taken_are_not_reported_unused():
    warnings = [d for d in dsl.check_spec(dsl.parse_spec(BASE, path="k.hvae")) if d.code == "unused-constant"]
    assert warnings == []


@pytest.mark.parametrize("text, value", [("L=8", 8), ("lr=1e-3", 1e-3), ("flag=false", False),
                                         ("hidden=[256, 256]", (256, 256)), ('kind="dct"', "dct"),
                                         ("kind=downsample", "downsample")])
def test_parse_override(text, value):
    assert parse_override(text)[1] == value


@pytest.mark.parametrize("text", ["L", "L=1 2", "L=[1,", "L=x[3]"])
def test_parse_override_rejects_malformed_values(text):
    with pytest.raises(dsl.SpecError):
        parse_override(text)
