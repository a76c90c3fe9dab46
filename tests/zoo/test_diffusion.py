"""The diffusion prior: its bound, trained alone on DCT pseudo-inputs of real MNIST; its samples;
the number of UNet evaluations per sample; the consistency of the three test-time estimates."""
from __future__ import annotations

import gzip
import math

import numpy as np
import pytest
import torch

from zoo.nn.dct import DCT
from zoo.nn.diffusion import DiffusionPrior, diffusion_bound
from zoo.nn.unet import UNet

SIGMA = math.exp(-3.0)  # std of r(u | x) at its initial log-variance gamma_min = -6


def _prior(steps=25, channels=16, res_blocks=2, groups=16):
    return DiffusionPrior(in_shapes={}, target_shape=(1, 7, 7), steps=steps, gamma_min=-6, gamma_max=7,
                          channels=channels, res_blocks=res_blocks, groups=groups)


@pytest.fixture(scope="module")
def mnist_pseudo_inputs():
    """Normalised 7 x 7 DCT pseudo-inputs of 10,500 real MNIST training images (10,000 / 500)."""
    from tests.conftest import SHARED_DATA

    path = SHARED_DATA / "MNIST" / "raw" / "train-images-idx3-ubyte.gz"
    if not path.exists():
        pytest.skip(f"MNIST not found at {path}")
    with gzip.open(path) as handle:
        images = np.frombuffer(handle.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)[:10500]
    x = torch.from_numpy(images.copy()).float() / 255
    dct = DCT(in_shapes={"x": (1, 28, 28)}, out_shape=(1, 7, 7), size=7).eval()
    dct.init_from_data_update(x=x[:10000])
    dct.init_from_data_end()
    with torch.no_grad():
        u = dct(x)
    return u[:10000], u[10000:]


def _train(prior, train, steps, *, batch=128, lr=2e-3, seed=0):
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(prior.parameters(), lr=lr)
    prior.train()
    for _ in range(steps):
        u = train[torch.randint(0, len(train), (batch,), generator=gen)]
        loss = -prior(batch=batch).log_prob(u + SIGMA * torch.randn_like(u)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return prior.eval()


def _bound(prior, u):
    with torch.no_grad():
        return prior(batch=len(u)).log_prob(u + SIGMA * torch.randn_like(u))


def _statistics_gap(samples, reference):
    """Per coefficient: |mean difference| and std ratio."""
    return (samples.mean(0) - reference.mean(0)).abs(), samples.std(0) / reference.std(0)


def test_unet_parameter_counts_match_the_official_models():
    count = lambda *a: sum(p.numel() for p in UNet(*a).parameters())  # noqa: E731
    assert count(1, 16, 2) == 47_329  # MNIST
    assert count(1, 32, 3) == 239_137  # OMNIGLOT
    assert count(3, 32, 3) == 240_291  # CIFAR-10


def test_bound_terms_are_finite_in_every_mode():
    prior = _prior(steps=5)
    u = torch.rand(6, 1, 7, 7) * 2 - 1
    for mode in ("continuous", "trajectory", "discrete", "quadrature"):
        terms = prior.terms(u, mode)
        assert set(terms) == {"L0", "Lt", "LT"}
        assert all(v.shape == (6,) and torch.isfinite(v).all() for v in terms.values()), mode
    dist = prior.train()(batch=6)
    assert torch.allclose(dist.log_prob(u), -sum(dist.terms.values()))


def test_untrained_network_gives_the_closed_form_loss():
    """The UNet's last layer starts at zero, so eps_hat = 0 and E[Lt] = 1/2 gamma' E||eps||^2 = 1/2 * 13 * 49."""
    prior = _prior(steps=5, channels=8, res_blocks=1, groups=4).train()
    u = torch.zeros(1000, 1, 7, 7)
    lt = prior.terms(u)["Lt"]
    assert lt.mean().item() == pytest.approx(0.5 * 13 * 49, rel=0.03)
    l0 = prior.terms(u)["L0"]
    assert torch.allclose(l0, torch.full_like(l0, 0.5 * 49 * (1 + math.log(2 * math.pi) - 6)))


def test_trajectory_and_closed_form_discrete_bounds_agree_in_expectation():
    """The sample-based bound (one joint diffusion path, a proper importance weight) and the
    per-step closed-form KLs estimate the same T-step bound."""
    torch.manual_seed(3)
    prior = _prior(steps=4, channels=8, res_blocks=1, groups=4).eval()
    with torch.no_grad():
        for p in prior.unet.head.parameters():
            p.normal_(0, 0.05)  # a non-trivial epsilon predictor
        u = (torch.rand(1, 1, 7, 7) * 2 - 1).expand(2000, 1, 7, 7)
        traj = prior.terms(u, "trajectory")
        disc = prior.terms(u, "discrete")
    for name in ("L0", "Lt", "LT"):
        a, b = traj[name], disc[name]
        se = math.sqrt(a.var().item() / len(a) + b.var().item() / len(b)) + 1e-6
        assert abs(a.mean().item() - b.mean().item()) < 5 * se + 1e-3, name


def test_sampling_runs_the_unet_exactly_T_times():
    prior = _prior(steps=7).eval()
    calls = []
    prior.unet.register_forward_hook(lambda *args: calls.append(1))
    samples = prior(batch=5).sample()
    assert samples.shape == (5, 1, 7, 7) and torch.isfinite(samples).all()
    assert len(calls) == 7


def test_diffusion_bound_context_restores_the_mode():
    model = torch.nn.Sequential(_prior(steps=3))
    with diffusion_bound(model, "quadrature"):
        assert model[0].eval_bound == "quadrature"
    assert model[0].eval_bound == "trajectory"
    with pytest.raises(ValueError, match="trajectory, discrete, quadrature"):
        with diffusion_bound(model, "exact"):
            pass


def test_bound_improves_when_trained_alone_on_mnist_pseudo_inputs(mnist_pseudo_inputs):
    """Short version (about 15 s): 150 Adam steps; the held-out bound rises by more than 80 nats and
    the samples already have roughly the pseudo-inputs' statistics."""
    torch.manual_seed(0)
    train, test = mnist_pseudo_inputs
    test = test[:200]
    prior = _prior().eval()
    before = _bound(prior, test)
    _train(prior, train, 150)
    after = _bound(prior, test)
    assert torch.isfinite(before).all() and torch.isfinite(after).all()
    assert after.mean() - before.mean() > 80.0
    mean_gap, std_ratio = _statistics_gap(prior(batch=400).sample(), test)
    assert mean_gap.max() < 0.25 and mean_gap.median() < 0.08
    assert 0.7 < std_ratio.median() < 1.4


@pytest.mark.slow
def test_trained_prior_samples_have_the_pseudo_inputs_statistics(mnist_pseudo_inputs):
    """1,500 Adam steps; 2,000 samples vs 500 held-out pseudo-inputs: every coefficient's mean within
    0.1 (the coefficients lie in [-1, 1]) and every coefficient's std within a factor 0.6..1.4."""
    torch.manual_seed(0)
    train, test = mnist_pseudo_inputs
    prior = _train(_prior(), train, 1500)
    samples = prior(batch=2000).sample()
    mean_gap, std_ratio = _statistics_gap(samples, test + SIGMA * torch.randn_like(test))
    assert mean_gap.max() < 0.1
    assert std_ratio.min() > 0.6 and std_ratio.max() < 1.4
    assert _bound(prior, test).mean() > 10.0
