"""Signatures of pseudo-input transforms and their pseudo-inverse (DVP-VAE, Kuzina & Tomczak).

A pseudo-input u is a random variable whose posterior is a noisy, cheap transformation of the data,
``r(u | x) = N(u; f(x), sigma^2 I)`` (their eq. 9). The transforms f below are the mean of that
posterior; :func:`pseudo_inverse` maps a value of u back to the data domain, so that priors in
the top-down path can be conditioned on it (their Algorithm 2). Implementations: :mod:`zoo.nn.pseudo`
and :mod:`zoo.nn.dct`.
"""
from __future__ import annotations

from .registry import block
from .signature import Param, ShapeArgs, ShapeError

__all__: list[str] = []


def _pseudo_shape(a: ShapeArgs):
    shape = a.require_rank("x", 3)
    c, h, w = shape
    d = a.size
    if not isinstance(d, int) or isinstance(d, bool) or d <= 0:
        raise ShapeError(f"{a.block}: 'size' must be a positive integer, got {d!r}", "size")
    if d > min(h, w):
        raise ShapeError(f"{a.block}: size {d} is larger than the {h}x{w} image", "size")
    low, high = _range(a)
    if not high > low:
        raise ShapeError(f"{a.block}: data_range must be [low, high] with low < high, got {list(a.data_range)}",
                         "data_range")
    return (c, d, d)


def _range(a: ShapeArgs):
    r = a.data_range
    if not isinstance(r, tuple) or len(r) != 2:
        raise ShapeError(f"{a.block}: data_range must be [low, high], got {r!r}", "data_range")
    return float(r[0]), float(r[1])


def _data_range():
    return Param("data_range", "floats", (0.0, 1.0),
                 doc="[low, high] of the data; mapped deterministically to [0, 1] before the transform "
                     "(bernoulli data: [0, 1]; 8-bit images in [-1, 1]: [-1, 1])")


block("dct", Param("x", "feature", doc="an image [c, h, w]"),
      Param("size", "int", doc="d: keep the d x d lowest frequencies of every channel"),
      _data_range(),
      Param("clamp", "bool", True, doc="clamp the normalised coefficients to [-1, 1] (as the official code)"),
      shape=_pseudo_shape, role="pseudo",
      doc="Type-II orthonormal 2-D DCT per channel, cropped to the d x d lowest frequencies and divided by "
          "S = max |DCT(x)| over the training set (computed by HierarchicalVAE.initialize_from_data and "
          "stored with the model): f_det of DVP-VAE's Algorithm 1.")

block("downsample", Param("x", "feature", doc="an image [c, h, w]"),
      Param("size", "int", doc="d: the output is d x d per channel"),
      _data_range(),
      shape=_pseudo_shape, role="pseudo",
      doc="Area (box-filter) downsampling to d x d, mapped to [-1, 1]: the 'downsampled image' pseudo-input "
          "of the DVP-VAE ablation.")

block("learned_projection", Param("x", "feature", doc="an image [c, h, w]"),
      Param("size", "int", doc="d: the output is [c, d, d]"),
      _data_range(),
      shape=_pseudo_shape, role="pseudo",
      doc="A learnable affine map of the whole image to [c, d, d] (the 'learnable linear transformation' "
          "of the DVP-VAE ablation, their Figure 6).")


def _inverse_shape(a: ShapeArgs):
    a.require_rank("u", 3)
    shape = tuple(a.shape_)
    if len(shape) != 3 or any(not isinstance(s, int) or s <= 0 for s in shape):
        raise ShapeError(f"pseudo_inverse: shape_ must be the data's [c, h, w], got {list(shape)}", "shape_")
    return shape


block("pseudo_inverse", Param("u", "feature", doc="a value of the pseudo-input"),
      Param("of", "factor", doc="the posterior whose mean is the transform to invert, e.g. posterior(u)"),
      Param("shape_", "ints", doc="the data's shape [c, h, w]"),
      shape=_inverse_shape, role="pseudo",
      doc="The pseudo-inverse of the transform that computes the mean of `of` (DVP-VAE's Algorithm 2 for the "
          "DCT: multiply by S, zero-pad, inverse DCT), clamped to the data range.")
