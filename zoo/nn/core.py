"""Implementations of the core blocks declared in :mod:`dsl.library.core`.

Shapes in comments omit nothing: ``(B, C, H, W)`` for images, ``(B, n)`` for vectors.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from dsl.library import ACTIVATIONS

from .layers import activation, conv2d
from .registry import register_block

__all__ = ["MLP", "Linear", "Conv", "ConvTranspose", "Concat", "Sum", "Add", "Sub", "Mul", "Affine", "Flatten",
           "Reshape", "Channels", "Activation", "Param", "Pad", "Crop", "Upsample", "AvgPool", "BatchNorm",
           "LayerNorm", "Dropout"]


def _numel(shape) -> int:
    return math.prod(shape)


@register_block("mlp")
class MLP(nn.Module):
    """(B, *in) -> (B, out): Linear -> [norm] -> act (-> dropout) per hidden layer, Linear -> out_act."""

    def __init__(self, *, in_shapes, out_shape, hidden=(), out, act="relu", out_act="none", norm="none",
                 input_norm="none", dropout=0.0):
        super().__init__()
        width = _numel(in_shapes["x"])
        # no Identity modules: "none" options add nothing to the forward (state_dict keys unchanged)
        self.input_norm = nn.BatchNorm1d(width) if input_norm == "batch" else None
        layers: list[nn.Module] = []
        for h in hidden:
            layers.append(nn.Linear(width, h))
            if norm == "batch":
                layers.append(nn.BatchNorm1d(h))
            elif norm == "layer":
                layers.append(nn.LayerNorm(h))
            layers.append(activation(act))
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, out))
        if out_act != "none":
            layers.append(activation(out_act))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        x = x.flatten(1)
        return self.net(x if self.input_norm is None else self.input_norm(x))  # (B, out)


@register_block("linear")
class Linear(nn.Module):
    """(B, *in) -> (B, out)."""

    def __init__(self, *, in_shapes, out_shape, out, bias=True):
        super().__init__()
        self.linear = nn.Linear(_numel(in_shapes["x"]), out, bias=bias)

    def forward(self, x):
        return self.linear(x.flatten(1))


@register_block("conv")
class Conv(nn.Module):
    """(B, C, H, W) -> (B, out, H/stride, W/stride), 'same' padding, optional pre-activation."""

    def __init__(self, *, in_shapes, out_shape, out, k=3, stride=1, pre="none", weight_norm=False, bias=True):
        super().__init__()
        self.pre = None if pre == "none" else activation(pre)
        self.conv = conv2d(in_shapes["x"][0], out, k, stride=stride, bias=bias, weight_norm=weight_norm)

    def forward(self, x):
        return self.conv(x if self.pre is None else self.pre(x))


@register_block("conv_transpose")
class ConvTranspose(nn.Module):
    """(B, C, H, W) -> (B, out, H*stride, W*stride)."""

    def __init__(self, *, in_shapes, out_shape, out, k=3, stride=2, pre="none", bias=True):
        super().__init__()
        self.pre = None if pre == "none" else activation(pre)
        pad = (k - 1) // 2
        # (H-1)*stride - 2*pad + k + output_padding = H*stride
        self.conv = nn.ConvTranspose2d(in_shapes["x"][0], out, k, stride=stride, padding=pad,
                                       output_padding=max(stride + 2 * pad - k, 0), bias=bias)
        self.out_hw = tuple(out_shape[1:])

    def forward(self, x):
        y = self.conv(x if self.pre is None else self.pre(x))
        return y[..., : self.out_hw[0], : self.out_hw[1]]


@register_block("concat")
class Concat(nn.Module):
    """A list of (B, C_i, ...) -> (B, sum C_i, ...)."""

    def __init__(self, *, in_shapes, out_shape):
        super().__init__()

    def forward(self, inputs):
        return torch.cat(list(inputs), dim=1)


@register_block("sum")
class Sum(nn.Module):
    def __init__(self, *, in_shapes, out_shape):
        super().__init__()

    def forward(self, inputs):
        out = inputs[0]
        for t in inputs[1:]:
            out = out + t
        return out


@register_block("add")
class Add(nn.Module):
    def __init__(self, *, in_shapes, out_shape):
        super().__init__()

    def forward(self, a, b):
        return a + b


@register_block("sub")
class Sub(nn.Module):
    def __init__(self, *, in_shapes, out_shape):
        super().__init__()

    def forward(self, a, b):
        return a - b


@register_block("mul")
class Mul(nn.Module):
    def __init__(self, *, in_shapes, out_shape):
        super().__init__()

    def forward(self, a, b):
        return a * b


@register_block("affine")
class Affine(nn.Module):
    def __init__(self, *, in_shapes, out_shape, scale=1.0, shift=0.0):
        super().__init__()
        self.scale, self.shift = scale, shift

    def forward(self, x):
        return x * self.scale + self.shift

    def extra_repr(self) -> str:
        return f"scale={self.scale}, shift={self.shift}"


@register_block("flatten")
class Flatten(nn.Module):
    def __init__(self, *, in_shapes, out_shape):
        super().__init__()

    def forward(self, x):
        return x.flatten(1)


@register_block("reshape")
class Reshape(nn.Module):
    def __init__(self, *, in_shapes, out_shape, shape_):
        super().__init__()
        self.shape = tuple(shape_)

    def forward(self, x):
        return x.reshape(x.shape[0], *self.shape)


@register_block("channels")
class Channels(nn.Module):
    def __init__(self, *, in_shapes, out_shape, start, stop):
        super().__init__()
        self.start, self.stop = start, stop

    def forward(self, x):
        return x[:, self.start: self.stop]


class Activation(nn.Module):
    """An activation used as a block, e.g. `elu(c[l])`."""

    def __init__(self, *, in_shapes, out_shape, name):
        super().__init__()
        self.act = activation(name)

    def forward(self, x):
        return self.act(x)


def _activation_block(name: str) -> type:
    cls = type(f"Activation_{name}", (Activation,), {
        "__init__": lambda self, *, in_shapes, out_shape: Activation.__init__(self, in_shapes=in_shapes,
                                                                              out_shape=out_shape, name=name),
        "__doc__": f"Elementwise {name}.",
    })
    return register_block(name)(cls)


for _name in ACTIVATIONS:
    if _name != "none":
        _activation_block(_name)


@register_block("param")
class Param(nn.Module):
    """A learned (or fixed) tensor of `shape_`, broadcast to the batch of the pass that reads it."""

    def __init__(self, *, in_shapes, out_shape, shape_, init=0.0, init_std=0.0, learnable=True):
        super().__init__()
        value = torch.full(tuple(shape_), float(init))
        if init_std:
            value = value + init_std * torch.randn(tuple(shape_))
        if learnable:
            self.value = nn.Parameter(value)
        else:
            self.register_buffer("value", value)

    def forward(self, *, batch: int):
        return self.value.unsqueeze(0).expand(batch, *self.value.shape)


@register_block("pad")
class Pad(nn.Module):
    def __init__(self, *, in_shapes, out_shape, n, value=0.0):
        super().__init__()
        self.n, self.value = n, value

    def forward(self, x):
        return F.pad(x, (self.n,) * 4, value=self.value)


@register_block("crop")
class Crop(nn.Module):
    def __init__(self, *, in_shapes, out_shape, n):
        super().__init__()
        self.n = n

    def forward(self, x):
        n = self.n
        return x[..., n:-n, n:-n]


@register_block("upsample")
class Upsample(nn.Module):
    def __init__(self, *, in_shapes, out_shape, factor=2, size=(), mode="nearest"):
        super().__init__()
        self.size, self.mode = tuple(out_shape[1:]), mode

    def forward(self, x):
        if self.mode == "bilinear":
            return F.interpolate(x, size=self.size, mode="bilinear", align_corners=False)
        return F.interpolate(x, size=self.size, mode="nearest")


@register_block("avgpool")
class AvgPool(nn.Module):
    def __init__(self, *, in_shapes, out_shape, k=2):
        super().__init__()
        self.k = k

    def forward(self, x):
        return F.avg_pool2d(x, self.k)


@register_block("batchnorm")
class BatchNorm(nn.Module):
    def __init__(self, *, in_shapes, out_shape, momentum=0.1, eps=1e-5):
        super().__init__()
        shape = in_shapes["x"]
        cls = nn.BatchNorm2d if len(shape) == 3 else nn.BatchNorm1d
        self.norm = cls(shape[0], momentum=momentum, eps=eps)

    def forward(self, x):
        return self.norm(x)


@register_block("layernorm")
class LayerNorm(nn.Module):
    """Normalises over channels; for images, separately at every pixel."""

    def __init__(self, *, in_shapes, out_shape, eps=1e-5):
        super().__init__()
        self.image = len(in_shapes["x"]) == 3
        self.norm = nn.LayerNorm(in_shapes["x"][0], eps=eps)

    def forward(self, x):
        if self.image:
            return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return self.norm(x)


@register_block("dropout")
class Dropout(nn.Module):
    def __init__(self, *, in_shapes, out_shape, p=0.5):
        super().__init__()
        self.drop = nn.Dropout(p)

    def forward(self, x):
        return self.drop(x)
