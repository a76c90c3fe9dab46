"""Implementations of the attention blocks declared in :mod:`dsl.library.attention`.

Depth-wise attention (Apostolopoulou et al. 2022, Sec. 2.3) treats every pixel as an independent
sequence over depth: the contexts of the earlier layers are stacked once along a new "depth" axis
and the scores of all pixels and all layers come out of one batched contraction, so nothing loops
over pixels or layers at run time.

Shapes: ``(B, C, H, W)`` images or ``(B, C)`` vectors; a list of n such tensors is stacked to
``(B, n, C, ...)``.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .nvae import NonLocal
from .registry import register_block

__all__ = ["GeluNorm", "Attend", "ReZero", "NonLocalBlock", "depthwise_scores"]


def _channels_last(x: torch.Tensor) -> torch.Tensor:
    return x.movedim(1, -1)


def _channels_first(x: torch.Tensor) -> torch.Tensor:
    return x.movedim(-1, 1)


class GeluNorm(nn.Module):
    """``x + GELU(LayerNorm(x))`` over the channel axis, per pixel (eqs. 5-6; Chen et al. 2020).

    (B, C, ...) -> (B, C, ...). GELU is the tanh approximation, as TF-Addons' ``gelu`` (the
    official code's) computes it by default. LayerNorm has a learned gain and bias, eps 1e-5.
    """

    def __init__(self, channels: int, eps: float = 1e-5):
        super().__init__()
        self.norm = nn.LayerNorm(channels, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = _channels_first(self.norm(_channels_last(x)))  # (B, C, ...)
        return x + F.gelu(y, approximate="tanh")


def depthwise_scores(query: torch.Tensor, keys: Sequence[torch.Tensor], scale: torch.Tensor) -> torch.Tensor:
    """Attention weights of eq. 4: ``softmax_m(scale * query . key_m)`` at every pixel.

    Args:
        query: (B, Q, ...).
        keys: n tensors (B, Q, ...).
        scale: a scalar (no 1/sqrt(Q) factor, as in the paper and its code).

    Returns:
        (B, n, ...): weights over the n contexts, summing to one at every pixel.
    """
    k = torch.stack(list(keys), dim=1)  # (B, n, Q, ...)
    logits = scale * torch.einsum("bq...,bnq...->bn...", query, k)  # (B, n, ...)
    return torch.softmax(logits, dim=1)


@register_block("attend")
class Attend(nn.Module):
    """Depth-wise attention Attend(c_<l, s_l, k_<l) (eqs. 3-4), optionally normalised (eq. 6).

    values: n tensors (B, C, ...); query: (B, Q, ...); keys: n tensors (B, Q, ...) -> (B, C, ...).
    One learned scale (initialised to `scale`, 1 by default) multiplies the scores; one head.
    """

    def __init__(self, *, in_shapes, out_shape, norm: bool = False, scale: float = 1.0):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(float(scale)))
        self.norm = GeluNorm(out_shape[0]) if norm else None

    def scores(self, values, query, keys) -> torch.Tensor:
        """(B, n, ...) attention weights; `values` is accepted so hooks can call it with forward's kwargs."""
        return depthwise_scores(query, keys, self.scale)

    def forward(self, values, query, keys) -> torch.Tensor:
        alpha = depthwise_scores(query, keys, self.scale)  # (B, n, ...)
        v = torch.stack(list(values), dim=1)  # (B, n, C, ...)
        out = torch.einsum("bn...,bnc...->bc...", alpha, v)  # (B, C, ...)
        return self.norm(out) if self.norm is not None else out


@register_block("gelu_norm")
class GeluNormBlock(GeluNorm):
    """The `gelu_norm(x)` block: (B, C, ...) -> (B, C, ...)."""

    def __init__(self, *, in_shapes, out_shape, eps: float = 1e-5):
        super().__init__(in_shapes["x"][0], eps)


@register_block("rezero")
class ReZero(nn.Module):
    """``x + gamma * update`` with a learned scalar gamma (eq. 9), initialised to `init` (0).

    With gamma = 0 the output is x itself, bit for bit: a strongly connected layer starts as the
    locally connected one and learns how much of the attended context to use.
    """

    def __init__(self, *, in_shapes, out_shape, init: float = 0.0):
        super().__init__()
        self.gamma = nn.Parameter(torch.tensor(float(init)))

    def forward(self, x: torch.Tensor, update: torch.Tensor) -> torch.Tensor:
        return x + self.gamma * update


@register_block("nonlocal")
class NonLocalBlock(NonLocal):
    """The `nonlocal(x, keys)` block: the non-local block of the NVAE cell used on its own.

    (B, C, H, W) -> (B, C, H, W); see :class:`zoo.nn.nvae.NonLocal`.
    """

    def __init__(self, *, in_shapes, out_shape, keys: int = 32, bias: bool = True, weight_norm: bool = True):
        super().__init__(in_shapes["x"][0], keys, weight_norm=weight_norm, bias=bias)
