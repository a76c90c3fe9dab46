"""The self-reflective VAE specs: sizes, the closed-form KL, training steps, factorization verdicts.

Verdicts are computed here with networkx's d-separation on each spec's generative graph,
independently of `zoo check`, and compared with the hand derivations of docs/models/sere.md:

* decoder on all of z[1..L] (sere_mlp, sere_resnet, sere_maf_cifar): the posterior of eps[l],
  l >= 3, conditioned on z[l-1] and x, leaves out all of eps[<l] (x is an observed collider of
  every z[j]); the specs acknowledge exactly these departures with `assume`;
* decoder on z[L] only (sere_mlp_top), data in blocks x_l ~ p(x_l | z_l, x_{l-1}) (the paper's ICLR
  version), and bijective layers inside an NVAE-style context chain (sere_nvae): faithful.
"""
from __future__ import annotations

import networkx as nx
import pytest
import torch
import yaml

import dsl
from compiler.graph import build_graph
from zoo.runtime.lower import lower
from zoo.runtime.distributions import Normal
from zoo.registry import compile_spec, create_model, spec_path

from .small import SMALL

SERE_SPECS = ["sere_mlp", "sere_mlp_top", "sere_resnet", "sere_maf_cifar", "sere_nvae"]

SERE_SMALL = {name: SMALL[name] for name in SERE_SPECS}


def _data(name: str, batch: int = 4) -> torch.Tensor:
    if name == "sere_maf_cifar":
        side = SERE_SMALL[name]["W"]
        return torch.randint(0, 256, (batch, 3, side, side)).float() / 127.5 - 1
    return torch.bernoulli(torch.full((batch, 1, 28, 28), 0.3))


# -- sizes ---------------------------------------------------------------------------------------

def _mlp(widths: list[int]) -> int:
    """Weights and biases of Linear layers between consecutive widths."""
    return sum(a * b + b for a, b in zip(widths[:-1], widths[1:]))


def test_sere_mlp_has_the_parameter_count_of_table_5():
    """Table 5 sizes: L = 10 layers of D = 10 latents, 784 pixels; batch norm at the input of every
    prior and variational network (2 parameters per input unit)."""
    L, D, X, H, F, B, HX = 10, 10, 784, 256, 20, 20, 512
    evidence = L * _mlp([X, H, H, F])                       # 10 x 271,892
    latent = (L - 1) * _mlp([D, H, H, F])                   # 9 x 73,748
    posterior_top = 2 * (2 * F + _mlp([F, H, H, D]))        # loc and scale of eps[1], input e[1]
    posterior = (L - 1) * 2 * (2 * 2 * F + _mlp([2 * F, H, H, D]))  # input concat(k[l], e[l])
    prior = (L - 1) * 2 * (2 * D + _mlp([D, H, H, D]))      # input z[l-1]; eps[1] ~ N(0, I)
    bijector_top = 3 * D                                     # learned shift, raw diagonal, factor
    bijector = (L - 1) * 3 * _mlp([D, B, B, D])              # three tanh networks of z[l-1]
    decoder = _mlp([L * D, HX, HX, X])
    expected = evidence + latent + posterior_top + posterior + prior + bijector_top + bijector + decoder
    assert expected == 6_972_196
    assert create_model("sere_mlp").num_parameters() == expected


def test_sere_maf_cifar_has_the_flow_of_table_9():
    """2 flows x 5 MADEs of 2 x 1024 hidden units over 3072 logit-space values, each conditioned on
    one 40-dimensional z[l], and a batch-norm bijector (2 x 3072) between each two MADEs. Built on
    the meta device: no memory for the 139M weights."""
    with torch.device("meta"):
        model = lower(compile_spec("sere_maf_cifar"))
    made = _mlp([3072 + 40, 1024, 1024]) + _mlp([1024, 2 * 3072])
    flow = sum(p.numel() for p in model.ops["likelihood(x)"].parameters())
    assert flow == 10 * made + 9 * 2 * 3072 == 105_404_416
    assert model.num_parameters() == 139_210_607


def test_the_top_only_variant_differs_only_in_the_decoder_input():
    full, top = create_model("sere_mlp"), create_model("sere_mlp_top")
    assert full.num_parameters() - top.num_parameters() == (100 - 10) * 512
    assert top.graph.spec.constants["decode_all"] is False
    assert sorted(top.graph.generative.predecessors("x")) == ["z[10]"]
    assert top.graph.spec.assumptions == ()


def test_recipes_name_every_schema_key():
    keys = {"data", "validation", "batch_size", "eval_batch_size", "optimizer", "lr_schedule", "kl_warmup",
            "free_bits", "grad_clip", "grad_skip", "max_skips", "ema", "importance_samples", "seed", "dtype",
            "augment", "source"}
    for name in SERE_SPECS:
        recipe = yaml.safe_load(open(spec_path(name).replace(".hvae", ".yaml"), encoding="utf-8"))
        assert keys <= set(recipe) and ("epochs" in recipe or "steps" in recipe), name
        assert recipe["optimizer"]["name"] == "adam"
    cifar = yaml.safe_load(open(spec_path("sere_maf_cifar").replace(".hvae", ".yaml"), encoding="utf-8"))
    assert cifar["kl_warmup"] == {"name": "geometric", "levels": 8, "delay_epochs": 350}
    assert cifar["free_bits"] == 1.0


# -- the KL is the closed-form Gaussian KL over eps --------------------------------------------------

@pytest.mark.parametrize("name", SERE_SPECS)
def test_kl_is_the_closed_form_gaussian_kl_in_eps_space(name):
    model = create_model(name, **SERE_SMALL[name])
    terms = model(_data(name))
    assert list(terms.kl) == [f"eps[{l}]" for l in range(1, len(terms.kl) + 1)]
    for z, kl in terms.kl.items():
        q, p = terms.distributions[f"posterior({z})"], terms.distributions[f"prior({z})"]
        assert isinstance(q, Normal) and isinstance(p, Normal)  # diagonal Gaussians, not flows
        ratio = q.scale / p.scale
        closed = 0.5 * (ratio ** 2 + ((q.loc - p.loc) / p.scale) ** 2 - 1 - 2 * torch.log(ratio))
        torch.testing.assert_close(kl, closed.flatten(1).sum(1))
        assert not torch.allclose(kl, terms.log_q[z] - terms.log_p[z])  # not the one-sample estimate
    torch.testing.assert_close(terms.elbo, terms.log_px - sum(terms.kl.values()))


# -- training steps ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", SERE_SPECS)
def test_a_training_step_reaches_every_parameter(name):
    model = create_model(name, **SERE_SMALL[name])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = _data(name)
    loss = -model(x).elbo.mean()
    opt.zero_grad()
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, missing
    opt.step()
    assert torch.isfinite(-model(x).elbo.mean())


def test_the_maf_decoder_scores_a_bound_on_the_mass_of_the_8_bit_image():
    model = create_model("sere_maf_cifar", **SERE_SMALL["sere_maf_cifar"]).eval()
    x = _data("sere_maf_cifar", 2)
    terms = model(x)
    dist = terms.distributions["likelihood(x)"]
    noise = torch.full((2, x[0].numel()), 0.5)
    log_py, log_det = dist.logit_log_prob(x, noise)
    torch.testing.assert_close(dist.log_prob(x, noise), log_py + log_det)
    assert (log_det < 0).all()  # logit space is wider than [0, 256): the Jacobian term lowers the bound


def test_the_maf_spec_samples_8_bit_images_and_clips_out_of_range_data_to_the_edge_levels():
    model = create_model("sere_maf_cifar", **SERE_SMALL["sere_maf_cifar"]).eval()
    draws = model.sample(2, mean=False)
    levels = (draws + 1) * 127.5
    assert draws.shape == (2, 3, 8, 8) and ((draws >= -1) & (draws <= 1)).all()
    torch.testing.assert_close(levels, levels.round())
    dist = model(draws).distributions["likelihood(x)"]
    noise = torch.rand(2, draws[0].numel())
    torch.testing.assert_close(dist.log_prob(draws.sign() * 1.5, noise), dist.log_prob(draws.sign(), noise))


def test_resnet_stacks_halve_and_double_maps():
    model = create_model("sere_resnet", **SERE_SMALL["sere_resnet"])
    shapes = {n: model.graph.info(n).shape for n in model.graph.graph.nodes}
    assert shapes["e[1]/x"] == (4, 7, 7)  # [1, 28, 28] -> [2, 14, 14] -> [4, 7, 7]
    assert shapes["likelihood(x)/params/x"] == (2, 28, 28)  # [4, 7, 7] -> [4, 14, 14] -> [2, 28, 28]


# -- factorization verdicts (d-separation in the generative graph) --------------------------------------

def _violations(mg) -> dict[str, set[str]]:
    """Latent -> earlier latents its posterior leaves out that are not d-separated from it."""
    g = nx.DiGraph(mg.generative)
    observed = {v.name for v in mg.observed}
    out = {}
    for i, z in enumerate(mg.latent_order):
        parents = set(mg.inference.predecessors(z)) | observed
        bad = {e for e in mg.latent_order[:i] if e not in parents and not nx.is_d_separator(g, {z}, {e}, parents)}
        if bad:
            out[z] = bad
    return out


@pytest.mark.parametrize("name", ["sere_mlp", "sere_resnet", "sere_maf_cifar"])
def test_a_decoder_on_every_layer_breaks_theorem_1_and_the_specs_say_so(name):
    mg = compile_spec(name)
    L = mg.spec.constants["L"]
    want = {f"eps[{l}]": {f"eps[{j}]" for j in range(1, l)} for l in range(3, L + 1)}
    assert _violations(mg) == want
    # the witness of docs/models/sere.md: eps[3] -> z[3] -> x <- z[1] <- eps[1]
    for a, b in [("eps[3]", "z[3]"), ("z[3]", "x"), ("z[1]", "x"), ("eps[1]", "z[1]")]:
        assert mg.generative.has_edge(a, b)
    # the repair: conditioning on every earlier bijector output
    g = nx.DiGraph(mg.generative)
    for l in range(2, L + 1):
        given = {f"z[{j}]" for j in range(1, l)} | {"x"}
        assert nx.is_d_separator(g, {f"eps[{l}]"}, {f"eps[{j}]" for j in range(1, l)}, given)
    acknowledged = {(a, b) for s in mg.spec.assumptions for a in s.left for b in s.right}
    assert acknowledged == {(z, e) for z, bad in want.items() for e in bad}


@pytest.mark.parametrize("name", ["sere_mlp_top", "sere_nvae"])
def test_faithful_variants(name):
    mg = compile_spec(name)
    assert _violations(mg) == {}
    assert mg.spec.assumptions == ()


BLOCKS = """
let L = 4
observed x[1..L] : [5] ~ bernoulli
latent eps[1..L] : [2] ~ normal(variance = softplus_elu_var)
feature z[1] = affine_rank1(eps[1], hidden = [4])
feature z[l in 2..L] = affine_rank1(eps[l], cond = z[l-1], hidden = [4])
feature e = concat(x)
prior eps[1] = normal(loc = 0, scale = 1)
prior eps[l in 2..L] | z[l-1] = normal(loc = mlp(z[l-1], hidden = [8]), scale = mlp(z[l-1], hidden = [8]))
posterior eps[1] | x = normal(loc = mlp(e, hidden = [8]), scale = mlp(e, hidden = [8]))
posterior eps[l in 2..L] | z[l-1], x = normal(loc = mlp(concat(z[l-1], e), hidden = [8]),
                                              scale = mlp(concat(z[l-1], e), hidden = [8]))
likelihood x[1] | z[1] = mlp(z[1], hidden = [8])
likelihood x[l in 2..L] | z[l], x[l-1] = mlp(concat(z[l], x[l-1]), hidden = [8])
"""


def test_the_iclr_version_with_data_blocks_is_faithful_and_trains():
    """SeRe (ICLR 2021 text): p(x_l | z_l, x_{l-1}); every x_l observed blocks the collider paths."""
    mg = build_graph(*dsl.checked(dsl.parse_spec(BLOCKS, path="sere_blocks.hvae"))[:2])
    assert _violations(mg) == {}
    model = lower(mg)
    x = {f"x[{l}]": torch.bernoulli(torch.full((3, 5), 0.5)) for l in range(1, 5)}
    (-model(x).elbo.mean()).backward()
    assert all(p.grad is not None for p in model.parameters())


def test_zoo_check_agrees_with_these_verdicts(capsys):
    """`zoo check --json` (when present): exit 0, and exactly the violations derived above."""
    pytest.importorskip("zoo.commands.check")
    import json

    from zoo.cli import main

    assert main(["check", "--json", *(spec_path(n) for n in SERE_SPECS)]) == 0
    reports = {r["model"]: r for r in json.loads(capsys.readouterr().out)}
    for name in SERE_SPECS:
        departures = reports[name]["violations"] + reports[name]["resting_on_sufficiency"]
        got = {v["latent"]: set(v["missing"]) for v in departures}
        assert got == _violations(compile_spec(name)), name
