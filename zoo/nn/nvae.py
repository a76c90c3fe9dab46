"""The NVAE residual cell used by the NVAE baselines and the deep attentive VAE.

A cell is a sequence of residual blocks, one per entry of `scales` (Vahdat & Kautz 2020, as
configured by Apostolopoulou et al. 2022, without squeeze-and-excitation):

    output = residual_scale * branch(x) + shortcut(x)

The branch is `nodes` convolution nodes, each ``BN -> [non-local] -> act -> conv3x3``. A block
with scale -2 halves height and width and doubles the channels (stride-2 first convolution;
factorized-reduce shortcut); scale 2 doubles height and width and halves the channels (nearest
upsampling before the first node; bilinear resize (corners aligned, as the official code's
``resize_bilinear(..., align_corners=True)``) plus a bias-free 1x1 convolution as the shortcut);
scale 0 keeps the shape (identity shortcut).

`nonlocal_shortcut` reproduces a detail of the official attentive-VAE code: the shortcut of an
upsampling block is built from a copy of the cell's settings that keeps ``use_nonlocal``, so in
the OMNIGLOT configuration (non-local blocks in the post-processing cell) the upsampled shortcut
also passes through a bias-free non-local block before its 1x1 convolution.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import activation, conv2d
from .registry import register_block

__all__ = ["NVAECell", "ResidualBlock", "ConvNode", "FactorizedReduce", "NonLocal"]


class NonLocal(nn.Module):
    """Spatial self-attention over all H*W positions (Wang et al. 2018, SAGAN form).

    (B, C, H, W) -> (B, C, H, W): ``x + gamma * softmax(s * q^T k) v`` with 1x1 weight-normalised
    projections q, k to `key_dim` channels and v to C channels, a learned scale s (init 1) and a
    residual gate gamma initialised to 0, so the block starts as the identity.
    """

    def __init__(self, channels: int, key_dim: int, *, weight_norm: bool = True, bias: bool = True):
        super().__init__()
        self.query = conv2d(channels, key_dim, 1, weight_norm=weight_norm, bias=bias)
        self.key = conv2d(channels, key_dim, 1, weight_norm=weight_norm, bias=bias)
        self.value = conv2d(channels, channels, 1, weight_norm=weight_norm, bias=bias)
        self.scale = nn.Parameter(torch.ones(()))
        self.gamma = nn.Parameter(torch.zeros(()))

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        """Attention weights (B, HW, HW): row i is how much pixel i attends to every pixel."""
        q = self.query(x).flatten(2)  # (B, K, HW)
        k = self.key(x).flatten(2)  # (B, K, HW)
        return torch.softmax(self.scale * torch.einsum("bki,bkj->bij", q, k), dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        v = self.value(x).flatten(2)  # (B, C, HW)
        out = torch.einsum("bij,bcj->bci", self.attention(x), v).reshape(b, c, h, w)
        return x + self.gamma * out


class ConvNode(nn.Module):
    """BN -> [non-local] -> act -> conv (B, Cin, H, W) -> (B, Cout, H/stride, W/stride)."""

    def __init__(self, cin: int, cout: int, *, stride: int, act: str, batchnorm: bool, weight_norm: bool,
                 nonlocal_dim: int):
        super().__init__()
        self.norm = nn.BatchNorm2d(cin, momentum=0.1, eps=1e-5) if batchnorm else nn.Identity()
        self.nonlocal_block = NonLocal(cin, nonlocal_dim, weight_norm=weight_norm) if nonlocal_dim else nn.Identity()
        self.act = activation(act)
        self.conv = conv2d(cin, cout, 3, stride=stride, weight_norm=weight_norm)

    def forward(self, x):
        return self.conv(self.act(self.nonlocal_block(self.norm(x))))


class FactorizedReduce(nn.Module):
    """Shortcut of a downsampling block: act, then four stride-2 1x1 convolutions of the input
    shifted by (0,0), (1,1), (0,1), (1,0), concatenated to `cout` channels."""

    def __init__(self, cin: int, cout: int, *, act: str, weight_norm: bool):
        super().__init__()
        self.act = activation(act)
        widths = [cout // 4] * 3 + [cout - 3 * (cout // 4)]
        self.convs = nn.ModuleList(conv2d(cin, w, 1, stride=2, padding=0, weight_norm=weight_norm) for w in widths)

    def forward(self, x):
        x = self.act(x)
        shifted = (x, x[:, :, 1:, 1:], x[:, :, :, 1:], x[:, :, 1:, :])
        return torch.cat([conv(s) for conv, s in zip(self.convs, shifted)], dim=1)


class ResidualBlock(nn.Module):
    """One block of a cell; see the module docstring for the three kinds."""

    def __init__(self, channels: int, scale: int, *, nodes: int, act: str, batchnorm: bool, weight_norm: bool,
                 nonlocal_dim: int, residual_scale: float, nonlocal_shortcut: bool = False):
        super().__init__()
        cin = channels
        cout = {0: cin, -2: cin * 2, 2: cin // 2}[scale]
        self.scale, self.residual_scale = scale, residual_scale
        node_args = dict(act=act, batchnorm=batchnorm, weight_norm=weight_norm, nonlocal_dim=nonlocal_dim)
        self.nodes = nn.Sequential(*[
            ConvNode(cin if i == 0 else cout, cout, stride=2 if (scale == -2 and i == 0) else 1, **node_args)
            for i in range(nodes)])
        if scale == -2:
            self.shortcut = FactorizedReduce(cin, cout, act=act, weight_norm=weight_norm)
        elif scale == 2:
            self.shortcut = conv2d(cin, cout, 1, padding=0, bias=False, weight_norm=weight_norm)
            if nonlocal_shortcut and nonlocal_dim:
                self.shortcut = nn.Sequential(NonLocal(cin, nonlocal_dim, weight_norm=weight_norm, bias=False),
                                              self.shortcut)
        else:
            self.shortcut = nn.Identity()

    def forward(self, x):
        if self.scale == 2:
            up = F.interpolate(x, scale_factor=2, mode="nearest")
            skip = self.shortcut(F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True))
            return self.residual_scale * self.nodes(up) + skip
        return self.residual_scale * self.nodes(x) + self.shortcut(x)


@register_block("nvae_cell")
class NVAECell(nn.Module):
    """(B, C, H, W) -> the shape given by `scales` (see module docstring)."""

    def __init__(self, *, in_shapes, out_shape, scales=(0, 0), nodes=2, nonlocal_keys=0, nonlocal_shortcut=False,
                 act="swish", batchnorm=True, weight_norm=True, residual_scale=0.1):
        super().__init__()
        blocks, channels = [], in_shapes["x"][0]
        for s in scales:
            blocks.append(ResidualBlock(channels, s, nodes=nodes, act=act, batchnorm=batchnorm,
                                        weight_norm=weight_norm, nonlocal_dim=nonlocal_keys, residual_scale=residual_scale,
                                        nonlocal_shortcut=nonlocal_shortcut))
            channels = {0: channels, -2: channels * 2, 2: channels // 2}[s]
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x):
        return self.blocks(x)
