"""An inline block inside a list argument lowers: its node id has no '.' (nn.ModuleDict forbids it)."""
from __future__ import annotations

import torch

import dsl
from compiler.graph import build_graph
from zoo.runtime.lower import lower

SPEC = """
observed x : [6] ~ bernoulli
latent z : [2] ~ normal
prior z = normal(loc = 0, scale = 1)
posterior z | x = mlp(concat(x, mlp(x, hidden = [4], out = 3)), hidden = [8])
likelihood x | z = mlp(z, hidden = [8])
"""


def test_inline_block_in_a_list_argument_gets_a_path_id_and_lowers():
    mg = build_graph(*dsl.checked(dsl.parse_spec(SPEC, path="inline.hvae"))[:2])
    anonymous = [n for n in mg.graph.nodes if n.startswith("posterior(z)/params/x/inputs")]
    assert anonymous and all("." not in n for n in anonymous), anonymous
    model = lower(mg)
    terms = model(torch.bernoulli(torch.full((3, 6), 0.5)))
    assert torch.isfinite(terms.elbo).all()
