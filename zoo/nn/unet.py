"""A small UNet for epsilon-prediction over pseudo-inputs (the backbone of the diffusion prior).

The structure the DVP-VAE configurations use -- Dhariwal & Nichol's UNet with one resolution level
(``channel_mult = [1]``), no attention outside the middle block, one head, scale-shift
normalisation and a time embedding of width `channels` -- written from that description:

    t --sinusoidal(channels)--> Linear -> SiLU -> Linear                      (the embedding e)
    x --conv3x3--> h0 --ResBlock--> h1 ... --ResBlock--> h_R                 (R = res_blocks)
      --ResBlock--> SelfAttention --ResBlock-->                               (middle)
      --ResBlock(concat(., h_R))--> ... --ResBlock(concat(., h0))-->          (R + 1 blocks)
      --GroupNorm -> SiLU -> conv3x3 (zero-initialised)--> epsilon-hat

ResBlock(c_in -> c): ``skip(x) + conv0(drop(SiLU(GN(h) * (1 + a) + b)))`` with
``h = conv(SiLU(GN(x)))`` and ``(a, b) = Linear(SiLU(e))``; conv0 is zero-initialised and skip is
the identity or a 1x1 convolution. With the published settings it has exactly the parameter
counts of the official models: 47,329 (MNIST), 239,137 (OMNIGLOT), 240,291 (CIFAR-10).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["UNet", "ResBlock", "SelfAttention", "timestep_embedding"]


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """(B,) -> (B, dim): ``[cos(t f_i), sin(t f_i)]`` with ``f_i = max_period^(-i / (dim/2))``.

    Computed in float32 at least (t is up to ``time_scale`` = 1000, too coarse in bf16/fp16) and in
    float64 when t is, so a model converted with ``.double()`` runs in float64 throughout."""
    half = dim // 2
    dtype = torch.float64 if t.dtype == torch.float64 else torch.float32
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=dtype, device=t.device) / half)
    args = t.to(dtype).unsqueeze(1) * freqs.unsqueeze(0)
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=1)
    return F.pad(emb, (0, 1)) if dim % 2 else emb


def _zero(module: nn.Module) -> nn.Module:
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


class ResBlock(nn.Module):
    """(B, c_in, H, W), embedding (B, E) -> (B, c, H, W); see the module docstring."""

    def __init__(self, c_in: int, c: int, emb: int, *, dropout: float, groups: int):
        super().__init__()
        self.in_norm = nn.GroupNorm(groups, c_in)
        self.in_conv = nn.Conv2d(c_in, c, 3, padding=1)
        self.emb = nn.Linear(emb, 2 * c)  # scale and shift
        self.out_norm = nn.GroupNorm(groups, c)
        self.drop = nn.Dropout(dropout)
        self.out_conv = _zero(nn.Conv2d(c, c, 3, padding=1))
        self.skip = nn.Identity() if c_in == c else nn.Conv2d(c_in, c, 1)

    def forward(self, x, e):
        h = self.in_conv(F.silu(self.in_norm(x)))
        scale, shift = self.emb(F.silu(e)).unsqueeze(-1).unsqueeze(-1).chunk(2, dim=1)  # (B, c, 1, 1) each
        h = self.out_norm(h) * (1 + scale) + shift
        return self.skip(x) + self.out_conv(self.drop(F.silu(h)))


class SelfAttention(nn.Module):
    """(B, C, H, W) -> (B, C, H, W): one-head self-attention over positions, residual, output zero-init."""

    def __init__(self, channels: int, *, groups: int):
        super().__init__()
        self.norm = nn.GroupNorm(groups, channels)
        self.qkv = nn.Conv1d(channels, 3 * channels, 1)
        self.proj = _zero(nn.Conv1d(channels, channels, 1))

    def forward(self, x):
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x).reshape(b, c, h * w)).chunk(3, dim=1)  # (B, C, T) each
        weights = torch.softmax(torch.einsum("bct,bcs->bts", q, k) / math.sqrt(c), dim=-1)  # (B, T, T)
        out = torch.einsum("bts,bcs->bct", weights, v)
        return x + self.proj(out).reshape(b, c, h, w)


class UNet(nn.Module):
    """epsilon-hat(y_t, t): (B, C, H, W), (B,) -> (B, C, H, W).

    Args:
        in_channels: channels of the pseudo-input (also the output).
        channels: `model_channels` (also the time-embedding width).
        res_blocks: `num_res_blocks`.
        dropout: inside every ResBlock.
        groups: GroupNorm groups (16 in the official code).
        time_scale: t in [0, 1] is multiplied by it before the sinusoidal features.
    """

    def __init__(self, in_channels: int, channels: int, res_blocks: int, *, dropout: float = 0.0,
                 groups: int = 16, time_scale: float = 1000.0):
        super().__init__()
        if channels % groups:
            raise ValueError(f"UNet: channels ({channels}) must be divisible by groups ({groups})")
        self.channels, self.time_scale = channels, float(time_scale)
        block = dict(dropout=dropout, groups=groups)
        self.time = nn.Sequential(nn.Linear(channels, channels), nn.SiLU(), nn.Linear(channels, channels))
        self.stem = nn.Conv2d(in_channels, channels, 3, padding=1)
        self.down = nn.ModuleList(ResBlock(channels, channels, channels, **block) for _ in range(res_blocks))
        self.mid1 = ResBlock(channels, channels, channels, **block)
        self.attn = SelfAttention(channels, groups=groups)
        self.mid2 = ResBlock(channels, channels, channels, **block)
        self.up = nn.ModuleList(ResBlock(2 * channels, channels, channels, **block) for _ in range(res_blocks + 1))
        self.head = nn.Sequential(nn.GroupNorm(groups, channels), nn.SiLU(),
                                  _zero(nn.Conv2d(channels, in_channels, 3, padding=1)))

    def forward(self, y: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        e = self.time(timestep_embedding(t * self.time_scale, self.channels))  # (B, channels)
        h = self.stem(y)
        skips = [h]
        for block in self.down:
            h = block(h, e)
            skips.append(h)
        h = self.mid2(self.attn(self.mid1(h, e)), e)
        for block in self.up:
            h = block(torch.cat([h, skips.pop()], dim=1), e)
        return self.head(h)  # (B, C, H, W)
