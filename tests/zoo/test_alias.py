"""A feature defined as another node (`feature a = b`, or a conditional that picks a node) runs."""
from __future__ import annotations

import torch

from compiler.lower import lower
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
