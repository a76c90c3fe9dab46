"""Signatures of the attention blocks of the deep attentive VAE (Apostolopoulou et al., ICLR 2022).

* ``attend(values, query, keys)`` -- depth-wise attention, Attend(c_<l, s_l, k_<l) of Sec. 2.3:
  at every pixel separately, a softmax over the list of earlier contexts of the scores
  ``scale * s_l . k_m`` (eqs. 3-4), with an optional GELU(LayerNorm) normalisation of the result
  (eq. 6).
* ``gelu_norm(x)`` -- ``x + GELU(LayerNorm(x))``, the normalisation of eqs. 5-6 (Chen et al. 2020).
* ``rezero(x, update)`` -- ``x + gamma * update`` with a learned scalar gamma that starts at zero:
  the gated residual of eq. 9, so a strongly connected layer starts as the locally connected one.
* ``nonlocal(x, keys)`` -- a spatially non-local block (Wang et al. 2018; Sec. 2.6, Appendix A.2)
  as a standalone block, for placements outside the residual cells (after the merge cells of the
  OMNIGLOT model). Inside residual cells use ``nvae_cell(..., nonlocal_keys = K)``.

The blocks work on images ``[C, H, W]`` (per pixel) and on vectors ``[C]``.
"""
from __future__ import annotations

from .registry import block
from .signature import Param, ShapeArgs, ShapeError

__all__: list[str] = []


def _rank(args: ShapeArgs, shape, what: str):
    if len(shape) not in (1, 3):
        raise ShapeError(f"{args.block}: {what} must be a vector [n] or an image [c, h, w], got {list(shape)}")
    return shape


def _attend_shape(a: ShapeArgs):
    values, keys, query = a.shapes["values"], a.shapes["keys"], a.shapes["query"]
    if not values:
        raise ShapeError("attend: needs at least one context in 'values'", "values")
    if len(keys) != len(values):
        raise ShapeError(f"attend: {len(values)} values but {len(keys)} keys; every context needs its key", "keys")
    first = _rank(a, values[0], "a value")
    for s in values[1:]:
        if tuple(s) != tuple(first):
            raise ShapeError(f"attend: values must have equal shapes, got {list(first)} and {list(s)}", "values")
    _rank(a, query, "the query")
    for s in keys:
        if tuple(s) != tuple(query):
            raise ShapeError(f"attend: every key must have the query's shape {list(query)}, got {list(s)}", "keys")
    if tuple(query[1:]) != tuple(first[1:]):
        raise ShapeError(f"attend: query {list(query)} and values {list(first)} must share their spatial size",
                         "query")
    if a.scale <= 0:
        raise ShapeError(f"attend: 'scale' is the initial score scale and must be positive, got {a.scale}", "scale")
    return tuple(first)


block("attend",
      Param("values", "features", doc="the contexts attended over, c_<l (equal shapes)"),
      Param("query", "feature", doc="the query s_l, [Q, ...] with the values' spatial size"),
      Param("keys", "features", doc="one key k_m per context, each of the query's shape"),
      Param("norm", "bool", False, doc="normalise the result: out + GELU(LayerNorm(out)) (eq. 6)"),
      Param("scale", "float", 1.0, doc="initial value of the learned score scale (no 1/sqrt(Q))"),
      shape=_attend_shape, role="attention",
      doc="Depth-wise attention Attend(c_<l, s_l, k_<l) (Apostolopoulou et al. 2022, eqs. 3-4): at every "
          "pixel, a softmax over the contexts of scale * query . key, and the weighted sum of the contexts.")


def _same(a: ShapeArgs):
    return _rank(a, a.shapes["x"], "the input")


block("gelu_norm", Param("x", "feature"), Param("eps", "float", 1e-5),
      shape=_same,
      doc="x + GELU(LayerNorm(x)), the layer normalisation over channels (per pixel) of the deep attentive "
          "VAE's eqs. 5-6.")


def _rezero_shape(a: ShapeArgs):
    x, u = a.shapes["x"], a.shapes["update"]
    if tuple(x) != tuple(u):
        raise ShapeError(f"rezero: x {list(x)} and update {list(u)} must have equal shapes", "update")
    return tuple(x)


block("rezero", Param("x", "feature"), Param("update", "feature"),
      Param("init", "float", 0.0, doc="initial value of gamma"),
      shape=_rezero_shape,
      doc="x + gamma * update with a learned scalar gamma initialised to zero (eq. 9 of the deep attentive "
          "VAE; ReZero, Bachlechner et al. 2021).")


def _nonlocal_shape(a: ShapeArgs):
    shape = a.shapes["x"]
    if len(shape) != 3:
        raise ShapeError(f"nonlocal: the input must be an image [c, h, w], got {list(shape)}", "x")
    if a.keys <= 0:
        raise ShapeError(f"nonlocal: 'keys' must be a positive integer, got {a.keys}", "keys")
    return tuple(shape)


block("nonlocal", Param("x", "feature"), Param("keys", "int", 32, doc="width of the query and key projections"),
      Param("bias", "bool", True), Param("weight_norm", "bool", True),
      shape=_nonlocal_shape, role="attention",
      doc="Spatially non-local block (Wang et al. 2018): x + gamma * softmax(s * q^T k) v over all pixels, "
          "with 1x1 projections, a learned scale s and gamma initialised to zero.")
