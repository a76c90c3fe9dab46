"""Batching, encodings, augmentation, the registry and the embedded digits."""
from __future__ import annotations

import ast
import sys

import numpy as np
import pytest
import torch

from tests.conftest import ROOT
from zoo.data import (DATASETS, ImageData, augment, batch_generator, dataset_for_spec, default_root,
                      fit_to_shape, load_dataset, make_loader, register_dataset, to_model_input)
from zoo.errors import ZooError


def _data(n: int) -> ImageData:
    """n images whose first pixel is their index, so batches can be read back as index lists."""
    images = torch.zeros(n, 1, 2, 2, dtype=torch.uint8)
    images[:, 0, 0, 0] = torch.arange(n, dtype=torch.uint8)
    return ImageData("toy", "train", images, torch.arange(n), "binarize")


def _ids(batches) -> list[list[int]]:
    return [b[:, 0, 0, 0].tolist() for b in batches]


# --- order, resume, shards -----------------------------------------------------------------------

def test_order_is_a_function_of_seed_and_epoch():
    data = _data(100)
    first = make_loader(data, 16, shuffle=True, seed=7, drop_last=False)
    again = make_loader(data, 16, shuffle=True, seed=7, drop_last=False)
    first.set_epoch(3), again.set_epoch(3)
    assert _ids(first) == _ids(again)
    assert sorted(sum(_ids(first), [])) == list(range(100)) and len(first) == 7
    first.set_epoch(4)
    other_seed = make_loader(data, 16, shuffle=True, seed=8, drop_last=False)
    other_seed.set_epoch(3)
    assert _ids(first) != _ids(again) and _ids(other_seed) != _ids(again)
    assert _ids(first) == _ids(first)                      # re-iterating repeats the epoch
    plain = make_loader(data, 16, shuffle=False, seed=0, drop_last=True)
    assert sum(_ids(plain), []) == list(range(96)) and len(plain) == 6


def test_resume_mid_epoch_yields_the_remaining_batches():
    data = _data(100)
    loader = make_loader(data, 8, shuffle=True, seed=1, drop_last=True)
    loader.set_epoch(2)
    full = _ids(loader)
    resumed = make_loader(data, 8, shuffle=True, seed=1, drop_last=True)
    resumed.set_epoch(2)
    resumed.skip(5)
    assert [i for i, _ in resumed.indexed()] == list(range(5, 12))
    resumed.skip(5)
    assert _ids(resumed) == full[5:]
    assert _ids(resumed) == full                            # skip applies to one iteration only
    resumed.skip(len(resumed))
    assert _ids(resumed) == []
    with pytest.raises(ZooError, match="can skip 0..12"):
        resumed.skip(13)


@pytest.mark.parametrize("drop_last", [False, True])
def test_distributed_shards_are_disjoint_and_cover_the_data(drop_last):
    n, batch, world = 103, 5, 3
    data = _data(n)
    loaders = [make_loader(data, batch, shuffle=True, seed=11, drop_last=drop_last, rank=r, world_size=world)
               for r in range(world)]
    single = make_loader(data, batch * world, shuffle=True, seed=11, drop_last=drop_last)
    for loader in loaders + [single]:
        loader.set_epoch(5)
    shards = [_ids(loader) for loader in loaders]
    assert len({len(s) for s in shards}) == 1                # every rank takes the same number of steps
    seen = [i for shard in shards for b in shard for i in b]
    assert len(seen) == len(set(seen))                       # disjoint
    if drop_last:
        assert len(seen) == (n // (batch * world)) * batch * world
        assert all(len(b) == batch for shard in shards for b in shard)
    else:
        assert sorted(seen) == list(range(n))                # covers every image once
    # k ranks with batch B see exactly the global batches of one process with batch k*B.
    for step, global_batch in enumerate(_ids(single)):
        assert sum((shard[step] for shard in shards), []) == global_batch


def test_loader_labels_and_argument_errors():
    data = _data(10)
    images, labels = next(iter(make_loader(data, 4, shuffle=True, seed=0, drop_last=True, with_labels=True)))
    assert images[:, 0, 0, 0].tolist() == labels.tolist()
    with pytest.raises(ZooError, match="fewer than one global batch"):
        make_loader(data, 4, shuffle=True, seed=0, drop_last=True, world_size=3)
    with pytest.raises(ZooError, match=r"rank must be in \[0, 2\)"):
        make_loader(data, 4, shuffle=True, seed=0, drop_last=False, rank=2, world_size=2)
    with pytest.raises(ZooError, match="seed must be a non-negative integer"):
        make_loader(data, 4, shuffle=True, seed=-1, drop_last=False)
    with pytest.raises(ZooError, match="batch size"):
        make_loader(data, 0, shuffle=True, seed=0, drop_last=False)
    numpy_ints = make_loader(data, np.int64(4), shuffle=True, seed=np.int64(2), drop_last=False)
    numpy_ints.set_epoch(np.int64(1))
    numpy_ints.skip(np.int64(1))
    assert len(_ids(numpy_ints)) == 2
    unlabeled = ImageData("toy", "train", data.images, None, "binary")
    with pytest.raises(ZooError, match="no labels"):
        make_loader(unlabeled, 4, shuffle=True, seed=0, drop_last=False, with_labels=True)


# --- encodings and augmentation ------------------------------------------------------------------

def test_dynamic_binarization_resamples_and_is_reproducible():
    batch = torch.full((64, 1, 8, 8), 128, dtype=torch.uint8)
    a = to_model_input(batch, "binarize", batch_generator(3, epoch=0, batch=0))
    b = to_model_input(batch, "binarize", batch_generator(3, epoch=0, batch=0))
    c = to_model_input(batch, "binarize", batch_generator(3, epoch=1, batch=0))   # next epoch
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.dtype == torch.float32 and set(a.unique().tolist()) == {0.0, 1.0}
    assert abs(float(a.mean()) - 128 / 255) < 0.05
    g = torch.Generator().manual_seed(0)
    assert not torch.equal(to_model_input(batch, "binarize", g), to_model_input(batch, "binarize", g))
    # The documented convention, x = 1[u < v/255] with u drawn by torch.rand from the generator:
    u = torch.rand(batch.shape, generator=torch.Generator().manual_seed(5))
    assert torch.equal(to_model_input(batch, "binarize", torch.Generator().manual_seed(5)),
                       (u < batch.float() / 255).float())
    streams = {batch_generator(3, 0, 0, rank=r, stream=s).initial_seed() for r in (0, 1) for s in ("data", "flip")}
    assert len(streams) == 4


def test_fixed_encodings():
    v = torch.arange(256, dtype=torch.uint8)
    x = to_model_input(v, "8bit")
    assert float(x[0]) == -1.0 and float(x[255]) == 1.0 and float(x[128]) == pytest.approx(2 * 128 / 255 - 1)
    assert torch.all(x[1:] > x[:-1])
    assert to_model_input(torch.tensor([0, 255], dtype=torch.uint8), "binary").tolist() == [0.0, 1.0]
    assert to_model_input(v, "8bit", dtype=torch.float64).dtype == torch.float64
    with pytest.raises(ZooError, match="unknown data encoding 'gray'.*binarize, binary, 8bit"):
        to_model_input(v, "gray")
    with pytest.raises(ZooError, match="uint8"):
        to_model_input(v.float(), "8bit")


def test_augment_flips_each_image_independently_and_reproducibly():
    batch = torch.randint(0, 256, (200, 3, 4, 4), dtype=torch.uint8)
    out = augment(batch, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out, augment(batch, generator=torch.Generator().manual_seed(0)))
    variants = {"none": batch, "h": batch.flip(-1), "v": batch.flip(-2), "hv": batch.flip(-1).flip(-2)}
    kinds = []
    for i in range(len(batch)):
        match = [k for k, var in variants.items() if torch.equal(out[i], var[i])]
        assert match
        kinds.append(match[0])
    counts = {k: kinds.count(k) for k in variants}
    assert all(25 <= c <= 75 for c in counts.values()), counts     # each ~ 50 of 200
    u = torch.rand(200, generator=torch.Generator().manual_seed(1)) < 0.5
    h_only = augment(batch, ("hflip",), torch.Generator().manual_seed(1))
    assert torch.equal(h_only, torch.where(u.view(-1, 1, 1, 1), batch.flip(-1), batch))
    assert torch.equal(augment(batch, ()), batch)
    with pytest.raises(ZooError, match="unknown augmentation 'rotate'"):
        augment(batch, ("rotate",))


def test_fit_to_shape_pads_centered_or_explains():
    data = ImageData("mnist", "train", torch.full((2, 1, 28, 28), 255, dtype=torch.uint8), None, "binarize")
    assert fit_to_shape(data, [1, 28, 28]) is data
    padded = fit_to_shape(data, [1, 32, 32])
    assert padded.shape == (1, 32, 32) and int(padded.images.sum()) == 2 * 28 * 28 * 255
    assert int(padded.images[:, :, :2].sum()) == 0 and int(padded.images[:, :, 2:30, 2:30].min()) == 255
    with pytest.raises(ZooError, match=r"\[1, 28, 28\] but the spec observes \[3, 32, 32\]"):
        fit_to_shape(data, [3, 32, 32])
    with pytest.raises(ZooError, match="centered zero padding"):
        fit_to_shape(data, [1, 31, 31])
    digits = ImageData("digits", "train", torch.zeros(2, 1, 8, 8, dtype=torch.uint8), None, "binarize")
    with pytest.raises(ZooError, match=r"'digits' has images of shape \[1, 8, 8\].*\[1, 28, 28\].*--set"):
        fit_to_shape(digits, [1, 28, 28])                   # a 10-pixel margin is not padding
    assert fit_to_shape(digits, [1, 28, 28], max_pad=10).shape == (1, 28, 28)


# --- registry, names and errors --------------------------------------------------------------------

def test_registry_describes_every_data_set():
    assert set(DATASETS) == {"mnist", "binarized_mnist", "omniglot", "cifar10", "digits"}
    for info in DATASETS.values():
        assert len(info.shape) == 3 and info.citation and info.source and info.license
        assert "train" in info.splits and "test" in info.splits
    assert DATASETS["omniglot"].splits == {"train": 24345, "test": 8070}
    assert DATASETS["cifar10"].shape == (3, 32, 32) and DATASETS["cifar10"].encoding == "8bit"
    with pytest.raises(ValueError, match="already registered"):
        register_dataset(DATASETS["mnist"])


def test_user_errors_say_what_is_valid():
    with pytest.raises(ZooError, match=r"unknown data set 'mnsit'; did you mean 'mnist'.*cifar10"):
        load_dataset("mnsit")
    with pytest.raises(ZooError, match=r"no split 'validation' \(splits: train, test\)"):
        load_dataset("digits", "validation")
    with pytest.raises(ZooError, match="no official validation split: pass validation=N"):
        load_dataset("digits", "valid")
    with pytest.raises(ZooError, match="leaves no training images"):
        load_dataset("digits", "valid", validation=1500)
    with pytest.raises(ZooError, match="positive number"):
        load_dataset("digits", "valid", validation=0)
    assert dataset_for_spec("mnist") == "mnist" and dataset_for_spec("CIFAR-10") == "cifar10"
    assert dataset_for_spec("static_mnist") == "binarized_mnist"
    with pytest.raises(ZooError, match=r"'imagenet' is not one the zoo can load.*digits.*--data"):
        dataset_for_spec("imagenet")


def test_default_root(monkeypatch, tmp_path):
    monkeypatch.setenv("ZOO_DATA", str(tmp_path))
    assert default_root() == str(tmp_path)
    monkeypatch.delenv("ZOO_DATA")
    assert default_root().endswith("/.cache/hvae-zoo/data")


def test_embedded_digits():
    train = load_dataset("digits", root="/nonexistent")            # no root needed
    test = load_dataset("digits", "test")
    assert train.images.shape == (1500, 1, 8, 8) and test.images.shape == (297, 1, 8, 8)
    assert train.images.dtype == torch.uint8 and int(train.images.max()) == 255
    assert set(np.unique(train.images.numpy()).tolist()) == {round(v * 255 / 16) for v in range(17)}
    assert train.labels.bincount().tolist() == [151, 151, 150, 153, 148, 152, 151, 149, 146, 149]
    assert test.labels.bincount().tolist() == [27, 31, 27, 30, 33, 30, 30, 30, 28, 31]
    valid = load_dataset("digits", "valid", validation=200)
    assert torch.equal(valid.images, train.images[1300:])
    # The first image of the UCI file is a 0: a ring of ink around an empty centre.
    zero = train.images[0, 0]
    assert int(train.labels[0]) == 0 and int(zero[3:5, 3:5].sum()) < int(zero[3:5, 1].sum()) + int(zero[3:5, 6].sum())


def test_zoo_data_imports_only_torch_numpy_and_the_standard_library_at_module_level():
    """Heavier packages (scipy, torchvision) may only be imported inside the functions that need them."""
    allowed = set(sys.stdlib_module_names) | {"numpy", "torch", "zoo"}
    for path in sorted((ROOT / "zoo" / "data").glob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [] if node.level else [node.module]
            else:
                continue
            for name in names:
                assert name.split(".")[0] in allowed, f"{path.name} imports {name} at module level"
