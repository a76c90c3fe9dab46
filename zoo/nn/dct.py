"""The DCT pseudo-input of DVP-VAE (Kuzina & Tomczak, Section 3.2, Algorithms 1 and 2).

``f_det(x) = clamp(crop_d(DCT(x)) / S, -1, 1)`` per channel, where DCT is the orthonormal type-II
2-D transform ``C x C^T`` and S is the largest absolute value of every kept coefficient over the
training set. The pseudo-inverse (their Algorithm 2) multiplies by S, zero-pads the high
frequencies and applies the inverse DCT, which for an orthonormal C is ``C_d^T u C_d`` with C_d
the first d rows of C: exactly the Moore-Penrose inverse of the crop, so crop followed by the
pseudo-inverse is an ideal low-pass filter.

S is data-dependent: `HierarchicalVAE.initialize_from_data(batches)` calls
:meth:`DCT.init_from_data_update` on every training batch and :meth:`DCT.init_from_data_end`
once; S is a buffer and is saved with the model. Until then S is the data-free bound
``sum_n |C_in| * sum_m |C_jm|`` (no image in the data range can exceed it), so the coefficients
are still within [-1, 1], only less spread out; training in that state warns once.
"""
from __future__ import annotations

import math
import warnings

import torch

from .pseudo import SeparableTransform
from .registry import register_block

__all__ = ["dct_matrix", "dct2", "idct2", "DCT"]


def dct_matrix(n: int, dtype=torch.float64) -> torch.Tensor:
    """The (n, n) orthonormal DCT-II matrix: ``C[0, j] = sqrt(1/n)``,
    ``C[k, j] = sqrt(2/n) cos(pi (j + 1/2) k / n)`` for k > 0."""
    k = torch.arange(n, dtype=dtype).unsqueeze(1)
    j = torch.arange(n, dtype=dtype).unsqueeze(0)
    c = math.sqrt(2.0 / n) * torch.cos(math.pi * (j + 0.5) * k / n)
    c[0] = math.sqrt(1.0 / n)
    return c


def dct2(x: torch.Tensor) -> torch.Tensor:
    """Orthonormal 2-D DCT-II over the last two axes (what scipy.fft.dctn(norm='ortho') computes)."""
    ch = dct_matrix(x.shape[-2], x.dtype).to(x.device)
    cw = dct_matrix(x.shape[-1], x.dtype).to(x.device)
    return ch @ x @ cw.t()


def idct2(y: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`dct2` (the orthonormal DCT-III)."""
    ch = dct_matrix(y.shape[-2], y.dtype).to(y.device)
    cw = dct_matrix(y.shape[-1], y.dtype).to(y.device)
    return ch.t() @ y @ cw


@register_block("dct")
class DCT(SeparableTransform):
    """(B, C, H, W) -> (B, C, d, d): normalised low-frequency DCT coefficients (see module docstring).

    Buffers saved with the model: ``scale`` (S, shape (C, d, d)) and ``initialized`` (whether S
    was computed from data).
    """

    def __init__(self, *, in_shapes, out_shape, size, data_range=(0.0, 1.0), clamp=True):
        c, h, w = in_shapes["x"]
        ch, cw = dct_matrix(h)[:size], dct_matrix(w)[:size]
        super().__init__((c, h, w), out_shape, data_range, ch, cw)
        self.clamp = bool(clamp)
        bound = ch.abs().sum(1).unsqueeze(1) * cw.abs().sum(1).unsqueeze(0)  # (d, d)
        self.register_buffer("scale", bound.float().expand(c, size, size).clone())
        self.register_buffer("initialized", torch.zeros((), dtype=torch.bool))
        self._running = None
        self._warned = False

    def coefficients(self, x: torch.Tensor) -> torch.Tensor:
        """The kept DCT coefficients of the image mapped to [0, 1], before normalisation."""
        return self.project(self.to_unit(x))  # (B, C, d, d)

    def forward(self, x):
        # a Python-side check (it reads the buffer): outside compiled code, where it would break the graph
        if self.training and not self._warned and not torch.compiler.is_compiling() and not bool(self.initialized):
            self._warned = True
            warnings.warn("dct: the normalisation S was not computed from the training data; call "
                          "model.initialize_from_data(batches) before training (using the data-free bound)",
                          stacklevel=2)
        u = self.coefficients(x) / self.scale
        return u.clamp(-1.0, 1.0) if self.clamp else u

    def pseudo_inverse(self, u):
        return self.from_unit(self.lift(u * self.scale))  # (B, C, H, W), clamped to the data range

    # -- data-dependent initialisation (HierarchicalVAE.initialize_from_data) ------------------
    @torch.no_grad()
    def init_from_data_update(self, x):
        batch_max = self.coefficients(x).abs().amax(dim=0)  # (C, d, d)
        self._running = batch_max if self._running is None else torch.maximum(self._running, batch_max)

    @torch.no_grad()
    def init_from_data_end(self):
        if self._running is None:
            raise ValueError("dct: initialize_from_data saw no batches")
        # a coefficient that is zero on every training image stays zero; avoid dividing by 0
        self.scale.copy_(self._running.clamp(min=1e-8))
        self.initialized.fill_(True)
        self._running = None

    def extra_repr(self) -> str:
        return (f"{list(self.in_shape)} -> {list(self.out_shape)}, data_range=[{self.low}, {self.high}], "
                f"clamp={self.clamp}, initialized={bool(self.initialized)}")
