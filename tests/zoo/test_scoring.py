"""Score only what is asked: constant priors as numbers, lazily mapped Gaussians, densities on demand.

Each cheaper form must give the values of the plain one bit for bit (same seed), and must really
skip the work it claims to skip.
"""
from __future__ import annotations

import pytest
import torch

from zoo.runtime.distributions import ConstantNormal, MappedNormal, Normal
from zoo.nn.families import NormalParameterization, Residual
from zoo.registry import create_model


def _q(shape=(5, 3, 2)):
    g = torch.Generator().manual_seed(0)
    return Normal(torch.randn(shape, generator=g), torch.rand(shape, generator=g) + 0.1)


def test_a_standard_normal_prior_scores_and_samples_exactly_like_materialised_tensors():
    q = _q()
    const = ConstantNormal(0.0, 1.0, q.loc.shape)
    full = Normal(torch.zeros_like(q.loc), torch.ones_like(q.loc))
    value = q.loc + 0.3
    assert torch.equal(const.log_prob(value), full.log_prob(value))
    assert torch.equal(q.kl(const), q.kl(full))
    for temperature in (1.0, 0.7):
        torch.manual_seed(1)
        a = const.rsample(temperature)
        torch.manual_seed(1)
        b = full.rsample(temperature)
        assert torch.equal(a, b)


def test_a_general_constant_normal_matches_materialised_tensors():
    q = _q()
    const = ConstantNormal(0.5, 2.0, q.loc.shape)
    full = Normal(torch.full_like(q.loc, 0.5), torch.full_like(q.loc, 2.0))
    torch.testing.assert_close(const.log_prob(q.loc), full.log_prob(q.loc))
    torch.testing.assert_close(q.kl(const), q.kl(full))
    assert torch.equal(const.loc, full.loc) and torch.equal(const.scale, full.scale)


class _Counting(NormalParameterization):
    def __init__(self):
        super().__init__("identity", "log_scale")
        self.calls = 0

    def scale(self, raw):
        self.calls += 1
        return super().scale(raw)


def test_a_residual_posterior_never_maps_its_delta():
    base_map, delta_map = _Counting(), _Counting()
    raw = torch.randn(4, 3), torch.randn(4, 3)
    base, delta = base_map(*raw), delta_map(raw[0] * 0.1, raw[1] * 0.1)
    assert isinstance(delta, MappedNormal)
    q = Residual(in_shapes={}, target_shape=(3,))(base, delta)
    assert delta_map.calls == 0 and base_map.calls == 0  # nothing mapped until read
    expected = Normal(raw[0] * 1.1, torch.exp(raw[1] * 1.1))
    torch.testing.assert_close(q.loc, expected.loc)
    torch.testing.assert_close(q.scale, expected.scale)
    q.scale, q.scale
    assert delta_map.calls == 1 and base_map.calls == 0  # only the sum, once, then kept


def test_training_with_analytic_kls_scores_no_densities_and_reading_them_gives_the_bound():
    torch.manual_seed(0)
    model = create_model("vae", D=4, H=16)
    x = torch.bernoulli(torch.full((3, 1, 28, 28), 0.3))
    terms = model(x)
    assert terms._log_q == {} and terms._log_p == {} and terms._log_weight is None
    q, p, z = (terms.distributions["posterior(z)"], terms.distributions["prior(z)"], terms.samples["z"])
    assert torch.equal(terms.log_q["z"], q.log_prob(z)) and torch.equal(terms.log_p["z"], p.log_prob(z))
    assert torch.equal(terms.log_weight, terms.log_px + p.log_prob(z) - q.log_prob(z))


@pytest.mark.parametrize("analytic_kl", [True, False])
def test_a_density_estimated_for_the_kl_is_not_estimated_again(analytic_kl):
    torch.manual_seed(0)
    model = create_model("vae", D=4, H=16)
    x = torch.bernoulli(torch.full((3, 1, 28, 28), 0.3))
    terms = model(x, analytic_kl=analytic_kl)
    if not analytic_kl:  # the KL is the one-sample estimate, from densities already kept
        assert torch.equal(terms.kl["z"], terms._log_q["z"] - terms._log_p["z"])
    first = terms.log_q["z"]
    assert terms.log_q["z"] is first
