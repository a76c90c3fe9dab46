"""MNIST and statically binarized MNIST from the shared real copies; missing and corrupt files."""
from __future__ import annotations

import gzip
import os
import shutil

import numpy as np
import pytest
import torch

from tests.conftest import SHARED_DATA
from zoo.data import DATASETS, load_dataset, to_model_input
from zoo.errors import ZooError

RAW = SHARED_DATA / "MNIST" / "raw"
pytestmark = pytest.mark.skipif(not RAW.exists(), reason=f"shared data not found at {SHARED_DATA}")


@pytest.fixture(scope="module")
def mnist():
    """Both MNIST splits, read (and md5-verified) once for the module."""
    return {s: load_dataset("mnist", s, root=str(SHARED_DATA)) for s in ("train", "test")}


@pytest.fixture(scope="module")
def binarized():
    return {s: load_dataset("binarized_mnist", s, root=str(SHARED_DATA)) for s in ("train", "valid", "test")}


def test_mnist_shapes_dtypes_and_label_counts(mnist):
    train, test = mnist["train"], mnist["test"]
    assert train.images.shape == (60000, 1, 28, 28) and test.images.shape == (10000, 1, 28, 28)
    assert train.images.dtype == torch.uint8 and train.labels.dtype == torch.int64
    assert int(train.images.min()) == 0 and int(train.images.max()) == 255
    assert train.encoding == "binarize" and train.shape == (1, 28, 28) and len(test) == 10000
    # The published class counts of MNIST.
    assert train.labels.bincount().tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert test.labels.bincount().tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert train.origin.endswith("train-images-idx3-ubyte.gz")


def test_validation_carves_the_last_training_images(mnist):
    train = load_dataset("mnist", "train", root=str(RAW), validation=5000)   # root = the raw folder
    valid = load_dataset("mnist", "valid", root=str(RAW), validation=5000)
    assert (len(train), len(valid)) == (55000, 5000)
    assert torch.equal(train.images, mnist["train"].images[:55000])
    assert torch.equal(valid.images, mnist["train"].images[55000:])
    assert torch.equal(valid.labels, mnist["train"].labels[55000:])
    test = load_dataset("mnist", "test", root=str(SHARED_DATA / "MNIST"), validation=5000)  # test unaffected
    assert torch.equal(test.images, mnist["test"].images)


def test_dynamic_binarization_of_real_mnist(mnist):
    batch = mnist["test"].images[:256]
    x = to_model_input(batch, "binarize", torch.Generator().manual_seed(1))
    assert set(x.unique().tolist()) <= {0.0, 1.0}
    assert torch.all(x[batch == 0] == 0) and torch.all(x[batch == 255] == 1)
    # The mean of the sample matches the mean intensity within a few standard errors.
    p = batch.float() / 255
    assert abs(float(x.mean() - p.mean())) < 4 * float((p * (1 - p)).sum().sqrt() / p.numel())


def test_binarized_mnist_official_split(binarized, mnist):
    sizes = {s: len(d) for s, d in binarized.items()}
    assert sizes == {"train": 50000, "valid": 10000, "test": 10000} == dict(DATASETS["binarized_mnist"].splits)
    for data in binarized.values():
        assert data.images.shape[1:] == (1, 28, 28) and data.labels is None and data.encoding == "binary"
        img = data.images
        assert bool(((img == 0) | (img == 255)).all()) and bool((img == 255).any())
    x = to_model_input(binarized["test"].images[:8], "binary")
    assert set(x.unique().tolist()) == {0.0, 1.0}
    # Orientation: the mean binarized digit is MNIST's mean digit, not its transpose.
    a = mnist["train"].images.float().mean(0).flatten()
    b = binarized["train"].images.float().mean(0).flatten()
    assert torch.corrcoef(torch.stack([a, b]))[0, 1] > 0.99
    with pytest.raises(ZooError, match="official validation split"):
        load_dataset("binarized_mnist", "train", root=str(SHARED_DATA), validation=100)


def test_binarized_mnist_amat_text_format(tmp_path, binarized):
    rows = binarized["test"].images[:5].reshape(5, -1).numpy() // 255
    folder = tmp_path / "binarized_mnist"
    folder.mkdir()
    (folder / "binarized_mnist_test.amat").write_text("\n".join(" ".join(map(str, r)) for r in rows) + "\n")
    data = load_dataset("binarized_mnist", "test", root=str(tmp_path), verify=False)
    assert torch.equal(data.images, binarized["test"].images[:5])
    with pytest.raises(ZooError, match="10,000"):
        load_dataset("binarized_mnist", "test", root=str(tmp_path))        # verify: the count is wrong
    (folder / "binarized_mnist_test.amat").write_text("0 1 10\n")
    with pytest.raises(ZooError, match="binarized_mnist_test.amat.*corrupt"):
        load_dataset("binarized_mnist", "test", root=str(tmp_path), verify=False)


# --- missing and corrupt files -----------------------------------------------------------------

def _raw_root(tmp_path, replace: dict[str, bytes] = {}):
    """A data root whose MNIST/raw links to the shared files, with some files replaced."""
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in os.listdir(RAW):
        if name.startswith("t10k") and name not in replace and name.replace(".gz", "") not in replace:
            os.symlink(RAW / name, raw / name)
    for name, content in replace.items():
        (raw / name).write_bytes(content)
    return tmp_path


def _labels(count: int, n: int, magic: int = 2049) -> bytes:
    return np.array([magic, count], ">i4").tobytes() + bytes(n)


def test_missing_root_and_missing_files_name_the_paths(tmp_path):
    with pytest.raises(ZooError, match="does not exist"):
        load_dataset("mnist", "train", root=str(tmp_path / "nowhere"))
    with pytest.raises(ZooError) as err:
        load_dataset("mnist", "test", root=str(tmp_path))
    message = str(err.value)
    assert str(tmp_path / "MNIST" / "raw" / "t10k-images-idx3-ubyte.gz") in message
    assert "download" in message


@pytest.mark.parametrize("name, content, match", [
    ("t10k-labels-idx1-ubyte.gz", gzip.compress(_labels(10000, 10000), mtime=0)[:-20], "truncated"),  # mtime=0: stable test ids (xdist)
    ("t10k-labels-idx1-ubyte.gz", b"this is not gzip", "not a valid gzip file"),
    ("t10k-labels-idx1-ubyte", _labels(10000, 10000, magic=2051), "magic number 2051"),
    ("t10k-labels-idx1-ubyte", _labels(10000, 9000), "header announces 10,000"),
    ("t10k-labels-idx1-ubyte", _labels(9000, 9000), "holds 9,000 labels"),
    ("t10k-labels-idx1-ubyte", _labels(10000, 10000), "md5"),      # well formed, wrong content
])
def test_corrupt_files_are_reported_with_their_path(tmp_path, name, content, match):
    root = _raw_root(tmp_path, {name: content})
    with pytest.raises(ZooError, match=match) as err:
        load_dataset("mnist", "test", root=str(root))
    assert str(root / "MNIST" / "raw" / name) in str(err.value)


def test_wrong_count_is_caught_by_verification(tmp_path):
    images = np.array([2051, 100, 28, 28], ">i4").tobytes() + bytes(100 * 784)
    root = _raw_root(tmp_path, {"t10k-images-idx3-ubyte": images, "t10k-labels-idx1-ubyte": _labels(100, 100)})
    with pytest.raises(ZooError, match=r"100 images \(expected 10,000\)"):
        load_dataset("mnist", "test", root=str(root))
    assert len(load_dataset("mnist", "test", root=str(root), verify=False)) == 100
    (root / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").write_bytes(_labels(90, 90))
    with pytest.raises(ZooError, match="90 labels for 100 images"):
        load_dataset("mnist", "test", root=str(root), verify=False)


def test_download_fetches_verified_files_from_mirrors(tmp_path, monkeypatch):
    import zoo.data.mnist as mnist_module

    # Two mirrors, the first dead: the downloader falls through to the second, checks md5s and
    # leaves torchvision's layout behind. (file:// stands in for the internet.)
    monkeypatch.setattr(mnist_module, "_mirrors", lambda: ["file:///nonexistent/", RAW.as_uri() + "/"])
    data = load_dataset("mnist", "test", root=str(tmp_path / "fresh"), download=True)
    assert len(data) == 10000
    assert sorted(os.listdir(tmp_path / "fresh" / "MNIST" / "raw")) == sorted(os.listdir(RAW))
    shutil.rmtree(tmp_path / "fresh")
    monkeypatch.setattr(mnist_module, "_mirrors", lambda: ["file:///nonexistent/"])
    with pytest.raises(ZooError, match="could not download"):
        load_dataset("mnist", "test", root=str(tmp_path / "fresh"), download=True)
    assert not any(f.startswith("t10k") for f in os.listdir(tmp_path / "fresh" / "MNIST" / "raw"))


def test_binarized_mnist_download_writes_the_original_text_files(tmp_path, monkeypatch, binarized):
    import zoo.data.binarized_mnist as module

    server = tmp_path / "server"
    server.mkdir()
    for split in ("train", "valid", "test"):
        rows = binarized[split].images[:3].reshape(3, -1).numpy() // 255
        (server / f"binarized_mnist_{split}.amat").write_text("\n".join(" ".join(map(str, r)) for r in rows))
    monkeypatch.setattr(module, "_URL", server.as_uri() + "/binarized_mnist_{split}.amat")
    data = load_dataset("binarized_mnist", "valid", root=str(tmp_path / "data"), download=True, verify=False)
    assert torch.equal(data.images, binarized["valid"].images[:3])
    assert sorted(os.listdir(tmp_path / "data" / "binarized_mnist")) == sorted(
        f"binarized_mnist_{s}.amat" for s in ("test", "train", "valid"))
