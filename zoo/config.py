"""Typed, frozen configurations of training, evaluation and sampling.

A recipe (``specs/<model>.yaml``, see :mod:`zoo.training.recipes`) becomes a :class:`TrainConfig`; the
command line's ``--recipe-set`` edits the recipe before that. Every choice is checked in
``__post_init__``: a wrong value is a :class:`~zoo.errors.ZooError` that names the key, says what
is allowed and suggests close matches. ``to_dict`` gives plain YAML/JSON-able data (saved beside
each checkpoint), and ``from_dict`` validates it again on the way back, so an edited or foreign
config is refused with a message rather than trusted.

Example:
    >>> cfg = TrainConfig.from_dict({"steps": 100, "optimizer": {"name": "adamax", "lr": 1e-2}})
    >>> cfg.optimizer.name, cfg.steps, cfg.epochs
    ('adamax', 100, None)
    >>> TrainConfig.from_dict(cfg.to_dict()) == cfg
    True
"""
from __future__ import annotations

import dataclasses
import difflib
import math
import numbers
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from .errors import ZooError

__all__ = ["OptimizerConfig", "LRScheduleConfig", "KLWarmupConfig", "TrainConfig", "EvalConfig", "SampleConfig",
           "OPTIMIZERS", "LR_SCHEDULES", "KL_WARMUPS", "DTYPES", "OBJECTIVES", "AUGMENTATIONS"]

OPTIMIZERS = ("adam", "adamax", "adamw")
LR_SCHEDULES = ("constant", "cosine", "cosine_restarts", "staircase")
KL_WARMUPS = ("none", "linear", "geometric")
DTYPES = ("fp32", "bf16")
OBJECTIVES = ("elbo", "iwae")
AUGMENTATIONS = ("hflip", "vflip")
GRANULARITIES = ("step", "epoch")


# -- coercion and checks ---------------------------------------------------------------------------

def _where(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _coerce(key: str, value: Any, kind: str) -> Any:
    """Turn YAML/CLI data into the field's type; ``1e-3`` (a string to YAML 1.1) becomes a float."""
    optional = kind.startswith("Optional[")
    base = kind[len("Optional["):-1] if optional else kind
    if value is None:
        if optional:
            return None
        raise ZooError(f"{key} must be given (a {base}), got null")
    if base == "bool":
        if isinstance(value, bool):
            return value
        raise ZooError(f"{key} must be true or false, got {value!r}")
    if base == "int":
        if isinstance(value, bool):
            raise ZooError(f"{key} must be an integer, got {value!r}")
        if isinstance(value, numbers.Integral):
            return int(value)
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return _coerce(key, float(value) if "." in value or "e" in value.lower() else int(value), kind)
            except ValueError:
                pass
        raise ZooError(f"{key} must be an integer, got {value!r}")
    if base == "float":
        if isinstance(value, bool):
            raise ZooError(f"{key} must be a number, got {value!r}")
        if isinstance(value, numbers.Real):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ZooError(f"{key} must be a number, got {value!r}")
    if base == "str":
        if isinstance(value, str):
            return value
        raise ZooError(f"{key} must be a string, got {value!r}")
    if base in ("tuple[float, float]", "tuple[float, ...]"):
        if isinstance(value, (list, tuple)) and all(isinstance(v, (numbers.Real, str)) and not isinstance(v, bool)
                                                    for v in value):
            out = tuple(_coerce(key, v, "float") for v in value)
            if base == "tuple[float, float]" and len(out) != 2:
                raise ZooError(f"{key} must be a list of two numbers, got {list(value)!r}")
            return out
        raise ZooError(f"{key} must be a list of numbers, got {value!r}")
    if base == "tuple[str, ...]":
        if isinstance(value, str):
            value = [value]
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return tuple(value)
        raise ZooError(f"{key} must be a list of names, got {value!r}")
    raise AssertionError(f"no coercion for field type {kind!r}")  # a bug in this module


def _choice(key: str, value: str, choices) -> None:
    if value not in choices:
        close = difflib.get_close_matches(str(value), choices, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ZooError(f"{key} '{value}' is not one of {', '.join(choices)}{hint}")


def _check(ok: bool, key: str, what: str, value: Any) -> None:
    if not ok:
        raise ZooError(f"{key} must be {what}, got {value!r}")


class _Config:
    """to_dict / from_dict for frozen dataclasses whose fields are plain values or sub-configs."""

    _prefix = ""
    _nested: dict = {}

    def to_dict(self) -> dict:
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, _Config):
                value = value.to_dict()
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: Optional[Mapping[str, Any]], *, prefix: Optional[str] = None):
        prefix = cls._prefix if prefix is None else prefix
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise ZooError(f"{prefix or 'config'} must be a mapping of keys to values, got {data!r}")
        names = [f.name for f in dataclasses.fields(cls)]
        kwargs = {}
        for key, value in data.items():
            if key not in names:
                close = difflib.get_close_matches(str(key), names, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise ZooError(f"unknown key '{_where(prefix, key)}'{hint}; keys: {', '.join(names)}")
            sub = cls._nested.get(key)
            if sub is not None:
                if isinstance(value, str):  # `optimizer: adam` is shorthand for `{name: adam}`
                    value = {"name": value}
                kwargs[key] = sub.from_dict(value, prefix=_where(prefix, key))
            else:
                kind = next(f.type for f in dataclasses.fields(cls) if f.name == key)
                kwargs[key] = _coerce(_where(prefix, key), value, kind)
        return cls(**kwargs)

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)


# -- training ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class OptimizerConfig(_Config):
    """``adam`` | ``adamax`` | ``adamw`` with its hyperparameters. ``weight_decay`` is coupled L2
    (added to the gradient) for adam/adamax and decoupled for adamw, as in PyTorch."""

    name: str = "adam"
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0
    _prefix = "optimizer"

    def __post_init__(self):
        _choice("optimizer.name", self.name, OPTIMIZERS)
        _check(self.lr > 0 and math.isfinite(self.lr), "optimizer.lr", "a positive number", self.lr)
        _check(all(0 <= b < 1 for b in self.betas), "optimizer.betas", "two numbers in [0, 1)", list(self.betas))
        _check(self.eps > 0, "optimizer.eps", "positive", self.eps)
        _check(self.weight_decay >= 0, "optimizer.weight_decay", "non-negative", self.weight_decay)


@dataclass(frozen=True)
class LRScheduleConfig(_Config):
    """The learning-rate schedule (see :mod:`zoo.training.schedules`). Times are in epochs (fractional
    epochs are steps / steps per epoch).

    Attributes:
        name: ``constant`` | ``cosine`` | ``cosine_restarts`` (SGDR) | ``staircase``.
        warmup_epochs: linear warm-up from ``warmup_start_lr`` to the optimizer's lr, per step.
        min_lr: the floor of the cosine schedules.
        period_epochs: the cosine period (``cosine``: default the rest of the run after warm-up;
            ``cosine_restarts``: the first period, required).
        period_mult: each SGDR period is this many times longer than the previous one.
        granularity: ``step`` evaluates the decay at fractional epochs; ``epoch`` holds it constant
            within an epoch (as Keras callbacks do). Warm-up is always per step.
        stages, stage_base, final_factor: ``staircase`` (Burda et al. 2016): stage i = 0..stages-1
            lasts ``stage_base ** i`` epochs at ``lr * final_factor ** (i / (stages - 1))``.
    """

    name: str = "constant"
    warmup_epochs: float = 0.0
    warmup_start_lr: float = 0.0
    min_lr: float = 0.0
    period_epochs: Optional[float] = None
    period_mult: float = 1.0
    granularity: str = "step"
    stages: int = 8
    stage_base: float = 3.0
    final_factor: float = 0.1
    _prefix = "lr_schedule"

    def __post_init__(self):
        _choice("lr_schedule.name", self.name, LR_SCHEDULES)
        _choice("lr_schedule.granularity", self.granularity, GRANULARITIES)
        _check(self.warmup_epochs >= 0, "lr_schedule.warmup_epochs", "non-negative", self.warmup_epochs)
        _check(self.warmup_start_lr >= 0, "lr_schedule.warmup_start_lr", "non-negative", self.warmup_start_lr)
        _check(self.min_lr >= 0, "lr_schedule.min_lr", "non-negative", self.min_lr)
        _check(self.period_epochs is None or self.period_epochs > 0, "lr_schedule.period_epochs",
               "positive (or null)", self.period_epochs)
        _check(self.period_mult >= 1, "lr_schedule.period_mult", "at least 1", self.period_mult)
        if self.name == "cosine_restarts" and self.period_epochs is None:
            raise ZooError("lr_schedule.period_epochs is required by cosine_restarts (the first SGDR period)")
        _check(self.stages >= 2, "lr_schedule.stages", "at least 2", self.stages)
        _check(self.stage_base > 0, "lr_schedule.stage_base", "positive", self.stage_base)
        _check(self.final_factor > 0, "lr_schedule.final_factor", "positive", self.final_factor)


@dataclass(frozen=True)
class KLWarmupConfig(_Config):
    """The weight beta of the KL term (see :mod:`zoo.training.schedules`), per epoch.

    Attributes:
        name: ``none`` (beta = 1) | ``linear`` (``start`` to 1 over ``epochs``) | ``geometric``
            (self-reflective VAE: ``levels`` levels, level n lasting 2**n epochs).
        delay_epochs: beta = 0 for this many epochs first (a reconstruction-only phase).
    """

    name: str = "none"
    epochs: float = 0.0
    start: float = 0.0
    levels: int = 10
    delay_epochs: int = 0
    _prefix = "kl_warmup"

    def __post_init__(self):
        _choice("kl_warmup.name", self.name, KL_WARMUPS)
        _check(self.epochs >= 0, "kl_warmup.epochs", "non-negative", self.epochs)
        if self.name == "linear":
            _check(self.epochs > 0, "kl_warmup.epochs", "positive for a linear warm-up", self.epochs)
        _check(0 <= self.start <= 1, "kl_warmup.start", "in [0, 1]", self.start)
        _check(self.levels >= 2, "kl_warmup.levels", "at least 2", self.levels)
        _check(self.delay_epochs >= 0, "kl_warmup.delay_epochs", "non-negative", self.delay_epochs)


@dataclass(frozen=True)
class TrainConfig(_Config):
    """Everything that decides a training run's numbers (the recipe, after command-line edits).

    The keys of the recipe schema (docs/training.md) plus: ``objective`` (``elbo`` or ``iwae``),
    ``train_samples`` (importance samples per example for ``iwae``), ``analytic_kl``, ``compile``
    (run the objective through ``torch.compile``; ``zoo train --compile``),
    ``processes`` (the process count a recipe's batch size assumes; a different count is reported),
    ``init_batches`` (batches for data-dependent initialisation; null = one pass),
    ``eval_every_epochs`` (validation cadence; 0 = never), ``checkpoint_every`` (steps) and
    ``log_every`` (steps between CSV rows), ``schedule_epochs`` (null, or the recipe's length in
    epochs over which the schedules are laid and compressed into this run's length; set by
    ``zoo train --schedule-to-steps``, see :mod:`zoo.training.schedules`).
    """

    data: Optional[str] = None
    validation: Optional[int] = None
    epochs: Optional[int] = None
    steps: Optional[int] = None
    batch_size: int = 100
    eval_batch_size: int = 500
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    lr_schedule: LRScheduleConfig = field(default_factory=LRScheduleConfig)
    kl_warmup: KLWarmupConfig = field(default_factory=KLWarmupConfig)
    free_bits: float = 0.0
    grad_clip: Optional[float] = None
    grad_skip: Optional[float] = None
    max_skips: int = 100
    ema: Optional[float] = None
    importance_samples: int = 1000
    seed: int = 123
    dtype: str = "fp32"
    augment: tuple[str, ...] = ()
    source: str = ""
    objective: str = "elbo"
    train_samples: int = 1
    analytic_kl: bool = True
    compile: bool = False
    processes: Optional[int] = None
    init_batches: Optional[int] = None
    eval_every_epochs: int = 1
    checkpoint_every: int = 500
    log_every: int = 10
    schedule_epochs: Optional[float] = None
    _nested = {"optimizer": OptimizerConfig, "lr_schedule": LRScheduleConfig, "kl_warmup": KLWarmupConfig}

    def __post_init__(self):
        for key, sub in self._nested.items():  # TrainConfig(optimizer={"name": "adamax"}) works too
            value = getattr(self, key)
            if not isinstance(value, sub):
                object.__setattr__(self, key, sub.from_dict({"name": value} if isinstance(value, str) else value,
                                                            prefix=key))
        if (self.epochs is None) == (self.steps is None):
            raise ZooError("give exactly one of 'epochs' and 'steps' (the recipe has "
                           + ("both" if self.epochs is not None else "neither") + "; --epochs/--steps replace both)")
        _check(self.epochs is None or self.epochs > 0, "epochs", "a positive integer", self.epochs)
        _check(self.steps is None or self.steps > 0, "steps", "a positive integer", self.steps)
        _check(self.validation is None or self.validation > 0, "validation", "a positive number of images",
               self.validation)
        _check(self.batch_size > 0, "batch_size", "a positive integer", self.batch_size)
        _check(self.eval_batch_size > 0, "eval_batch_size", "a positive integer", self.eval_batch_size)
        _check(self.free_bits >= 0, "free_bits", "non-negative (nats per latent layer)", self.free_bits)
        _check(self.grad_clip is None or self.grad_clip > 0, "grad_clip", "positive or null", self.grad_clip)
        _check(self.grad_skip is None or self.grad_skip > 0, "grad_skip", "positive or null", self.grad_skip)
        _check(self.max_skips >= 1, "max_skips", "at least 1", self.max_skips)
        _check(self.ema is None or 0 < self.ema < 1, "ema", "a decay in (0, 1) or null", self.ema)
        _check(self.importance_samples >= 1, "importance_samples", "at least 1", self.importance_samples)
        _check(self.schedule_epochs is None or self.schedule_epochs > 0, "schedule_epochs", "positive or null",
               self.schedule_epochs)
        _check(self.seed >= 0, "seed", "a non-negative integer", self.seed)
        _choice("dtype", self.dtype, DTYPES)
        for op in self.augment:
            _choice("augment", op, AUGMENTATIONS)
        _choice("objective", self.objective, OBJECTIVES)
        _check(self.train_samples >= 1, "train_samples", "at least 1", self.train_samples)
        if self.objective == "iwae" and (self.free_bits > 0 or self.kl_warmup.name != "none"):
            raise ZooError("free_bits and kl_warmup weight the KL term of the ELBO; the iwae objective has "
                           "none (set free_bits: 0 and kl_warmup: none, or objective: elbo)")
        if self.objective == "elbo" and self.train_samples != 1:
            raise ZooError("train_samples > 1 needs objective: iwae (the ELBO uses one posterior sample)")
        _check(self.processes is None or self.processes >= 1, "processes", "at least 1 or null", self.processes)
        _check(self.init_batches is None or self.init_batches >= 1, "init_batches", "at least 1 or null",
               self.init_batches)
        _check(self.eval_every_epochs >= 0, "eval_every_epochs", "non-negative", self.eval_every_epochs)
        _check(self.checkpoint_every >= 1, "checkpoint_every", "at least 1 (steps)", self.checkpoint_every)
        _check(self.log_every >= 1, "log_every", "at least 1 (steps)", self.log_every)


# -- evaluation and sampling -----------------------------------------------------------------------

@dataclass(frozen=True)
class EvalConfig(_Config):
    """How ``zoo eval`` measures a trained model.

    Attributes:
        importance_samples: K of the importance-weighted bound (Burda et al. 2016).
        split: ``test`` | ``valid`` | ``train``.
        batch_size: test images per batch.
        max_forward: most examples in one forward pass (batch x importance samples); the K
            samples are processed in chunks to stay under it.
        limit: evaluate only the first N images of the split (null: all).
        use_ema: use the EMA weights when the checkpoint has them.
        au_threshold: a unit is active when Var_x E_q[z | x] exceeds it (0.01, Burda et al.).
    """

    importance_samples: int = 1000
    split: str = "test"
    batch_size: int = 500
    max_forward: int = 25000
    limit: Optional[int] = None
    seed: int = 0
    use_ema: bool = True
    analytic_kl: bool = True
    au_threshold: float = 0.01

    def __post_init__(self):
        _check(self.importance_samples >= 1, "importance_samples", "at least 1", self.importance_samples)
        _choice("split", self.split, ("test", "valid", "train"))
        _check(self.batch_size >= 1, "batch_size", "at least 1", self.batch_size)
        _check(self.max_forward >= 1, "max_forward", "at least 1", self.max_forward)
        _check(self.limit is None or self.limit >= 1, "limit", "at least 1 or null", self.limit)
        _check(self.seed >= 0, "seed", "a non-negative integer", self.seed)
        _check(self.au_threshold >= 0, "au_threshold", "non-negative", self.au_threshold)


@dataclass(frozen=True)
class SampleConfig(_Config):
    """How ``zoo sample`` draws: ``n`` samples at ``temperature`` (scales every prior's std),
    the likelihood's mean (``mean``) or a sample of it, EMA weights when present."""

    n: int = 64
    temperature: float = 1.0
    seed: int = 0
    use_ema: bool = True
    mean: bool = True
    nrow: Optional[int] = None
    reconstructions: int = 0
    split: str = "test"

    def __post_init__(self):
        _check(self.n >= 1, "n", "at least 1", self.n)
        _check(self.temperature >= 0 and math.isfinite(self.temperature), "temperature", "a non-negative number",
               self.temperature)
        _check(self.seed >= 0, "seed", "a non-negative integer", self.seed)
        _check(self.nrow is None or self.nrow >= 1, "nrow", "at least 1 or null", self.nrow)
        _check(self.reconstructions >= 0, "reconstructions", "non-negative", self.reconstructions)
        _choice("split", self.split, ("test", "valid", "train"))
