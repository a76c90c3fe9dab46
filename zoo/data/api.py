"""Loading data sets by name: :func:`load_dataset`, the data root, and spec-header names."""
from __future__ import annotations

import numbers
import os
from typing import Optional, Sequence

import torch

from ..errors import ZooError
from .dataset import ImageData
from .registry import DATASETS, DatasetInfo, close_matches, get_info
from .transforms import pad_images

__all__ = ["load_dataset", "default_root", "dataset_for_spec", "available_splits", "fit_to_shape",
           "SPEC_ALIASES"]

#: Names a spec's ``dataset`` header may use, mapped to registry names (matched case-insensitively).
SPEC_ALIASES = {
    "mnist": "mnist", "dynamic_mnist": "mnist", "dynamically_binarized_mnist": "mnist",
    "binarized_mnist": "binarized_mnist", "static_mnist": "binarized_mnist",
    "statically_binarized_mnist": "binarized_mnist",
    "omniglot": "omniglot",
    "cifar10": "cifar10", "cifar-10": "cifar10", "cifar_10": "cifar10",
    "digits": "digits", "optdigits": "digits",
}


def default_root() -> str:
    """The data root when none is given: ``$ZOO_DATA``, else ``~/.cache/hvae-zoo/data``."""
    env = os.environ.get("ZOO_DATA")
    return os.path.expanduser(env) if env else os.path.join(os.path.expanduser("~"), ".cache", "hvae-zoo", "data")


def available_splits(name: str, validation: Optional[int] = None) -> tuple[str, ...]:
    """The splits :func:`load_dataset` accepts for ``name`` (``valid`` needs ``validation=N``
    unless the data set has an official validation split)."""
    info = get_info(name)
    splits = list(info.official_splits)
    if validation and "valid" not in splits:
        splits.insert(1, "valid")
    return tuple(splits)


def _check_request(info: DatasetInfo, split: str, validation: Optional[int]) -> None:
    if validation is not None:
        if isinstance(validation, bool) or not isinstance(validation, numbers.Integral) or validation <= 0:
            raise ZooError(f"validation must be a positive number of images, got {validation!r}")
        if info.has_validation:
            raise ZooError(f"{info.name} has an official validation split ({info.splits['valid']:,} "
                           "images); load split='valid' without validation=N")
    allowed = available_splits(info.name, validation)
    if split not in allowed:
        hint = ""
        if split == "valid":
            hint = (f"; {info.name} has no official validation split: pass validation=N to hold out "
                    "the last N training images")
        raise ZooError(f"{info.name} has no split '{split}'{hint} (splits: {', '.join(allowed)})")


def load_dataset(name: str, split: str = "train", root: Optional[str] = None, *, download: bool = False,
                 validation: Optional[int] = None, verify: bool = True) -> ImageData:
    """Read one split of a data set into memory.

    Args:
        name: a registered data set (see :data:`zoo.data.DATASETS`): ``mnist``,
            ``binarized_mnist``, ``omniglot``, ``cifar10`` or ``digits``.
        split: ``train``, ``test``, or ``valid`` (binarized_mnist has an official one; for the
            others pass ``validation=N``).
        root: the data root (see ``docs/data.md`` for each data set's layout); default
            :func:`default_root`. Ignored by the embedded ``digits``.
        download: fetch missing files from the data set's published source first (needs
            internet; MNIST through torchvision).
        validation: hold out the **last** N images of the official training split
            (deterministic, no shuffling): ``train`` then has the first ``len - N`` and ``valid``
            the last N. ``test`` is unaffected. Not allowed for binarized_mnist.
        verify: check sizes, image counts and published md5 digests. ``False`` checks the file
            format only (for small files in the same format, as the tests use).

    Returns:
        An :class:`ImageData` whose ``images`` are ``uint8 (N, C, H, W)``.

    Raises:
        ZooError: unknown name or split, a bad ``validation``, a missing data root, or a missing
            or corrupt file (the message names the expected paths).

    Example:
        >>> data = load_dataset("digits", "train")
        >>> data.images.shape, data.encoding
        (torch.Size([1500, 1, 8, 8]), 'binarize')
    """
    info = get_info(name)
    _check_request(info, split, validation)
    official = "train" if split == "valid" and not info.has_validation else split
    root = os.path.abspath(os.path.expanduser(root if root is not None else default_root()))
    if info.embedded:
        arrays = info.read(root, official, verify)
    elif download:
        try:
            os.makedirs(root, exist_ok=True)
        except OSError as err:
            raise ZooError(f"cannot create the data root '{root}' for the download: {err.strerror or err}") from None
        try:
            arrays = info.read(root, official, verify)
        except ZooError:
            info.fetch(root)
            arrays = info.read(root, official, verify)
    else:
        arrays = info.read(root, official, verify)
    images = torch.from_numpy(arrays.images)
    labels = torch.from_numpy(arrays.labels) if arrays.labels is not None else None
    if validation is not None and split in ("train", "valid"):
        n, validation = images.shape[0], int(validation)
        if validation >= n:
            raise ZooError(f"validation={validation:,} leaves no training images: {name} has {n:,}")
        part = slice(n - validation, n) if split == "valid" else slice(0, n - validation)
        images = images[part].clone()
        labels = labels[part].clone() if labels is not None else None
    return ImageData(name, split, images, labels, info.encoding, arrays.origin)


def dataset_for_spec(dataset_name_from_spec_header: str) -> str:
    """The registry name for a spec's ``dataset`` header (``cifar-10`` -> ``cifar10``).

    Raises:
        ZooError: a name that is neither a data set nor an alias; the message lists both.
    """
    key = dataset_name_from_spec_header.strip().lower()
    if key in DATASETS:
        return key
    if key in SPEC_ALIASES:
        return SPEC_ALIASES[key]
    raise ZooError(f"the spec's data set '{dataset_name_from_spec_header}' is not one the zoo can load"
                   f"{close_matches(key, list(SPEC_ALIASES))} (data sets: {', '.join(sorted(DATASETS))}; "
                   "pass --data NAME to choose one)")


def fit_to_shape(data: ImageData, shape: Sequence[int], *, max_pad: int = 2) -> ImageData:
    """Make ``data`` match a spec's observed shape ``[C, H, W]``, zero-padding if the spec asks.

    Equal shapes return ``data`` itself. A canvas larger by an even margin of at most ``max_pad``
    pixels on each side, with the same channels, is filled by centered zero padding: the
    attentive VAE and NVAE pad MNIST and OMNIGLOT from 28x28 to 32x32 (2 pixels each side; padded
    pixels are 0 and binarize to 0). Larger margins are refused rather than silently shrinking
    the data inside a canvas made for another data set (8x8 digits in a 28x28 MNIST model).

    Raises:
        ZooError: any other mismatch; the message gives both shapes.
    """
    target = tuple(int(s) for s in shape)
    if target == data.shape:
        return data
    c, h, w = data.shape
    ok = (len(target) == 3 and target[0] == c and target[1] >= h and target[2] >= w
          and (target[1] - h) % 2 == 0 and (target[2] - w) % 2 == 0
          and (target[1] - h) // 2 <= max_pad and (target[2] - w) // 2 <= max_pad)
    if not ok:
        raise ZooError(f"data set '{data.name}' has images of shape {list(data.shape)} but the spec observes "
                       f"{list(target)}; only centered zero padding by up to {max_pad} pixels a side is "
                       "supported (e.g. [1, 28, 28] -> [1, 32, 32]): choose a matching --data, or --set "
                       "the spec's image size")
    padded = pad_images(data.images, (target[1] - h) // 2, (target[2] - w) // 2)
    return ImageData(data.name, data.split, padded, data.labels, data.encoding, data.origin)
