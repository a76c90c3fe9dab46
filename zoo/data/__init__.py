"""Data sets for training and evaluation: reading, encodings, and reproducible batching.

    >>> from zoo.data import load_dataset, make_loader, to_model_input, batch_generator
    >>> train = load_dataset("mnist", "train", root="../shared/data", validation=5000)  # doctest: +SKIP
    >>> loader = make_loader(train, 128, shuffle=True, seed=0, drop_last=True)        # doctest: +SKIP

One module per data set family (:mod:`.mnist`, :mod:`.binarized_mnist`, :mod:`.omniglot`,
:mod:`.cifar`, :mod:`.digits`) registers a :class:`DatasetInfo` in :data:`DATASETS`;
:mod:`.api` loads by name, :mod:`.transforms` turns pixels into model input, :mod:`.loader`
batches them. Importing the package imports only torch and numpy; scipy is imported when a
``.mat`` file is read, and torchvision (for its list of MNIST mirrors) only by the download
option. Every user mistake is a :class:`zoo.errors.ZooError`. See ``docs/data.md``.
"""
from .registry import DATASETS, ENCODINGS, DataFile, DatasetInfo, get_info, register_dataset
from .dataset import ImageData
from .transforms import AUGMENT_OPS, augment, pad_images, to_model_input
from .api import available_splits, dataset_for_spec, default_root, fit_to_shape, load_dataset
from .loader import EpochLoader, batch_generator, epoch_permutation, make_loader
from . import binarized_mnist, cifar, digits, mnist, omniglot  # noqa: F401  (register the data sets)

__all__ = [
    "DATASETS", "ENCODINGS", "AUGMENT_OPS", "DataFile", "DatasetInfo", "ImageData", "EpochLoader",
    "load_dataset", "available_splits", "dataset_for_spec", "default_root", "fit_to_shape",
    "to_model_input", "augment", "pad_images", "make_loader", "batch_generator", "epoch_permutation",
    "get_info", "register_dataset",
]
