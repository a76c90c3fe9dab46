"""Conditional MADE (Germain et al. 2015) with the mask offset of SeRe Appendix 9.2.

Degrees (the notation of Germain et al.): with C conditioning inputs and D data inputs,

* the conditioning inputs get degrees ``m0(d) = d`` for d = 1..C;
* the data inputs get the degrees C+1..C+D, in a random order (one seeded permutation per MADE)
  or in raster order;
* every hidden unit gets a degree in ``{C+1, ..., C+D-1}``: larger than C, so that "the
  conditioning inputs are connected to all the hidden units"; with "hidden degrees equal" they
  are spread evenly over the range (as TF-Probability's ``hidden_degrees='equal'``), otherwise
  drawn at random;
* a connection into a hidden unit exists when ``m_in <= m_hidden`` (Germain et al. eq. 12), into
  an output when ``m_hidden < m_out`` (eq. 13); the outputs of the conditioning inputs are
  discarded, so there are outputs for the D data inputs only, each with the degree of its input.

So output d depends on exactly the data inputs of lower degree and on the conditioning inputs
(for the data input of the lowest degree, C+1, on nothing: its outputs are biases, as in any MADE).
Degrees and masks are buffers: a checkpoint carries its orderings.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .layers import activation

__all__ = ["made_degrees", "made_masks", "MaskedLinear", "ConditionalMADE"]


def made_degrees(data: int, cond: int, hidden: Sequence[int], *, order: str = "random",
                 hidden_degrees: str = "equal", generator: Optional[torch.Generator] = None) -> list[torch.Tensor]:
    """Degrees of the inputs (conditioning first, then data) and of every hidden layer.

    Args:
        data: D, the number of autoregressive (data) inputs.
        cond: C, the number of conditioning inputs (the mask offset).
        hidden: widths of the hidden layers.
        order: "random" (a permutation from `generator`) or "left_to_right".
        hidden_degrees: "equal" (spread evenly) or "random".

    Returns:
        [input degrees (C + D,), hidden degrees (h1,), (h2,), ...] as int64 CPU tensors (also when a
        model is built under another default device, e.g. ``torch.device("meta")``).
    """
    cpu = torch.device("cpu")
    if order == "random":
        data_degrees = cond + 1 + torch.randperm(data, generator=generator, device=cpu)
    elif order == "left_to_right":
        data_degrees = cond + 1 + torch.arange(data, device=cpu)
    else:
        raise ValueError(f"order must be 'random' or 'left_to_right', got {order!r}")
    degrees = [torch.cat([torch.arange(1, cond + 1, device=cpu), data_degrees])]
    high = cond + max(data - 1, 1)  # the largest useful hidden degree, C + D - 1
    low = cond + 1
    for units in hidden:
        if hidden_degrees == "equal":
            k = torch.arange(1, units + 1, dtype=torch.float64, device=cpu)
            spread = torch.ceil(k * max(data - 1, 1) / (units + 1)).long()
            d = cond + spread.clamp(min=1)
        elif hidden_degrees == "random":
            d = torch.randint(low, high + 1, (units,), generator=generator, device=cpu)
        else:
            raise ValueError(f"hidden_degrees must be 'equal' or 'random', got {hidden_degrees!r}")
        degrees.append(d.clamp(low, high))
        low = int(degrees[-1].min())
    return degrees


def made_masks(degrees: Sequence[torch.Tensor], cond: int) -> list[torch.Tensor]:
    """Masks (out, in) of every layer; the last maps to the D data outputs (degree of each data input)."""
    masks = [(out[:, None] >= inp[None, :]) for inp, out in zip(degrees[:-1], degrees[1:])]
    data_out = degrees[0][cond:]
    masks.append(data_out[:, None] > degrees[-1][None, :])
    return masks


class MaskedLinear(nn.Linear):
    """A Linear layer whose weight is multiplied by a fixed 0/1 mask (out, in)."""

    def __init__(self, in_features: int, out_features: int, mask: torch.Tensor):
        super().__init__(in_features, out_features)
        self.register_buffer("mask", mask.bool())

    def forward(self, x):
        return F.linear(x, self.weight * self.mask, self.bias)


class ConditionalMADE(nn.Module):
    """(B, D) data and (B, C) conditioning -> (B, outputs, D): `outputs` autoregressive values per
    data input (MAF uses two: shift and log-scale), each depending only on data inputs of lower degree.
    """

    def __init__(self, data: int, cond: int, hidden: Sequence[int], *, outputs: int = 2, act: str = "relu",
                 order: str = "random", hidden_degrees: str = "equal", generator: Optional[torch.Generator] = None):
        super().__init__()
        self.data, self.cond, self.outputs = data, cond, outputs
        degrees = made_degrees(data, cond, hidden, order=order, hidden_degrees=hidden_degrees, generator=generator)
        masks = made_masks(degrees, cond)
        self.register_buffer("input_degrees", degrees[0])
        layers: list[nn.Module] = []
        width = cond + data
        for h, mask in zip(hidden, masks[:-1]):
            layers += [MaskedLinear(width, h, mask), activation(act)]
            width = h
        self.hidden = nn.Sequential(*layers)
        # one output block per autoregressive value, all with the output mask
        self.out = MaskedLinear(width, outputs * data, masks[-1].repeat(outputs, 1))

    @property
    def data_degrees(self) -> torch.Tensor:
        """Degree of each data input (C+1..C+D); generation fills inputs in increasing degree."""
        return self.input_degrees[self.cond:]

    def forward(self, x: torch.Tensor, cond: Optional[torch.Tensor] = None) -> torch.Tensor:
        inputs = x if cond is None or self.cond == 0 else torch.cat([cond.flatten(1), x], dim=1)
        return self.out(self.hidden(inputs)).reshape(x.shape[0], self.outputs, self.data)
