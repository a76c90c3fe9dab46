"""Small layers the blocks are made of: activations by name and weight-normalised convolutions."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["activation", "WNConv2d", "conv2d"]

_ACTIVATIONS = {
    "none": nn.Identity, "relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "elu": nn.ELU, "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid, "swish": nn.SiLU, "silu": nn.SiLU, "gelu": nn.GELU, "softplus": nn.Softplus,
}


def activation(name: str) -> nn.Module:
    """A fresh activation module by its language name (see dsl.library.ACTIVATIONS)."""
    return _ACTIVATIONS[name]()


class WNConv2d(nn.Conv2d):
    """Conv2d with weight normalisation, the gain stored as its logarithm (Salimans & Kingma 2016).

    weight = exp(log_g) * v / ||v||, with the norm over each output filter. log_g starts at the
    log-norm of the initial v, so the layer starts as the plain convolution it was initialised as.
    Parameters: v (the `weight`), `log_g` (one per output channel) and the optional bias.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.weight.is_meta:  # shapes only (e.g. counting parameters): no values to compute from
            self.log_g = nn.Parameter(torch.empty(self.out_channels, device="meta"))
            return
        with torch.no_grad():
            norm = self.weight.flatten(1).norm(dim=1).clamp(min=1e-8)
        self.log_g = nn.Parameter(torch.log(norm))

    def normalized_weight(self) -> torch.Tensor:
        v = self.weight
        norm = v.flatten(1).norm(dim=1).clamp(min=1e-8)
        return v * (torch.exp(self.log_g) / norm).view(-1, 1, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.normalized_weight(), self.bias, self.stride, self.padding, self.dilation, self.groups)


def conv2d(cin: int, cout: int, k: int, *, stride: int = 1, bias: bool = True, weight_norm: bool = False,
           padding: int = None) -> nn.Conv2d:
    """A 'same'-padded convolution, weight-normalised on request."""
    cls = WNConv2d if weight_norm else nn.Conv2d
    return cls(cin, cout, k, stride=stride, padding=k // 2 if padding is None else padding, bias=bias)
