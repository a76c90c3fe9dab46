"""`ImageData`: one split of one data set, as raw ``uint8`` pixels, ready for :func:`make_loader`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch

from .registry import ENCODINGS

__all__ = ["ImageData"]


@dataclass(frozen=True)
class ImageData:
    """One split of a data set, held in memory.

    Attributes:
        name: the data set (``mnist``, ``binarized_mnist``, ``omniglot``, ``cifar10``, ``digits``).
        split: ``train``, ``valid`` or ``test``.
        images: ``uint8`` tensor ``(N, C, H, W)`` of raw pixel values 0..255 (statically binarized
            data hold 0/255; digits' 0..16 are rescaled to 0..255).
        labels: ``int64`` tensor ``(N,)``, or ``None`` where the data set has none.
        encoding: how :func:`zoo.data.to_model_input` turns pixels into model input:
            ``binarize`` (a fresh Bernoulli(pixel/255) draw each time), ``binary`` (pixel/255,
            already 0/1) or ``8bit`` (``2 v / 255 - 1``, in [-1, 1]).
        origin: where the pixels were read from (a path), for logs and run directories.

    Raises:
        ValueError: on construction, if the tensors or the encoding are inconsistent.
    """

    name: str
    split: str
    images: torch.Tensor
    labels: Optional[torch.Tensor]
    encoding: str
    origin: str = ""

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise ValueError(f"images must be uint8 (N, C, H, W), got {self.images.dtype} "
                             f"{tuple(self.images.shape)}")
        if self.labels is not None and tuple(self.labels.shape) != (self.images.shape[0],):
            raise ValueError(f"labels must have shape ({self.images.shape[0]},), got {tuple(self.labels.shape)}")
        if self.encoding not in ENCODINGS:
            raise ValueError(f"encoding must be one of {ENCODINGS}, got {self.encoding!r}")

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def shape(self) -> tuple[int, int, int]:
        """The shape of one image, ``(C, H, W)``."""
        return tuple(int(s) for s in self.images.shape[1:])

    def __repr__(self) -> str:
        return (f"ImageData(name={self.name!r}, split={self.split!r}, n={len(self)}, shape={list(self.shape)}, "
                f"encoding={self.encoding!r}, labels={'yes' if self.labels is not None else 'no'})")
