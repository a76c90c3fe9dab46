"""OMNIGLOT and CIFAR-10 readers on small files written here in the real formats."""
from __future__ import annotations

import hashlib
import io
import os
import pickle
import tarfile

import numpy as np
import pytest
import scipy.io
import torch

import zoo.data.cifar as cifar_module
import zoo.data.omniglot as omniglot_module
from zoo.data import load_dataset, to_model_input
from zoo.data.safe_pickle import safe_load
from zoo.errors import ZooError


# --- OMNIGLOT: chardata.mat ----------------------------------------------------------------------

def write_chardata(path, n_train=30, n_test=12, seed=0, **extra):
    """A chardata.mat like Burda et al.'s: 784 x N columns, each a character flattened column-major
    (MATLAB order), grey values in [0, 1]; 50 x N one-hot alphabets. Returns the upright images."""
    rng = np.random.default_rng(seed)
    upright = {s: rng.integers(0, 256, size=(n, 28, 28)) / 255.0 for s, n in (("train", n_train), ("test", n_test))}
    alphabets = {s: rng.integers(0, 50, size=len(upright[s])) for s in upright}
    columns = {s: np.stack([im.flatten(order="F") for im in upright[s]], axis=1) for s in upright}
    onehot = {s: np.eye(50)[:, alphabets[s]] for s in upright}
    content = {"data": columns["train"], "testdata": columns["test"], "target": onehot["train"],
               "testtarget": onehot["test"], **extra}
    os.makedirs(os.path.dirname(path), exist_ok=True)
    scipy.io.savemat(path, {k: v for k, v in content.items() if v is not None})
    return upright, alphabets, columns


def test_omniglot_reads_upright_images_and_alphabets(tmp_path):
    upright, alphabets, columns = write_chardata(str(tmp_path / "OMNIGLOT" / "chardata.mat"))
    for split in ("train", "test"):
        data = load_dataset("omniglot", split, root=str(tmp_path), verify=False)
        assert data.images.dtype == torch.uint8 and data.images.shape == (len(upright[split]), 1, 28, 28)
        assert np.array_equal(data.images[:, 0].numpy(), np.rint(upright[split] * 255).astype(np.uint8))
        assert data.labels.tolist() == alphabets[split].tolist()
        assert data.encoding == "binarize"
        # The same pixels as Burda et al.'s loader: data.T, then a Fortran-order reshape.
        iwae = columns[split].T.reshape((-1, 28, 28)).reshape((-1, 784), order="F").reshape(-1, 28, 28)
        assert np.array_equal(data.images[:, 0].numpy(), np.rint(iwae * 255).astype(np.uint8))
    valid = load_dataset("omniglot", "valid", root=str(tmp_path), validation=5, verify=False)
    assert len(valid) == 5 and torch.equal(valid.labels, torch.from_numpy(alphabets["train"][-5:]))


def test_omniglot_other_layouts_and_missing_labels(tmp_path):
    write_chardata(str(tmp_path / "chardata.mat"), target=None, testtarget=None)
    data = load_dataset("omniglot", "test", root=str(tmp_path), verify=False)
    assert len(data) == 12 and data.labels is None


def test_omniglot_errors_name_the_file(tmp_path):
    with pytest.raises(ZooError) as err:
        load_dataset("omniglot", root=str(tmp_path))
    assert str(tmp_path / "OMNIGLOT" / "chardata.mat") in str(err.value)
    path = tmp_path / "OMNIGLOT" / "chardata.mat"
    write_chardata(str(path))
    with pytest.raises(ZooError, match=r"holds 30 images \(expected 24,345\)"):
        load_dataset("omniglot", root=str(tmp_path))          # verify: the published count
    scipy.io.savemat(str(path), {"data": np.full((784, 3), 2.0), "testdata": np.zeros((784, 2))})
    with pytest.raises(ZooError, match="outside"):
        load_dataset("omniglot", root=str(tmp_path), verify=False)
    scipy.io.savemat(str(path), {"images": np.zeros((784, 3))})
    with pytest.raises(ZooError, match="no variable 'data'"):
        load_dataset("omniglot", root=str(tmp_path), verify=False)
    path.write_bytes(b"MATLAB 5.0 MAT-file, but cut short")
    with pytest.raises(ZooError, match=f"{path}.*corrupt"):
        load_dataset("omniglot", root=str(tmp_path), verify=False)


def test_omniglot_download(tmp_path, monkeypatch):
    source = tmp_path / "server" / "chardata.mat"
    upright, _, _ = write_chardata(str(source))
    monkeypatch.setattr(omniglot_module, "URL", source.as_uri())
    data = load_dataset("omniglot", "train", root=str(tmp_path / "data"), download=True, verify=False)
    assert (tmp_path / "data" / "OMNIGLOT" / "chardata.mat").is_file() and len(data) == len(upright["train"])


# --- CIFAR-10: python pickles, extracted or in the tarball ----------------------------------------

BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


def cifar_batches(n=4, seed=0, bytes_keys=False):
    """name -> (pickle bytes, images (n, 3, 32, 32), labels) in the python distribution's format."""
    rng = np.random.default_rng(seed)
    out = {}
    for name in BATCHES:
        images = rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n).tolist()
        batch = {"batch_label": name, "labels": labels, "data": images.reshape(n, 3072),
                 "filenames": [f"img_{i}.png" for i in range(n)]}
        if bytes_keys:  # the original Python 2 pickles have byte-string keys
            batch = {k.encode(): v for k, v in batch.items()}
        out[name] = (pickle.dumps(batch, protocol=2), images, labels)
    return out


def write_extracted(folder, batches):
    os.makedirs(folder, exist_ok=True)
    for name, (blob, _, _) in batches.items():
        with open(os.path.join(folder, name), "wb") as f:
            f.write(blob)


def write_tarball(path, batches):
    with tarfile.open(path, "w:gz") as tar:
        for name, (blob, _, _) in list(batches.items()) + [("batches.meta", (pickle.dumps({}), None, None))]:
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))


def _expected(batches, split):
    names = BATCHES[:5] if split == "train" else BATCHES[5:]
    return (np.concatenate([batches[n][1] for n in names]), sum((batches[n][2] for n in names), []))


@pytest.mark.parametrize("layout", ["extracted", "batches_folder_as_root", "tarball"])
def test_cifar_reads_every_layout(tmp_path, layout):
    batches = cifar_batches(bytes_keys=layout == "tarball")
    root = tmp_path
    if layout == "extracted":
        write_extracted(tmp_path / "cifar-10-batches-py", batches)
    elif layout == "batches_folder_as_root":
        write_extracted(tmp_path / "cifar-10-batches-py", batches)
        root = tmp_path / "cifar-10-batches-py"
    else:
        write_tarball(tmp_path / "cifar-10-python.tar.gz", batches)
    for split in ("train", "test"):
        data = load_dataset("cifar10", split, root=str(root), verify=False)
        images, labels = _expected(batches, split)
        assert data.images.dtype == torch.uint8 and data.images.shape == (len(labels), 3, 32, 32)
        assert np.array_equal(data.images.numpy(), images) and data.labels.tolist() == labels
        assert data.encoding == "8bit"
    # Channel layout: row n holds 1024 red, 1024 green, 1024 blue values, each plane row-major.
    raw = batches["data_batch_1"][1].reshape(-1, 3072)
    assert data.images.shape[1:] == (3, 32, 32)
    first = load_dataset("cifar10", "train", root=str(root), verify=False).images[0]
    assert int(first[1, 2, 3]) == int(raw[0, 1024 + 2 * 32 + 3])
    x = to_model_input(first.unsqueeze(0), "8bit")
    assert float(x.min()) >= -1 and float(x.max()) <= 1


def test_cifar_validation_and_verification(tmp_path):
    batches = cifar_batches()
    write_extracted(tmp_path / "cifar-10-batches-py", batches)
    valid = load_dataset("cifar10", "valid", root=str(tmp_path), validation=3, verify=False)
    assert np.array_equal(valid.images.numpy(), batches["data_batch_5"][1][-3:])
    with pytest.raises(ZooError, match=r"data_batch_1' is corrupt: md5"):
        load_dataset("cifar10", "train", root=str(tmp_path))   # verify: published md5 digests
    os.remove(tmp_path / "cifar-10-batches-py" / "data_batch_1")
    write_tarball(tmp_path / "cifar-10-python.tar.gz", batches)   # falls back to the tarball
    assert len(load_dataset("cifar10", "train", root=str(tmp_path), verify=False)) == 20
    with pytest.raises(ZooError, match="cifar-10-python.tar.gz' is corrupt: it has"):
        load_dataset("cifar10", "train", root=str(tmp_path))


def test_cifar_missing_and_corrupt(tmp_path):
    with pytest.raises(ZooError) as err:
        load_dataset("cifar10", "test", root=str(tmp_path))
    for expected in ("cifar-10-batches-py/test_batch", "cifar-10-python.tar.gz"):
        assert str(tmp_path / expected) in str(err.value)
    (tmp_path / "cifar-10-python.tar.gz").write_bytes(b"\x1f\x8b truncated")
    with pytest.raises(ZooError, match="not a readable tar archive"):
        load_dataset("cifar10", "test", root=str(tmp_path), verify=False)
    folder = tmp_path / "cifar-10-batches-py"
    write_extracted(folder, cifar_batches())
    (folder / "test_batch").write_bytes(pickle.dumps({"data": np.zeros((2, 100), np.uint8), "labels": [0, 1]}))
    with pytest.raises(ZooError, match="uint8 N x 3072"):
        load_dataset("cifar10", "test", root=str(tmp_path), verify=False)
    (folder / "test_batch").write_bytes(pickle.dumps({"data": np.zeros((2, 3072), np.uint8)})[:-10])
    with pytest.raises(ZooError, match="not a readable pickle"):
        load_dataset("cifar10", "test", root=str(tmp_path), verify=False)


class _Exploit:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_cifar_pickles_cannot_run_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "cifar-10-batches-py"
    write_extracted(folder, cifar_batches())
    (folder / "test_batch").write_bytes(pickle.dumps({"data": _Exploit(), "labels": [0]}, protocol=2))
    with pytest.raises(ZooError, match=r"refusing to load global '(posix|os|nt)\.system'"):
        load_dataset("cifar10", "test", root=str(tmp_path), verify=False)
    assert not (tmp_path / "pwned").exists()
    with pytest.raises(pickle.UnpicklingError, match="object"):
        safe_load(pickle.dumps(np.array([1, "a"], dtype=object)))
    with pytest.raises(pickle.UnpicklingError, match="encoding"):
        safe_load(b"\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00aX\x06\x00\x00\x00base64\x86R.")
    assert safe_load(pickle.dumps({"x": np.float32(2.5), "y": [np.arange(3)]}, protocol=2))["x"] == 2.5


def test_cifar_download_extracts_only_the_batches(tmp_path, monkeypatch):
    server = tmp_path / "server" / "cifar-10-python.tar.gz"
    server.parent.mkdir()
    batches = cifar_batches()
    write_tarball(server, batches)
    monkeypatch.setattr(cifar_module, "URL", server.as_uri())
    monkeypatch.setattr(cifar_module, "TARBALL_MD5", hashlib.md5(server.read_bytes()).hexdigest())
    data = load_dataset("cifar10", "test", root=str(tmp_path / "data"), download=True, verify=False)
    assert np.array_equal(data.images.numpy(), batches["test_batch"][1])
    assert sorted(os.listdir(tmp_path / "data" / "cifar-10-batches-py")) == sorted(BATCHES)
    monkeypatch.setattr(cifar_module, "TARBALL_MD5", "0" * 32)
    with pytest.raises(ZooError, match="has md5"):
        load_dataset("cifar10", "test", root=str(tmp_path / "other"), download=True, verify=False)
    assert not (tmp_path / "other" / "cifar-10-python.tar.gz").exists()
