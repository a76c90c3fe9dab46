"""A weight-normalised convolution built on the meta device has the parameters of a real one."""
from __future__ import annotations

import torch

from zoo.nn.layers import WNConv2d


def test_wnconv_on_meta_has_the_same_parameters():
    real = WNConv2d(5, 7, 3, padding=1)
    with torch.device("meta"):
        meta = WNConv2d(5, 7, 3, padding=1)
    assert [(n, p.shape) for n, p in meta.named_parameters()] == [(n, p.shape) for n, p in real.named_parameters()]
    assert all(p.is_meta for p in meta.parameters())
    # the real one starts as the plain convolution it was initialised as
    torch.testing.assert_close(real.normalized_weight(), real.weight)
