"""The DVP-VAE specs: parameter counts of the published configurations, a training step of every
spec at small sizes, the ablation flags, the ELBO breakdown, both likelihood estimates, active
units and the factorization of the hybrid."""
from __future__ import annotations

import math

import networkx as nx
import pytest
import torch

from compiler.dsep import check_posterior_factorization
from zoo.runtime.lower import lower
from zoo.analysis.active_units import active_units
from zoo.analysis.breakdown import elbo_breakdown, mean_breakdown, official_log_likelihood
from zoo.registry import compile_spec, create_model

from .small import SMALL

DVP_SMALL = {name: SMALL[name] for name in ("dvp_mnist", "dvp_omniglot", "dvp_cifar", "vampprior_mnist", "dvp_nvae")}

# The official counts (facts 2.9) include the 1x1 projection z_up of the last latent, whose output
# the aggregated likelihood never reads; our specs do not build it (W * C + C parameters).
PUBLISHED = {
    "dvp_mnist": (648_579, 1 * 32 + 32),
    "dvp_omniglot": (1_298_563, 1 * 80 + 80),
    "dvp_cifar": (19_478_162, 3 * 128 + 128),
}


def _batch(model, n=4, seed=0):
    gen = torch.Generator().manual_seed(seed)
    shape = model.graph.info(model.observed[0]).shape
    if model.graph.info(model.observed[0]).family == "bernoulli":
        return (torch.rand(n, *shape, generator=gen) < 0.3).float()
    return torch.randint(0, 256, (n, *shape), generator=gen).float() / 127.5 - 1


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_parameter_counts(name):
    official, dead = PUBLISHED[name]
    count = create_model(name).num_parameters()
    assert count == official - dead
    assert abs(count - official) / official < 0.02


@pytest.mark.parametrize("name", sorted(DVP_SMALL))
def test_a_training_step_runs(name):
    torch.manual_seed(0)
    model = create_model(name, **DVP_SMALL[name])
    x = _batch(model)
    model.initialize_from_data([x, _batch(model, seed=1)])
    opt = torch.optim.Adamax(model.parameters(), lr=1e-3)
    terms = model(x)
    loss = -terms.elbo.mean()
    assert torch.isfinite(loss)
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing
    opt.step()
    assert torch.isfinite(model(x).elbo).all()


@pytest.mark.parametrize("flags", [
    dict(PSEUDO="downsample", PRIOR="mog", D=3),
    dict(PSEUDO="learnable", PRIOR="normal", AGGREGATE=False, D=11),
    dict(AGGREGATE=False),
])
def test_ablation_flags(flags):
    model = create_model("dvp_mnist", **{**DVP_SMALL["dvp_mnist"], **flags})
    x = _batch(model)
    model.initialize_from_data([x])
    terms = model(x)
    (-terms.elbo.mean()).backward()
    assert torch.isfinite(terms.elbo).all()
    assert model.graph.info("u").shape == (1, flags.get("D", 7), flags.get("D", 7))


def test_sampling_a_dvp_model_runs_the_prior_T_times():
    model = create_model("dvp_mnist", **DVP_SMALL["dvp_mnist"]).eval()
    calls = []
    model.ops["prior(u)"].unet.register_forward_hook(lambda *a: calls.append(1))
    images, latents = model.sample(5, return_latents=True)
    assert images.shape == (5, 1, 28, 28) and latents["u"].shape == (5, 1, 7, 7)
    assert len(calls) == DVP_SMALL["dvp_mnist"]["T"]


def test_breakdown_adds_up_to_the_elbo():
    torch.manual_seed(0)
    model = create_model("dvp_mnist", **DVP_SMALL["dvp_mnist"])
    x = _batch(model)
    model.initialize_from_data([x])
    terms = model(x)
    table = elbo_breakdown(model, x, terms=terms)
    assert torch.allclose(table["elbo"], table["reconstruction"] - table["kl"] - table["kl/u"], atol=1e-4)
    assert torch.allclose(table["kl/u"], table["log_q/u"] - table["log_p/u"], atol=1e-4)
    assert torch.allclose(table["log_p/u"], -(table["L0/u"] + table["Lt/u"] + table["LT/u"]), atol=1e-4)
    log_var = model.ops["posterior(u)/scale"].value.clamp(-12, -5)  # the learned log sigma^2 of r(u | x)
    entropy = 0.5 * (math.log(2 * math.pi * math.e) + log_var).sum()
    assert torch.allclose(table["entropy/u"], entropy.expand(4), atol=1e-4)
    means = mean_breakdown(model.eval(), [x, x])
    assert set(means) == set(table) and all(math.isfinite(v) for v in means.values())


def test_both_likelihood_estimates_are_finite_and_bounded_by_zero():
    torch.manual_seed(0)
    model = create_model("dvp_mnist", **DVP_SMALL["dvp_mnist"])
    x = _batch(model, n=2)
    model.initialize_from_data([x])
    official = official_log_likelihood(model, x, importance_samples=4, chunk=2)
    assert model.training  # restored
    model.eval()
    with torch.no_grad():
        standard = model.log_likelihood(x, importance_samples=4)
    assert official.shape == standard.shape == (2,)
    assert torch.isfinite(official).all() and torch.isfinite(standard).all()
    assert (standard < 0).all()  # Bernoulli data: a probability mass


def test_active_units():
    torch.manual_seed(0)
    model = create_model("dvp_mnist", **DVP_SMALL["dvp_mnist"]).eval()
    data = [_batch(model, n=16, seed=s) for s in range(3)]
    model.initialize_from_data(data)
    # the posterior heads start at zero, so no posterior mean depends on the data yet
    assert active_units(model, data).fraction == 0.0
    with torch.no_grad():
        for p in model.ops["posterior(z[1])/params"].parameters():
            p.normal_(0, 0.5)
    result = active_units(model, data)
    assert result.per_layer["z[1]"] > 0.5 and result.per_layer["z[2]"] == 0.0
    assert result.per_layer["u"] > 0.5  # the DCT coefficients vary with the data
    assert result.fraction == pytest.approx(result.per_layer["z[1]"] * 49 / (49 + 196))


def _unfaithful_factors(mg):
    """Latents whose posterior leaves out an earlier latent that is not d-separated from it in p given
    what it conditions on and the data (checked independently of compiler.dsep)."""
    observed = {v.name for v in mg.observed}
    order = list(mg.latent_order)
    out = {}
    for i, z in enumerate(order):
        parents = set(mg.inference.predecessors(z))
        missing = set(order[:i]) - parents
        if missing and not nx.is_d_separator(mg.generative, {z}, missing, (parents | observed) - {z}):
            out[z] = missing
    return out


@pytest.mark.parametrize("name", ["dvp_nvae", "dvp_mnist", "dvp_cifar"])
def test_factorization_verdict(name):
    mg = compile_spec(name, DVP_SMALL[name])
    assert mg.latent_order[0] == "u"
    assert _unfaithful_factors(mg) == {"z[1]": {"u"}}
    (assumption,) = [a for a in mg.spec.assumptions if not a.sufficient]
    assert (assumption.left, assumption.right, assumption.given) == (("z[1]",), ("u",), ("x",))
    # on the graph the check decides on, the posteriors read z[<l] only through the top-down state,
    # which the likelihood's aggregation (eq. 18) bypasses: each factor rests on the state's sufficiency
    report = check_posterior_factorization(mg, inverse=False)
    assert report.faithful and not report.exact
    assert [v.latent for v in report.violations] == ["z[1]"]
    state = "c" if name == "dvp_nvae" else "s"
    assert {a.feature for a in report.sufficiency} <= {f"{state}[{l}]" for l in range(2, 100)}
    assert all(a.acknowledged for a in report.sufficiency)


@pytest.mark.parametrize("name,state", [("dvp_mnist", "s"), ("dvp_nvae", "c")])
def test_full_size_dvp_rests_on_the_sufficiency_of_its_top_down_state(name, state):
    report = check_posterior_factorization(compile_spec(name), inverse=False)
    layers = len([v for v in report.order if v.startswith("z[")])
    features = [a.feature for a in report.sufficiency]
    assert features[0] == f"{state}[2]" and set(features) <= {f"{state}[{l}]" for l in range(2, layers + 1)}
    assert all(a.acknowledged for a in report.sufficiency) and report.faithful


def test_vampprior_ladder_is_faithful():
    assert _unfaithful_factors(compile_spec("vampprior_mnist", DVP_SMALL["vampprior_mnist"])) == {}


def test_the_hybrid_uses_core_nvae_mechanisms():
    mg = compile_spec("dvp_nvae", DVP_SMALL["dvp_nvae"])
    ops = {info.op for info in mg.ops()}
    assert {"nvae_cell", "residual", "diffusion", "dct", "pseudo_inverse"} <= ops
    model = lower(mg)
    assert model.num_parameters() > 0
