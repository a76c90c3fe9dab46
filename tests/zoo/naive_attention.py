"""Naive references for the attention tests: plain Python floats, one pixel and one layer at a time.

Deliberately written without any of the vectorised code under test: tensors are turned into nested
lists, and every LayerNorm, GELU, softmax and weighted sum is a loop.
"""
from __future__ import annotations

import math

import torch

__all__ = ["gelu_tanh", "layer_norm", "naive_layer_norm", "naive_gelu_norm", "naive_attend"]


def gelu_tanh(x: float) -> float:
    return 0.5 * x * (1 + math.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def layer_norm(v: list, norm) -> list:
    """LayerNorm of one vector with the gain, bias and eps of an `nn.LayerNorm`."""
    weight, bias = norm.weight.tolist(), norm.bias.tolist()
    mean = sum(v) / len(v)
    var = sum((a - mean) ** 2 for a in v) / len(v)
    return [(a - mean) / math.sqrt(var + norm.eps) * w + b for a, w, b in zip(v, weight, bias)]


def _gelu_norm_vec(v: list, norm) -> list:
    return [a + gelu_tanh(y) for a, y in zip(v, layer_norm(v, norm))]


def _pixels(t: torch.Tensor):
    return [()] if t.dim() == 2 else [(i, j) for i in range(t.shape[2]) for j in range(t.shape[3])]


def _at(nested, b, pix):
    """The channel vector of example b at pixel pix of a nested list (B, C, ...)."""
    out = []
    for ch in nested[b]:
        for p in pix:
            ch = ch[p]
        out.append(ch)
    return out


def _per_pixel(t: torch.Tensor, fn) -> torch.Tensor:
    data = t.detach().tolist()
    out = torch.empty_like(t)
    for b in range(t.shape[0]):
        for pix in _pixels(t):
            out[(b, slice(None)) + pix] = torch.tensor(fn(_at(data, b, pix)), dtype=t.dtype)
    return out


def naive_layer_norm(t: torch.Tensor, norm) -> torch.Tensor:
    """LayerNorm over channels at every pixel, one pixel at a time."""
    return _per_pixel(t, lambda v: layer_norm(v, norm))


def naive_gelu_norm(t: torch.Tensor, norm) -> torch.Tensor:
    """x + GELU(LayerNorm(x)) at every pixel, one pixel at a time."""
    return _per_pixel(t, lambda v: _gelu_norm_vec(v, norm))


def naive_attend(values, query, keys, scale: float, norm=None) -> torch.Tensor:
    """Depth-wise attention (eqs. 3-4), looping over examples, pixels and layers; eq. 6 if `norm`."""
    vals = [v.detach().tolist() for v in values]
    ks = [k.detach().tolist() for k in keys]
    q_all = query.detach().tolist()
    out = torch.empty_like(values[0])
    for b in range(values[0].shape[0]):
        for pix in _pixels(values[0]):
            q = _at(q_all, b, pix)
            scores = [scale * sum(a * c for a, c in zip(q, _at(k, b, pix))) for k in ks]
            top = max(scores)
            weights = [math.exp(s - top) for s in scores]
            total = sum(weights)
            mixed = [0.0] * values[0].shape[1]
            for w, v in zip(weights, vals):
                for ch, a in enumerate(_at(v, b, pix)):
                    mixed[ch] += w / total * a
            if norm is not None:
                mixed = _gelu_norm_vec(mixed, norm)
            out[(b, slice(None)) + pix] = torch.tensor(mixed, dtype=out.dtype)
    return out
