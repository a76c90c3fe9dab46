"""Core signatures: dense and convolutional blocks, tensor plumbing, NVAE residual cells,
the Gaussian, Bernoulli and discretized-logistic families, and the posterior combinators.
"""
from __future__ import annotations

import math

from .registry import block, combinator, family, option
from .signature import ACTIVATIONS, Param, ShapeArgs, ShapeError

__all__: list[str] = []

# -- argument helpers ----------------------------------------------------------------------------


def _feature(name="x", doc="input feature"):
    return Param(name, "feature", doc=doc)


def _act(name="act", default="relu", doc="activation"):
    return Param(name, "choice", default, choices=ACTIVATIONS, doc=doc)


def _positive(args: ShapeArgs, name: str) -> int:
    value = args.values[name]
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ShapeError(f"{args.block}: '{name}' must be a positive integer, got {value!r}", name)
    return value


def _same_shape(args: ShapeArgs, names):
    shapes = []
    for n in names:
        s = args.shapes[n]
        shapes.extend(s if isinstance(s, list) else [s])
    if not shapes:
        raise ShapeError(f"{args.block}: needs at least one input")
    first = shapes[0]
    for s in shapes[1:]:
        if s != first:
            raise ShapeError(f"{args.block}: inputs must have equal shapes, got {list(first)} and {list(s)}")
    return first


def _image(args: ShapeArgs, name="x"):
    return args.require_rank(name, 3)


# -- dense ---------------------------------------------------------------------------------------

def _mlp_shape(a: ShapeArgs):
    for h in a.hidden:
        if not isinstance(h, int) or h <= 0:
            raise ShapeError(f"mlp: hidden sizes must be positive integers, got {list(a.hidden)}", "hidden")
    return (_positive(a, "out"),)


block("mlp", _feature(), Param("hidden", "ints", (), doc="widths of the hidden layers"),
      Param("out", "int", doc="output width (inferred when it parameterises a distribution)"),
      _act(), _act("out_act", "none", "activation after the last layer"),
      Param("norm", "choice", "none", choices=("none", "batch", "layer"), doc="normalisation before each hidden activation"),
      Param("input_norm", "choice", "none", choices=("none", "batch"), doc="normalisation of the input"),
      Param("dropout", "float", 0.0, doc="dropout probability after hidden activations"),
      shape=_mlp_shape, out_param="out", out_kind="vector",
      doc="Multilayer perceptron on the flattened input: Linear -> [norm] -> act (-> dropout) per hidden layer, then Linear -> out_act.")

block("linear", _feature(), Param("out", "int"), Param("bias", "bool", True),
      shape=lambda a: (_positive(a, "out"),), out_param="out", out_kind="vector",
      doc="Affine map of the flattened input.")


def _conv_shape(a: ShapeArgs):
    c, h, w = _image(a)
    _positive(a, "k")  # validated: a kernel size of 0 is an error here, not in PyTorch
    stride = _positive(a, "stride")
    return (_positive(a, "out"), -(-h // stride), -(-w // stride))


block("conv", _feature(), Param("out", "int"), Param("k", "int", 3, doc="kernel size (odd, 'same' padding)"),
      Param("stride", "int", 1), _act("pre", "none", "activation applied before the convolution"),
      Param("weight_norm", "bool", False, doc="weight normalisation with a log-parameterised gain"),
      Param("bias", "bool", True),
      shape=_conv_shape, out_param="out",
      doc="2-D convolution with 'same' padding, optionally preceded by an activation.")


def _conv_t_shape(a: ShapeArgs):
    c, h, w = _image(a)
    s = _positive(a, "stride")
    return (_positive(a, "out"), h * s, w * s)


block("conv_transpose", _feature(), Param("out", "int"), Param("k", "int", 3), Param("stride", "int", 2),
      _act("pre", "none", "activation applied before the convolution"), Param("bias", "bool", True),
      shape=_conv_t_shape, out_param="out",
      doc="Transposed convolution that multiplies height and width by `stride`.")

# -- plumbing ------------------------------------------------------------------------------------


def _concat_shape(a: ShapeArgs):
    shapes = a.shapes["inputs"]
    if not shapes:
        raise ShapeError("concat: needs at least one input")
    rank = len(shapes[0])
    if any(len(s) != rank for s in shapes):
        raise ShapeError("concat: cannot mix vectors and images: " + ", ".join(str(list(s)) for s in shapes))
    if rank == 1:
        return (sum(s[0] for s in shapes),)
    spatial = shapes[0][1:]
    for s in shapes:
        if s[1:] != spatial:
            raise ShapeError(f"concat: images must share height and width, got {list(spatial)} and {list(s[1:])}")
    return (sum(s[0] for s in shapes),) + tuple(spatial)


block("concat", Param("inputs", "features", variadic=True, doc="features to join along channels"),
      shape=_concat_shape, invertible=("inputs",), separable=True,
      doc="Concatenate features along the channel axis (vectors: end to end).")

block("sum", Param("inputs", "features", variadic=True), invertible=("inputs",),
      shape=lambda a: _same_shape(a, ["inputs"]), doc="Elementwise sum of equally shaped features.")

block("add", _feature("a"), _feature("b"), invertible=("a", "b"), shape=lambda a: _same_shape(a, ["a", "b"]),
      doc="a + b (what `a + b` between features means).")
block("sub", _feature("a"), _feature("b"), invertible=("a", "b"), shape=lambda a: _same_shape(a, ["a", "b"]),
      doc="a - b (what `a - b` between features means).")
block("mul", _feature("a"), _feature("b"), shape=lambda a: _same_shape(a, ["a", "b"]),
      doc="Elementwise product (what `a * b` between features means).")
block("affine", _feature(), Param("scale", "float", 1.0), Param("shift", "float", 0.0),
      shape=lambda a: a.shapes["x"], doc="scale * x + shift (what `2 * x - 1` means on a feature).")


def _reshape_shape(a: ShapeArgs):
    target = tuple(a.shape_)
    if math.prod(target) != math.prod(a.shapes["x"]):
        raise ShapeError(f"reshape: cannot reshape {list(a.shapes['x'])} into {list(target)}", "shape")
    return target


block("flatten", _feature(), invertible=("x",), shape=lambda a: (math.prod(a.shapes["x"]),),
      doc="Flatten to a vector.")
block("reshape", _feature(), Param("shape_", "ints", doc="target shape (without batch)"), invertible=("x",),
      shape=_reshape_shape, doc="Reshape to `shape_`; the element count must not change.")


def _channels_shape(a: ShapeArgs):
    s = a.shapes["x"]
    start, stop = a.start, a.stop
    if not (0 <= start < stop <= s[0]):
        raise ShapeError(f"channels: need 0 <= start < stop <= {s[0]}, got {start}..{stop}")
    return (stop - start,) + tuple(s[1:])


block("channels", _feature(), Param("start", "int"), Param("stop", "int"), shape=_channels_shape,
      doc="Channels start..stop-1 of a feature.")

# activations that are strictly monotone, hence invertible (relu, swish, silu and gelu are not)
STRICTLY_MONOTONE = ("leaky_relu", "elu", "tanh", "sigmoid", "softplus")

for _name in ACTIVATIONS:
    if _name == "none":
        continue
    block(_name, _feature(), shape=lambda a: a.shapes["x"], role="activation",
          invertible=("x",) if _name in STRICTLY_MONOTONE else (),
          doc=f"Elementwise {_name}.")

block("param", Param("shape_", "ints", doc="shape without batch"), Param("init", "float", 0.0),
      Param("init_std", "float", 0.0, doc="standard deviation of a Gaussian initialisation"),
      Param("learnable", "bool", True),
      shape=lambda a: tuple(a.shape_), role="constant",
      doc="A learned tensor, broadcast over the batch (e.g. the constant top context of NVAE).")

# -- images --------------------------------------------------------------------------------------


def _pad_shape(a: ShapeArgs):
    c, h, w = _image(a)
    n = a.n
    return (c, h + 2 * n, w + 2 * n)


def _crop_shape(a: ShapeArgs):
    c, h, w = _image(a)
    n = _positive(a, "n")
    if h <= 2 * n or w <= 2 * n:
        raise ShapeError(f"crop: cannot crop {n} pixels from each side of a {h}x{w} image", "n")
    return (c, h - 2 * n, w - 2 * n)


block("pad", _feature(), Param("n", "int"), Param("value", "float", 0.0), shape=_pad_shape,
      doc="Pad n pixels on every side of an image.")
block("crop", _feature(), Param("n", "int"), shape=_crop_shape,
      doc="Remove n pixels from every side of an image.")


def _upsample_shape(a: ShapeArgs):
    c, h, w = _image(a)
    if a.size:
        if len(a.size) != 2:
            raise ShapeError("upsample: size must be [height, width]", "size")
        return (c, a.size[0], a.size[1])
    f = _positive(a, "factor")
    return (c, h * f, w * f)


block("upsample", _feature(), Param("factor", "int", 2), Param("size", "ints", ()),
      Param("mode", "choice", "nearest", choices=("nearest", "bilinear")),
      shape=_upsample_shape, doc="Resize an image by an integer factor or to a given size.")


def _pool_shape(a: ShapeArgs):
    c, h, w = _image(a)
    k = _positive(a, "k")
    if h % k or w % k:
        raise ShapeError(f"avgpool: {h}x{w} is not divisible by k={k}", "k")
    return (c, h // k, w // k)


block("avgpool", _feature(), Param("k", "int", 2), shape=_pool_shape, doc="Average pooling with kernel and stride k.")
block("batchnorm", _feature(), Param("momentum", "float", 0.1), Param("eps", "float", 1e-5),
      shape=lambda a: a.shapes["x"], doc="Batch normalisation over the channel axis.")
block("layernorm", _feature(), Param("eps", "float", 1e-5), shape=lambda a: a.shapes["x"],
      doc="Layer normalisation over channels (per pixel for images).")
block("dropout", _feature(), Param("p", "float", 0.5), shape=lambda a: a.shapes["x"], doc="Dropout.")


def _nvae_cell_shape(a: ShapeArgs):
    c, h, w = _image(a)
    for s in a.scales:
        if s == 0:
            continue
        if s == -2:
            if h % 2 or w % 2:
                raise ShapeError(f"nvae_cell: cannot downsample a {h}x{w} feature by 2", "scales")
            c, h, w = c * 2, h // 2, w // 2
        elif s == 2:
            if c % 2:
                raise ShapeError(f"nvae_cell: cannot halve {c} channels when upsampling", "scales")
            c, h, w = c // 2, h * 2, w * 2
        else:
            raise ShapeError(f"nvae_cell: scales are 0 (keep), -2 (downsample) or 2 (upsample), got {s}", "scales")
    return (c, h, w)


block("nvae_cell", _feature(),
      Param("scales", "ints", (0, 0), doc="one residual block per entry: 0 keeps the size, -2 halves it "
                                            "(channels x2), 2 doubles it (channels /2)"),
      Param("nodes", "int", 2, doc="conv nodes per block: BN -> [non-local] -> act -> conv3x3"),
      Param("nonlocal_keys", "int", 0, doc="key width of a non-local block inside every node (0: none)"),
      Param("nonlocal_shortcut", "bool", False,
            doc="also a (bias-free) non-local block on the shortcut of an upsampling block, as the official "
                "attentive-VAE code builds it for OMNIGLOT"),
      _act("act", "swish"), Param("batchnorm", "bool", True), Param("weight_norm", "bool", True),
      Param("residual_scale", "float", 0.1, doc="output = residual_scale * branch + shortcut"),
      shape=_nvae_cell_shape,
      doc="The NVAE / attentive-VAE residual cell (Vahdat & Kautz 2020 without squeeze-excitation).")

# -- distribution families -----------------------------------------------------------------------

_MEAN = {"identity": 0, "tanh_bound": 1}
_VARIANCE = {"log_scale": 0, "log_var": 0, "softplus": 0, "softplus_elu_var": 0,
             "bounded_log_scale": 2, "clamped_log_var": 2}

option("identity", doc="The mean is the raw network output.")
option("tanh_bound", Param("bound", "float"), doc="mean = bound * tanh(raw / (2 * bound)), i.e. 5 tanh(raw / 10) for bound 5.")
option("log_scale", doc="The network outputs log sigma.")
option("log_var", doc="The network outputs log sigma^2.")
option("softplus_elu_var", doc="sigma^2 = softplus(elu(raw)) (Apostolopoulou et al., SeRe eq. 11).")
option("bounded_log_scale", Param("low", "float"), Param("high", "float"),
       doc="log sigma squashed smoothly into [low, high] (attentive VAE; tanh when symmetric).")
option("clamped_log_var", Param("low", "float"), Param("high", "float"),
       doc="log sigma^2 clamped to [low, high] (DVP-VAE).")

family("normal",
       Param("params", "feature", None, doc="packed raw parameters: loc then raw scale along channels"),
       Param("loc", "number_or_feature", None, doc="mean: a number or a feature (instead of params)"),
       Param("scale", "number_or_feature", None,
             doc="a number (sigma itself) or a feature of raw scales read through `variance`"),
       Param("mean", "option", "identity", choices=_MEAN, doc="how the raw mean is mapped"),
       Param("variance", "option", "log_scale", choices=_VARIANCE, doc="how the raw scale is mapped"),
       Param("min_scale", "float", 0.0, doc="added to sigma"),
       Param("noise", "float", 0.0, doc="std of Gaussian noise added to the raw scale in training"),
       param_channels=lambda shape, opts: 2 * shape[0],
       packed_params=("params", "loc", "scale"),
       doc="Diagonal Gaussian. `normal(loc = 0, scale = 1)` is the standard normal.")

family("bernoulli", Param("params", "feature", doc="logits"),
       param_channels=lambda shape, opts: shape[0], discrete=True,
       doc="Independent Bernoulli variables parameterised by logits; data in {0, 1}.")


def _dlm_channels(shape, opts):
    c, m = shape[0], opts.get("components", 10)
    return m * (1 + 2 * c + c * (c - 1) // 2)


family("discretized_logistic_mixture", Param("params", "feature"),
       Param("components", "int", 10, doc="mixture components"),
       Param("bits", "int", 8, doc="bits per channel of the data"),
       Param("min_log_scale", "float", -7.0, doc="floor of the logistic log-scales"),
       param_channels=_dlm_channels, discrete=True,
       doc="Mixture of discretized logistics with autoregressive RGB coefficients (Salimans et al. 2017); "
           "data in [-1, 1].")

# -- combinators -----------------------------------------------------------------------------------

combinator("residual", Param("base", "dist"), Param("delta", "dist"),
           doc="The delta distribution's raw parameters added to the base's raw parameters, then mapped "
               "by the delta's parameterisation (NVAE residual posterior).")
combinator("precision_weighted", Param("top_down", "dist"), Param("bottom_up", "dist"),
           doc="Precision-weighted combination of two diagonal Gaussians (Ladder VAE, Sonderby et al. 2016).")
