"""Numerical contracts every zoo model keeps (issue 14): float64 end to end, and a deterministic
mode at temperature 0.

float64 is how users check gradients (``torch.autograd.gradcheck``), so forward, backward and
sampling must run in it for every model; temperature 0 is documented as the mode of the
generative model, so two different seeds must give the same images.
"""
from __future__ import annotations

import pytest
import torch

from zoo.runtime.lower import lower
from zoo.registry import compile_spec

from .small import SMALL
from .test_models import MODELS, data_batch, small_overrides


def _fresh(name: str):
    torch.manual_seed(0)
    return lower(compile_spec(name, small_overrides(name)))


@pytest.mark.parametrize("name", MODELS)
def test_float64_forward_backward_and_sampling(name):
    model = _fresh(name).double()
    model.train()
    x = data_batch(model).double()
    terms = model(x)
    assert terms.elbo.dtype == torch.float64
    assert torch.isfinite(terms.elbo).all()
    (-terms.elbo.mean()).backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(g.dtype == torch.float64 and torch.isfinite(g).all() for g in grads)
    model.eval()
    with torch.no_grad():
        sample = model.sample(2)
        ll = model.log_likelihood(x, importance_samples=2)
    assert sample.dtype == torch.float64 and torch.isfinite(sample).all()
    assert ll.dtype == torch.float64 and torch.isfinite(ll).all()


@pytest.mark.parametrize("name", MODELS)
def test_temperature_zero_is_deterministic(name):
    model = _fresh(name).eval()
    draws = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        draws.append(model.sample(3, temperature=0.0))
    torch.testing.assert_close(draws[0], draws[1], atol=1e-6, rtol=0)


def test_every_model_is_covered():
    assert set(MODELS) <= set(SMALL)
