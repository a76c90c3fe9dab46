"""Signatures of the bijective blocks: transformational layers ``z = f(eps; cond)``.

A bijector block maps a base latent (``eps[l]``) to a transformed latent of the same shape,
with parameters computed from a conditioning feature (``z[l-1]`` in the self-reflective VAE,
Apostolopoulou et al., Section 3). Named as a parent, its output is a deterministic node of the
graphical model shared by the generative and the inference model; the KL of the ELBO stays the
closed-form Gaussian KL of the base latents, because ``KL(q(z) || p(z)) = KL(q(eps) || p(eps))``
for a bijection shared by both models.

Their implementations (:mod:`zoo.nn.bijectors`) also give the exact inverse and the
log-determinant of the Jacobian.
"""
from __future__ import annotations

import math

from .registry import block
from .signature import ACTIVATIONS, Param, ShapeArgs, ShapeError

__all__: list[str] = []

DIAGONALS = ("softplus_elu", "softplus", "exp")


def _hidden(args: ShapeArgs) -> None:
    for h in args.hidden:
        if not isinstance(h, int) or h <= 0:
            raise ShapeError(f"{args.block}: hidden sizes must be positive integers, got {list(args.hidden)}",
                             "hidden")


def _affine_shape(a: ShapeArgs):
    _hidden(a)
    return tuple(a.shapes["x"])


def _spline_shape(a: ShapeArgs):
    _hidden(a)
    n = math.prod(a.shapes["x"])
    for name in ("bins", "splines"):
        if not isinstance(a.values[name], int) or a.values[name] <= 0:
            raise ShapeError(f"{a.block}: '{name}' must be a positive integer, got {a.values[name]!r}", name)
    if a.mask < 0:
        raise ShapeError(f"{a.block}: 'mask' must be >= 0, got {a.mask}", "mask")
    if a.mask * (a.splines - 1) >= n:
        raise ShapeError(f"{a.block}: spline i (i = 0..{a.splines - 1}) keeps the first mask * i = "
                         f"{a.mask * (a.splines - 1)} coordinates fixed, but the input has only {n}; "
                         f"use fewer splines or a smaller mask", "mask")
    if a.bound <= 0:
        raise ShapeError(f"{a.block}: 'bound' must be positive, got {a.bound}", "bound")
    if a.min_width * a.bins >= 2 * a.bound:
        raise ShapeError(f"{a.block}: bins * min_width must be below the interval width 2 * bound", "min_width")
    return tuple(a.shapes["x"])


def _cond():
    return Param("cond", "feature", None, doc="conditioning feature (e.g. z[l-1]); left out, the parameters "
                                              "are learned constants")


def _act(name, default, doc):
    return Param(name, "choice", default, choices=ACTIVATIONS, doc=doc)


block("affine_rank1",
      Param("x", "feature", doc="the base latent eps (a vector, or flattened)"),
      _cond(),
      Param("hidden", "ints", (20, 20), doc="hidden widths of each of the three conditioning networks"),
      _act("act", "tanh", "hidden activation of the conditioning networks"),
      _act("out_act", "tanh", "output activation of the conditioning networks"),
      Param("diag", "choice", "softplus_elu", choices=DIAGONALS,
            doc="positive map of the raw diagonal: softplus(elu(.)) as SeRe eq. 11, softplus or exp"),
      Param("init_std", "float", 0.1, doc="std of the Gaussian init of the learned constants (no cond)"),
      shape=_affine_shape, role="bijector", invertible=("x",),
      doc="Affine bijector with a positive diagonal plus rank-one scale (SeRe, Table 5; Rezende et al. 2014): "
          "y = c + (diag(d) + u u^T) x, where shift c, raw diagonal and factor u come from three MLPs of `cond` "
          "(learned constants without `cond`) and d = diag(raw) > 0.")

block("spline_coupling",
      Param("x", "feature", doc="the base latent eps (a vector, or flattened)"),
      _cond(),
      Param("hidden", "ints", (60, 60), doc="hidden widths of each of the three conditioning networks"),
      _act("act", "tanh", "hidden activation of the conditioning networks"),
      _act("out_act", "tanh", "output activation of the conditioning networks"),
      Param("bins", "int", 32, doc="bins K of each rational-quadratic spline"),
      Param("bound", "float", 20.0, doc="the splines act on [-bound, bound] and are the identity outside"),
      Param("splines", "int", 5, doc="coupling layers composed"),
      Param("mask", "int", 5, doc="coupling layer i (i = 0, 1, ...) keeps the first mask * i coordinates fixed"),
      Param("min_width", "float", 1e-3, doc="lower bound of bin widths and heights"),
      Param("min_slope", "float", 1e-3, doc="lower bound of the interior knot slopes"),
      Param("init_std", "float", 0.1, doc="std of the Gaussian init of learned constants (a layer with no inputs)"),
      shape=_spline_shape, role="bijector", invertible=("x",),
      doc="Rational-quadratic neural spline coupling flow (Durkan et al. 2019) as SeRe Table 9 configures it: "
          "`splines` coupling layers; layer i transforms coordinates mask*i.. with elementwise monotone splines "
          "whose bin widths, heights and knot slopes come from three MLPs of [cond, x[:mask*i]].")
