"""The VampPrior and the mixture-of-Gaussians prior: densities against hand computation, gradients,
parameter counts of the Table 6 baselines."""
from __future__ import annotations

import math

import pytest
import torch

from zoo.nn.mixtures import MixtureOfGaussians
from zoo.registry import create_model

from .small import SMALL as ZOO_SMALL

SMALL = ZOO_SMALL["vampprior_mnist"]


def test_vamp_log_prob_is_the_mixture_of_encoder_posteriors():
    torch.manual_seed(0)
    model = create_model("vampprior_mnist", **SMALL)
    vamp = model.ops["prior(z[1])"]
    with torch.no_grad():  # make the encoder's posteriors differ between pseudo-inputs
        vamp.raw.uniform_(0.0, 1.0)
        for p in model.ops["posterior(z[1])/params"].parameters():
            p.normal_(0, 0.3)
    x = (torch.rand(6, 1, 28, 28) < 0.4).float()
    terms = model(x)
    z = terms.samples["z[1]"]
    q = model.evaluate("posterior(z[1])", {"x": vamp.pseudo_inputs()})
    by_hand = torch.stack([
        torch.distributions.Normal(q.loc[k], q.scale[k]).log_prob(z).flatten(1).sum(1) for k in range(SMALL["K"])
    ])  # (K, B)
    expected = torch.logsumexp(by_hand, dim=0) - math.log(SMALL["K"])
    assert torch.allclose(terms.log_p["z[1]"], expected, atol=1e-4)


def test_pseudo_inputs_are_learned_and_stay_in_the_data_range():
    model = create_model("vampprior_mnist", **SMALL)
    vamp = model.ops["prior(z[1])"]
    assert vamp.raw.shape == (SMALL["K"], 1, 28, 28)
    (-model((torch.rand(4, 1, 28, 28) < 0.4).float()).elbo.mean()).backward()
    assert vamp.raw.grad is not None and vamp.raw.grad.abs().sum() > 0
    with torch.no_grad():
        vamp.raw.mul_(10).sub_(3)
    u = vamp.pseudo_inputs()
    assert u.min() >= 0 and u.max() <= 1


def test_vamp_samples_come_from_the_components():
    torch.manual_seed(1)
    model = create_model("vampprior_mnist", **SMALL).eval()
    with torch.no_grad():
        model.ops["prior(z[1])"].raw.uniform_(0.0, 1.0)
        for p in model.ops["posterior(z[1])/params"].parameters():
            p.normal_(0, 0.3)
    dist = model.ops["prior(z[1])"](batch=3000)
    z = dist.sample(temperature=1e-8)  # components drawn, almost no noise: each sample is a component mean
    dists = torch.cdist(z.flatten(1), dist.loc.flatten(1), compute_mode="donot_use_mm_for_euclid_dist")
    assert dists.min(1).values.max() < 1e-5
    counts = torch.bincount(dists.argmin(1), minlength=SMALL["K"]).float()
    assert (counts / counts.sum() - 1 / SMALL["K"]).abs().max() < 0.05
    # temperature 0 is deterministic: the most probable component, the first when weights tie
    torch.testing.assert_close(dist.sample(temperature=0.0), dist.loc[:1].expand_as(z))


def test_vamp_sampling_from_the_model():
    model = create_model("vampprior_mnist", **SMALL).eval()
    images = model.sample(4)
    assert images.shape == (4, 1, 28, 28) and (images >= 0).all() and (images <= 1).all()


@pytest.mark.parametrize("k, expected", [(500, 970_813), (1000, 1_362_813)])
def test_table6_baseline_sizes(k, expected):
    """DVP-VAE Table 6 lists 1.0M and 1.4M parameters for the VampPrior with K = 500 and 1000: the ladder
    (578,813) plus K x 784 pseudo-input pixels."""
    assert create_model("vampprior_mnist", K=k).num_parameters() == expected


def test_mixture_of_gaussians_log_prob_by_hand():
    torch.manual_seed(2)
    mog = MixtureOfGaussians(in_shapes={}, target_shape=(1, 3, 3), components=4)
    u = torch.randn(5, 1, 3, 3)
    dist = mog(batch=5)
    comps = torch.stack([torch.distributions.Normal(mog.means[k], torch.exp(0.5 * mog.log_vars[k]))
                         .log_prob(u).flatten(1).sum(1) for k in range(4)])
    assert torch.allclose(dist.log_prob(u), torch.logsumexp(comps, 0) - math.log(4), atol=1e-5)
    (-dist.log_prob(u).sum()).backward()
    assert mog.means.grad is not None and mog.log_vars.grad is not None
    assert dist.sample().shape == (5, 1, 3, 3)
