"""From raw ``uint8`` pixels to model input: encodings, flips and padding.

These functions work on whole batches and take an explicit :class:`torch.Generator`, so the
randomness of a run is reproducible and can be resumed exactly (see :func:`zoo.data.batch_generator`).
Random numbers are drawn on the *generator's* device and moved to the batch's device, so a CPU
generator gives the same draws whether the batch lives on the CPU or on a GPU.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch

from ..errors import ZooError
from .registry import ENCODINGS

__all__ = ["to_model_input", "augment", "pad_images", "AUGMENT_OPS"]

#: Flip operations :func:`augment` knows, and the image axis each one reverses.
AUGMENT_OPS = {"hflip": -1, "vflip": -2}


def _uniform(shape: Sequence[int], generator: Optional[torch.Generator], device: torch.device) -> torch.Tensor:
    """U[0, 1) float32 draws of ``shape`` from ``generator`` (its device), moved to ``device``."""
    if generator is None:
        return torch.rand(tuple(shape), device=device)
    return torch.rand(tuple(shape), generator=generator, device=generator.device).to(device)


def to_model_input(batch_uint8: torch.Tensor, encoding: str, generator: Optional[torch.Generator] = None,
                   *, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Raw pixels -> the model's data domain (``docs/conventions.md``).

    * ``binarize``: ``x = 1[u < v / 255]`` with one ``u ~ U[0, 1)`` per pixel from ``generator``
      (``torch.rand``, in the batch's element order), i.e. ``x ~ Bernoulli(v / 255)``; v = 0 always
      gives 0 and v = 255 always 1. A new call draws a new sample: dynamic binarization.
    * ``binary``: ``x = v / 255`` for data stored as 0/255 (no randomness).
    * ``8bit``: ``x = (2 v - 255) / 255 = 2 v / 255 - 1``, exactly -1 at 0 and 1 at 255.

    Args:
        batch_uint8: ``uint8`` tensor of any shape, usually ``(B, C, H, W)``.
        encoding: ``binarize`` | ``binary`` | ``8bit`` (an :attr:`ImageData.encoding`).
        generator: the source of the binarization noise; ``None`` uses torch's global RNG (then
            the draw is not reproducible from a checkpoint). Unused by the other encodings.
        dtype: the floating dtype of the result.

    Returns:
        A tensor of ``dtype`` on the batch's device with the batch's shape.

    Raises:
        ZooError: an unknown encoding or a batch that is not ``uint8``.
    """
    if batch_uint8.dtype != torch.uint8:
        raise ZooError(f"to_model_input expects raw uint8 pixels, got {batch_uint8.dtype}")
    if encoding == "binarize":
        probs = batch_uint8.to(torch.float32) / 255.0
        return (_uniform(batch_uint8.shape, generator, batch_uint8.device) < probs).to(dtype)
    if encoding == "binary":
        return (batch_uint8.to(torch.float32) / 255.0).to(dtype)
    if encoding == "8bit":
        return ((batch_uint8.to(torch.float32) * 2.0 - 255.0) / 255.0).to(dtype)
    raise ZooError(f"unknown data encoding '{encoding}' (encodings: {', '.join(ENCODINGS)})")


def augment(batch: torch.Tensor, ops: Sequence[str] = ("hflip", "vflip"),
            generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Random flips, each image independently, as the attentive VAE's official CIFAR pipeline.

    For each op in order, one ``u ~ U[0, 1)`` per image is drawn from ``generator`` and the
    image is flipped where ``u < 0.5``: ``hflip`` reverses the width axis (left-right), ``vflip``
    the height axis (up-down). Works on any dtype; run it on the ``uint8`` batch, before
    :func:`to_model_input`.

    Args:
        batch: ``(B, C, H, W)`` tensor.
        ops: a sequence of ``hflip`` / ``vflip``; ``()`` returns the batch unchanged.
        generator: the source of the coin flips (``None``: torch's global RNG).

    Returns:
        A new tensor of the batch's shape, dtype and device.

    Raises:
        ZooError: an unknown op or a batch that is not 4-D.
    """
    if batch.dim() != 4:
        raise ZooError(f"augment expects a (B, C, H, W) batch, got shape {tuple(batch.shape)}")
    out = batch
    for op in ops:
        if op not in AUGMENT_OPS:
            raise ZooError(f"unknown augmentation '{op}' (augmentations: {', '.join(AUGMENT_OPS)})")
        flip = (_uniform((batch.shape[0],), generator, batch.device) < 0.5).view(-1, 1, 1, 1)
        out = torch.where(flip, out.flip(AUGMENT_OPS[op]), out)
    return out if out is not batch else batch.clone()


def pad_images(images: torch.Tensor, pad_h: int, pad_w: Optional[int] = None) -> torch.Tensor:
    """Zero-pad ``(N, C, H, W)`` images by ``pad_h`` rows above and below and ``pad_w`` columns
    left and right (``pad_w`` defaults to ``pad_h``), keeping the dtype."""
    pad_w = pad_h if pad_w is None else pad_w
    if pad_h < 0 or pad_w < 0:
        raise ZooError(f"padding must be non-negative, got ({pad_h}, {pad_w})")
    n, c, h, w = images.shape
    out = images.new_zeros((n, c, h + 2 * pad_h, w + 2 * pad_w))
    out[:, :, pad_h:pad_h + h, pad_w:pad_w + w] = images
    return out
