"""The attention blocks against naive per-pixel, per-layer references written here."""
from __future__ import annotations

import math

import pytest
import torch

import dsl
from zoo.nn.attention import Attend, GeluNorm, NonLocalBlock, ReZero

from .naive_attention import naive_attend, naive_gelu_norm


@pytest.mark.parametrize("spatial", [(4, 3), ()])
@pytest.mark.parametrize("norm", [False, True])
def test_attend_matches_the_naive_reference(spatial, norm):
    n, c, q = 4, 6, 3
    values = [torch.randn(2, c, *spatial) for _ in range(n)]
    keys = [torch.randn(2, q, *spatial) for _ in range(n)]
    query = torch.randn(2, q, *spatial)
    block = Attend(in_shapes={}, out_shape=(c, *spatial), norm=norm)
    with torch.no_grad():
        block.scale.fill_(0.7)
        if norm:  # a non-trivial affine, so that the test sees it
            block.norm.norm.weight.copy_(torch.rand(c) + 0.5)
            block.norm.norm.bias.copy_(torch.randn(c))
    got = block(values=values, query=query, keys=keys)
    expected = naive_attend(values, query, keys, 0.7, block.norm.norm if norm else None)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_attend_weights_are_a_softmax_over_layers_at_every_pixel():
    block = Attend(in_shapes={}, out_shape=(5, 3, 3))
    keys = [torch.randn(2, 4, 3, 3) for _ in range(3)]
    alpha = block.scores(values=None, query=torch.randn(2, 4, 3, 3), keys=keys)
    assert alpha.shape == (2, 3, 3, 3)
    torch.testing.assert_close(alpha.sum(dim=1), torch.ones(2, 3, 3))


def test_attend_over_one_context_returns_it():
    block = Attend(in_shapes={}, out_shape=(5, 3, 3))
    v = torch.randn(2, 5, 3, 3)
    torch.testing.assert_close(block(values=[v], query=torch.randn(2, 4, 3, 3), keys=[torch.randn(2, 4, 3, 3)]), v)


def test_gelu_norm_is_x_plus_gelu_of_per_pixel_layer_norm():
    block = GeluNorm(5)
    with torch.no_grad():
        block.norm.weight.copy_(torch.rand(5) + 0.5)
        block.norm.bias.copy_(torch.randn(5))
    x = torch.randn(2, 5, 3, 2)
    torch.testing.assert_close(block(x), naive_gelu_norm(x, block.norm), atol=1e-5, rtol=1e-5)


def test_rezero_starts_as_the_identity_bit_for_bit():
    block = ReZero(in_shapes={}, out_shape=(3, 4, 4))
    x, u = torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4)
    assert torch.equal(block(x, u), x)
    with torch.no_grad():
        block.gamma.fill_(0.25)
    torch.testing.assert_close(block(x, u), x + 0.25 * u)


def test_nonlocal_block_matches_the_naive_reference():
    c, k, h, w = 3, 2, 3, 2
    block = NonLocalBlock(in_shapes={"x": (c, h, w)}, out_shape=(c, h, w), keys=k)
    with torch.no_grad():
        block.gamma.fill_(0.6)
        block.scale.fill_(1.3)
    x = torch.randn(2, c, h, w)
    got = block(x=x)
    with torch.no_grad():
        q, key, v = block.query(x), block.key(x), block.value(x)
    expected = torch.empty_like(x)
    pixels = [(i, j) for i in range(h) for j in range(w)]
    for b in range(2):
        for (i, j) in pixels:
            scores = [1.3 * float((q[b, :, i, j] * key[b, :, a, bb]).sum()) for (a, bb) in pixels]
            top = max(scores)
            e = [math.exp(s - top) for s in scores]
            for ch in range(c):
                mix = sum(wt / sum(e) * float(v[b, ch, a, bb]) for wt, (a, bb) in zip(e, pixels))
                expected[b, ch, i, j] = x[b, ch, i, j] + 0.6 * mix
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("call, message", [
    ("attend([h, h], h, [k])", "2 values but 1 keys"),
    ("attend([h], k, [h])", "every key must have the query's shape"),
    ("attend([h, k], k, [k, k])", "values must have equal shapes"),
    ("attend([h], k, [k], scale = 0)", "must be positive"),
    ("rezero(h, k)", "must have equal shapes"),
])
def test_shape_errors_are_located_and_say_what_is_wrong(call, message):
    text = ('observed x : [1, 8, 8] ~ bernoulli\nlatent z : [2, 8, 8] ~ normal\n'
            'feature h = conv(x, out = 6)\nfeature k = conv(x, out = 3)\n'
            f'feature a = {call}\n'
            'prior z = normal(loc = 0, scale = 1)\nposterior z | x = conv(a)\nlikelihood x | z = conv(z)\n')
    with pytest.raises(dsl.SpecError) as info:
        dsl.checked(dsl.parse_spec(text, path="bad.hvae"))
    assert message in str(info.value)
    assert "bad.hvae:5:" in str(info.value)
