"""CIFAR-10 (Krizhevsky 2009) from the python distribution, 8-bit RGB at 32x32.

Files, in torchvision's layout (either one is enough)::

    <root>/cifar-10-batches-py/data_batch_1 ... data_batch_5, test_batch   (extracted)
    <root>/cifar-10-python.tar.gz                                          (the tarball)

``<root>`` may also point directly at the extracted ``cifar-10-batches-py`` folder. The extracted
folder is preferred when it holds every batch a split needs; otherwise the batches are read
straight out of the tarball, without extracting anything. Each batch is a pickled dict with
``data`` (10,000 x 3,072 ``uint8``: 1,024 red, then green, then blue values, each plane row-major)
and ``labels`` (10,000 ints in 0..9). The pickles are read with :func:`.safe_pickle.safe_load`,
which resolves only numpy's array globals, so a tampered file cannot run code.

Splits: ``train`` = data_batch_1..5 in that order (50,000), ``test`` = test_batch (10,000). No
official validation split: ``validation=N`` carves the last N training images (DVP-VAE: 5,000).
Checksums are the published ones (those torchvision checks).
"""
from __future__ import annotations

import os
import tarfile
from typing import Optional

import numpy as np

from .files import check_integrity, corrupt, download, missing_file_error, read_bytes, require_root
from .registry import DataFile, DatasetInfo, SplitArrays, register_dataset
from .safe_pickle import RefusedPickle, safe_load

__all__ = ["CIFAR10", "URL", "TARBALL", "FOLDER", "parse_batch"]

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
TARBALL = "cifar-10-python.tar.gz"
TARBALL_SIZE, TARBALL_MD5 = 170498071, "c58f30108f718f92721af3b95e74349a"
FOLDER = "cifar-10-batches-py"
_BATCH_MD5 = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
}
_SPLIT_BATCHES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
_BATCH_SIZE = 10000


def parse_batch(content: bytes, *, path: str, verify: bool) -> tuple[np.ndarray, np.ndarray]:
    """One pickled batch -> (``uint8`` images ``(N, 3, 32, 32)``, ``int64`` labels ``(N,)``).

    Raises:
        ZooError: not a pickle of the expected dict, a refused global, or wrong shapes.
    """
    try:
        batch = safe_load(content)
    except RefusedPickle as err:
        raise corrupt("cifar10", path, f"unsafe pickle, {err}") from None
    except Exception as err:  # noqa: BLE001 -- a damaged pickle can raise almost anything
        raise corrupt("cifar10", path, f"not a readable pickle ({type(err).__name__}: {err})") from None
    if not isinstance(batch, dict):
        raise corrupt("cifar10", path, f"the pickle holds a {type(batch).__name__}", "a dict")
    batch = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in batch.items()}
    if "data" not in batch or "labels" not in batch:
        raise corrupt("cifar10", path, f"keys {sorted(map(str, batch))}", "'data' and 'labels'")
    data, labels = batch["data"], np.asarray(batch["labels"])
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        shape = getattr(data, "shape", None)
        raise corrupt("cifar10", path, f"'data' is {type(data).__name__} {shape}", "uint8 N x 3072")
    if labels.shape != (data.shape[0],) or not np.issubdtype(labels.dtype, np.integer) or \
            (labels.size and (labels.min() < 0 or labels.max() > 9)):
        raise corrupt("cifar10", path, f"'labels' do not match 'data' ({labels.shape}, {labels.dtype})",
                      f"{data.shape[0]} integers in 0..9")
    if verify and data.shape[0] != _BATCH_SIZE:
        raise corrupt("cifar10", path, f"{data.shape[0]:,} images", f"{_BATCH_SIZE:,}")
    return data.reshape(-1, 3, 32, 32), labels.astype(np.int64)


def _batch_folders(root: str) -> list[str]:
    return [os.path.join(root, FOLDER), root]


def _from_folder(root: str, names: list[str], verify: bool) -> Optional[list[tuple[bytes, str]]]:
    for folder in _batch_folders(root):
        paths = [os.path.join(folder, n) for n in names]
        if all(os.path.isfile(p) for p in paths):
            if verify:
                for name, path in zip(names, paths):
                    check_integrity("cifar10", path, size=None, md5=_BATCH_MD5[name])
            return [(read_bytes("cifar10", p), p) for p in paths]
    return None


def _from_tarball(path: str, names: list[str], verify: bool) -> list[tuple[bytes, str]]:
    if verify:
        check_integrity("cifar10", path, size=TARBALL_SIZE, md5=TARBALL_MD5)
    found: dict[str, bytes] = {}
    try:
        with tarfile.open(path, "r:*") as tar:
            for member in tar:
                base = os.path.basename(member.name)
                if member.isfile() and base in names and base not in found:
                    found[base] = tar.extractfile(member).read()
    except (tarfile.TarError, EOFError, OSError) as err:
        raise corrupt("cifar10", path, f"not a readable tar archive ({err})") from None
    missing = [n for n in names if n not in found]
    if missing:
        raise corrupt("cifar10", path, f"the archive lacks {missing}", f"{FOLDER}/{{{', '.join(names)}}}")
    return [(found[n], f"{path}:{FOLDER}/{n}") for n in names]


def _read_cifar(root: str, split: str, verify: bool) -> SplitArrays:
    require_root(root, "cifar10")
    names = _SPLIT_BATCHES[split]
    parts = _from_folder(root, names, verify)
    tar_path = os.path.join(root, TARBALL)
    if parts is None and os.path.isfile(tar_path):
        parts = _from_tarball(tar_path, names, verify)
    if parts is None:
        expected = [os.path.join(f, n) for f in _batch_folders(root) for n in names] + [tar_path]
        raise missing_file_error("cifar10", f"the {split} batches ({', '.join(names)})", expected)
    images, labels = zip(*(parse_batch(content, path=where, verify=verify) for content, where in parts))
    origin = os.path.dirname(parts[0][1]) if not parts[0][1].startswith(tar_path) else tar_path
    return SplitArrays(np.ascontiguousarray(np.concatenate(images)), np.concatenate(labels), origin)


def _extract_batches(tar_path: str, root: str) -> None:
    """Write the six batches next to the tarball (only those names; no paths from the archive)."""
    folder = os.path.join(root, FOLDER)
    os.makedirs(folder, exist_ok=True)
    for content, where in _from_tarball(tar_path, list(_BATCH_MD5), verify=False):
        name = where.rsplit("/", 1)[-1]
        tmp = os.path.join(folder, f".{name}.partial")
        with open(tmp, "wb") as f:
            f.write(content)
        os.replace(tmp, os.path.join(folder, name))


def _fetch_cifar(root: str) -> None:
    tar_path = os.path.join(root, TARBALL)
    if not os.path.isfile(tar_path):
        download("cifar10", URL, tar_path, md5=TARBALL_MD5)
    _extract_batches(tar_path, root)


CIFAR10 = register_dataset(DatasetInfo(
    name="cifar10",
    title="CIFAR-10",
    shape=(3, 32, 32),
    encoding="8bit",
    splits={"train": 50000, "test": 10000},
    files=(DataFile(TARBALL, TARBALL_SIZE, TARBALL_MD5),)
    + tuple(DataFile(f"{FOLDER}/{n}", None, m) for n, m in _BATCH_MD5.items()),
    source=URL,
    citation="A. Krizhevsky. Learning Multiple Layers of Features from Tiny Images. Technical "
             "report, University of Toronto, 2009.",
    license="no explicit license; distributed by the authors for research",
    read=_read_cifar,
    fetch=_fetch_cifar,
    notes="8-bit RGB scaled to [-1, 1]. Training augmentation (random horizontal and vertical "
          "flips, as the attentive VAE's official code) is zoo.data.augment, applied by the trainer.",
))
