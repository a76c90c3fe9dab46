"""File handling shared by the data set readers: locating files, checksums, gzip, downloads.

Every failure here is a :class:`~zoo.errors.ZooError` that names the path(s) involved and says
what to do about it, because a wrong data root is the most common mistake a user makes.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tempfile
import urllib.request
import zlib
from typing import Iterable, Optional, Sequence

from ..errors import ZooError

__all__ = ["md5_of", "find_existing", "missing_file_error", "check_integrity", "read_bytes", "load_mat",
           "download", "require_root", "corrupt"]

_CHUNK = 1 << 20


def md5_of(path: str) -> str:
    """The md5 hex digest of a file, read in 1 MiB chunks."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def find_existing(candidates: Iterable[str]) -> Optional[str]:
    """The first path in ``candidates`` that is an existing file, or ``None``."""
    for path in candidates:
        if os.path.isfile(path):
            return path
    return None


def require_root(root: str, dataset: str) -> None:
    """Raise a :class:`ZooError` if the data root is not a directory."""
    if not os.path.isdir(root):
        raise ZooError(f"data root '{root}' for data set '{dataset}' does not exist or is not a "
                       "directory; pass --data-root DIR (or set $ZOO_DATA), or use the download "
                       "option to fetch the files there")


def missing_file_error(dataset: str, what: str, candidates: Sequence[str], *,
                       can_download: bool = True) -> ZooError:
    """The error for a file that is in none of the places it is looked for."""
    where = "\n".join(f"  {p}" for p in candidates)
    hint = ("put the files there, or pass download=True (`zoo train ... --download`) on a machine "
            "with internet" if can_download else "put the files there")
    return ZooError(f"{dataset}: {what} not found; looked for:\n{where}\n{hint}")


def corrupt(dataset: str, path: str, why: str, expected: str = "") -> ZooError:
    """The error for a file that exists but cannot be the right one."""
    extra = f" (expected {expected})" if expected else ""
    return ZooError(f"{dataset}: file '{path}' is corrupt: {why}{extra}; delete it and download it "
                    "again (download=True), or replace it with the original")


def check_integrity(dataset: str, path: str, *, size: Optional[int], md5: Optional[str]) -> None:
    """Compare a file's size, then its md5, with the published values (``None`` skips a check).

    Raises:
        ZooError: the size or the checksum differs; the message names the path and the values.
    """
    if size is not None:
        actual = os.path.getsize(path)
        if actual != size:
            raise corrupt(dataset, path, f"it has {actual:,} bytes", f"{size:,} bytes")
    if md5 is not None:
        actual_md5 = md5_of(path)
        if actual_md5 != md5:
            raise corrupt(dataset, path, f"md5 {actual_md5}", f"md5 {md5}")


def read_bytes(dataset: str, path: str) -> bytes:
    """The content of a file, decompressed when its name ends in ``.gz``.

    Raises:
        ZooError: a truncated or otherwise unreadable gzip stream, or an unreadable file.
    """
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                return f.read()
        with open(path, "rb") as f:
            return f.read()
    except EOFError:
        raise corrupt(dataset, path, "the gzip stream ends early (truncated download?)") from None
    except (gzip.BadGzipFile, zlib.error) as err:
        raise corrupt(dataset, path, f"not a valid gzip file ({err})") from None
    except OSError as err:
        raise ZooError(f"{dataset}: cannot read '{path}': {err.strerror or err}") from None


def load_mat(dataset: str, path: str) -> dict:
    """The variables of a MATLAB (v4-v7.2) file, via :func:`scipy.io.loadmat`.

    Raises:
        ZooError: the file cannot be parsed. scipy raises many exception types on damaged input
            (ValueError, IndexError, TypeError, zlib.error ...), so every ``Exception`` from the
            parser is reported as a corrupt file.
    """
    import scipy.io

    try:
        return scipy.io.loadmat(path)
    except Exception as err:  # noqa: BLE001 -- untrusted file, parser with no error contract
        raise corrupt(dataset, path, f"not a readable MATLAB file ({type(err).__name__}: {err})") from None


def download(dataset: str, url: str, dest: str, *, md5: Optional[str] = None) -> None:
    """Download ``url`` to ``dest`` atomically (a temp file in the same folder, then a rename).

    Raises:
        ZooError: the download fails or the md5 differs; nothing is left at ``dest``.
    """
    folder = os.path.dirname(dest) or "."
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".download-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out:
            request = urllib.request.Request(url, headers={"User-Agent": "hvae-zoo"})
            with urllib.request.urlopen(request, timeout=60) as response:
                shutil.copyfileobj(response, out, _CHUNK)
        if md5 is not None and md5_of(tmp) != md5:
            raise ZooError(f"{dataset}: the file downloaded from {url} has md5 {md5_of(tmp)}, "
                           f"expected {md5}; not saved to '{dest}'")
        os.replace(tmp, dest)
    except OSError as err:  # URLError is an OSError
        raise ZooError(f"{dataset}: download of {url} failed ({err}); without internet, copy the "
                       f"file to '{dest}' yourself") from None
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
