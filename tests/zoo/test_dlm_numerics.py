"""The discretized logistic mixture's numerical corners (issue 14, items 9 and 10): its mean and
mode against an enumeration of the 256 levels, and its log bin mass against a float64 reference
in the far tails, where the old rule (density x width below a mass of 1e-5) was up to 2.2 nats off
and the upper tail lost about 2e-3 nats per channel to float32 cancellation."""
from __future__ import annotations

import math

import pytest
import torch

from zoo.runtime.distributions import DiscretizedLogisticMixture, log1mexp

from .test_distributions import _dlm_params

LEVELS = torch.arange(256, dtype=torch.float64) / 255 * 2 - 1


def _pixel_probabilities(params: torch.Tensor, channels: int, components: int) -> torch.Tensor:
    """(256,) probabilities of every level of a one-channel 1x1 image."""
    x = LEVELS.reshape(-1, 1, 1, 1)
    d = DiscretizedLogisticMixture(params.expand(256, -1, -1, -1), channels, components)
    return d.log_prob(x).exp()


@pytest.mark.parametrize("components", [1, 4])
@pytest.mark.parametrize("seed", range(4))
def test_mean_is_the_expectation_over_the_256_levels(components, seed):
    # wide scales and centres near the ends, where the end bins carry mass and clamping the
    # mixture of centres (the old `.mean`) is wrong by many levels
    params = _dlm_params(1, 1, components, seed=seed, log_scale=(-3.0, 0.5))
    params[:, components:2 * components] = 0.9 * torch.sign(params[:, components:2 * components])
    probs = _pixel_probabilities(params, 1, components)
    expected = (probs * LEVELS).sum()
    got = DiscretizedLogisticMixture(params, 1, components).mean
    assert got.shape == (1, 1, 1, 1)
    torch.testing.assert_close(got.reshape(()), expected, atol=1e-9, rtol=0)


def test_mean_of_an_rgb_mixture_says_what_to_use_instead():
    d = DiscretizedLogisticMixture(_dlm_params(1, 3, 2), 3, 2)
    with pytest.raises(NotImplementedError, match="use .mode"):
        _ = d.mean
    assert d.point().shape == (1, 3, 1, 1)


@pytest.mark.parametrize("seed", range(6))
def test_mode_of_one_component_is_the_most_probable_level(seed):
    params = _dlm_params(1, 1, 1, seed=seed, log_scale=(-4.0, 2.0))
    probs = _pixel_probabilities(params, 1, 1)
    got = DiscretizedLogisticMixture(params, 1, 1).mode.reshape(())
    assert got.item() == pytest.approx(LEVELS[probs.argmax()].item(), abs=1e-12)


def test_multichannel_mode_is_the_most_probable_level_channel_by_channel():
    # two channels (the second depends on the first through a coefficient): the RGB code path, with
    # 256**2 values to enumerate instead of 256**3
    params = _dlm_params(1, 2, 1, seed=3, log_scale=(-3.0, -1.0))
    d = DiscretizedLogisticMixture(params, 2, 1)
    mode = d.mode.reshape(2)
    chosen = []
    for ch in range(2):
        # p(x_ch | earlier channels = their chosen levels), enumerated through log_prob with the later
        # channels summed out: the joint over (x_ch, later) divided by a constant
        later = 1 - ch
        grid = torch.cartesian_prod(*([LEVELS] * (1 + later))) if later else LEVELS[:, None]
        grid = grid.reshape(-1, 1 + later)
        x = torch.cat([torch.tensor(chosen, dtype=torch.float64).expand(grid.shape[0], ch), grid], 1)
        joint = DiscretizedLogisticMixture(params.expand(x.shape[0], -1, -1, -1), 2, 1).log_prob(
            x.reshape(-1, 2, 1, 1)).exp().reshape(256, -1).sum(1)
        chosen.append(LEVELS[joint.argmax()].item())
        assert mode[ch].item() == pytest.approx(chosen[-1], abs=1e-12), ch


def _reference_log_mass(center: float, log_scale: float, level: float) -> float:
    """log P(level) of one logistic in float64 from the definition, on the side of the centre where
    the two CDF values are small (so the subtraction loses nothing)."""
    half = 1.0 / 255
    s = math.exp(log_scale)
    lo, hi = (level - center - half) / s, (level - center + half) / s
    if level - center > 0:
        lo, hi = -hi, -lo
    sig = lambda t: 1.0 / (1.0 + math.exp(-t))  # noqa: E731
    return math.log(sig(hi) - sig(lo))


@pytest.mark.parametrize("center,log_scale,level", [
    (-0.9, -4.5, 0.2),    # mass ~1e-25: the old density rule was ~2 nats low here
    (0.0, -3.0, -0.6),    # mass ~1e-10
    (0.3, -2.0, 0.7),     # upper tail, mass ~1e-4
    (0.99, -3.5, 0.9),    # near the top end, right of... left of the centre
    (-0.2, -5.0, 0.05),   # upper tail, far
])
def test_log_bin_mass_is_exact_in_the_tails_in_float32(center, log_scale, level):
    params = torch.tensor([0.0, center, log_scale]).reshape(1, 3, 1, 1)
    d = DiscretizedLogisticMixture(params, 1, 1)
    got = d.log_prob(torch.tensor([[[[level]]]], dtype=torch.float32)).item()
    expected = _reference_log_mass(center, log_scale, level)
    assert got == pytest.approx(expected, abs=2e-5 * max(1.0, abs(expected)) if abs(expected) > 30 else 2e-5)


def test_upper_tail_does_not_lose_mass_to_float32_cancellation():
    # 1000 bins just right of their centres, where sigmoid(plus) and sigmoid(minus) are both near 1
    g = torch.Generator().manual_seed(0)
    centers = (torch.rand(1000, generator=g) * 1.6 - 0.8)
    levels = torch.round(((centers + 0.02 + 1) / 2) * 255) / 255 * 2 - 1
    params = torch.stack([torch.zeros(1000), centers, torch.full((1000,), -4.0)], 1).reshape(1000, 3, 1, 1)
    got = DiscretizedLogisticMixture(params, 1, 1).log_prob(levels.reshape(-1, 1, 1, 1))
    expected = torch.tensor([_reference_log_mass(c, -4.0, v) for c, v in zip(centers.double().tolist(),
                                                                                 levels.double().tolist())])
    assert (got.double() - expected).abs().max().item() < 2e-5


def test_log1mexp_is_accurate_on_both_sides_of_log2():
    a = torch.tensor([1e-10, 1e-3, 0.5, math.log(2.0), 1.0, 30.0], dtype=torch.float64)
    # log(-expm1(-a)) is exact for small a; for large a, log1p(-e) = -e - e^2/2 - ... with e = exp(-a)
    expected = torch.tensor([math.log(-math.expm1(-v)) if v < 5 else -math.exp(-v) - math.exp(-2 * v) / 2
                             - math.exp(-3 * v) / 3 for v in a.tolist()], dtype=torch.float64)
    torch.testing.assert_close(log1mexp(a), expected, rtol=1e-12, atol=0)
