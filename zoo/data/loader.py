"""Batches whose order is a pure function of (seed, epoch): reproducible, resumable, shardable.

The trainer relies on three guarantees of :class:`EpochLoader`:

1. **Order.** Epoch ``e`` visits the images in the permutation
   ``numpy.random.default_rng([seed, e]).permutation(N)`` (``shuffle=True``) or in file order
   (``shuffle=False``). Nothing else (no global RNG, no worker timing) affects it.
2. **Global batches.** The permutation is cut into *global* batches of
   ``G = batch_size * world_size`` consecutive indices: ``N // G`` of them with ``drop_last``,
   ``ceil(N / G)`` without (the last one then has ``N mod G`` images). Rank ``r`` receives part
   ``r`` of ``numpy.array_split(global_batch, world_size)``: for a full global batch, indices
   ``r*B .. (r+1)*B - 1`` of it. So the ranks' shards are disjoint, every rank takes the same
   number of steps, and a run on ``k`` processes with batch ``B`` sees exactly the global batches
   of a run on one process with batch ``k*B``. Without ``drop_last`` the parts of the last global
   batch differ in size by at most one (and may be empty when fewer than ``world_size`` images
   remain); with ``drop_last`` the last ``N mod G`` images of each epoch's permutation are left
   out (a different set each epoch).
3. **Resume.** ``set_epoch(e); skip(k)`` makes the next iteration yield batches ``k, k+1, ...``
   of epoch ``e``, identical to those of an uninterrupted iteration. ``skip`` applies to the
   next iteration only. Each call of ``iter()`` starts the epoch set by ``set_epoch`` again (the
   epoch does not advance by itself, as with ``DistributedSampler``).

:func:`batch_generator` gives every (seed, epoch, batch, rank) its own ``torch.Generator`` for
dynamic binarization and flips, so those draws are reproducible without saving RNG state.

Example (exact resume)::

    loader = make_loader(train, 128, shuffle=True, seed=seed, drop_last=True,
                         rank=rank, world_size=world_size)
    for epoch in range(start_epoch, epochs):
        loader.set_epoch(epoch)
        loader.skip(batches_done if epoch == start_epoch else 0)
        for i, batch in loader.indexed():            # i: index of the batch in the epoch
            g = batch_generator(seed, epoch, i, rank=rank)
            x = to_model_input(batch, train.encoding, g)
"""
from __future__ import annotations

import numbers
import zlib
from typing import Iterator, Optional, Union

import numpy as np
import torch

from ..errors import ZooError
from .dataset import ImageData

__all__ = ["EpochLoader", "make_loader", "batch_generator", "epoch_permutation"]


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_seed(seed: int, what: str = "seed") -> int:
    if not _is_int(seed) or seed < 0:
        raise ZooError(f"{what} must be a non-negative integer, got {seed!r}")
    return int(seed)


def epoch_permutation(n: int, seed: int, epoch: int) -> np.ndarray:
    """The visiting order of epoch ``epoch``: ``default_rng([seed, epoch]).permutation(n)``."""
    return np.random.default_rng([_check_seed(seed), _check_seed(epoch, "epoch")]).permutation(n)


def batch_generator(seed: int, epoch: int, batch: int, *, rank: int = 0, stream: str = "data",
                    device: Union[str, torch.device] = "cpu") -> torch.Generator:
    """A ``torch.Generator`` determined by (seed, epoch, batch, rank, stream) alone.

    Seeded with 63 bits of ``numpy.random.SeedSequence([seed, epoch, batch, rank, crc32(stream)])``,
    so distinct batches, ranks and streams get independent noise and a resumed run redraws
    exactly the noise of the interrupted one. Use one stream name per purpose (``"data"`` for
    binarization and flips drawn in a fixed order, or separate ``"binarize"`` / ``"flip"``).
    """
    entropy = [_check_seed(seed), _check_seed(epoch, "epoch"), _check_seed(batch, "batch"),
               _check_seed(rank, "rank"), zlib.crc32(stream.encode())]
    words = np.random.SeedSequence(entropy).generate_state(2, dtype=np.uint32)
    value = ((int(words[0]) << 32) | int(words[1])) & ((1 << 63) - 1)
    return torch.Generator(device=device).manual_seed(value)


class EpochLoader:
    """An iterable of ``uint8`` batches of one rank's shard (see the module docstring).

    Args:
        images: ``uint8 (N, C, H, W)`` images (an :attr:`ImageData.images`).
        labels: ``(N,)`` labels to yield beside the images, or ``None`` to yield images only.
        batch_size: images per batch *per rank*.
        shuffle: a new permutation each epoch (else file order every epoch).
        seed: non-negative integer; with the epoch it fixes the permutation.
        drop_last: drop the last, incomplete global batch.
        rank, world_size: this process's position in a distributed run.

    Raises:
        ZooError: a non-positive batch size or world size, a rank outside ``[0, world_size)``, or
            ``drop_last`` with fewer images than one global batch.
    """

    def __init__(self, images: torch.Tensor, batch_size: int, *, shuffle: bool, seed: int, drop_last: bool,
                 rank: int = 0, world_size: int = 1, labels: Optional[torch.Tensor] = None) -> None:
        if not _is_int(batch_size) or batch_size <= 0:
            raise ZooError(f"batch size must be a positive integer, got {batch_size!r}")
        if not _is_int(world_size) or world_size <= 0:
            raise ZooError(f"world size must be a positive integer, got {world_size!r}")
        if not _is_int(rank) or not 0 <= rank < world_size:
            raise ZooError(f"rank must be in [0, {world_size}), got {rank!r}")
        self.images, self.labels = images, labels
        self.batch_size, self.world_size, self.rank = int(batch_size), int(world_size), int(rank)
        self.shuffle, self.seed, self.drop_last = shuffle, _check_seed(seed), drop_last
        self.global_batch = self.batch_size * self.world_size
        n = int(images.shape[0])
        if drop_last and n < self.global_batch:
            raise ZooError(f"only {n:,} images, fewer than one global batch of {batch_size} x "
                           f"{world_size} = {self.global_batch}; lower the batch size")
        self._num_batches = n // self.global_batch if drop_last else -(-n // self.global_batch)
        self._epoch = 0
        self._skip = 0

    @property
    def epoch(self) -> int:
        return self._epoch

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch (and so the permutation) that the next iteration visits."""
        self._epoch = _check_seed(epoch, "epoch")

    def skip(self, batches: int) -> None:
        """Start the next iteration at batch ``batches`` of the epoch (0 <= batches <= len(self))."""
        if not _is_int(batches) or not 0 <= batches <= self._num_batches:
            raise ZooError(f"can skip 0..{self._num_batches} batches of an epoch, got {batches!r}")
        self._skip = int(batches)

    def __len__(self) -> int:
        """Batches per epoch on this rank (the same on every rank)."""
        return self._num_batches

    def batch_indices(self, epoch: Optional[int] = None) -> list[np.ndarray]:
        """This rank's index arrays for every batch of ``epoch`` (default: the current one)."""
        epoch = self._epoch if epoch is None else _check_seed(epoch, "epoch")
        n = int(self.images.shape[0])
        order = epoch_permutation(n, self.seed, epoch) if self.shuffle else np.arange(n)
        g, b, r = self.global_batch, self.batch_size, self.rank
        full = min(self._num_batches, n // g)
        parts = [order[k * g + r * b:k * g + (r + 1) * b] for k in range(full)]
        if full < self._num_batches:  # the incomplete last global batch (drop_last=False)
            parts.append(np.array_split(order[full * g:], self.world_size)[r])
        return parts

    def indexed(self) -> Iterator[tuple[int, Union[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]]]:
        """Like iterating, but yields ``(index of the batch in the epoch, batch)``."""
        start, self._skip = self._skip, 0
        for i, idx in enumerate(self.batch_indices()[start:], start=start):
            index = torch.from_numpy(idx)
            images = self.images.index_select(0, index)
            yield i, (images if self.labels is None else (images, self.labels.index_select(0, index)))

    def __iter__(self):
        return (batch for _, batch in self.indexed())


def make_loader(data: ImageData, batch_size: int, *, shuffle: bool, seed: int, drop_last: bool,
                rank: int = 0, world_size: int = 1, with_labels: bool = False) -> EpochLoader:
    """Batches of ``data.images`` (``uint8``) for one rank; see :class:`EpochLoader`.

    Args:
        data: the split to iterate.
        batch_size: images per batch per rank.
        shuffle, seed, drop_last, rank, world_size: as :class:`EpochLoader`.
        with_labels: yield ``(images, labels)`` pairs (a ZooError if the data set has no labels).

    Example:
        >>> from zoo.data import load_dataset
        >>> loader = make_loader(load_dataset("digits"), 100, shuffle=True, seed=0, drop_last=True)
        >>> loader.set_epoch(3); loader.skip(2)
        >>> sum(1 for _ in loader) == len(loader) - 2
        True
    """
    if with_labels and data.labels is None:
        raise ZooError(f"data set '{data.name}' has no labels")
    return EpochLoader(data.images, batch_size, shuffle=shuffle, seed=seed, drop_last=drop_last,
                       rank=rank, world_size=world_size, labels=data.labels if with_labels else None)
