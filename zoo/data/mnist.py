"""MNIST (LeCun et al. 1998) in torchvision's raw layout, for dynamic binarization.

Files, as torchvision's ``MNIST(root, download=True)`` leaves them::

    <root>/MNIST/raw/train-images-idx3-ubyte.gz   60,000 images
    <root>/MNIST/raw/train-labels-idx1-ubyte.gz
    <root>/MNIST/raw/t10k-images-idx3-ubyte.gz    10,000 images
    <root>/MNIST/raw/t10k-labels-idx1-ubyte.gz

Each file may also be un-gzipped (the same name without ``.gz``), and ``<root>`` may point at the
``MNIST`` folder or directly at the ``raw`` folder. Files are parsed as IDX (big-endian header:
magic number 2051 for images / 2049 for labels, the count, then rows and columns) and checked
against the published sizes and md5 digests (those torchvision checks; the digests of the
un-gzipped files were computed from the verified ``.gz`` files).

The download option fetches the four ``.gz`` files into ``<root>/MNIST/raw`` from torchvision's
list of mirrors (``torchvision.datasets.MNIST.mirrors``; a built-in copy of that list when
torchvision is not installed), md5-checking each file before it is moved into place.

The data set has no official validation split: ``load_dataset("mnist", validation=N)`` carves
the last N training images (Burda et al. use none; DVP-VAE uses 55k/5k).
"""
from __future__ import annotations

import os

import numpy as np

from .files import (check_integrity, corrupt, download, find_existing, missing_file_error, read_bytes,
                    require_root)
from .registry import DataFile, DatasetInfo, SplitArrays, register_dataset
from ..errors import ZooError

__all__ = ["MNIST", "parse_idx", "mnist_raw_dirs"]

_IMAGES_MAGIC, _LABELS_MAGIC = 2051, 2049

# (split, kind) -> (file name, count, gz size, gz md5, raw size, raw md5)
_FILES = {
    ("train", "images"): ("train-images-idx3-ubyte", 60000, 9912422, "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                          47040016, "6bbc9ace898e44ae57da46a324031adb"),
    ("train", "labels"): ("train-labels-idx1-ubyte", 60000, 28881, "d53e105ee54ea40749a09fcbcd1e9432",
                          60008, "a25bea736e30d166cdddb491f175f624"),
    ("test", "images"): ("t10k-images-idx3-ubyte", 10000, 1648877, "9fb629c4189551a2d022fa330f9573f3",
                         7840016, "2646ac647ad5339dbf082846283269ea"),
    ("test", "labels"): ("t10k-labels-idx1-ubyte", 10000, 4542, "ec29112dd5afa0611ce80d1b7f02629c",
                         10008, "27ae3e4e09519cfbb04c329615203637"),
}


def mnist_raw_dirs(root: str) -> list[str]:
    """The folders searched for MNIST's raw files, in order."""
    return [os.path.join(root, "MNIST", "raw"), os.path.join(root, "raw"), root]


def parse_idx(content: bytes, *, path: str, dataset: str, kind: str) -> np.ndarray:
    """Parse an IDX file: ``(N, rows, cols)`` uint8 images or ``(N,)`` uint8 labels.

    Raises:
        ZooError: wrong magic number, or a header that disagrees with the file's length.
    """
    magic_expected, header = (_IMAGES_MAGIC, 16) if kind == "images" else (_LABELS_MAGIC, 8)
    if len(content) < header:
        raise corrupt(dataset, path, f"only {len(content)} bytes, shorter than the IDX header")
    fields = np.frombuffer(content, dtype=">i4", count=header // 4)
    if int(fields[0]) != magic_expected:
        raise corrupt(dataset, path, f"magic number {int(fields[0])} is not that of an IDX {kind} file",
                      str(magic_expected))
    count = int(fields[1])
    shape = (count, int(fields[2]), int(fields[3])) if kind == "images" else (count,)
    payload = int(np.prod(shape))
    if len(content) != header + payload:
        raise corrupt(dataset, path, f"the header announces {count:,} {kind} ({header + payload:,} "
                      f"bytes) but the file has {len(content):,} bytes (truncated?)")
    return np.frombuffer(content, dtype=np.uint8, offset=header).reshape(shape)


def _locate(root: str, name: str) -> tuple[str, bool]:
    """(path, is_gzipped) of one raw file; un-gzipped copies are preferred (faster to read)."""
    candidates = []
    for folder in mnist_raw_dirs(root):
        candidates += [os.path.join(folder, name), os.path.join(folder, name + ".gz")]
    path = find_existing(candidates)
    if path is None:
        raise missing_file_error("mnist", f"'{name}.gz' (or '{name}')", candidates)
    return path, path.endswith(".gz")


def _read_part(root: str, split: str, kind: str, verify: bool) -> tuple[np.ndarray, str]:
    name, count, gz_size, gz_md5, raw_size, raw_md5 = _FILES[(split, kind)]
    path, gzipped = _locate(root, name)
    array = parse_idx(read_bytes("mnist", path), path=path, dataset="mnist", kind=kind)
    if kind == "images" and array.shape[1:] != (28, 28):
        raise corrupt("mnist", path, f"images are {array.shape[1]}x{array.shape[2]}", "28x28")
    if verify:
        if array.shape[0] != count:
            raise corrupt("mnist", path, f"it holds {array.shape[0]:,} {kind}", f"{count:,}")
        check_integrity("mnist", path, size=gz_size if gzipped else raw_size,
                        md5=gz_md5 if gzipped else raw_md5)
    return array, path


def _read_mnist(root: str, split: str, verify: bool) -> SplitArrays:
    require_root(root, "mnist")
    images, images_path = _read_part(root, split, "images", verify)
    labels, labels_path = _read_part(root, split, "labels", verify)
    if len(labels) != len(images):
        raise corrupt("mnist", labels_path, f"{len(labels):,} labels for {len(images):,} images")
    if labels.size and labels.max() > 9:
        raise corrupt("mnist", labels_path, f"label {int(labels.max())} outside 0..9")
    return SplitArrays(images[:, None].copy(), labels.astype(np.int64), images_path)


#: Used when torchvision is not installed; otherwise torchvision's own, maintained list is used.
FALLBACK_MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")


def _mirrors() -> list[str]:
    try:
        from torchvision.datasets import MNIST as TorchvisionMNIST
    except ImportError:
        return list(FALLBACK_MIRRORS)
    return list(TorchvisionMNIST.mirrors)


def _fetch_mnist(root: str) -> None:
    """Download the four ``.gz`` files into ``<root>/MNIST/raw`` (the layout torchvision uses),
    trying each mirror in turn; every file is md5-checked before it is moved into place."""
    folder = os.path.join(root, "MNIST", "raw")
    for name, _, _, gz_md5, _, _ in _FILES.values():
        path = os.path.join(folder, name + ".gz")
        if os.path.isfile(path):
            continue
        failures = []
        for mirror in _mirrors():
            try:
                download("mnist", mirror.rstrip("/") + "/" + name + ".gz", path, md5=gz_md5)
                break
            except ZooError as err:
                failures.append(str(err))
        else:
            raise ZooError("mnist: could not download " + name + ".gz from any mirror:\n  "
                           + "\n  ".join(failures))


MNIST = register_dataset(DatasetInfo(
    name="mnist",
    title="MNIST, dynamically binarized",
    shape=(1, 28, 28),
    encoding="binarize",
    splits={"train": 60000, "test": 10000},
    files=tuple(DataFile(f"MNIST/raw/{v[0]}.gz", v[2], v[3]) for v in _FILES.values()),
    source="http://yann.lecun.com/exdb/mnist/ (downloaded from torchvision's mirrors)",
    citation="Y. LeCun, L. Bottou, Y. Bengio, P. Haffner. Gradient-based learning applied to "
             "document recognition. Proc. IEEE 86(11), 1998.",
    license="no explicit license; widely redistributed for research (torchvision, TFDS)",
    read=_read_mnist,
    fetch=_fetch_mnist,
    notes="Grey levels 0..255; the model sees a fresh Bernoulli(pixel/255) sample per draw "
          "(Burda et al. 2016). No official validation split: pass validation=N.",
))
