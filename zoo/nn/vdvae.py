"""VDVAE-style residual blocks and latent aggregation, as the DVP-VAE code configures them.

* ``vdvae_encoder`` -- a stack of pre-activation bottlenecks
  ``x + [act, 1x1, act, 3x3, act, 3x3, act, 1x1](x)`` (the EncoderResBlock; residual weight 1).
* ``decoder_res`` -- the post-activation "2x3" bottleneck ``skip(x) + [1x1, act, 3x3, act, 3x3, act,
  1x1](x)`` with a 1x1 skip when the channel count changes; the last convolution can start at zero
  (the prior and posterior heads) or scaled by sqrt(1/L) (VDVAE's stable init of the top-down
  residual blocks).
* ``scaled_conv`` -- a convolution with scaled initial weights (the latent-to-features projection).
* ``aggregate`` -- ``1/sqrt(L) sum_l upsample(z_l)`` to a common size (DVP-VAE eq. 18).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .layers import activation
from .registry import register_block

__all__ = ["EncoderResBlock", "VDVAEEncoder", "DecoderRes", "ScaledConv", "Aggregate"]


class EncoderResBlock(nn.Module):
    """(B, C, H, W) -> (B, C, H, W): x + [act, 1x1 C->h, act, 3x3, act, 3x3, act, 1x1 h->C](x)."""

    def __init__(self, channels: int, hidden: int, act: str = "silu"):
        super().__init__()
        self.net = nn.Sequential(
            activation(act), nn.Conv2d(channels, hidden, 1),
            activation(act), nn.Conv2d(hidden, hidden, 3, padding=1),
            activation(act), nn.Conv2d(hidden, hidden, 3, padding=1),
            activation(act), nn.Conv2d(hidden, channels, 1))

    def forward(self, x):
        return x + self.net(x)


@register_block("vdvae_encoder")
class VDVAEEncoder(nn.Module):
    """(B, C, H, W) -> (B, C, H, W): `blocks` :class:`EncoderResBlock` in sequence."""

    def __init__(self, *, in_shapes, out_shape, blocks=1, hidden, act="silu"):
        super().__init__()
        c = in_shapes["x"][0]
        self.blocks = nn.Sequential(*[EncoderResBlock(c, hidden, act) for _ in range(blocks)])

    def forward(self, x):
        return self.blocks(x)


@register_block("decoder_res")
class DecoderRes(nn.Module):
    """(B, C_in, H, W) -> (B, out, H, W): skip(x) + [1x1, act, 3x3, act, 3x3, act, 1x1](x)."""

    def __init__(self, *, in_shapes, out_shape, out, hidden, zero_last=False, last_scale=1.0, act="silu"):
        super().__init__()
        cin = in_shapes["x"][0]
        self.net = nn.Sequential(
            nn.Conv2d(cin, hidden, 1), activation(act),
            nn.Conv2d(hidden, hidden, 3, padding=1), activation(act),
            nn.Conv2d(hidden, hidden, 3, padding=1), activation(act),
            nn.Conv2d(hidden, out, 1))
        self.skip = nn.Identity() if cin == out else nn.Conv2d(cin, out, 1)
        last = self.net[-1]
        with torch.no_grad():
            if zero_last:
                last.weight.zero_()
                last.bias.zero_()
            elif last_scale != 1.0:
                last.weight.mul_(last_scale)

    def forward(self, x):
        return self.skip(x) + self.net(x)


@register_block("scaled_conv")
class ScaledConv(nn.Module):
    """(B, C, H, W) -> (B, out, H, W): a 'same' convolution with initial weights times `init_scale`."""

    def __init__(self, *, in_shapes, out_shape, out, k=1, init_scale=1.0):
        super().__init__()
        self.conv = nn.Conv2d(in_shapes["x"][0], out, k, padding=k // 2)
        with torch.no_grad():
            self.conv.weight.mul_(init_scale)

    def forward(self, x):
        return self.conv(x)


@register_block("aggregate")
class Aggregate(nn.Module):
    """A list of L tensors (B, c, h_l, w_l) -> (B, c, H, W): 1/sqrt(L) sum_l resize(z_l)."""

    def __init__(self, *, in_shapes, out_shape, size, mode="bilinear"):
        super().__init__()
        self.size, self.mode = tuple(size), mode
        self.norm = 1.0 / math.sqrt(len(in_shapes["inputs"]))

    def _resize(self, z):
        if tuple(z.shape[-2:]) == self.size:
            return z
        if self.mode == "bilinear":
            return F.interpolate(z, size=self.size, mode="bilinear", align_corners=False)
        return F.interpolate(z, size=self.size, mode="nearest")

    def forward(self, inputs):
        out = self._resize(inputs[0])
        for z in inputs[1:]:
            out = out + self._resize(z)
        return out * self.norm
