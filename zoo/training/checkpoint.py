"""Self-describing checkpoints: written atomically, read without unpickling arbitrary objects.

A checkpoint is one ``torch.save`` file holding only tensors and plain containers, strings and
numbers, so it loads with ``torch.load(weights_only=True)``. It carries everything needed to
rebuild, evaluate or resume the run without the original files:

* ``spec``: the text of the spec and of every file it imports, their sha256, the ``--set``
  overrides, and the model name (the model is rebuilt from these, then the weights are loaded);
* ``recipe`` (as edited on the command line), ``config`` (the operative
  :class:`~zoo.config.TrainConfig`), ``data`` (name, encoding, shape, root, validation);
* ``model``, ``optimizer``, ``ema`` state dicts and ``scheduler`` (the step it is at; schedules
  are pure functions of the step, :mod:`zoo.training.schedules`);
* ``rng``: torch (and CUDA), numpy and python generator states; the data order and the
  binarization noise are functions of (seed, epoch, batch) and need no state;
* ``progress``: step, epoch, next batch of the epoch, skipped-step counters, finished flag.

Writing goes to a temporary file in the same folder, is flushed and fsync'ed, and replaces the
old checkpoint with ``os.replace`` (atomic on POSIX), so a crash -- even ``kill -9`` mid-write --
leaves either the old or the new checkpoint, never a torn one. Reading turns every problem
(missing, truncated, corrupt, foreign, tampered) into a :class:`~zoo.errors.ZooError`.
"""
from __future__ import annotations

import datetime
import hashlib
import os
import random
import tempfile
from typing import Any, Iterable, Optional

import numpy as np
import torch

from ..errors import ZooError

__all__ = ["FORMAT", "VERSION", "CHECKPOINT_NAME", "checkpoint_path", "save_checkpoint", "load_checkpoint",
           "spec_record", "write_spec_files", "rebuild_model", "capture_rng", "restore_rng", "sha256_text"]

FORMAT = "hvae-zoo-checkpoint"
VERSION = 1
CHECKPOINT_NAME = "checkpoint.pt"


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def checkpoint_path(run_dir_or_file: str) -> str:
    """A run folder -> its ``checkpoint.pt``; a file path is returned as is."""
    if os.path.isdir(run_dir_or_file):
        return os.path.join(run_dir_or_file, CHECKPOINT_NAME)
    return run_dir_or_file


# -- the spec ---------------------------------------------------------------------------------------

def spec_record(mg, overrides: Optional[dict] = None) -> dict:
    """The spec part of a checkpoint: every source file's text (paths relative to their common
    folder, so imports resolve when the files are written elsewhere), hashes and overrides."""
    sources = dict(mg.spec.sources)
    if not sources:
        raise ZooError(f"model '{mg.name}' has no recorded spec source; build it from a .hvae file")
    absolute = {os.path.abspath(p): text for p, text in sources.items()}
    main = next(iter(absolute))  # load_spec records the main file first
    root = os.path.commonpath([os.path.dirname(p) for p in absolute])
    files = {os.path.relpath(p, root): text for p, text in absolute.items()}
    main_rel = os.path.relpath(main, root)
    return {
        "name": mg.name,
        "description": mg.description,
        "main": main_rel,
        "files": files,
        "sha256": sha256_text(files[main_rel]),
        "files_sha256": {p: sha256_text(t) for p, t in files.items()},
        "overrides": _plain(dict(overrides or {})),
    }


def _plain(value: Any) -> Any:
    """Spec constants as plain containers (tuples become lists)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def write_spec_files(spec: dict, folder: str) -> str:
    """Write a checkpoint's spec files under ``folder``; return the main file's path."""
    for rel, text in spec["files"].items():
        path = os.path.normpath(os.path.join(folder, rel))
        if os.path.isabs(rel) or not path.startswith(os.path.normpath(folder) + os.sep):
            raise ZooError(f"checkpoint names a spec file outside its folder: {rel!r}")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
    return os.path.join(folder, spec["main"])


def rebuild_model(ckpt: dict, *, weights: str = "model"):
    """The model a checkpoint describes, with its weights loaded (``weights="ema"`` for the EMA).

    Returns:
        ``(model, mg)``: the :class:`~zoo.runtime.model.HierarchicalVAE` (on CPU, eval mode) and its graph.

    Raises:
        ZooError: the spec no longer compiles with this version of the zoo, or the weights do not
            fit the model it builds.
    """
    from dsl.errors import SpecError

    from .budget import lower_checked

    from ..registry import compile_spec

    spec = ckpt["spec"]
    with tempfile.TemporaryDirectory(prefix="zoo-spec-") as folder:
        main = write_spec_files(spec, folder)
        try:
            mg = compile_spec(main, spec.get("overrides") or {})
        except SpecError as err:
            raise ZooError(f"the checkpoint's spec '{spec['name']}' does not compile with this version of the "
                           f"zoo:\n{err}") from None
    try:  # a checkpoint's overrides could ask for any size: check it before allocating
        model = lower_checked(mg)
    except SpecError as err:
        raise ZooError(f"the checkpoint's spec '{spec['name']}' builds a model too large for this machine:\n{err}") \
            from None
    state = ckpt["ema"]["shadow"] if weights == "ema" else ckpt["model"]
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        field = "ema.shadow" if weights == "ema" else "model"
        hint = "\nthe raw weights may still be usable: evaluate or sample with --no-ema" if weights == "ema" else ""
        raise ZooError(f"the checkpoint's weights (field '{field}') do not fit the model its spec builds: "
                       f"{str(err)[:600]}{hint}") from None
    model.eval()
    return model, mg


# -- random number generators ----------------------------------------------------------------------

def capture_rng() -> dict:
    """The states of torch's CPU (and CUDA) generators, numpy's and python's global generators."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    version, words, py_gauss = random.getstate()
    out = {
        "torch": torch.get_rng_state(),
        "numpy": {"kind": str(kind), "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "gauss": float(gauss)},
        "python": {"version": int(version), "state": list(words), "gauss": py_gauss},
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        out["cuda"] = list(torch.cuda.get_rng_state_all())
    return out


def restore_rng(state: dict) -> None:
    """Restore what :func:`capture_rng` captured (CUDA states only if the device count matches)."""
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss"]))
    cuda = state.get("cuda")
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)


# -- writing and reading ----------------------------------------------------------------------------

def save_checkpoint(payload: dict, path: str) -> None:
    """Write ``payload`` to ``path`` atomically (temporary file, fsync, rename, fsync of the folder)."""
    payload = dict(payload, format=FORMAT, version=VERSION,
                   saved=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                   torch_version=str(torch.__version__))
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".checkpoint-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


def load_checkpoint(path: str, *, map_location: Any = "cpu", needs: Iterable[str] = ("weights",)) -> dict:
    """Read and validate a checkpoint (a file, or a run folder holding ``checkpoint.pt``).

    Only tensors and plain data are accepted (``torch.load(weights_only=True)``): a file that
    would need to run code to load is refused, never executed. Every field is then checked
    against the schema (:mod:`zoo.training.checkpoint_schema`); a wrong field that `needs` depends on
    (``"weights"``, ``"ema"``, ``"eval"``, ``"resume"``) is refused with its name and whether the
    weights are still usable.

    Raises:
        ZooError: missing file; unreadable, truncated or corrupt data; a file that is not a zoo
            checkpoint (e.g. a bare state_dict); a newer format; spec text that does not match
            its recorded sha256.
    """
    path = checkpoint_path(path)
    if not os.path.isfile(path):
        hint = " (was the run started? checkpoints are written every checkpoint_every steps)" \
            if path.endswith(CHECKPOINT_NAME) else ""
        raise ZooError(f"checkpoint not found: {path}{hint}")
    try:
        data = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # noqa: BLE001 -- any failure to read a user file is reported, not raised
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ZooError(f"cannot read checkpoint {path}: the file is corrupt, truncated or not a checkpoint "
                       f"written by `zoo train` ({type(err).__name__}: {reason[:300]})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        what = "a bare state_dict" if isinstance(data, dict) and data and \
            all(isinstance(v, torch.Tensor) for v in data.values()) else f"a {type(data).__name__}"
        raise ZooError(f"{path} is not an hvae-zoo checkpoint (it holds {what}); `zoo eval` and "
                       "`--resume` need the checkpoint.pt that `zoo train` writes")
    if not isinstance(data.get("version"), int) or data["version"] > VERSION:
        raise ZooError(f"{path} has checkpoint format version {data.get('version')!r}; this zoo reads "
                       f"versions up to {VERSION} (upgrade hvae-zoo)")
    from .checkpoint_schema import WEIGHTS, require, structural_problems

    require(structural_problems(data), path, {WEIGHTS, *needs})
    spec = data["spec"]
    files = spec["files"]
    if spec["main"] not in files:
        raise ZooError(f"{path} is damaged: its spec text is missing (field 'spec.main' names no file of 'spec.files')")
    for rel, text in files.items():
        if sha256_text(text) != spec.get("files_sha256", {}).get(rel):
            raise ZooError(f"{path}: the stored text of spec file '{rel}' does not match its sha256; "
                           "the checkpoint was altered")
    return data
