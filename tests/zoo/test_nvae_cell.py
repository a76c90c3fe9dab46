"""The upsampling block of the NVAE cell: its shortcut and the official code's shortcut non-local block."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from zoo.nn.nvae import NVAECell


def _cell(**kw):
    return NVAECell(in_shapes={"x": (72, 16, 16)}, out_shape=(36, 32, 32), scales=(2,), **kw)


def test_upsampling_shortcut_is_corner_aligned_bilinear_then_1x1():
    cell = _cell()
    block = cell.blocks[0]
    x = torch.randn(2, 72, 16, 16)
    up = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)
    expected = 0.1 * block.nodes(F.interpolate(x, scale_factor=2, mode="nearest")) + block.shortcut(up)
    torch.testing.assert_close(cell(x), expected)


def test_nonlocal_shortcut_adds_one_bias_free_block():
    plain, with_nl = _cell(nonlocal_keys=8), _cell(nonlocal_keys=8, nonlocal_shortcut=True)
    extra = sum(p.numel() for p in with_nl.parameters()) - sum(p.numel() for p in plain.parameters())
    # q, k: 72 -> 8 (weight + log-gain), v: 72 -> 72 (weight + log-gain), no biases; scale and gamma
    assert extra == 2 * (72 * 8 + 8) + (72 * 72 + 72) + 2 == 6426
    # the non-local gate starts at zero, so the block starts as the plain shortcut
    with_nl.blocks[0].shortcut[1].load_state_dict(plain.blocks[0].shortcut.state_dict())
    with_nl.blocks[0].nodes.load_state_dict(plain.blocks[0].nodes.state_dict())
    x = torch.randn(2, 72, 16, 16)
    torch.testing.assert_close(with_nl(x), plain(x))
