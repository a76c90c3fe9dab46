"""Statically binarized MNIST (Larochelle & Murray 2011), with its own 50k / 10k / 10k split.

Files, under ``<root>/binarized_mnist/`` (also accepted: ``<root>/BinaryMNIST/``, the folder the
IWAE code uses, or ``<root>`` itself)::

    binarized_mnist_train.mat   50,000 images     (or binarized_mnist_train.amat)
    binarized_mnist_valid.mat   10,000 images     (or binarized_mnist_valid.amat)
    binarized_mnist_test.mat    10,000 images     (or binarized_mnist_test.amat)

``.amat`` is the original distribution: plain text, one image a line, 784 values ``0``/``1``
separated by spaces, rows of the 28x28 image in order. ``.mat`` is a MATLAB v5 file with one
variable ``X`` (N x 784, values 0/1). The ``.mat`` conversions in circulation differ byte for
byte (their headers carry dates), so both formats are validated by content (shape and values),
not by checksum. Pixels are stored as 0/255 so that ``ImageData.images`` always holds 0..255
intensities; the encoding ``binary`` maps them to {0, 1} without sampling.
"""
from __future__ import annotations

import os

import numpy as np

from .files import corrupt, download, find_existing, load_mat, missing_file_error, read_bytes, require_root
from .registry import DataFile, DatasetInfo, SplitArrays, register_dataset

__all__ = ["BINARIZED_MNIST", "parse_amat"]

_URL = "http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/binarized_mnist_{split}.amat"
_SIZES = {"train": 50000, "valid": 10000, "test": 10000}
_FOLDERS = ("binarized_mnist", "BinaryMNIST", "")
_D = 784


def parse_amat(content: bytes, *, path: str) -> np.ndarray:
    """Parse the text format: one image a line, 784 values ``0``/``1`` separated by whitespace.

    Raises:
        ZooError: a character other than 0, 1 and whitespace, or a line without 784 values.
    """
    chars = np.frombuffer(content, dtype=np.uint8)
    is_digit = (chars == ord("0")) | (chars == ord("1"))
    is_space = (chars == ord(" ")) | (chars == ord("\n")) | (chars == ord("\r")) | (chars == ord("\t"))
    if not np.all(is_digit | is_space):
        bad = int(np.argmax(~(is_digit | is_space)))
        raise corrupt("binarized_mnist", path, f"unexpected byte {content[bad:bad + 1]!r} at offset {bad}")
    # Every token must be a single digit: count token starts (a digit after whitespace or at 0).
    starts = is_digit & np.concatenate(([True], is_space[:-1]))
    if int(starts.sum()) != int(is_digit.sum()):
        raise corrupt("binarized_mnist", path, "a value other than a single 0 or 1")
    line_of = np.cumsum(chars == ord("\n"))[is_digit]
    per_line = np.bincount(line_of)
    per_line = per_line[per_line > 0]
    if per_line.size == 0 or not np.all(per_line == _D):
        raise corrupt("binarized_mnist", path, f"lines with {sorted(set(per_line.tolist()))[:3]} values",
                      f"{_D} values per line")
    return (chars[is_digit] - ord("0")).astype(np.uint8).reshape(per_line.size, _D)


def _read_mat(path: str) -> np.ndarray:
    mat = load_mat("binarized_mnist", path)
    if "X" not in mat:
        keys = sorted(k for k in mat if not k.startswith("__"))
        raise corrupt("binarized_mnist", path, f"no variable 'X' (it has {keys})")
    x = np.asarray(mat["X"])
    if x.ndim != 2 or x.shape[1] != _D:
        raise corrupt("binarized_mnist", path, f"X has shape {x.shape}", f"N x {_D}")
    return x


def _candidates(root: str, split: str) -> list[str]:
    names = [f"binarized_mnist_{split}.mat", f"binarized_mnist_{split}.amat"]
    return [os.path.join(root, folder, name) for folder in _FOLDERS for name in names]


def _read_binarized(root: str, split: str, verify: bool) -> SplitArrays:
    require_root(root, "binarized_mnist")
    candidates = _candidates(root, split)
    path = find_existing(candidates)
    if path is None:
        raise missing_file_error("binarized_mnist", f"the {split} split", candidates)
    x = _read_mat(path) if path.endswith(".mat") else parse_amat(read_bytes("binarized_mnist", path), path=path)
    if not ((x == 0) | (x == 1)).all():
        raise corrupt("binarized_mnist", path, "values other than 0 and 1")
    if verify and x.shape[0] != _SIZES[split]:
        raise corrupt("binarized_mnist", path, f"{x.shape[0]:,} images", f"{_SIZES[split]:,}")
    images = (x.astype(np.uint8) * np.uint8(255)).reshape(-1, 1, 28, 28)
    return SplitArrays(np.ascontiguousarray(images), None, path)


def _fetch_binarized(root: str) -> None:
    for split in _SIZES:
        if find_existing(_candidates(root, split)) is None:
            download("binarized_mnist", _URL.format(split=split),
                     os.path.join(root, "binarized_mnist", f"binarized_mnist_{split}.amat"))


BINARIZED_MNIST = register_dataset(DatasetInfo(
    name="binarized_mnist",
    title="MNIST, statically binarized (Larochelle & Murray)",
    shape=(1, 28, 28),
    encoding="binary",
    splits=dict(_SIZES),
    files=tuple(DataFile(f"binarized_mnist/binarized_mnist_{s}.amat") for s in _SIZES),
    source="http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/",
    citation="H. Larochelle, I. Murray. The neural autoregressive distribution estimator. "
             "AISTATS 2011.",
    license="derived from MNIST; no explicit license",
    read=_read_binarized,
    fetch=_fetch_binarized,
    notes="A fixed binarization with its own 50k/10k/10k split; no labels.",
))
