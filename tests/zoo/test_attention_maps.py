"""Attention maps come out of a compiled model without changing what it computes, and plot."""
from __future__ import annotations

import torch

from zoo.runtime.lower import lower
from zoo.analysis.attention_maps import attention_maps, plot_depthwise, plot_spatial, record_attention
from zoo.registry import compile_spec

from .test_attentive import SMALL


def _model():
    torch.manual_seed(0)
    return lower(compile_spec("attentive16", SMALL["attentive16"])).eval()


def test_maps_are_labelled_by_layer_and_sum_to_one(tmp_path):
    model = _model()
    L = model.graph.spec.constants["L"]
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    maps = attention_maps(model, x, queries=[(8, 8), (0, 0)])
    prior = {m.layer: m for m in maps.depthwise if m.model == "generative"}
    posterior = {m.layer: m for m in maps.depthwise if m.model == "inference"}
    assert sorted(prior) == list(range(2, L + 1)) and sorted(posterior) == list(range(1, L + 1))
    for l, m in prior.items():  # layer l attends to the contexts of layers 1..l-1
        assert m.sources == tuple(range(1, l))
        assert m.weights.shape == (2, l - 1, 16, 16)
        torch.testing.assert_close(m.weights.sum(1), torch.ones(2, 16, 16))
    for l, m in posterior.items():  # ... and the posterior to h_l .. h_L and the preprocessed image
        assert m.sources == tuple(range(l, L + 2))
    layers, sources, matrix = maps.layer_matrix("generative")
    assert layers == list(range(2, L + 1)) and sources == list(range(1, L))
    assert torch.isnan(matrix[0, 1]) and not torch.isnan(matrix[-1]).any()
    # non-local blocks: 4 per cell (2 blocks x 2 nodes) in the preprocessing, L encoder and L - 1 decoder cells
    assert len(maps.spatial) == 4 * (1 + L + L - 1)
    first = maps.spatial[0]
    assert first.size == (32, 32) and first.weights.shape == (2, 2, 32 * 32)
    torch.testing.assert_close(first.image((8, 8)).sum(), torch.tensor(1.0))
    assert plot_depthwise(maps, str(tmp_path / "d.png")) and (tmp_path / "d.png").stat().st_size > 0
    assert plot_spatial(maps, str(tmp_path / "s.png"), query=(8, 8)) and (tmp_path / "s.png").stat().st_size > 0


def test_recording_does_not_change_the_pass():
    model = _model()
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        torch.manual_seed(3)
        plain = model(x).elbo
        with record_attention(model) as maps:
            torch.manual_seed(3)
            recorded = model(x).elbo
    assert maps.depthwise and maps.spatial
    assert torch.equal(plain, recorded)
    assert not any(m._forward_hooks for m in model.modules())  # hooks are removed
