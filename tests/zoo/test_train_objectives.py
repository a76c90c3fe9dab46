"""The one objective over ELBOTerms: beta, free bits, IWAE, units."""
from __future__ import annotations

import math

import pytest
import torch

from zoo.runtime.model import ELBOTerms
from zoo.runtime.objectives import bits_per_dim, compute_objective, data_dims, iwae, negative_elbo, replicate
from zoo.registry import create_model


def _terms(log_px, kls, log_weight=None):
    log_px = torch.tensor(log_px, requires_grad=True)
    kl = {k: torch.tensor(v, requires_grad=True) for k, v in kls.items()}
    lw = torch.tensor(log_weight) if log_weight is not None else log_px.detach()
    return ELBOTerms(log_px - sum(kl.values()), log_px, kl, {}, {}, lw)


def test_negative_elbo_is_recon_plus_kl_per_example():
    t = _terms([-10.0, -20.0], {"z[1]": [1.0, 3.0], "z[2]": [0.5, 0.5]})
    obj = negative_elbo(t)
    assert obj.nelbo.tolist() == [11.5, 23.5]
    assert obj.loss.item() == pytest.approx(17.5)
    assert obj.total_kl.tolist() == [1.5, 3.5]


def test_beta_weights_only_the_kl_in_the_loss():
    t = _terms([-10.0, -20.0], {"z[1]": [1.0, 3.0], "z[2]": [0.5, 0.5]})
    obj = negative_elbo(t, beta=0.1)
    assert obj.loss.item() == pytest.approx(15.0 + 0.1 * 2.5)
    assert obj.nelbo.tolist() == [11.5, 23.5], "the reported bound ignores beta"
    obj.loss.backward()
    assert t.kl["z[1]"].grad.tolist() == pytest.approx([0.05, 0.05])


def test_free_bits_hold_each_layer_at_lambda():
    """Kingma et al. 2016, eq. 12, grouped by layer: sum_l max(lambda, E_batch KL_l)."""
    t = _terms([-10.0, -20.0], {"z[1]": [1.0, 3.0], "z[2]": [0.5, 0.5]})
    obj = negative_elbo(t, free_bits=1.0)
    assert obj.loss.item() == pytest.approx(15.0 + 2.0 + 1.0)     # z[1] mean 2 > 1; z[2] mean 0.5 -> 1
    obj.loss.backward()
    assert t.kl["z[1]"].grad.tolist() == pytest.approx([0.5, 0.5])
    assert t.kl["z[2]"].grad.tolist() == [0.0, 0.0], "a layer under its free bits gets no KL gradient"
    assert obj.nelbo.tolist() == [11.5, 23.5]


def test_iwae_bound_from_log_weights():
    # K = 2 samples of B = 1 example, sample-major
    t = _terms([-1.0, -3.0], {"z": [0.0, 0.0]}, log_weight=[math.log(0.2), math.log(0.6)])
    obj = iwae(t, samples=2)
    assert obj.loss.item() == pytest.approx(-math.log(0.4))
    assert obj.recon.tolist() == [2.0]


def test_iwae_with_one_sample_is_the_elbo_bound_at_the_sample():
    torch.manual_seed(0)
    model = create_model("vae", W=8, H=16, D=4)
    x = torch.bernoulli(torch.full((5, 1, 8, 8), 0.3))
    torch.manual_seed(1)
    a = compute_objective(model, x, kind="iwae", samples=1)
    torch.manual_seed(1)
    terms = model(x, analytic_kl=False)
    assert torch.allclose(a.bound, -terms.log_weight.detach())
    torch.manual_seed(1)
    k5 = compute_objective(model, x, kind="iwae", samples=5)
    assert k5.bound.shape == (5,) and torch.isfinite(k5.loss)


def test_replicate_is_sample_major():
    x = torch.arange(6.0).reshape(3, 2)
    r = replicate(x, 2)
    assert r.shape == (6, 2) and torch.equal(r[:3], x) and torch.equal(r[3:], x)


def test_bits_per_dim_and_data_dims():
    model = create_model("vae", W=8)
    assert data_dims(model) == 64
    assert bits_per_dim(64 * math.log(2), 64) == pytest.approx(1.0)
