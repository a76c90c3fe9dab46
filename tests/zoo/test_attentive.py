"""The deep attentive VAE's strongly connected layers, end to end in a small compiled attentive16.

The prior and posterior contexts the model computes are compared with the official code's
algorithm (reference-code-facts.md 1.6), written here pixel by pixel and layer by layer from the
features the model computed upstream of the attention.
"""
from __future__ import annotations

import pytest
import torch
from torch import nn

from zoo.runtime.lower import lower
from zoo.nn.attention import Attend, ReZero
from zoo.registry import compile_spec

from .naive_attention import naive_attend, naive_gelu_norm, naive_layer_norm
from .small import SMALL as ZOO_SMALL

# small overrides of the zoo's attentive models (the spatial sizes are the paper's)
SMALL = {name: ZOO_SMALL[name] for name in ("attentive16", "attentive15_omniglot", "attentive15_mnist")}
TOL = dict(atol=1e-5, rtol=1e-5)


def _build(name: str, **flags):
    return lower(compile_spec(name, {**SMALL[name], **flags}))


def _capture(model, x):
    """Run the inference pass and return every computation's output by node id, and the ELBO terms."""
    out = {}
    hooks = [m.register_forward_hook(lambda mod, args, res, name=name: out.__setitem__(name, res))
             for name, m in model.ops.items()]
    try:
        terms = model(x)
    finally:
        for h in hooks:
            h.remove()
    return out, terms


def _randomise(model):
    """Non-trivial gates, scales and LayerNorm affines, so that a wrong wiring shows."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, ReZero):
                m.gamma.copy_(0.3 + torch.rand((), generator=g))
            elif isinstance(m, Attend):
                m.scale.copy_(0.5 + torch.rand((), generator=g))
            elif isinstance(m, nn.LayerNorm):
                m.weight.copy_(0.5 + torch.rand(m.weight.shape, generator=g))
                m.bias.copy_(0.3 * torch.randn(m.bias.shape, generator=g))


def _image(batch=2):
    return torch.randint(0, 256, (batch, 3, 32, 32)).float() / 127.5 - 1


@pytest.fixture(scope="module", params=[True, False], ids=["normalised", "plain"])
def run(request):
    norm = request.param
    torch.manual_seed(0)
    model = _build("attentive16", prior_norm=norm, posterior_norm=norm).eval()
    _randomise(model)
    with torch.no_grad():
        cap, terms = _capture(model, _image())
    constants = model.graph.spec.constants
    return model, cap, constants, norm


def test_prior_context_matches_the_naive_reference(run):
    model, cap, k, norm = run
    L, V, KP = k["L"], k["V"], k["KP"]

    def ctx(m):  # the context layer m passes down: its cell's first V channels, normalised once (eq. 5)
        raw = cap[f"d[{m}]"][:, :V]
        return naive_gelu_norm(raw, model.ops[f"c[{m}]"].norm) if (m > 1 and norm) else raw

    def key(m):
        return cap[f"d[{m}]"][:, V:V + KP]

    for l in range(2, L + 1):
        query = cap[f"d[{l}]"][:, V + (KP if l < L else 0):]  # the cell emits context, key, query
        values, keys = [], []
        for m in range(1, l - 1):  # older contexts: layer-normalised once, keys included
            full = naive_layer_norm(torch.cat([ctx(m), key(m)], 1), model.ops[f"n[{m}]"].norm)
            values.append(full[:, :V])
            keys.append(full[:, V:])
        last = ctx(l - 1)
        if norm:  # the context right above is layer-normalised by this layer
            last = naive_layer_norm(last, model.ops[f"p[{l}]/update/values/{l - 2}"].norm)
        values.append(last)
        keys.append(key(l - 1))
        attend = model.ops[f"p[{l}]/update"]
        att = naive_attend(values, query, keys, attend.scale.item(), attend.norm.norm if norm else None)
        expected = ctx(l) + model.ops[f"p[{l}]"].gamma.item() * att
        torch.testing.assert_close(cap[f"p[{l}]"], expected, **TOL)


def test_posterior_context_matches_the_naive_reference(run):
    model, cap, k, norm = run
    L, H, KQ = k["L"], k["H"], k["KQ"]
    for l in range(1, L + 1):
        merged = cap["e[1]"] if l == 1 else cap[f"s[{l}]"]  # h_l, or its merge with the prior's context
        h, new_key = merged[:, :H], merged[:, H:]
        below = [cap[f"e[{m}]"] for m in range(l + 1, L + 2)]  # h_>l, down to the preprocessed image
        values = [h] + [e[:, :H] for e in below]
        keys = [new_key] + [e[:, H:] for e in below]
        query = cap[f"d[{l}]"][:, :KQ]  # the first KQ channels of the layer's context
        prefix = f"q[{l}]/inputs/0"
        attend = model.ops[f"{prefix}/update"]
        att = naive_attend(values, query, keys, attend.scale.item(), attend.norm.norm if norm else None)
        cond = naive_gelu_norm(h, model.ops[f"{prefix}/x"].norm) if norm else h
        expected = torch.cat([cond + model.ops[prefix].gamma.item() * att, new_key], 1)
        torch.testing.assert_close(cap[f"q[{l}]"], expected, **TOL)


def test_with_gamma_zero_the_strongly_connected_prior_is_the_local_one():
    torch.manual_seed(0)
    model = _build("attentive16").eval()  # gammas start at zero
    x = _image()
    with torch.no_grad():
        cap, terms = _capture(model, x)
    L = model.graph.spec.constants["L"]
    for l in range(2, L + 1):
        assert torch.equal(cap[f"p[{l}]"], cap[f"c[{l}]"])  # bit for bit
        # the prior computed from the layer's own (local) context alone
        head, family = model.ops[f"prior(z[{l}])/params"], model.ops[f"prior(z[{l}])"]
        with torch.no_grad():
            local = family(params=head(x=cap[f"c[{l}]"]))
        prior = terms.distributions[f"prior(z[{l}])"]
        assert torch.equal(local.loc, prior.loc) and torch.equal(local.scale, prior.scale)
    # ... and with gamma away from zero the attention changes it
    with torch.no_grad():
        model.ops[f"p[{L}]"].gamma.fill_(0.5)
        cap, _ = _capture(model, x)
    assert not torch.allclose(cap[f"p[{L}]"], cap[f"c[{L}]"])


@pytest.mark.parametrize("name", sorted(SMALL))
def test_small_models_train_one_step(name):
    torch.manual_seed(0)
    model = _build(name)
    if name == "attentive16":
        x = _image()
    else:
        x = (torch.rand(2, 1, 28, 28) < 0.3).float()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss = -model(x).elbo.mean()
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, f"parameters without a gradient: {missing[:5]}"
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())
    opt.step()
    with torch.no_grad():
        assert torch.isfinite(model(x).elbo).all()
    assert model.sample(2).shape == x.shape
