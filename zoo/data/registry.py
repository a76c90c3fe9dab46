"""The catalogue of data sets: what each one is, where its files live, and how to read it.

Every data set family module (:mod:`.mnist`, :mod:`.omniglot`, ...) describes its data sets with a
:class:`DatasetInfo` and registers it here with :func:`register_dataset`. :data:`DATASETS` maps a
name to its record; :func:`get_info` looks one up and suggests close matches for a typo.

A family's ``read`` function returns *official* splits only (numpy ``uint8`` images of shape
``(N, C, H, W)`` and ``int64`` labels or ``None``); carving a validation split, converting to
torch and checking the split name are done once, in :func:`zoo.data.api.load_dataset`.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Callable, Mapping, Optional

import numpy as np

from ..errors import ZooError

__all__ = ["DataFile", "DatasetInfo", "SplitArrays", "DATASETS", "ENCODINGS", "register_dataset",
           "get_info", "close_matches"]

#: The three ways raw pixels become model input (see :func:`zoo.data.transforms.to_model_input`).
ENCODINGS = ("binarize", "binary", "8bit")


@dataclass(frozen=True)
class SplitArrays:
    """One official split as a family reader returns it.

    Attributes:
        images: ``uint8`` array ``(N, C, H, W)``, raw pixel values 0..255.
        labels: ``int64`` array ``(N,)`` or ``None`` where the data set has no labels.
        origin: the file(s) the split was read from, for logs and run directories.
    """

    images: np.ndarray
    labels: Optional[np.ndarray]
    origin: str


@dataclass(frozen=True)
class DataFile:
    """A file a data set needs, in its canonical place under the data root.

    Attributes:
        path: path relative to the data root, in the layout torchvision (or the original
            distribution) uses, e.g. ``MNIST/raw/train-images-idx3-ubyte.gz``.
        size: expected size in bytes, or ``None`` where the file is not byte-for-byte fixed.
        md5: expected md5 hex digest, or ``None`` (then the content is validated structurally).
    """

    path: str
    size: Optional[int] = None
    md5: Optional[str] = None


@dataclass(frozen=True)
class DatasetInfo:
    """Everything the zoo knows about one data set.

    Attributes:
        name: the registry name (``mnist``, ``omniglot`` ...).
        title: a human-readable name.
        shape: image shape ``(C, H, W)``.
        encoding: ``binarize`` | ``binary`` | ``8bit``: how pixels become model input.
        splits: official split name -> number of images.
        files: the files expected under the data root (canonical layout).
        source: where the files come from (URL).
        citation: the paper or page to cite.
        license: the data's license, as far as it is stated by its publishers.
        notes: anything a user must know (orientation, preprocessing, deviations).
        read: ``read(root, split, verify) -> SplitArrays`` for an official split.
        fetch: ``fetch(root) -> None`` downloads the files into ``root``; ``None`` if there is
            nothing to download (embedded data).
        embedded: the data ship with the package (no data root is consulted).
    """

    name: str
    title: str
    shape: tuple[int, int, int]
    encoding: str
    splits: Mapping[str, int]
    files: tuple[DataFile, ...]
    source: str
    citation: str
    license: str
    read: Callable[[str, str, bool], SplitArrays] = field(repr=False, compare=False)
    fetch: Optional[Callable[[str], None]] = field(default=None, repr=False, compare=False)
    notes: str = ""
    embedded: bool = False

    def __post_init__(self) -> None:
        if self.encoding not in ENCODINGS:
            raise ValueError(f"{self.name}: encoding must be one of {ENCODINGS}, got {self.encoding!r}")
        if len(self.shape) != 3:
            raise ValueError(f"{self.name}: shape must be (C, H, W), got {self.shape}")

    @property
    def official_splits(self) -> tuple[str, ...]:
        return tuple(self.splits)

    @property
    def has_validation(self) -> bool:
        """Whether the data set has an official validation split of its own."""
        return "valid" in self.splits


#: name -> :class:`DatasetInfo`, filled by the family modules on import of :mod:`zoo.data`.
DATASETS: dict[str, DatasetInfo] = {}


def register_dataset(info: DatasetInfo) -> DatasetInfo:
    """Add a data set to :data:`DATASETS`.

    Raises:
        ValueError: a data set of that name is already registered (never silently replaced).
    """
    if info.name in DATASETS:
        raise ValueError(f"data set '{info.name}' is already registered")
    DATASETS[info.name] = info
    return info


def close_matches(name: str, candidates) -> str:
    """A ``"; did you mean 'x'?"`` suffix for an error message, or ``""``."""
    close = difflib.get_close_matches(name, list(candidates), n=3, cutoff=0.6)
    return "; did you mean " + " or ".join(f"'{c}'" for c in close) + "?" if close else ""


def get_info(name: str) -> DatasetInfo:
    """The record of a registered data set.

    Raises:
        ZooError: unknown name; the message lists every data set and the closest matches.
    """
    try:
        return DATASETS[name]
    except KeyError:
        raise ZooError(f"unknown data set '{name}'{close_matches(name, DATASETS)} "
                       f"(data sets: {', '.join(sorted(DATASETS))})") from None
