"""A feature defined as another node (`feature a = b`, or a conditional that picks a node) runs."""
from __future__ import annotations

import torch

from zoo.runtime.lower import lower
from zoo.registry import compile_spec


def test_a_feature_defined_as_another_node_runs(tmp_path):
    spec = tmp_path / "alias.hvae"
    spec.write_text(
        'let use_h = false\n'
        'observed x : [6] ~ bernoulli\n'
        'latent z : [2] ~ normal\n'
        'feature h = mlp(x, hidden = [8], out = 6)\n'
        'feature g = h if use_h else x\n'
        'prior z = normal(loc = 0, scale = 1)\n'
        'posterior z | x = linear(g)\n'
        'likelihood x | z = linear(z)\n')
    model = lower(compile_spec(str(spec)))
    x = (torch.rand(3, 6) < 0.5).float()
    terms = model(x)
    assert torch.isfinite(terms.elbo).all()


def test_an_anonymous_expression_inside_a_list_argument_lowers(tmp_path):
    # its node is named by its path, `h/inputs/1`; a '.' in the name would be rejected by nn.ModuleDict
    spec = tmp_path / "listarg.hvae"
    spec.write_text(
        'observed x : [6] ~ bernoulli\n'
        'latent z : [2] ~ normal\n'
        'feature h = concat(x, linear(x, out = 3))\n'
        'prior z = normal(loc = 0, scale = 1)\n'
        'posterior z | x = linear(h)\n'
        'likelihood x | z = linear(z)\n')
    model = lower(compile_spec(str(spec)))
    assert "h/inputs/1" in model.ops
    terms = model((torch.rand(3, 6) < 0.5).float())
    assert torch.isfinite(terms.elbo).all()
