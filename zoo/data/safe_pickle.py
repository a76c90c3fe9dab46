"""A restricted unpickler for the numpy-array pickles that data sets such as CIFAR-10 ship.

``pickle.load`` runs whatever a file tells it to import and call; a downloaded data file must
never be able to do that. :func:`safe_load` resolves only the handful of globals that a pickled
dict of numpy arrays needs, and refuses everything else with :class:`pickle.UnpicklingError`:

* ``numpy.core.multiarray._reconstruct`` / ``numpy._core.multiarray._reconstruct``,
  ``numpy.ndarray`` and ``numpy.dtype``: an array and its dtype;
* ``numpy.core.multiarray.scalar`` / ``numpy._core.multiarray.scalar``: a numpy scalar;
* ``_codecs.encode``, restricted to ``latin1``: how Python 3 writes ``bytes`` at protocol 2.

The resolved objects are taken from numpy itself (not imported by the names in the file), so
the pickles of NumPy 1 (``numpy.core``) and NumPy 2 (``numpy._core``) both load without
importing deprecated modules. Object arrays are refused after loading.
"""
from __future__ import annotations

import codecs
import io
import pickle
from typing import Any

import numpy as np

__all__ = ["safe_load", "RefusedPickle", "ALLOWED_GLOBALS"]


class RefusedPickle(pickle.UnpicklingError):
    """The pickle asked for something outside :data:`ALLOWED_GLOBALS` (or holds Python objects)."""


def _latin1_encode(obj: str, encoding: str = "latin1") -> bytes:
    if encoding.replace("-", "").lower() not in ("latin1", "iso88591"):
        raise RefusedPickle(f"refusing _codecs.encode with encoding {encoding!r}")
    return codecs.encode(obj, "latin1")


_RECONSTRUCT = np.array(0).__reduce__()[0]
_SCALAR = np.float64(0).__reduce__()[0]

ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy.core.multiarray", "scalar"): _SCALAR,
    ("numpy._core.multiarray", "scalar"): _SCALAR,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _latin1_encode,
}


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise RefusedPickle(f"refusing to load global '{module}.{name}'") from None


def _reject_objects(obj: Any) -> None:
    if isinstance(obj, np.ndarray) and obj.dtype.hasobject:
        raise RefusedPickle("refusing an array of Python objects")
    if isinstance(obj, dict):
        for value in obj.values():
            _reject_objects(value)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            _reject_objects(value)


def safe_load(data: bytes) -> Any:
    """Unpickle ``data`` allowing only numpy arrays, numpy scalars and builtin containers.

    Python 2 ``str`` objects are decoded as latin-1 (as torchvision does for CIFAR), so the dict
    keys of the original CIFAR files come back as ``str``.

    Raises:
        RefusedPickle: the pickle asks for any other global, or holds an object array.
        Exception: a truncated or malformed pickle raises whatever :mod:`pickle` raises
            (UnpicklingError, EOFError, ValueError, ...).
    """
    obj = _ArrayUnpickler(io.BytesIO(data), encoding="latin1").load()
    _reject_objects(obj)
    return obj
