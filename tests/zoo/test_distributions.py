"""Distributions and combinators against torch.distributions, Monte Carlo and hand formulas."""
from __future__ import annotations

import math

import pytest
import torch
import torch.distributions as td

from zoo.runtime.distributions import Bernoulli, DiscretizedLogisticMixture, Normal
from zoo.nn.families import (BernoulliFamily, DiscretizedLogisticFamily, NormalFamily, NormalParameterization,
                             PrecisionWeighted, Residual)


def _normal(shape=(4, 3), dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    loc = torch.randn(shape, generator=g, dtype=dtype)
    scale = torch.rand(shape, generator=g, dtype=dtype) + 0.2
    return loc, scale


# -- Normal ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(5, 3), (2, 3, 4, 4)])
def test_normal_log_prob_matches_torch(shape):
    loc, scale = _normal(shape)
    value = torch.randn(shape, dtype=torch.float64)
    expected = td.Normal(loc, scale).log_prob(value).reshape(shape[0], -1).sum(1)
    torch.testing.assert_close(Normal(loc, scale).log_prob(value), expected)
    torch.testing.assert_close(Normal(loc, scale).entropy(), td.Normal(loc, scale).entropy().reshape(shape[0], -1).sum(1))


def test_normal_kl_matches_torch_and_monte_carlo():
    q_loc, q_scale = _normal((3, 2), seed=1)
    p_loc, p_scale = _normal((3, 2), seed=2)
    q, p = Normal(q_loc, q_scale), Normal(p_loc, p_scale)
    analytic = q.kl(p)
    torch.testing.assert_close(analytic, td.kl_divergence(td.Normal(q_loc, q_scale), td.Normal(p_loc, p_scale)).sum(1))
    torch.manual_seed(0)
    n = 200_000
    samples = q_loc + q_scale * torch.randn((n,) + q_loc.shape, dtype=torch.float64)  # (n, 3, 2)
    log_ratio = (td.Normal(q_loc, q_scale).log_prob(samples) - td.Normal(p_loc, p_scale).log_prob(samples)).sum(-1)
    mc, stderr = log_ratio.mean(0), log_ratio.std(0) / math.sqrt(n)
    assert ((analytic - mc).abs() < 5 * stderr).all(), (analytic, mc, stderr)
    # the model's own sampler gives the same estimate
    qs = Normal(q_loc.expand(n, 3, 2).reshape(-1, 2), q_scale.expand(n, 3, 2).reshape(-1, 2))
    z = qs.rsample()
    ratio = (qs.log_prob(z) - Normal(p_loc.expand(n, 3, 2).reshape(-1, 2),
                                     p_scale.expand(n, 3, 2).reshape(-1, 2)).log_prob(z)).reshape(n, 3)
    assert ((analytic - ratio.mean(0)).abs() < 5 * ratio.std(0) / math.sqrt(n)).all()


def test_normal_kl_of_a_distribution_with_itself_is_zero():
    loc, scale = _normal()
    torch.testing.assert_close(Normal(loc, scale).kl(Normal(loc, scale)), torch.zeros(4, dtype=torch.float64))
    assert Normal(loc, scale).kl(Bernoulli(loc)) is None  # no closed form: the caller estimates


def test_normal_rsample_moments_and_temperature():
    torch.manual_seed(0)
    loc = torch.full((100_000, 1), 2.0)
    scale = torch.full((100_000, 1), 0.5)
    d = Normal(loc, scale)
    for t in (1.0, 0.3):
        s = d.rsample(t)
        assert abs(s.mean().item() - 2.0) < 0.01 and abs(s.std().item() - 0.5 * t) < 0.01
    loc.requires_grad_(True)
    Normal(loc, scale).rsample().sum().backward()  # reparameterised: gradients reach the parameters
    assert torch.equal(loc.grad, torch.ones_like(loc))


# -- Bernoulli -------------------------------------------------------------------------------------

def test_bernoulli_log_prob_matches_torch():
    logits = torch.randn(4, 1, 3, 3, dtype=torch.float64) * 3
    value = torch.randint(0, 2, (4, 1, 3, 3)).double()
    expected = td.Bernoulli(logits=logits).log_prob(value).reshape(4, -1).sum(1)
    torch.testing.assert_close(Bernoulli(logits).log_prob(value), expected)
    torch.testing.assert_close(Bernoulli(logits).mean, torch.sigmoid(logits))
    draws = Bernoulli(logits).sample()
    assert set(draws.unique().tolist()) <= {0.0, 1.0}


def test_bernoulli_head_reshapes_flat_logits():
    head = BernoulliFamily(in_shapes={"params": (12,)}, target_shape=(1, 3, 4))
    logits = torch.randn(2, 12)
    d = head(logits)
    assert d.logits.shape == (2, 1, 3, 4)
    torch.testing.assert_close(d.logits.reshape(2, 12), logits)


# -- discretized logistic mixture -----------------------------------------------------------------

def _dlm_params(batch, channels, components, h=1, w=1, seed=0, dtype=torch.float64, log_scale=(-1.0, 0.5)):
    g = torch.Generator().manual_seed(seed)
    n_coef = channels * (channels - 1) // 2
    m = components
    logits = torch.randn(batch, m, h, w, generator=g, dtype=dtype)
    means = torch.rand(batch, m * channels, h, w, generator=g, dtype=dtype) * 2 - 1
    lo, hi = log_scale
    log_scales = lo + (hi - lo) * torch.rand(batch, m * channels, h, w, generator=g, dtype=dtype)
    coeffs = torch.randn(batch, m * n_coef, h, w, generator=g, dtype=dtype)
    return torch.cat([logits, means, log_scales, coeffs], dim=1)


def _all_levels(channels, bits, dtype=torch.float64):
    n = 2 ** bits
    levels = torch.arange(n, dtype=dtype) / (n - 1) * 2 - 1
    grid = torch.cartesian_prod(*([levels] * channels)) if channels > 1 else levels[:, None]
    return grid.reshape(-1, channels, 1, 1)


@pytest.mark.parametrize("channels,bits", [(1, 8), (3, 5)])
def test_discretized_logistic_mixture_sums_to_one(channels, bits):
    # every value of a 1x1 image: 256 levels for one channel; for RGB, 32 levels per channel
    # (32**3 values, the same code path; all 256**3 values are in the slow test below)
    x = _all_levels(channels, bits)
    for seed in range(3):
        params = _dlm_params(1, channels, 3, seed=seed, log_scale=(-4.0, 0.5))
        d = DiscretizedLogisticMixture(params.expand(x.shape[0], -1, -1, -1), channels, 3, bits=bits)
        total = d.log_prob(x).exp().sum()
        # every bin's mass is exact in float64 (the density rule only applies to bins far narrower
        # than the scale, none here), so the total is 1 to rounding
        torch.testing.assert_close(total, torch.tensor(1.0, dtype=torch.float64), atol=1e-10, rtol=0)


@pytest.mark.slow
def test_discretized_logistic_mixture_sums_to_one_over_all_8bit_rgb_values():
    levels = torch.arange(256, dtype=torch.float64) / 255 * 2 - 1
    gb = torch.cartesian_prod(levels, levels)
    params = _dlm_params(1, 3, 2, seed=0)
    total = 0.0
    for r in levels:
        x = torch.cat([r.expand(gb.shape[0], 1), gb], dim=1).reshape(-1, 3, 1, 1)
        d = DiscretizedLogisticMixture(params.expand(x.shape[0], -1, -1, -1), 3, 2)
        total += d.log_prob(x).exp().sum().item()
    assert abs(total - 1.0) < 1e-5


def _logistic_cdf(t):
    return 1.0 / (1.0 + math.exp(-t))


def reference_dlm_log_prob(params, x, channels, components, bits=8):
    """log p(x) of one image, pixel by pixel and component by component, from the definition
    (Salimans et al. 2017): channel c of component m is a logistic with mean mu_mc plus the
    coefficient-weighted earlier channels of x, binned to the 2**bits levels in [-1, 1], the
    lowest and highest bins open-ended; the pixel is a mixture over m; the image a product."""
    m, c = components, channels
    n_coef = c * (c - 1) // 2
    half = 1.0 / (2 ** bits - 1)
    _, h, w = x.shape
    total = 0.0
    for i in range(h):
        for j in range(w):
            p = params[:, i, j].tolist()
            logits = p[:m]
            means = p[m: m + m * c]
            log_scales = [max(v, -7.0) for v in p[m + m * c: m + 2 * m * c]]
            coeffs = [math.tanh(v) for v in p[m + 2 * m * c: m + 2 * m * c + m * n_coef]]
            pixel = x[:, i, j].tolist()
            log_z = math.log(sum(math.exp(v) for v in logits))
            mix = 0.0
            for k in range(m):
                prob = math.exp(logits[k] - log_z)
                coef = iter(coeffs[k * n_coef:(k + 1) * n_coef])
                for ch in range(c):
                    mean = means[k * c + ch] + sum(next(coef) * pixel[prev] for prev in range(ch))
                    s = math.exp(log_scales[k * c + ch])
                    v = pixel[ch]
                    upper = 1.0 if v > 1 - half / 2 else _logistic_cdf((v - mean + half) / s)
                    lower = 0.0 if v < -1 + half / 2 else _logistic_cdf((v - mean - half) / s)
                    prob *= upper - lower
                mix += prob
            total += math.log(mix)
    return total


@pytest.mark.parametrize("channels,components", [(1, 1), (1, 4), (3, 1), (3, 5)])
def test_discretized_logistic_mixture_matches_a_per_pixel_reference(channels, components):
    g = torch.Generator().manual_seed(channels * 10 + components)
    params = _dlm_params(2, channels, components, h=3, w=2, seed=components)
    x = torch.randint(0, 256, (2, channels, 3, 2), generator=g).double() / 255 * 2 - 1
    x[0, :, 0, 0] = -1.0  # the open-ended extreme bins
    x[1, :, 2, 1] = 1.0
    layout = (channels * (channels - 1) // 2)
    # the mixture's packed layout: M logits, M*C means, M*C log-scales, M*C(C-1)/2 coefficients
    assert params.shape[1] == components * (1 + 2 * channels + layout)
    got = DiscretizedLogisticMixture(params, channels, components).log_prob(x)
    expected = torch.tensor([reference_dlm_log_prob(params[b], x[b], channels, components) for b in range(2)],
                            dtype=torch.float64)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-6)


def test_discretized_logistic_samples_are_8bit_levels_and_the_head_unpacks():
    head = DiscretizedLogisticFamily(in_shapes={"params": (20, 2, 2)}, target_shape=(3, 2, 2), components=2)
    assert head.channels == 2 * (1 + 2 * 3 + 3)
    d = head(torch.randn(4, 20, 2, 2))
    s = d.sample()
    assert s.shape == (4, 3, 2, 2) and ((s >= -1) & (s <= 1)).all()
    torch.testing.assert_close((s + 1) / 2 * 255, ((s + 1) / 2 * 255).round(), atol=1e-4, rtol=0)
    assert d.point().shape == d.mode.shape == (4, 3, 2, 2)


# -- parameterisations and combinators -------------------------------------------------------------

@pytest.mark.parametrize("variance,args,formula", [
    ("log_scale", (), lambda r: torch.exp(r)),
    ("log_var", (), lambda r: torch.exp(0.5 * r)),
    ("softplus", (), lambda r: torch.log1p(torch.exp(r))),
    ("softplus_elu_var", (), lambda r: torch.sqrt(torch.log1p(torch.exp(torch.where(r > 0, r, torch.exp(r) - 1))))),
    ("bounded_log_scale", (-5.0, 5.0), lambda r: torch.exp(5 * torch.tanh(r / 10))),
    ("clamped_log_var", (-2.0, 1.0), lambda r: torch.exp(0.5 * r.clamp(-2, 1))),
])
def test_variance_parameterisations(variance, args, formula):
    raw = torch.linspace(-8, 8, 33, dtype=torch.float64)
    option = (variance, args) if args else variance
    param = NormalParameterization(variance=option, min_scale=0.01)
    torch.testing.assert_close(param.scale(raw), formula(raw) + 0.01)


def test_tanh_bounded_mean():
    raw = torch.linspace(-50, 50, 11, dtype=torch.float64)
    loc = NormalParameterization(mean=("tanh_bound", (5.0,))).loc(raw)
    torch.testing.assert_close(loc, 5 * torch.tanh(raw / 10))


def test_precision_weighted_is_the_renormalised_product_of_the_two_gaussians():
    m1, s1 = _normal((6, 3), seed=3)
    m2, s2 = _normal((6, 3), seed=4)
    combine = PrecisionWeighted(in_shapes={}, target_shape=(3,))
    q = combine(Normal(m1, s1), Normal(m2, s2))
    var = 1 / (1 / s1 ** 2 + 1 / s2 ** 2)
    torch.testing.assert_close(q.scale, var.sqrt())
    torch.testing.assert_close(q.loc, var * (m1 / s1 ** 2 + m2 / s2 ** 2))
    # N(z; m1, s1^2) N(z; m2, s2^2) = N(m1; m2, s1^2 + s2^2) N(z; m, s^2) at every z
    zz = torch.randn(6, 3, dtype=torch.float64)
    lhs = Normal(m1, s1).log_prob(zz) + Normal(m2, s2).log_prob(zz)
    rhs = Normal(m2, (s1 ** 2 + s2 ** 2).sqrt()).log_prob(m1) + q.log_prob(zz)
    torch.testing.assert_close(lhs, rhs)


def test_residual_adds_raw_parameters_and_maps_them_with_the_delta():
    option = dict(mean=("tanh_bound", (5.0,)), variance=("bounded_log_scale", (-5.0, 5.0)), min_scale=0.01)
    prior_head = NormalFamily(in_shapes={"params": (8, 2, 2)}, target_shape=(4, 2, 2), **option)
    delta_head = NormalFamily(in_shapes={"params": (8, 2, 2)}, target_shape=(4, 2, 2), **option)
    base_raw, delta_raw = torch.randn(3, 8, 2, 2), torch.randn(3, 8, 2, 2)
    q = Residual(in_shapes={}, target_shape=(4, 2, 2))(prior_head(base_raw), delta_head(delta_raw))
    raw = base_raw + delta_raw
    torch.testing.assert_close(q.loc, 5 * torch.tanh(raw[:, :4] / 10))  # NVAE: mu_q = mu_p + dmu (raw)
    torch.testing.assert_close(q.scale, torch.exp(5 * torch.tanh(raw[:, 4:] / 10)) + 0.01)


def test_residual_on_a_constant_prior_is_an_error():
    const = NormalFamily(in_shapes={}, target_shape=(2,), loc=0.0, scale=1.0)(batch=3)
    delta = NormalFamily(in_shapes={"params": (4,)}, target_shape=(2,))(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="raw network outputs"):
        Residual(in_shapes={}, target_shape=(2,))(const, delta)


def test_normal_head_with_constant_and_feature_parameters():
    head = NormalFamily(in_shapes={"loc": (3,)}, target_shape=(3,), loc=None, scale=0.5)
    loc = torch.randn(2, 3)
    d = head(loc=loc)
    torch.testing.assert_close(d.loc, loc)
    torch.testing.assert_close(d.scale, torch.full((2, 3), 0.5))
    standard = NormalFamily(in_shapes={}, target_shape=(3,), loc=0.0, scale=1.0)(batch=5)
    assert standard.loc.shape == (5, 3) and torch.equal(standard.scale, torch.ones(5, 3))
