"""8x8 handwritten digits that ship with the package, so ``zoo train`` works with no download.

Provenance: ``zoo/data/digits.csv.gz`` is byte-for-byte scikit-learn's
``sklearn/datasets/data/digits.csv.gz`` (taken from the scikit-learn 1.9.1 wheel; md5
``9b335364a7bfd63947c7480a5bd51f2d``, 57,523 bytes), which is the test set ``optdigits.tes`` of
the UCI "Optical Recognition of Handwritten Digits" data set by E. Alpaydin and C. Kaynak
(Bogazici University, 1998): 1,797 rows of 64 pixel values followed by the class 0..9. Each pixel
counts the "on" pixels of a 4x4 block of a 32x32 NIST bitmap, so values are integers 0..16.
The UCI Machine Learning Repository publishes it under CC BY 4.0; cite:

    E. Alpaydin, C. Kaynak. Optical Recognition of Handwritten Digits. UCI Machine Learning
    Repository, 1998. https://archive.ics.uci.edu/dataset/80

Stored as ``round(255 v / 16)`` (so 16 -> 255 and every level stays distinct) and binarized
dynamically like MNIST. The split is fixed and contiguous in file order: ``train`` = rows
0..1499, ``test`` = rows 1500..1796 (297 images; every class has 27 to 33 of them). ``validation=N``
carves the last N training rows.
"""
from __future__ import annotations

import gzip
import hashlib
import io
from importlib import resources

import numpy as np

from .registry import DataFile, DatasetInfo, SplitArrays, register_dataset
from ..errors import ZooError

__all__ = ["DIGITS", "DIGITS_MD5", "TRAIN_SIZE"]

DIGITS_FILE = "digits.csv.gz"
DIGITS_MD5 = "9b335364a7bfd63947c7480a5bd51f2d"
TRAIN_SIZE, TOTAL = 1500, 1797


def _load_all() -> tuple[np.ndarray, np.ndarray]:
    raw = resources.files("zoo.data").joinpath(DIGITS_FILE).read_bytes()
    if hashlib.md5(raw).hexdigest() != DIGITS_MD5:  # a damaged installation, not a user error
        raise ZooError(f"digits: the embedded file zoo/data/{DIGITS_FILE} is damaged (md5 mismatch); "
                       "reinstall hvae-zoo")
    table = np.loadtxt(io.BytesIO(gzip.decompress(raw)), delimiter=",", dtype=np.int64)
    pixels, labels = table[:, :64], table[:, 64]
    images = np.rint(pixels * (255.0 / 16.0)).astype(np.uint8).reshape(-1, 1, 8, 8)
    return images, labels


def _read_digits(root: str, split: str, verify: bool) -> SplitArrays:
    del root, verify  # embedded data: no root, always verified
    images, labels = _load_all()
    part = slice(0, TRAIN_SIZE) if split == "train" else slice(TRAIN_SIZE, TOTAL)
    return SplitArrays(np.ascontiguousarray(images[part]), labels[part].copy(),
                       f"zoo.data/{DIGITS_FILE} (embedded)")


DIGITS = register_dataset(DatasetInfo(
    name="digits",
    title="UCI optical digits, 8x8 (scikit-learn's copy), embedded",
    shape=(1, 8, 8),
    encoding="binarize",
    splits={"train": TRAIN_SIZE, "test": TOTAL - TRAIN_SIZE},
    files=(DataFile(f"zoo/data/{DIGITS_FILE}", 57523, DIGITS_MD5),),
    source="https://archive.ics.uci.edu/dataset/80 (via scikit-learn's sklearn/datasets/data/digits.csv.gz)",
    citation="E. Alpaydin, C. Kaynak. Optical Recognition of Handwritten Digits. UCI Machine "
             "Learning Repository, 1998.",
    license="CC BY 4.0 (UCI Machine Learning Repository)",
    read=_read_digits,
    fetch=None,
    notes="Levels 0..16 stored as round(255 v / 16), binarized dynamically. Ships with the "
          "package; needs no data root and no download.",
    embedded=True,
))
