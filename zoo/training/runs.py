"""Run folders: starting, resuming and reopening a training run.

A run folder holds everything a run is: ``spec/`` (the text of the spec and its imports),
``recipe.yaml`` (the recipe as edited on the command line), ``config.yaml`` (the operative
:class:`~zoo.config.TrainConfig` and what the run was started with), ``log.csv``,
``checkpoint.pt`` and, at the end, ``learning_curves.png``. The commands ``zoo train``,
``zoo eval`` and ``zoo sample`` are thin layers over the functions here.
"""
from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from typing import Any, Optional, Sequence

import yaml

from .checkpoint import CHECKPOINT_NAME, checkpoint_path, load_checkpoint, rebuild_model, spec_record, \
    write_spec_files
from ..config import TrainConfig
from ..errors import ZooError

__all__ = ["RunSetup", "prepare_new_run", "prepare_resume", "fit_data", "check_encoding", "load_split", "open_trained_model",
           "write_run_files", "LIKELIHOOD_ENCODINGS"]

#: The data encodings each likelihood family can score.
LIKELIHOOD_ENCODINGS = {"bernoulli": ("binarize", "binary"), "discretized_logistic_mixture": ("8bit",)}


@dataclass
class RunSetup:
    """Everything :func:`zoo.training.train.train` needs, assembled by :func:`prepare_new_run` or :func:`prepare_resume`."""

    model: Any
    mg: Any
    config: TrainConfig
    train_data: Any
    valid_data: Any
    run_dir: str
    meta: dict
    resume: Optional[dict] = None
    notes: tuple = ()


def _observed(mg):
    if len(mg.observed) != 1:
        names = ", ".join(v.name for v in mg.observed)
        raise ZooError(f"model '{mg.name}' observes {names}; zoo train feeds one image variable")
    return mg.observed[0]


def check_encoding(name: str, encoding: str, mg) -> None:
    """Refuse data the spec's likelihood cannot score (8-bit images under a Bernoulli, ...)."""
    obs = _observed(mg)
    allowed = LIKELIHOOD_ENCODINGS.get(obs.family)
    if allowed is not None and encoding not in allowed:
        kinds = {"binarize": "binary (binarized)", "binary": "binary", "8bit": "8-bit"}
        raise ZooError(f"the spec's likelihood '{obs.family}' scores {' or '.join(kinds[a] for a in allowed)} data, "
                       f"but data set '{name}' is {kinds.get(encoding, encoding)}; choose another --data")


def fit_data(data, mg):
    """Check (and pad, by at most 2 pixels a side) a split against the spec's observed variable.

    Raises:
        ZooError: the likelihood cannot score this encoding, or the shapes differ; the message
            names the spec constants that would fix the shape (``--set W=8``).
    """
    from ..data import fit_to_shape

    obs = _observed(mg)
    check_encoding(data.name, data.encoding, mg)
    try:
        return fit_to_shape(data, obs.shape)
    except ZooError as err:
        hints = []
        for dim_spec, dim_data in zip(obs.shape, data.shape):
            if dim_spec != dim_data:
                hints += [f"--set {name}={dim_data}" for name, value in mg.spec.constants.items()
                          if value == dim_spec and isinstance(value, int) and not isinstance(value, bool)]
        hint = f"\nhint: the spec's observed shape comes from its constants: try {' '.join(dict.fromkeys(hints))}" \
            if hints else ""
        raise ZooError(f"{err}{hint}") from None


def load_split(name: str, split: str, root: Optional[str], mg, *, validation: Optional[int] = None,
               download: bool = False):
    """One split of a data set, fitted to the spec (see :func:`fit_data`)."""
    from ..data import get_info, load_dataset

    info = get_info(name)
    check_encoding(name, info.encoding, mg)
    if validation is not None and info.has_validation:
        validation = None  # the data set's own validation split is used instead
    return fit_data(load_dataset(name, split, root, download=download, validation=validation), mg)


def _data_name(config_data: Optional[str], mg) -> str:
    from ..data import dataset_for_spec

    if config_data:
        from ..data import get_info

        get_info(config_data)  # unknown names raise with close matches
        return config_data
    if mg.dataset:
        return dataset_for_spec(mg.dataset)
    raise ZooError(f"no data set: the spec '{mg.name}' has no `dataset` header and the recipe no `data:`; "
                   "pass --data NAME (e.g. --data digits)")


def _valid_split(name: str, config: TrainConfig) -> Optional[str]:
    from ..data import get_info

    if get_info(name).has_validation or config.validation:
        return "valid"
    return None


def write_run_files(run_dir: str, spec: dict, recipe: dict, config: TrainConfig, info: dict) -> None:
    """``spec/``, ``recipe.yaml`` and ``config.yaml`` of a run folder (rank 0 only)."""
    spec_dir = os.path.join(run_dir, "spec")
    if os.path.isdir(spec_dir):
        shutil.rmtree(spec_dir)
    write_spec_files(spec, spec_dir)
    with open(os.path.join(run_dir, "recipe.yaml"), "w", encoding="utf-8") as handle:
        yaml.safe_dump(recipe, handle, sort_keys=False)
    with open(os.path.join(run_dir, "config.yaml"), "w", encoding="utf-8") as handle:
        yaml.safe_dump({"run": info, "config": config.to_dict()}, handle, sort_keys=False, width=110)


def prepare_new_run(spec: str, out: str, *, overrides: Optional[dict] = None, data: Optional[str] = None,
                    data_root: Optional[str] = None, recipe: Optional[str] = None, recipe_sets: Sequence[str] = (),
                    epochs: Optional[int] = None, steps: Optional[int] = None, download: bool = False,
                    schedule_to_steps: bool = False, ctx=None, max_parameters: Optional[int] = None) -> RunSetup:
    """Compile the spec, resolve the recipe, check the model's size (`zoo.training.budget`), load the data and
    create the run folder.

    With ``schedule_to_steps``, the schedules of the recipe's own length (before ``epochs``/``steps``
    replace it) are compressed into the run's (``TrainConfig.schedule_epochs``).

    Raises:
        ZooError, SpecError: the spec, recipe, data or output folder is unusable.
    """
    import torch
    from zoo.runtime.lower import lower

    from .recipes import recipe_path_for, resolve_train_config
    from ..registry import compile_spec, spec_path

    if os.path.exists(os.path.join(out, CHECKPOINT_NAME)) or os.path.exists(os.path.join(out, "config.yaml")):
        raise ZooError(f"{out} already holds a run; continue it with `zoo train --resume {out}` or choose another --out")
    if ctx is not None:
        ctx.barrier()  # every rank has checked before rank 0 writes into the folder
    path = spec_path(spec)
    mg = compile_spec(path, overrides or {})
    recipe_file = recipe if recipe is not None else recipe_path_for(path)
    if recipe is not None and not os.path.isfile(recipe):
        raise ZooError(f"recipe file not found: {recipe}")
    config, edited = resolve_train_config(recipe_path=recipe_file, recipe_sets=recipe_sets, epochs=epochs,
                                          steps=steps, data=data)
    from .budget import check_budget

    check_budget(mg, max_parameters=max_parameters, batch_size=config.batch_size, training=True,
                 device=str(ctx.device) if ctx is not None else None)
    name = _data_name(config.data, mg)
    if config.data != name:
        config = config.replace(data=name)
        edited["data"] = name
    try:
        train_data = load_split(name, "train", data_root, mg, validation=config.validation, download=download)
    except ZooError as err:
        if data is not None or name == "digits":
            raise
        raise ZooError(f"{err}\nhint: the data set '{name}' comes from the "
                       f"{'recipe' if recipe_file and config.data else 'spec'}; `--data digits` trains on the "
                       "embedded 8x8 digits without any download (with --set for the spec's image size)") from None
    valid_name = _valid_split(name, config)
    valid_data = load_split(name, valid_name, data_root, mg, validation=config.validation) if valid_name else None
    notes = []
    world = ctx.world_size if ctx is not None else 1
    if schedule_to_steps:
        recipe_cfg, _ = resolve_train_config(recipe_path=recipe_file, recipe_sets=recipe_sets, data=data)
        spe = max(1, len(train_data) // (config.batch_size * world))
        config = config.replace(schedule_epochs=float(recipe_cfg.epochs if recipe_cfg.epochs is not None
                                                      else recipe_cfg.steps / spe))
        edited["schedule_epochs"] = config.schedule_epochs
    if config.processes is not None and config.processes != world:
        notes.append(f"note: the recipe's batch_size {config.batch_size} is per process for {config.processes} "
                     f"processes (global batch {config.batch_size * config.processes}); this run has {world} "
                     f"(global batch {config.batch_size * world})")
    torch.manual_seed(config.seed)  # the initial weights are part of what the seed fixes
    model = lower(mg)
    spec_rec = spec_record(mg, overrides)
    data_rec = {"name": name, "encoding": train_data.encoding, "shape": list(train_data.shape),
                "root": os.path.abspath(os.path.expanduser(data_root)) if data_root else None,
                "validation": config.validation}
    meta = {"spec": spec_rec, "recipe": edited, "recipe_path": os.path.abspath(recipe_file) if recipe_file else None,
            "data": data_rec}
    if ctx is None or ctx.is_main:
        os.makedirs(out, exist_ok=True)
        info = {"spec": spec_rec["name"], "spec_sha256": spec_rec["sha256"], "overrides": spec_rec["overrides"],
                "data": data_rec, "recipe": meta["recipe_path"], "world_size": world,
                "command": " ".join(sys.argv), "torch": str(torch.__version__)}
        write_run_files(out, spec_rec, edited, config, info)
    return RunSetup(model, mg, config, train_data, valid_data, out, meta, None, tuple(notes))


def prepare_resume(run_dir: str, *, data_root: Optional[str] = None, recipe_sets: Sequence[str] = (),
                   epochs: Optional[int] = None, steps: Optional[int] = None, ctx=None) -> RunSetup:
    """Reopen a run folder at its checkpoint. The model is rebuilt from the spec text stored in the
    checkpoint (not from the files on disk, which may have changed since).

    Edits (``--recipe-set``, ``--epochs``, ``--steps``) apply to the stored config; they are
    reported, since a changed run no longer matches an uninterrupted one.
    """
    from .recipes import resolve_train_config

    if not os.path.isdir(run_dir):
        raise ZooError(f"--resume expects a run folder written by `zoo train`, got {run_dir}")
    from .checkpoint_schema import EMA, EVAL, RESUME, model_problems, require

    path = checkpoint_path(run_dir)
    ckpt = load_checkpoint(path, needs=(EMA, EVAL, RESUME))
    model, mg = rebuild_model(ckpt)
    require(model_problems(ckpt, model), path, (EMA, RESUME))
    model.train()
    stored = ckpt["config"]
    TrainConfig.from_dict(stored)  # a damaged or foreign config is refused before anything else
    config, _ = resolve_train_config(recipe=stored, recipe_path=os.path.join(run_dir, "config.yaml"),
                                     recipe_sets=recipe_sets, epochs=epochs, steps=steps)
    notes = []
    changed = {k for k, v in config.to_dict().items() if stored.get(k) != v}
    if changed:
        notes.append(f"note: resuming with changed settings ({', '.join(sorted(changed))}); the run no longer "
                     "matches an uninterrupted one")
    if ckpt["progress"].get("finished") and not changed:
        raise ZooError(f"{run_dir} has finished ({ckpt['progress']['step']:,} steps); to train longer, resume with "
                       "--epochs N or --steps N beyond it")
    data = ckpt.get("data") or {}
    root = data_root if data_root is not None else data.get("root")
    train_data = load_split(data["name"], "train", root, mg, validation=config.validation)
    valid_name = _valid_split(data["name"], config)
    valid_data = load_split(data["name"], valid_name, root, mg, validation=config.validation) if valid_name else None
    meta = {k: ckpt[k] for k in ("spec", "recipe", "recipe_path", "data") if k in ckpt}
    if data_root is not None:
        meta["data"] = dict(data, root=os.path.abspath(os.path.expanduser(data_root)))
    if changed and (ctx is None or ctx.is_main):
        info = {}
        if os.path.exists(os.path.join(run_dir, "config.yaml")):
            with open(os.path.join(run_dir, "config.yaml"), encoding="utf-8") as handle:
                info = yaml.safe_load(handle) or {}
        run_info = dict(info.get("run", {}), resumed_with=" ".join(sys.argv))
        write_run_files(run_dir, ckpt["spec"], ckpt.get("recipe") or {}, config, run_info)
    return RunSetup(model, mg, config, train_data, valid_data, run_dir, meta, ckpt, tuple(notes))


def open_trained_model(run_or_ckpt: str, *, use_ema: bool = True, for_eval: bool = False):
    """A trained model from a run folder or checkpoint file.

    Optimizer, RNG and progress state are not needed, so a checkpoint whose only damage is there
    still opens; the EMA is needed when used, the data name and config when `for_eval`.

    Returns:
        ``(model, mg, ckpt, weights)`` with ``weights`` = ``"ema"`` or ``"model"``.
    """
    from .checkpoint_schema import EMA, EVAL

    needs = ((EMA,) if use_ema else ()) + ((EVAL,) if for_eval else ())
    ckpt = load_checkpoint(checkpoint_path(run_or_ckpt), needs=needs)
    weights = "ema" if use_ema and ckpt.get("ema") else "model"
    model, mg = rebuild_model(ckpt, weights=weights)
    return model, mg, ckpt, weights
