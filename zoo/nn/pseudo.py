"""Pseudo-input transforms f(x) and their pseudo-inverses (DVP-VAE, Kuzina & Tomczak).

A transform maps an image ``(B, C, H, W)`` to the mean of the pseudo-input posterior
``r(u | x) = N(f(x), sigma^2 I)``, shape ``(B, C, d, d)``; its :meth:`PseudoTransform.pseudo_inverse`
maps a pseudo-input back to the data domain (used by the `pseudo_inverse` block in the top-down
path, where priors are conditioned on u). Every transform first maps the data deterministically
from its declared `data_range` to [0, 1] (the official code decides this per batch with
``x.min() < 0``, which makes the mapping depend on the batch; we never do).

* :class:`SeparableTransform` -- ``u = M_h x M_w^T`` per channel with fixed matrices; its
  pseudo-inverse is ``pinv(M_h) u pinv(M_w)^T``. The DCT crop (:mod:`zoo.nn.dct`) and area
  downsampling are instances.
* :class:`LearnedProjection` -- a learnable affine map of the whole image; pseudo-inverse by the
  Moore-Penrose inverse of its weight (differentiable).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .registry import register_block

__all__ = ["PseudoTransform", "SeparableTransform", "Downsample", "LearnedProjection", "PseudoInverse",
           "area_matrix"]


class PseudoTransform(nn.Module):
    """Interface of a pseudo-input transform: ``forward(x) -> u``, ``pseudo_inverse(u) -> x``.

    Args:
        in_shape: the data's shape (C, H, W).
        out_shape: the pseudo-input's shape (C, d, d).
        data_range: (low, high) of the data.
    """

    def __init__(self, in_shape, out_shape, data_range=(0.0, 1.0)):
        super().__init__()
        self.in_shape, self.out_shape = tuple(in_shape), tuple(out_shape)
        self.low, self.high = float(data_range[0]), float(data_range[1])

    def to_unit(self, x: torch.Tensor) -> torch.Tensor:
        """Data in [low, high] -> [0, 1], the same affine map for every batch."""
        return (x - self.low) / (self.high - self.low)

    def from_unit(self, x01: torch.Tensor) -> torch.Tensor:
        """[0, 1] (clamped) -> the data range."""
        return x01.clamp(0.0, 1.0) * (self.high - self.low) + self.low

    def pseudo_inverse(self, u: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


def _pinv(m: torch.Tensor) -> torch.Tensor:
    """The pseudo-inverse, computed in float64. On the meta device (the size estimate of
    :mod:`zoo.training.budget`) only its shape is made: meta's SVD is seconds of pure overhead."""
    if m.is_meta:
        return m.new_empty(m.shape[::-1], dtype=torch.float32)
    return torch.linalg.pinv(m.double()).float()


class SeparableTransform(PseudoTransform):
    """``u = M_h x M_w^T`` per channel; pseudo-inverse ``pinv(M_h) u pinv(M_w)^T``.

    Args:
        rows_h: (d, H) matrix; rows_w: (d, W) matrix. Their pseudo-inverses are computed once
            in float64 and kept as buffers (not saved: they follow from the shapes).
    """

    def __init__(self, in_shape, out_shape, data_range, rows_h: torch.Tensor, rows_w: torch.Tensor):
        super().__init__(in_shape, out_shape, data_range)
        self.register_buffer("rows_h", rows_h.float(), persistent=False)
        self.register_buffer("rows_w", rows_w.float(), persistent=False)
        self.register_buffer("pinv_h", _pinv(rows_h), persistent=False)
        self.register_buffer("pinv_w", _pinv(rows_w), persistent=False)

    def project(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, C, d, d): M_h x M_w^T."""
        return torch.einsum("ih,bchw,jw->bcij", self.rows_h, x, self.rows_w)

    def lift(self, u: torch.Tensor) -> torch.Tensor:
        """(B, C, d, d) -> (B, C, H, W): pinv(M_h) u pinv(M_w)^T."""
        return torch.einsum("hi,bcij,wj->bchw", self.pinv_h, u, self.pinv_w)


def area_matrix(n: int, d: int) -> torch.Tensor:
    """The (d, n) matrix of 1-D area downsampling: output sample i is the mean of the input over
    the interval [i n/d, (i+1) n/d), pixels that straddle a boundary counted by the fraction inside.
    Every pixel then has the same total weight d/n, so the pseudo-inverse maps constants to
    constants (adaptive average pooling, whose windows overlap, does not)."""
    width = n / d
    edges = torch.arange(d + 1, dtype=torch.float64) * width  # bin boundaries
    left, right = edges[:-1].unsqueeze(1), edges[1:].unsqueeze(1)  # (d, 1)
    j = torch.arange(n, dtype=torch.float64).unsqueeze(0)  # (1, n): pixel j covers [j, j + 1)
    overlap = (torch.minimum(right, j + 1) - torch.maximum(left, j)).clamp(min=0.0)
    return overlap / width


@register_block("downsample")
class Downsample(SeparableTransform):
    """(B, C, H, W) -> (B, C, d, d): area downsampling of the image in [0, 1], mapped to [-1, 1].

    The pseudo-inverse of area downsampling by an integer factor is nearest-neighbour upsampling;
    for other factors it is the minimum-norm inverse of the (fractional) box filter. The official
    code resizes bilinearly both ways instead; see docs/models/dvp.md.
    """

    def __init__(self, *, in_shapes, out_shape, size, data_range=(0.0, 1.0)):
        c, h, w = in_shapes["x"]
        super().__init__((c, h, w), out_shape, data_range, area_matrix(h, size), area_matrix(w, size))

    def forward(self, x):
        return 2.0 * self.project(self.to_unit(x)) - 1.0  # (B, C, d, d) in [-1, 1]

    def pseudo_inverse(self, u):
        return self.from_unit(self.lift((u + 1.0) / 2.0))  # (B, C, H, W)


@register_block("learned_projection")
class LearnedProjection(PseudoTransform):
    """(B, C, H, W) -> (B, C, d, d): ``W vec(x01) + b`` with a learnable W of shape (C d d, C H W).

    The pseudo-inverse is ``pinv(W) (u - b)`` (torch.linalg.pinv, differentiable), clamped to the
    data range. The official code instead resizes u bilinearly to the image size, which is not an
    inverse of the learned map; see docs/models/dvp.md.
    """

    def __init__(self, *, in_shapes, out_shape, size, data_range=(0.0, 1.0)):
        super().__init__(in_shapes["x"], out_shape, data_range)
        self.linear = nn.Linear(math.prod(self.in_shape), math.prod(self.out_shape))

    def forward(self, x):
        return self.linear(self.to_unit(x).flatten(1)).reshape(x.shape[0], *self.out_shape)

    def pseudo_inverse(self, u):
        pinv = torch.linalg.pinv(self.linear.weight)  # (C H W, C d d)
        x01 = (u.flatten(1) - self.linear.bias) @ pinv.t()
        return self.from_unit(x01.reshape(u.shape[0], *self.in_shape))


@register_block("pseudo_inverse")
class PseudoInverse(nn.Module):
    """(B, C, d, d) -> (B, *shape_): the pseudo-inverse of the transform behind the mean of `of`.

    When the model is built, :meth:`bind_model` follows the `loc` argument of the posterior `of`
    (through aliases like ``feature f = g``) to the :class:`PseudoTransform` that computes it.
    The transform is kept as a plain attribute, not a submodule, so its parameters are counted and
    saved once (under the transform's own node); ``copy.deepcopy`` of the model (e.g. for an EMA)
    maps it to the copy's own transform.
    """

    def __init__(self, *, in_shapes, out_shape, of, shape_):
        super().__init__()
        self.of, self.shape = of, tuple(out_shape)
        self.u_shape = tuple(in_shapes["u"])
        self.__dict__["_transform"] = None

    def bind_model(self, model) -> None:
        from dsl.errors import Diagnostic, SpecSemanticError

        graph = model.graph
        me = next(n for n, m in model.ops.items() if m is self)
        span = graph.info(me).span

        def fail(message, hint=None):
            raise SpecSemanticError([Diagnostic(message, span, hint, "error", "pseudo-inverse")
                                     .with_source(graph.spec.sources)])

        info = graph.info(self.of)
        loc = dict(info.inputs).get("loc")
        if info.op != "normal" or loc is None:
            fail(f"pseudo_inverse(of = {self.of}): {self.of} must be `normal(loc = <transform of x>, ...)`")
        node = loc
        while True:
            module = model.ops[node] if node in model.ops else None
            if isinstance(module, PseudoTransform):
                break
            sub = graph.info(node)
            if getattr(sub, "op", None) == "identity":
                node = sub.inputs[0][1]
                continue
            fail(f"pseudo_inverse(of = {self.of}): the mean of {self.of} is computed by "
                 f"'{getattr(sub, 'op', node)}', which has no pseudo-inverse",
                 hint="use dct(x, ...), downsample(x, ...) or learned_projection(x, ...) as its loc")
        if module.in_shape != self.shape or module.out_shape != self.u_shape:
            fail(f"pseudo_inverse: {node} maps {list(module.in_shape)} to {list(module.out_shape)}, but this "
                 f"block maps {list(self.u_shape)} to {list(self.shape)}",
                 hint=f"write shape_ = {list(module.in_shape)}")
        self.__dict__["_transform"] = module

    def forward(self, u):
        transform = self.__dict__["_transform"]
        if transform is None:
            raise RuntimeError("pseudo_inverse is not bound to a model; build it with zoo.runtime.lower")
        return transform.pseudo_inverse(u)  # (B, C, H, W)

    def extra_repr(self) -> str:
        return f"of={self.of}, shape={list(self.shape)}"
