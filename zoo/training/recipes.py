"""Training recipes: YAML files beside the specs, edited from the command line.

``specs/<model>.yaml`` says how the published ``specs/<model>.hvae`` was trained (the spec says
what the model is). ``zoo train`` reads it by default, or the file given with ``--recipe``; then
applies every ``--recipe-set key.sub=value`` (values are YAML: ``1.0e-3``, ``[hflip, vflip]``,
``null``, ``{name: cosine}``), then ``--epochs``/``--steps`` (each replaces both) and ``--data``.
The result is validated as a :class:`~zoo.config.TrainConfig`; errors name the recipe file.

The schema is in docs/training.md; a short example::

    data: mnist
    epochs: 300
    batch_size: 250
    optimizer: {name: adamax, lr: 1.0e-2, eps: 1.0e-3}
    lr_schedule: {name: cosine, warmup_epochs: 5, min_lr: 1.0e-4}
    kl_warmup: {name: linear, epochs: 16, start: 0.1}
    source: "where each number comes from"
"""
from __future__ import annotations

import copy
import os
from typing import Any, Iterable, Optional

import yaml

from ..config import TrainConfig
from ..errors import ZooError

__all__ = ["RECIPE_SUFFIX", "recipe_path_for", "load_recipe", "parse_recipe_override", "apply_overrides",
           "resolve_train_config", "list_recipes"]

RECIPE_SUFFIX = ".yaml"


def recipe_path_for(spec_path: str) -> Optional[str]:
    """``specs/ladder.hvae`` -> ``specs/ladder.yaml`` if that file exists, else None."""
    stem, _ = os.path.splitext(spec_path)
    path = stem + RECIPE_SUFFIX
    return path if os.path.isfile(path) else None


def list_recipes(directory: str) -> list[str]:
    """Every recipe file in a directory (sorted)."""
    return sorted(os.path.join(directory, f) for f in os.listdir(directory) if f.endswith(RECIPE_SUFFIX))


def load_recipe(path: str) -> dict:
    """Read a recipe file into a dict (not yet validated; see :func:`resolve_train_config`).

    Raises:
        ZooError: the file is missing, is not YAML, or is not a mapping of keys to values.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as err:
        raise ZooError(f"cannot read recipe '{path}': {err.strerror or err}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err)
        raise ZooError(f"{path}{where}: not valid YAML: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ZooError(f"{path}: a recipe is a mapping of keys to values (data: ..., epochs: ...), "
                       f"not a {type(data).__name__}")
    return data


def parse_recipe_override(item: str) -> tuple[tuple[str, ...], Any]:
    """``optimizer.lr=1e-3`` -> ``(("optimizer", "lr"), 0.001)``; the value is read as YAML.

    Raises:
        ZooError: no ``=``, an empty key, or a value that is not YAML.
    """
    if "=" not in item:
        raise ZooError(f"--recipe-set expects KEY=VALUE (e.g. optimizer.lr=1e-3 or epochs=10), got '{item}'")
    key, text = item.split("=", 1)
    parts = tuple(p.strip() for p in key.strip().split("."))
    if not parts or any(not p for p in parts):
        raise ZooError(f"--recipe-set {item}: the key must be a name or dotted path such as optimizer.lr")
    try:
        value = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError:
        raise ZooError(f"--recipe-set {item}: the value is not valid YAML (quote strings with spaces)") from None
    if isinstance(value, str):  # YAML 1.1 reads 1e-3 as a string; numbers are numbers here
        try:
            value = float(value) if any(c in value for c in ".eE") and value.strip() not in ("", ".") else value
        except ValueError:
            pass
    return parts, value


def apply_overrides(recipe: dict, items: Iterable[str]) -> dict:
    """A copy of ``recipe`` with every ``key.sub=value`` applied in order (creating sub-mappings).

    Example:
        >>> apply_overrides({"optimizer": {"name": "adam"}}, ["optimizer.lr=2e-3", "epochs=5"])
        {'optimizer': {'name': 'adam', 'lr': 0.002}, 'epochs': 5}
    """
    out = copy.deepcopy(recipe)
    for item in items:
        parts, value = parse_recipe_override(item)
        node = out
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part)
            if isinstance(child, str) and depth == len(parts) - 2:  # `optimizer: adam` shorthand
                child = {"name": child}
            if child is None:
                child = {}
            if not isinstance(child, dict):
                raise ZooError(f"--recipe-set {item}: '{'.'.join(parts[:depth + 1])}' is {child!r}, not a mapping")
            node[part] = child
            node = child
        node[parts[-1]] = value
    return out


def resolve_train_config(recipe: Optional[dict] = None, *, recipe_path: Optional[str] = None,
                         recipe_sets: Iterable[str] = (), epochs: Optional[int] = None,
                         steps: Optional[int] = None, data: Optional[str] = None,
                         extra: Optional[dict] = None) -> tuple[TrainConfig, dict]:
    """The operative :class:`TrainConfig` from a recipe and the command line's edits.

    Args:
        recipe: the recipe's data (default: read from ``recipe_path``; neither: an empty recipe).
        recipe_path: where it came from (for messages).
        recipe_sets: ``key.sub=value`` edits, applied in order.
        epochs, steps: ``--epochs``/``--steps``: each sets its key and clears the other.
        data: ``--data``: the data set name.
        extra: keys set last (e.g. the data set chosen from the spec's header).

    Returns:
        ``(config, edited_recipe)``: the validated config and the recipe dict it was built from.

    Raises:
        ZooError: an invalid recipe or edit; the message names the file and the key.
    """
    if recipe is None:
        recipe = load_recipe(recipe_path) if recipe_path else {}
    edited = apply_overrides(recipe, recipe_sets)
    if epochs is not None and steps is not None:
        raise ZooError("give --epochs or --steps, not both")
    if epochs is not None:
        edited["epochs"], edited["steps"] = epochs, None
    if steps is not None:
        edited["steps"], edited["epochs"] = steps, None
    if data is not None:
        edited["data"] = data
    for key, value in (extra or {}).items():
        edited[key] = value
    edited = {k: v for k, v in edited.items() if not (k in ("epochs", "steps") and v is None)}
    try:
        return TrainConfig.from_dict(edited), edited
    except ZooError as err:
        where = recipe_path or "recipe"
        raise ZooError(f"{where}: {err}") from None
