"""specs/attentive_ladder.hvae: the attentive mechanisms composed with the Ladder VAE's vector latents and
precision-weighted posteriors build, train a step, and get a factorization verdict."""
from __future__ import annotations

import pathlib

import networkx as nx
import pytest
import torch

from zoo.runtime.lower import lower
from zoo.registry import compile_spec, spec_path

SMALL = dict(D=16, K=4)


def _verdict(mg) -> dict:
    """{latent: the earlier latents its posterior leaves out and is d-connected to}, by d-separation in
    the generative graph given the posterior's parents and the data (no deterministic PGM nodes here)."""
    observed = {v.name for v in mg.observed}
    out = {}
    for i, z in enumerate(mg.latent_order):
        parents = set(mg.inference.predecessors(z))
        left_out = set(mg.latent_order[:i]) - parents
        connected = {m for m in left_out if not nx.is_d_separator(mg.generative, {z}, {m}, parents | observed)}
        out[z] = connected
    return out


def test_hybrid_builds_and_trains_a_step():
    torch.manual_seed(0)
    model = lower(compile_spec("attentive_ladder", SMALL))
    x = (torch.rand(8, 1, 28, 28) < 0.3).float()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    loss = -model(x).elbo.mean()
    loss.backward()
    assert torch.isfinite(loss)
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    opt.step()
    changed = [n for n, p in model.named_parameters() if not torch.equal(p, before[n])]
    assert any("p[" in n and "gamma" in n for n in changed)  # the prior's attention gate learns
    assert any("b[" in n and "gamma" in n for n in changed)  # ... and the posterior's
    kinds = {type(m).__name__ for m in model.modules()}
    assert {"Attend", "ReZero", "PrecisionWeighted"} <= kinds


def test_hybrid_posterior_respects_the_exact_factorization(tmp_path):
    mg = compile_spec("attentive_ladder", SMALL)
    # q(z_l | x, z_<l) reads every earlier latent: nothing is left out
    assert all(not missing for missing in _verdict(mg).values())
    # a mean-field bottom-up posterior leaves out z_<l, to which z_l is connected in p even given x
    text = pathlib.Path(spec_path("attentive_ladder")).read_text()
    line = "posterior z[l in 2..L] | x, z[<l] = precision_weighted(prior(z[l]), normal(linear(b[l])))"
    assert line in text
    mean_field = tmp_path / "mean_field.hvae"
    mean_field.write_text(text.replace(line, "posterior z[l in 2..L] | x = linear(h[l].h)"))
    verdict = _verdict(compile_spec(str(mean_field), {**SMALL, "depthwise_posterior": False}))
    assert verdict["z[2]"] == {"z[1]"} and verdict["z[5]"] == {"z[1]", "z[2]", "z[3]", "z[4]"}


def test_the_factorization_checker_agrees():
    dsep = pytest.importorskip("compiler.dsep")  # the checker lives on its own branch until merged
    report = dsep.check_posterior_factorization(compile_spec("attentive_ladder", SMALL))
    assert report.faithful
