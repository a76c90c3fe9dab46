"""Signatures of VDVAE-style residual blocks and latent aggregation (as used by DVP-VAE).

Implementations: :mod:`zoo.nn.vdvae`. The blocks follow the official DVP-VAE code
(``utils/vae_layers.py``): a pre-activation bottleneck for the bottom-up path, a post-activation
"2x3" bottleneck for the top-down path, and the sum of upsampled latents of their eq. 18.
"""
from __future__ import annotations

from .registry import block
from .signature import ACTIVATIONS, Param, ShapeArgs, ShapeError

__all__: list[str] = []


def _act():
    return Param("act", "choice", "silu", choices=ACTIVATIONS, doc="activation")


def _positive(a: ShapeArgs, name: str) -> int:
    v = a.values[name]
    if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
        raise ShapeError(f"{a.block}: '{name}' must be a positive integer, got {v!r}", name)
    return v


def _encoder_shape(a: ShapeArgs):
    shape = a.require_rank("x", 3)
    _positive(a, "blocks")
    _positive(a, "hidden")
    return shape


block("vdvae_encoder", Param("x", "feature"), Param("blocks", "int", 1, doc="residual blocks in sequence"),
      Param("hidden", "int", doc="bottleneck channels (num_ch * block_ch_mult)"), _act(),
      shape=_encoder_shape,
      doc="`blocks` residual bottlenecks `x + [act, 1x1, act, 3x3, act, 3x3, act, 1x1](x)` at constant shape "
          "(the EncoderResBlock of VDVAE / DVP-VAE).")


def _decoder_shape(a: ShapeArgs):
    c, h, w = a.require_rank("x", 3)
    _positive(a, "hidden")
    return (_positive(a, "out"), h, w)


block("decoder_res", Param("x", "feature"), Param("out", "int", doc="output channels"),
      Param("hidden", "int", doc="bottleneck channels"),
      Param("zero_last", "bool", False, doc="initialise the last convolution to zero"),
      Param("last_scale", "float", 1.0, doc="multiply the last convolution's initial weights by this "
                                              "(VDVAE's stable init uses sqrt(1 / L))"),
      _act(),
      shape=_decoder_shape, out_param="out",
      doc="`skip(x) + [1x1, act, 3x3, act, 3x3, act, 1x1](x)`; skip is the identity or a 1x1 convolution when "
          "the channel count changes (the '2x3' DecoderResBlock of DVP-VAE).")


def _scaled_conv_shape(a: ShapeArgs):
    c, h, w = a.require_rank("x", 3)
    k = _positive(a, "k")
    if k % 2 == 0:
        raise ShapeError(f"scaled_conv: k must be odd for 'same' padding, got {k}", "k")
    return (_positive(a, "out"), h, w)


block("scaled_conv", Param("x", "feature"), Param("out", "int"), Param("k", "int", 1),
      Param("init_scale", "float", 1.0, doc="multiply the initial weights by this"),
      shape=_scaled_conv_shape, out_param="out",
      doc="A 'same' convolution whose initial weights are scaled (VDVAE's z-to-features projection).")


def _aggregate_shape(a: ShapeArgs):
    shapes = a.shapes["inputs"]
    if not shapes:
        raise ShapeError("aggregate: needs at least one latent")
    for s in shapes:
        if len(s) != 3:
            raise ShapeError(f"aggregate: every input must be an image [c, h, w], got {list(s)}")
    channels = {s[0] for s in shapes}
    if len(channels) != 1:
        raise ShapeError("aggregate: every latent must have the same channel count, got "
                         + ", ".join(str(list(s)) for s in shapes))
    size = tuple(a.size)
    if len(size) != 2 or any(not isinstance(v, int) or v <= 0 for v in size):
        raise ShapeError(f"aggregate: size must be [height, width], got {list(size)}", "size")
    return (shapes[0][0],) + size


block("aggregate", Param("inputs", "features", variadic=True, doc="the latents to aggregate"),
      Param("size", "ints", doc="[height, width] they are upsampled to"),
      Param("mode", "choice", "bilinear", choices=("bilinear", "nearest")),
      shape=_aggregate_shape,
      doc="Latent aggregation (DVP-VAE eq. 18): 1/sqrt(L) * sum_l upsample(z_l) to a common size.")
