"""The plain ResNet stack of the self-reflective VAE's convolutional encoders and decoders.

SeRe Appendix 8 (Table 6) and Appendix 9 (Table 9): ResNet blocks (He et al. 2016) with batch
normalisation; "if the feature map size is halved, the number of filters is doubled, and
reversely". A block that downsamples uses a stride-2 convolution, one that upsamples a stride-2
transposed convolution, as the paper says.
"""
from __future__ import annotations

from torch import nn

from .layers import activation
from .registry import register_block

__all__ = ["ResNetBlock", "ResNet"]


class ResNetBlock(nn.Module):
    """(B, cin, H, W) -> (B, cout, H', W') with H' = ceil(H/2), H or 2H for scale -2, 0, 2.

    ``act(branch(x) + shortcut(x))`` with ``branch = conv -> BN -> act -> [dropout] -> conv -> BN``
    (the first convolution strided or transposed) and ``shortcut`` the identity when the shape is
    kept, else a 1x1 projection with BN (strided, or after nearest upsampling).
    """

    def __init__(self, cin: int, cout: int, scale: int, *, k: int = 3, act: str = "relu", dropout: float = 0.0):
        super().__init__()
        pad = k // 2
        if scale == 2:
            first = nn.ConvTranspose2d(cin, cout, k, stride=2, padding=pad, output_padding=1, bias=False)
        else:
            first = nn.Conv2d(cin, cout, k, stride=2 if scale == -2 else 1, padding=pad, bias=False)
        layers = [first, nn.BatchNorm2d(cout), activation(act)]
        if dropout:
            layers.append(nn.Dropout(dropout))
        layers += [nn.Conv2d(cout, cout, k, padding=pad, bias=False), nn.BatchNorm2d(cout)]
        self.branch = nn.Sequential(*layers)
        if scale == 0 and cin == cout:
            self.shortcut = nn.Identity()
        else:
            proj = [nn.Upsample(scale_factor=2, mode="nearest")] if scale == 2 else []
            proj += [nn.Conv2d(cin, cout, 1, stride=2 if scale == -2 else 1, bias=False), nn.BatchNorm2d(cout)]
            self.shortcut = nn.Sequential(*proj)
        self.act = activation(act)

    def forward(self, x):
        return self.act(self.branch(x) + self.shortcut(x))


@register_block("resnet")
class ResNet(nn.Module):
    """(B, C, H, W) -> (B, filters[-1], H', W'): one :class:`ResNetBlock` per (filters, scales) entry."""

    def __init__(self, *, in_shapes, out_shape, filters, scales, k=3, act="relu", dropout=0.0):
        super().__init__()
        cin = in_shapes["x"][0]
        blocks = []
        for cout, scale in zip(filters, scales):
            blocks.append(ResNetBlock(cin, cout, scale, k=k, act=act, dropout=dropout))
            cin = cout
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x):
        return self.blocks(x)
