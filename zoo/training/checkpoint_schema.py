"""The schema of a checkpoint, checked field by field before any of it is used.

A checkpoint loads without running code (`torch.load(weights_only=True)`), but a file that loads
safely can still hold a string where a dict belongs, an EMA without its shadow weights, or an
optimizer state for another model; used as is, each of those ends in a `KeyError` or an
`AttributeError` deep inside training or evaluation. Every field is checked here against what
`zoo train` writes (:mod:`zoo.training.checkpoint`) and, once the model is rebuilt, against the model's
own parameters. Each problem names its field and what it is needed for:

- ``weights``: the spec and the model weights; without them nothing can be done;
- ``ema``: the averaged weights (``zoo eval --no-ema`` uses the raw ones instead);
- ``eval``: the data set's name, the training config and the progress, which `zoo eval` and
  `zoo sample` read;
- ``resume``: optimizer, RNG, progress and scheduler state, needed only by ``--resume``.

:func:`require` raises one :class:`ZooError` listing every problem that matters for what the
command does, and says whether the weights are still usable.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

import torch

from ..errors import ZooError

__all__ = ["Problem", "structural_problems", "model_problems", "require", "WEIGHTS", "EMA", "EVAL", "RESUME"]

WEIGHTS, EMA, EVAL, RESUME = "weights", "ema", "eval", "resume"


@dataclass(frozen=True)
class Problem:
    """One wrong field: where (``optimizer.state``), what is wrong, and what needs it."""

    field: str
    message: str
    needed_by: str


def _kind(value: Any) -> str:
    return "a tensor" if isinstance(value, torch.Tensor) else f"{type(value).__name__} {value!r}"[:80]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _dict_of(out, value, field, needed_by, key_type=str, value_check=None, what="") -> bool:
    if not isinstance(value, dict):
        out.append(Problem(field, f"must be a dict{what}, got {_kind(value)}", needed_by))
        return False
    for k, v in value.items():
        if not isinstance(k, key_type):
            out.append(Problem(field, f"has a key {k!r} that is not a {key_type.__name__}", needed_by))
            return False
        if value_check is not None and not value_check(v):
            out.append(Problem(f"{field}[{k!r}]", f"must be {what.strip(' of')}, got {_kind(v)}", needed_by))
            return False
    return True


def structural_problems(ckpt: dict) -> list[Problem]:
    """Every field whose type or layout is not what `zoo train` writes (no model needed)."""
    out: list[Problem] = []
    spec = ckpt.get("spec")
    if _dict_of(out, spec, "spec", WEIGHTS):
        for key, needed_by in (("name", WEIGHTS), ("main", WEIGHTS), ("sha256", EVAL)):
            if not isinstance(spec.get(key), str):
                out.append(Problem(f"spec.{key}", f"must be a string, got {_kind(spec.get(key))}", needed_by))
        _dict_of(out, spec.get("files"), "spec.files", WEIGHTS, value_check=lambda v: isinstance(v, str),
                 what=" of strings")
        _dict_of(out, spec.get("files_sha256"), "spec.files_sha256", WEIGHTS,
                 value_check=lambda v: isinstance(v, str), what=" of strings")
        if spec.get("overrides") is not None:
            _dict_of(out, spec["overrides"], "spec.overrides", WEIGHTS, what=" of constant values")
    _dict_of(out, ckpt.get("model"), "model", WEIGHTS, value_check=lambda v: isinstance(v, torch.Tensor),
             what=" of tensors")
    _dict_of(out, ckpt.get("config"), "config", EVAL)
    data = ckpt.get("data")
    if _dict_of(out, data, "data", EVAL) and not isinstance(data.get("name"), str):
        out.append(Problem("data.name", f"must be the data set's name, got {_kind(data.get('name'))}", EVAL))
    ema = ckpt.get("ema")
    if ema is not None and _dict_of(out, ema, "ema", EMA):
        if not isinstance(ema.get("decay"), (int, float)) or isinstance(ema.get("decay"), bool):
            out.append(Problem("ema.decay", f"must be a number, got {_kind(ema.get('decay'))}", EMA))
        _dict_of(out, ema.get("shadow"), "ema.shadow", EMA, value_check=lambda v: isinstance(v, torch.Tensor),
                 what=" of tensors")
    out += _optimizer_layout(ckpt.get("optimizer"))
    out += _rng_layout(ckpt.get("rng"))
    progress = ckpt.get("progress")
    if _dict_of(out, progress, "progress", EVAL):  # `zoo eval` reports the step it evaluates
        for key in ("step", "epoch", "batch", "skipped_total", "skipped_consecutive"):
            if key in progress and not (_is_int(progress[key]) and progress[key] >= 0):
                out.append(Problem(f"progress.{key}", f"must be a non-negative integer, got {_kind(progress[key])}",
                                   RESUME))
        if "finished" in progress and not isinstance(progress["finished"], bool):
            out.append(Problem("progress.finished", f"must be true or false, got {_kind(progress['finished'])}",
                               RESUME))
    scheduler = ckpt.get("scheduler")
    if scheduler is not None and _dict_of(out, scheduler, "scheduler", RESUME):
        spe = scheduler.get("steps_per_epoch")
        if spe is not None and not (_is_int(spe) and spe > 0):
            out.append(Problem("scheduler.steps_per_epoch", f"must be a positive integer, got {_kind(spe)}", RESUME))
    return out


def _optimizer_layout(opt: Any) -> list[Problem]:
    out: list[Problem] = []
    if opt is None or not _dict_of(out, opt, "optimizer", RESUME):
        return out
    if not isinstance(opt.get("state"), dict):
        out.append(Problem("optimizer.state", f"must be a dict, got {_kind(opt.get('state'))}", RESUME))
    groups = opt.get("param_groups")
    if not isinstance(groups, list) or not all(isinstance(g, dict) and isinstance(g.get("params"), list)
                                               and all(_is_int(i) for i in g["params"]) for g in groups):
        out.append(Problem("optimizer.param_groups", "must be a list of groups, each with a list of parameter "
                                                     "indices", RESUME))
    return out


def _rng_layout(rng: Any) -> list[Problem]:
    out: list[Problem] = []
    if rng is None or not _dict_of(out, rng, "rng", RESUME):
        return out
    expected = torch.get_rng_state()
    state = rng.get("torch")
    if not (isinstance(state, torch.Tensor) and state.dtype == expected.dtype and state.shape == expected.shape):
        shown = f"{state.dtype} of shape {tuple(state.shape)}" if isinstance(state, torch.Tensor) else _kind(state)
        out.append(Problem("rng.torch", f"must be a {expected.dtype} tensor of shape {tuple(expected.shape)}, got "
                                        f"{shown}", RESUME))
    numpy = rng.get("numpy")
    if not (isinstance(numpy, dict) and isinstance(numpy.get("keys"), torch.Tensor) and numpy["keys"].numel() == 624
            and isinstance(numpy.get("kind"), str) and _is_int(numpy.get("pos")) and _is_int(numpy.get("has_gauss"))
            and isinstance(numpy.get("gauss"), float)):
        out.append(Problem("rng.numpy", "must hold numpy's MT19937 state (kind, 624 keys, pos, has_gauss, gauss)",
                           RESUME))
    python = rng.get("python")
    if not (isinstance(python, dict) and _is_int(python.get("version")) and isinstance(python.get("state"), list)
            and len(python["state"]) == 625 and all(_is_int(w) for w in python["state"])):
        out.append(Problem("rng.python", "must hold python's generator state (version and 625 integers)", RESUME))
    return out


def model_problems(ckpt: dict, model: torch.nn.Module) -> list[Problem]:
    """The EMA and optimizer state checked against the rebuilt model's parameters."""
    out: list[Problem] = []
    own = model.state_dict()
    ema = ckpt.get("ema")
    if isinstance(ema, dict) and isinstance(ema.get("shadow"), dict):
        shadow = ema["shadow"]
        missing, extra = sorted(set(own) - set(shadow)), sorted(set(shadow) - set(own))
        if missing or extra:
            out.append(Problem("ema.shadow", f"does not match the model: missing {missing[:3]}, unexpected "
                                             f"{extra[:3]}", EMA))
        else:
            for name, value in shadow.items():
                if isinstance(value, torch.Tensor) and value.shape != own[name].shape:
                    out.append(Problem(f"ema.shadow[{name!r}]", f"has shape {tuple(value.shape)}, the model's is "
                                                                f"{tuple(own[name].shape)}", EMA))
                    break
    opt = ckpt.get("optimizer")
    if isinstance(opt, dict) and isinstance(opt.get("param_groups"), list) and isinstance(opt.get("state"), dict):
        params = [p for p in model.parameters() if p.requires_grad]
        indices = [i for g in opt["param_groups"] if isinstance(g, dict) for i in g.get("params", [])]
        if len(indices) != len(params):
            out.append(Problem("optimizer.param_groups", f"has {len(indices)} parameters, the model has "
                                                         f"{len(params)}", RESUME))
        else:
            by_index = dict(zip(indices, params))
            for index, state in opt["state"].items():
                problem = _param_state_problem(index, state, by_index)
                if problem is not None:
                    out.append(problem)
                    break
    return out


def _param_state_problem(index, state, by_index):
    if index not in by_index or not isinstance(state, dict):
        return Problem(f"optimizer.state[{index!r}]", "is not the state of a model parameter", RESUME)
    shape = tuple(by_index[index].shape)
    for key, value in state.items():
        if key == "step":
            continue
        if not isinstance(value, torch.Tensor) or tuple(value.shape) != shape:
            got = f"shape {tuple(value.shape)}" if isinstance(value, torch.Tensor) else _kind(value)
            return Problem(f"optimizer.state[{index}][{key!r}]", f"must be a tensor of the parameter's shape {shape}, "
                                                                 f"got {got}", RESUME)
    return None


def require(problems: Iterable[Problem], path: str, needs: Iterable[str]) -> None:
    """Raise one ZooError naming every problem among `problems` that `needs` depends on."""
    problems = list(problems)
    needs = set(needs)
    relevant = [p for p in problems if p.needed_by in needs]
    if not relevant:
        return
    lines = [f"{path} is damaged:"] + [f"  field '{p.field}' {p.message} (needed for {p.needed_by})" for p in relevant]
    if any(p.needed_by == WEIGHTS for p in problems):
        lines.append("the weights cannot be used")
    elif any(p.needed_by == EMA for p in relevant):
        lines.append("the raw weights are still usable: evaluate or sample with --no-ema")
    elif any(p.needed_by == RESUME for p in relevant):
        lines.append("the weights are still usable: `zoo eval` and `zoo sample` work without the optimizer, RNG and "
                     "progress state; the run cannot be resumed")
    else:
        lines.append("the weights are still usable, but `zoo eval` and `zoo sample` read the fields above")
    raise ZooError("\n".join(lines))
