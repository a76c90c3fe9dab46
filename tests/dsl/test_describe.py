"""The `model` header interpolates constants (issue 14, item 5): `zoo build ladder --set L=3` says
3 stochastic layers; attentive16 with every mechanism off no longer says "strongly connected";
the overrides are printed beside the description."""
from __future__ import annotations

import json

import pytest

import dsl
from dsl.describe import interpolate, literal_constants, titled
from dsl.errors import SpecSemanticError
from zoo.registry import compile_spec, list_models

SPEC = """model "{L} layers of {W} units, braces {{like this}}"
let L = 2
let W = 8
observed x : [W] ~ bernoulli
latent z[l in 1..L] : [W] ~ normal
prior z[1] = normal(loc = 0, scale = 1)
prior z[l in 2..L] | z[l-1] = mlp(z[l-1], hidden = [8])
posterior z[l in 1..L] | x = mlp(x, hidden = [8])
likelihood x | z = mlp(z[L], hidden = [8])
"""


def _compile(text, overrides=None, tmp_path=None):
    spec = dsl.parse_spec(text, path="t.hvae")
    return dsl.elaborate(spec, overrides or {})


def test_description_follows_the_overrides():
    assert _compile(SPEC).description == "2 layers of 8 units, braces {like this}"
    assert _compile(SPEC, {"L": 3, "W": 4}).description == "3 layers of 4 units, braces {like this}"


def test_a_constant_used_only_in_the_description_is_not_unused():
    concrete = _compile(SPEC.replace("let W = 8", "let W = 8\nlet kind = \"ladder\"").replace("{W} units", "{kind}"))
    assert concrete.description.startswith("2 layers of ladder")


def test_an_unknown_name_is_a_located_error_with_a_suggestion():
    with pytest.raises(SpecSemanticError) as err:
        _compile(SPEC.replace("{L} layers", "{LL} layers"))
    text = str(err.value)
    assert "t.hvae:1:1" in text and "'{LL}', which is not a constant" in text and "L" in text


@pytest.mark.parametrize("sets,expected", [
    ({}, "Ladder VAE, 5 stochastic layers (MNIST)"),
    ({"L": 3}, "Ladder VAE, 3 stochastic layers (MNIST)"),
])
def test_ladder_header(sets, expected):
    assert compile_spec("ladder", sets).description == expected


def test_attentive16_without_its_mechanisms_is_not_strongly_connected():
    assert "16 strongly connected layers" in compile_spec("attentive16").description
    off = {"depthwise_prior": False, "depthwise_posterior": False, "nonlocal_cells": False, "L": 4}
    assert "4 locally connected layers" in compile_spec("attentive16", off).description


def test_zoo_list_fills_literal_constants():
    listed = {m.name: m.description for m in list_models()}
    assert listed["ladder"] == "Ladder VAE, 5 stochastic layers (MNIST)"
    assert "16 strongly connected layers" in listed["attentive16"]
    assert not [name for name, text in listed.items() if "{" in text]
    assert literal_constants(dsl.parse_spec('let a = 1\nlet b = "x" if t else "y"\n', path="p").statements) == {"a": 1}


def test_interpolate_and_titled():
    assert interpolate("{a} and {b} {{c}}", {"a": [1, 2], "b": True}) == "[1, 2] and true {c}"
    assert titled("ladder", {"L": 3}, "Ladder VAE") == "ladder (--set L=3): Ladder VAE"
    assert titled("vae") == "vae"


def test_build_and_ir_print_the_overrides_beside_the_description(capsys):
    from zoo.cli import main

    assert main(["build", "ladder", "--set", "L=3"]) == 0
    assert capsys.readouterr().out.startswith("ladder (--set L=3): Ladder VAE, 3 stochastic layers (MNIST)\n")
    from compiler.serialize import graph_to_dict

    ir = graph_to_dict(compile_spec("ladder", {"L": 3}))
    assert ir["overrides"] == {"L": 3} and ir["description"] == "Ladder VAE, 3 stochastic layers (MNIST)"
    json.dumps(ir)
