"""Every model of the zoo, timm style: parametrized over `list_models()`, so a new spec is tested
as soon as it is added (with an entry in `tests/zoo/small.py`).

At full size a model is compiled (parse, check, graph, validate: cheap) and, where the paper fixes
it, its parameter count is checked by building the module on the meta device (no memory for the
weights). With its SMALL overrides it is lowered and run: forward on a batch of 2 in its data
domain, a finite ELBO, backward, a gradient for every parameter, `sample()` and
`log_likelihood(K=3)`.
"""
from __future__ import annotations

import copy
import functools

import pytest
import torch

from zoo.runtime.lower import lower
from zoo.registry import compile_spec, list_models

from .small import SMALL

MODELS = [m.name for m in list_models()]

# Parameter counts the papers fix. vae: Burda et al.'s 784-200-200-50 MLPs, counted by hand:
# encoder 784*200+200 + 200*200+200 + 200*100+100, decoder 50*200+200 + 200*200+200 + 200*784+784.
PAPER_PARAMETERS = {
    "vae": (784 * 200 + 200) + (200 * 200 + 200) + (200 * 100 + 100)
           + (50 * 200 + 200) + (200 * 200 + 200) + (200 * 784 + 784),
    "nvae8": 39_473_940,  # Apostolopoulou et al. 2022, Table 5, case 1
    "nvae16": 79_206_420,  # Apostolopoulou et al. 2022, Table 5, case 9
}


def small_overrides(name: str) -> dict:
    if name not in SMALL:
        pytest.fail(f"model '{name}' has no entry in tests/zoo/small.py: add SMALL['{name}'] = {{...}} with "
                    f"--set overrides that make it run on CPU in about a second (an empty dict if it "
                    f"already does)", pytrace=False)
    return dict(SMALL[name])


@functools.lru_cache(maxsize=None)
def small_model(name: str):
    torch.manual_seed(0)
    return lower(compile_spec(name, small_overrides(name)))


def data_batch(model, batch: int = 2) -> torch.Tensor:
    """A batch in the model's data domain (docs/conventions.md)."""
    (obs,) = model.graph.observed
    shape = (batch,) + tuple(obs.shape)
    if obs.family == "bernoulli":
        return torch.randint(0, 2, shape).float()
    if obs.family in ("discretized_logistic_mixture", "maf"):
        return torch.randint(0, 256, shape).float() / 255 * 2 - 1
    if obs.family == "normal":
        return torch.randn(shape)
    raise AssertionError(f"no test data for likelihood family {obs.family!r}; add it to data_batch()")


@pytest.mark.parametrize("name", MODELS)
def test_compiles_at_full_size(name):
    mg = compile_spec(name)
    assert mg.latent_order and mg.observed
    assert not [w for w in mg.warnings if w.is_error]


@pytest.mark.parametrize("name", sorted(PAPER_PARAMETERS))
def test_parameter_count_matches_the_paper(name):
    mg = compile_spec(name)
    with torch.device("meta"):
        model = lower(mg)
    assert model.num_parameters() == PAPER_PARAMETERS[name]


def test_paper_counts_name_zoo_models():
    assert set(PAPER_PARAMETERS) <= set(MODELS)


@pytest.mark.parametrize("name", MODELS)
def test_forward_backward_reaches_every_parameter(name):
    model = small_model(name)
    model.train()
    model.zero_grad(set_to_none=True)
    x = data_batch(model)
    terms = model(x)
    assert terms.elbo.shape == (2,)
    assert torch.isfinite(terms.elbo).all(), terms.elbo
    assert set(terms.kl) == set(model.latents)
    for z, kl in terms.kl.items():
        assert kl.shape == (2,) and torch.isfinite(kl).all(), z
    torch.testing.assert_close(terms.elbo, terms.log_px - sum(terms.kl.values()))
    (-terms.elbo.mean()).backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing, f"parameters that receive no gradient: {missing}"
    bad = [n for n, p in model.named_parameters() if p.grad is not None and not torch.isfinite(p.grad).all()]
    assert not bad, f"non-finite gradients: {bad}"


@pytest.mark.parametrize("name", MODELS)
def test_sample_is_in_the_data_domain(name):
    model = small_model(name).eval()
    (obs,) = model.graph.observed
    means = model.sample(3)
    draws = model.sample(3, mean=False)
    assert means.shape == draws.shape == (3,) + tuple(obs.shape)
    assert torch.isfinite(means).all() and torch.isfinite(draws).all()
    if obs.family == "bernoulli":
        assert ((means >= 0) & (means <= 1)).all()
        assert set(draws.unique().tolist()) <= {0.0, 1.0}
    elif obs.family in ("discretized_logistic_mixture", "maf"):
        levels = (draws + 1) / 2 * 255
        assert ((draws >= -1) & (draws <= 1)).all()
        torch.testing.assert_close(levels, levels.round(), atol=1e-4, rtol=0)


@pytest.mark.parametrize("name", MODELS)
def test_log_likelihood_is_finite(name):
    model = small_model(name).eval()
    x = data_batch(model)
    with torch.no_grad():
        ll = model.log_likelihood(x, importance_samples=3)
    assert ll.shape == (2,) and torch.isfinite(ll).all()


def test_a_model_without_small_overrides_fails_with_instructions(monkeypatch):
    monkeypatch.delitem(SMALL, "vae")
    with pytest.raises(pytest.fail.Exception, match=r"add SMALL\['vae'\]"):
        small_overrides("vae")


@pytest.mark.parametrize("name", ["vae", "dvp_mnist"])
def test_chunked_sampling_is_the_same_computation_in_slices(name):
    """`sample(n, chunk=c)` draws the samples c at a time: with the same seed it returns exactly
    the passes of size c drawn one after another, latents included, on every model alike."""
    model = small_model(name).eval()
    torch.manual_seed(0)
    chunked, latents = model.sample(7, return_latents=True, chunk=3)
    torch.manual_seed(0)
    passes = [model.sample(k, return_latents=True, chunk=k) for k in (3, 3, 1)]
    assert torch.equal(chunked, torch.cat([p[0] for p in passes]))
    assert latents.keys() == passes[0][1].keys()
    for z, value in latents.items():
        assert torch.equal(value, torch.cat([p[1][z] for p in passes])), z


def test_sampling_fixed_values_are_split_with_the_samples():
    """A fixed latent with one row per sample goes with its samples; chunking changes nothing at
    temperature 0 (no noise), where one pass and three give the same images."""
    model = small_model("vae").eval()
    top = model.latents[0]
    fixed = {top: torch.randn(5, *model.graph.info(top).shape)}
    whole = model.sample(5, 0.0, fixed=fixed, chunk=5)
    sliced, latents = model.sample(5, 0.0, fixed=fixed, chunk=2, return_latents=True)
    assert torch.equal(latents[top], fixed[top])
    torch.testing.assert_close(sliced, whole, rtol=0, atol=1e-6)


def test_training_mode_samples_in_one_pass():
    """Batch normalisation in training mode normalises over the batch: no chunking there."""
    model = copy.deepcopy(small_model("ladder")).train()
    torch.manual_seed(0)
    one = model.sample(6, 0.0, chunk=2)
    torch.manual_seed(0)
    assert torch.equal(one, model.sample(6, 0.0, chunk=6))
