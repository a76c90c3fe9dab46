"""Runtime behaviour the pseudo-input mechanisms rely on (core changes made for them).

* `HierarchicalVAE.evaluate` and `initialize_from_data` run only what the inference pass needs
  upstream of a node: an observed variable is given, not produced by its likelihood. (Before the
  fix they followed the likelihood's edge into x and ran the whole model, which for a VampPrior
  evaluating `posterior(z[1])` recursed into the prior itself.)
* A block argument of kind `factor` (e.g. `pseudo_inverse(u, of = posterior(u))`) reaches the
  block's constructor as the factor's id.
"""
from __future__ import annotations

import torch

from zoo.runtime.lower import lower
from zoo.registry import compile_spec


def test_upstream_steps_stop_at_the_data():
    model = lower(compile_spec("vae"))
    steps = {node for _, node, _ in model._upstream_steps("posterior(z)")}
    assert "posterior(z)" in steps and "x" in steps
    assert not steps & {"likelihood(x)", "prior(z)", "z"}


def test_evaluate_runs_only_the_encoder():
    model = lower(compile_spec("vae"))
    calls = []
    model.ops["likelihood(x)/params"].register_forward_hook(lambda *a: calls.append(1))
    q = model.evaluate("posterior(z)", {"x": torch.rand(3, 1, 28, 28)})
    assert q.loc.shape == (3, 50) and not calls


def test_factor_argument_reaches_a_block(tmp_path):
    spec = tmp_path / "inv.hvae"
    spec.write_text(
        'observed x : [1, 8, 8] ~ bernoulli\n'
        'pseudo u : [1, 4, 4]\n'
        'prior u = normal(loc = 0, scale = 1)\n'
        'posterior u | x = normal(loc = dct(x, size = 4), scale = param([1, 4, 4], init = -6), '
        'variance = clamped_log_var(-12, -5))\n'
        'likelihood x | u = conv(pseudo_inverse(u, of = posterior(u), shape_ = [1, 8, 8]), k = 3)\n')
    model = lower(compile_spec(str(spec)))
    inverse = next(m for n, m in model.ops.items() if n.startswith("likelihood(x)/params/"))
    assert inverse.of == "posterior(u)"
    assert inverse.__dict__["_transform"] is model.ops["posterior(u)/loc"]


def test_a_feature_defined_as_another_node_runs(tmp_path):
    spec = tmp_path / "alias.hvae"
    spec.write_text(
        'observed x : [6] ~ bernoulli\n'
        'latent z : [2] ~ normal\n'
        'feature h = mlp(x, hidden = [8], out = 4)\n'
        'feature g = h\n'
        'prior z = normal(loc = 0, scale = 1)\n'
        'posterior z | x = linear(g)\n'
        'likelihood x | z = linear(z)\n')
    model = lower(compile_spec(str(spec)))
    terms = model((torch.rand(3, 6) < 0.5).float())
    assert torch.isfinite(terms.elbo).all()


def test_evaluate_uses_given_latents_without_recomputing_them():
    spec = ('observed x : [6] ~ bernoulli\n'
            'latent u : [3] ~ normal\n'
            'latent z : [2] ~ normal\n'
            'prior u = normal(loc = 0, scale = 1)\n'
            'posterior u | x = mlp(x, hidden = [8])\n'
            'prior z | u = mlp(u, hidden = [8])\n'
            'posterior z | x, u = mlp(concat(x, u), hidden = [8])\n'
            'likelihood x | z = linear(z)\n')
    import dsl
    from compiler.graph import build_graph

    concrete, shapes, warnings = dsl.checked(dsl.parse_spec(spec, path="given.hvae"))
    model = lower(build_graph(concrete, shapes, warnings))
    u = torch.randn(4, 3)
    prior = model.evaluate("prior(z)", {"u": u})  # needs no x: u is given
    assert prior.loc.shape == (4, 2)
    expected = model.ops["prior(z)"](params=model.ops["prior(z)/params"](x=u))
    assert torch.allclose(prior.loc, expected.loc)
