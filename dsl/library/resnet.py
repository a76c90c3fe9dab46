"""Signature of the plain ResNet stack of the self-reflective VAE's convolutional variants.

SeRe Appendix 8 and Table 9: ResNet blocks (He et al. 2016) with batch normalisation, following
the rule "halve the map, double the filters" -- in the encoders, blocks that downsample by 2; in
the decoders, blocks with transposed convolutions that upsample by 2.
"""
from __future__ import annotations

from .registry import block
from .signature import ACTIVATIONS, Param, ShapeArgs, ShapeError

__all__: list[str] = []


def _resnet_shape(a: ShapeArgs):
    c, h, w = a.require_rank("x", 3)
    filters, scales = list(a.filters), list(a.scales)
    if not filters or any(not isinstance(f, int) or f <= 0 for f in filters):
        raise ShapeError(f"resnet: 'filters' must be a non-empty list of positive integers, got {filters}", "filters")
    if len(scales) != len(filters):
        raise ShapeError(f"resnet: one scale per block: {len(filters)} filters but {len(scales)} scales", "scales")
    if a.k <= 0 or a.k % 2 == 0:
        raise ShapeError(f"resnet: the kernel size must be odd, got {a.k}", "k")
    if not 0.0 <= a.dropout < 1.0:
        raise ShapeError(f"resnet: dropout must be in [0, 1), got {a.dropout}", "dropout")
    for f, s in zip(filters, scales):
        if s == -2:
            h, w = -(-h // 2), -(-w // 2)
        elif s == 2:
            h, w = 2 * h, 2 * w
        elif s != 0:
            raise ShapeError(f"resnet: scales are 0 (keep), -2 (downsample) or 2 (upsample), got {s}", "scales")
        c = f
    return (c, h, w)


block("resnet", Param("x", "feature", doc="an image feature [c, h, w]"),
      Param("filters", "ints", doc="output channels of each block"),
      Param("scales", "ints", doc="per block: -2 downsamples (stride-2 convolution), 2 upsamples (transposed "
                                  "convolution), 0 keeps the size"),
      Param("k", "int", 3, doc="kernel size"),
      Param("act", "choice", "relu", choices=ACTIVATIONS, doc="activation"),
      Param("dropout", "float", 0.0, doc="dropout probability inside each residual branch"),
      shape=_resnet_shape,
      doc="A stack of ResNet basic blocks (He et al. 2016): conv -> BN -> act -> [dropout] -> conv -> BN, plus a "
          "projection shortcut (1x1 conv and BN, after nearest upsampling when the block upsamples) where the "
          "shape changes, then act.")
