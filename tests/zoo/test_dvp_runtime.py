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

from compiler.lower import lower
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

