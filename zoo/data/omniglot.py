"""OMNIGLOT at 28x28 (Lake et al. 2015), in the ``chardata.mat`` split of Burda et al. (2016).

File: ``<root>/OMNIGLOT/chardata.mat`` (the folder the IWAE code uses; also accepted:
``<root>/omniglot/chardata.mat`` and ``<root>/chardata.mat``). A MATLAB v5 file with

* ``data``: 784 x 24,345 training images and ``testdata``: 784 x 8,070 test images, one image a
  column, grey values in [0, 1];
* ``target`` / ``testtarget``: 50 x N one-hot alphabet indicators (used as labels, optional).

Layout facts (from the IWAE code, ``datasets.py``): each column is a 28x28 image flattened in
MATLAB's column-major order, so after ``data.T`` a row reshaped in C order is the *transposed*
character; Burda et al. undo it with ``reshape((-1, 28, 28)).reshape((-1, 784), order='F')``.
We return upright images, identical to theirs: ``data.T.reshape(N, 28, 28).transpose(0, 2, 1)``.
(Some re-implementations skip the transpose; the likelihood is unaffected, samples are mirrored.)

Grey values are stored as ``round(255 v)`` and binarized dynamically like MNIST. The data set
has no official validation split: Burda et al. hold out 1,345 shuffled training images, DVP-VAE
the last 1,000; ``load_dataset("omniglot", validation=N)`` carves the last N (no shuffle).

The file's md5 is reported as ``21ecaf34373511aa7691cf2e0802aa3d`` by a third-party loader
(tfsnippet); with one source only, it is not enforced. The file is validated by content instead:
the two arrays, their exact shapes (with ``verify``) and the value range.
"""
from __future__ import annotations

import os

import numpy as np

from .files import corrupt, download, find_existing, load_mat, missing_file_error, require_root
from .registry import DataFile, DatasetInfo, SplitArrays, register_dataset

__all__ = ["OMNIGLOT", "URL", "chardata_to_images"]

#: Where the IWAE repository publishes chardata.mat.
URL = "https://github.com/yburda/iwae/raw/master/datasets/OMNIGLOT/chardata.mat"
REPORTED_MD5 = "21ecaf34373511aa7691cf2e0802aa3d"
_SIZES = {"train": 24345, "test": 8070}
_KEYS = {"train": ("data", "target"), "test": ("testdata", "testtarget")}


def _candidates(root: str) -> list[str]:
    return [os.path.join(root, "OMNIGLOT", "chardata.mat"), os.path.join(root, "omniglot", "chardata.mat"),
            os.path.join(root, "chardata.mat")]


def chardata_to_images(columns: np.ndarray) -> np.ndarray:
    """784 x N column-major images in [0, 1] -> upright ``uint8`` images ``(N, 1, 28, 28)``."""
    n = columns.shape[1]
    upright = np.asarray(columns, dtype=np.float64).T.reshape(n, 28, 28).transpose(0, 2, 1)
    return np.ascontiguousarray(np.rint(upright * 255.0).astype(np.uint8)[:, None])


def _read_omniglot(root: str, split: str, verify: bool) -> SplitArrays:
    require_root(root, "omniglot")
    candidates = _candidates(root)
    path = find_existing(candidates)
    if path is None:
        raise missing_file_error("omniglot", "chardata.mat", candidates)
    data_key, label_key = _KEYS[split]
    mat = load_mat("omniglot", path)
    if data_key not in mat:
        keys = sorted(k for k in mat if not k.startswith("__"))
        raise corrupt("omniglot", path, f"no variable '{data_key}' (it has {keys})", "'data' and 'testdata'")
    columns = np.asarray(mat[data_key])
    if columns.ndim != 2 or columns.shape[0] != 784:
        raise corrupt("omniglot", path, f"'{data_key}' has shape {columns.shape}", "784 x N")
    if verify and columns.shape[1] != _SIZES[split]:
        raise corrupt("omniglot", path, f"'{data_key}' holds {columns.shape[1]:,} images",
                      f"{_SIZES[split]:,}")
    if not np.issubdtype(columns.dtype, np.number) or not np.all((columns >= 0) & (columns <= 1)):
        raise corrupt("omniglot", path, f"'{data_key}' has values outside [0, 1]")
    labels = None
    if label_key in mat:
        onehot = np.asarray(mat[label_key])
        if onehot.ndim == 2 and onehot.shape[1] == columns.shape[1]:
            labels = onehot.argmax(axis=0).astype(np.int64)
    return SplitArrays(chardata_to_images(columns), labels, path)


def _fetch_omniglot(root: str) -> None:
    if find_existing(_candidates(root)) is None:
        download("omniglot", URL, os.path.join(root, "OMNIGLOT", "chardata.mat"))


OMNIGLOT = register_dataset(DatasetInfo(
    name="omniglot",
    title="OMNIGLOT 28x28 (chardata.mat split of Burda et al.)",
    shape=(1, 28, 28),
    encoding="binarize",
    splits=dict(_SIZES),
    files=(DataFile("OMNIGLOT/chardata.mat"),),
    source=URL,
    citation="B. M. Lake, R. Salakhutdinov, J. B. Tenenbaum. Human-level concept learning through "
             "probabilistic program induction. Science 350(6266), 2015; 28x28 split of Y. Burda, "
             "R. Grosse, R. Salakhutdinov, Importance Weighted Autoencoders, ICLR 2016.",
    license="OMNIGLOT: MIT (github.com/brendenlake/omniglot)",
    read=_read_omniglot,
    fetch=_fetch_omniglot,
    notes="Grey values in [0, 1] stored as round(255 v), binarized dynamically; labels are the "
          "50 alphabets. No official validation split: pass validation=N.",
))
