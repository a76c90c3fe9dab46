"""The bounds a compiled model computes: the importance-weighted bound with K = 1 is the ELBO, and
on a linear-Gaussian VAE, whose marginal likelihood is known in closed form, the estimate converges
to log p(x) from below.

The linear-Gaussian model: p(z) = N(0, I), p(x | z) = N(W z + b, s^2 I), so
p(x) = N(b, W W^T + s^2 I) and p(z | x) = N(A (x - b), S) with S = (I + W^T W / s^2)^-1 and
A = S W^T / s^2.
"""
from __future__ import annotations

import math

import pytest
import torch

import dsl
from compiler.graph import build_graph
from zoo.runtime.lower import lower

from .test_models import data_batch, small_model

LINEAR_GAUSSIAN = """
observed x : [4] ~ normal
latent z : [2] ~ normal
prior z = normal(loc = 0, scale = 1)
posterior z | x = normal(loc = linear(x), scale = linear(x))
likelihood x | z = normal(loc = linear(z), scale = 0.5)
"""
S = 0.5  # the likelihood's standard deviation, as in the spec


@pytest.mark.parametrize("name", ["vae", "ladder", "dlgm", "nvae8"])
def test_one_importance_sample_is_the_elbo_on_the_same_noise(name):
    model = small_model(name).eval()
    x = data_batch(model)
    with torch.no_grad():
        torch.manual_seed(7)
        bound = model.log_likelihood(x, importance_samples=1)
        torch.manual_seed(7)
        terms = model(x, analytic_kl=False)
    torch.testing.assert_close(bound, terms.elbo)
    torch.testing.assert_close(terms.elbo, terms.log_weight)


def test_the_analytic_and_sampled_kl_agree_on_average():
    model = small_model("dlgm").eval()
    x = data_batch(model, batch=1).expand(4000, 1, 28, 28)
    with torch.no_grad():
        analytic, sampled = model(x), model(x, analytic_kl=False)
    for z in model.latents:
        diff = sampled.kl[z] - analytic.kl[z]
        assert abs(diff.mean().item()) < 5 * diff.std().item() / math.sqrt(len(diff)) + 1e-3, z


def linear_gaussian(W: torch.Tensor, b: torch.Tensor, loc_weight, loc_bias, log_scale):
    """The spec above, lowered in float64, with every weight set by hand."""
    concrete, shapes, warnings = dsl.checked(dsl.parse_spec(LINEAR_GAUSSIAN, path="linear_gaussian.hvae"))
    model = lower(build_graph(concrete, shapes, warnings)).double().eval()
    with torch.no_grad():
        lik = model.ops["likelihood(x)/loc"].linear
        lik.weight.copy_(W)
        lik.bias.copy_(b)
        loc = model.ops["posterior(z)/loc"].linear
        loc.weight.copy_(loc_weight)
        loc.bias.copy_(loc_bias)
        scale = model.ops["posterior(z)/scale"].linear  # raw log-scales, constant in x
        scale.weight.zero_()
        scale.bias.copy_(log_scale)
    return model


def exact_log_px(W, b, x):
    cov = W @ W.T + S ** 2 * torch.eye(len(b), dtype=W.dtype)
    return torch.distributions.MultivariateNormal(b, cov).log_prob(x)


def exact_posterior(W, b):
    cov = torch.linalg.inv(torch.eye(W.shape[1], dtype=W.dtype) + W.T @ W / S ** 2)
    A = cov @ W.T / S ** 2
    return A, -A @ b, cov


@pytest.fixture
def problem():
    g = torch.Generator().manual_seed(0)
    W = torch.randn(4, 2, generator=g, dtype=torch.float64)
    b = torch.randn(4, generator=g, dtype=torch.float64)
    x = b + 1.5 * torch.randn(3, 4, generator=g, dtype=torch.float64)
    return W, b, x


def test_with_the_exact_posterior_every_importance_weight_is_p_of_x():
    # orthogonal columns make the exact posterior diagonal, so the model's q can be exactly it
    W = torch.tensor([[1.0, 0.0], [1.0, 0.5], [0.0, 1.0], [-1.0, 0.5]], dtype=torch.float64)
    assert torch.count_nonzero(W.T @ W - torch.diag(torch.diag(W.T @ W))) == 0
    b = torch.tensor([0.5, -1.0, 0.0, 2.0], dtype=torch.float64)
    A, c, cov = exact_posterior(W, b)
    model = linear_gaussian(W, b, A, c, 0.5 * torch.log(torch.diag(cov)))
    x = torch.tensor([[0.0, 0.0, 0.0, 0.0], [1.0, -2.0, 3.0, 0.5]], dtype=torch.float64)
    torch.manual_seed(0)
    with torch.no_grad():
        terms = model(x, analytic_kl=False)
    torch.testing.assert_close(terms.log_weight, exact_log_px(W, b, x))


def test_k1000_estimate_is_within_005_nats_of_the_exact_log_likelihood(problem):
    W, b, x = problem
    A, c, cov = exact_posterior(W, b)
    # a mean-field posterior: the exact posterior's mean and marginal variances
    model = linear_gaussian(W, b, A, c, 0.5 * torch.log(torch.diag(cov)))
    exact = exact_log_px(W, b, x)
    torch.manual_seed(0)
    with torch.no_grad():
        estimate = model.log_likelihood(x, importance_samples=1000)
        elbo = model(x.repeat(2000, 1)).elbo.reshape(2000, 3).mean(0)
    assert (estimate - exact).abs().max() < 0.05, (estimate, exact)
    assert (elbo < exact).all()  # mean-field: a gap of KL(q || p(z | x)) > 0 remains


def test_a_poor_posterior_gives_a_lower_bound_that_tightens_with_k(problem):
    W, b, x = problem
    # ignores x, off-centre and too narrow
    model = linear_gaussian(W, b, torch.zeros(2, 4, dtype=torch.float64), torch.full((2,), 1.5, dtype=torch.float64),
                            torch.full((2,), math.log(0.3), dtype=torch.float64))
    exact = exact_log_px(W, b, x[:1]).item()
    repeats = x[:1].expand(200, 4)  # 200 independent estimates of E[bound_K]
    means = []
    for k in (1, 10, 100, 1000):
        torch.manual_seed(k)
        with torch.no_grad():
            estimates = model.log_likelihood(repeats, importance_samples=k, chunk=250)
        mean, stderr = estimates.mean().item(), estimates.std().item() / math.sqrt(200)
        assert mean + 5 * stderr < exact, (k, mean, exact)
        if means:
            assert mean - 5 * stderr > means[-1], f"no improvement from K = {k // 10} to {k}"
        means.append(mean)


def test_chunked_estimates_combine_exactly():
    # with the exact posterior every log-weight is log p(x), so any split of K into chunks (here
    # uneven: 7 + 7 + ... + 4) must give log p(x) exactly
    W = torch.tensor([[2.0, 0.0], [0.0, 1.0], [0.0, 0.0], [0.0, -1.0]], dtype=torch.float64)
    b = torch.tensor([1.0, 0.0, -1.0, 0.0], dtype=torch.float64)
    A, c, cov = exact_posterior(W, b)
    model = linear_gaussian(W, b, A, c, 0.5 * torch.log(torch.diag(cov)))
    x = torch.randn(2, 4, dtype=torch.float64)
    with torch.no_grad():
        estimate = model.log_likelihood(x, importance_samples=60, chunk=7)
    torch.testing.assert_close(estimate, exact_log_px(W, b, x))
