"""Learning-rate and KL warm-up schedules: pure functions of training time.

Both are functions of the position in training alone (no state), so a resumed run recomputes
exactly the values of an uninterrupted one and the checkpoint needs to store only the step.
Times are in epochs; a fractional epoch is ``step / steps_per_epoch``.

Learning rate (:func:`learning_rate`), after an optional linear warm-up from ``warmup_start_lr``
over ``warmup_epochs`` (per step):

* ``constant``: the optimizer's lr.
* ``cosine``: ``min_lr + (lr - min_lr) (1 + cos(pi t / T)) / 2`` with t the time since warm-up
  and T = ``period_epochs`` (default: the rest of the run); ``min_lr`` after T.
* ``cosine_restarts``: SGDR (Loshchilov & Hutter 2017): the same curve restarted after each
  period, the first of ``period_epochs``, each next one ``period_mult`` times longer.
* ``staircase``: Burda et al. (2016): stage i = 0 .. S-1 lasts ``stage_base ** i`` epochs at
  ``lr * final_factor ** (i / (S - 1))`` (3^i epochs at 1e-3 * 10^(-i/7), i = 0..7, 3280 epochs).

KL weight beta (:func:`kl_beta`), per whole epoch e, after ``delay_epochs`` epochs of beta = 0:

* ``none``: beta = 1.
* ``linear``: ``start + (1 - start) e / epochs`` for e < epochs, then 1 (Sonderby et al. 2016
  from 0 over 200 epochs; the attentive VAE from 0.1 over 16 epochs).
* ``geometric`` (self-reflective VAE, Section 5.1), N = ``levels``: beta_0 = 0 and
  ``beta_n = 10 ** ((n - N) / (N - 1))`` for n = 1..N, so beta_1 = 0.1 and beta_N = 1. Level
  n = 0..N-1 lasts 2**n epochs, i.e. epoch e is at level ``floor(log2(e + 1))``; the warm-up takes
  ``2**N - 1`` epochs (1023 for N = 10, 255 for N = 8), then beta = beta_N = 1.

:func:`schedule_values` gives both at a training step. A run shorter than its recipe would stop in
the middle of a warm-up; :func:`schedule_warnings` says so before it starts, and with
``schedule_epochs`` (``zoo train --schedule-to-steps``) the schedules are laid over the recipe's
length and compressed into the run's: step s of a run of S steps is at the recipe's epoch
``s / S x schedule_epochs``.
"""
from __future__ import annotations

import math

from ..config import KLWarmupConfig, LRScheduleConfig

__all__ = ["learning_rate", "kl_beta", "geometric_level", "kl_warmup_epochs", "staircase_epochs", "schedule_values",
           "schedule_warnings"]


def learning_rate(cfg: LRScheduleConfig, base_lr: float, epoch: float, total_epochs: float) -> float:
    """The learning rate at (fractional) ``epoch`` of a run of ``total_epochs`` epochs.

    Example:
        >>> from zoo.config import LRScheduleConfig
        >>> cfg = LRScheduleConfig(name="cosine", warmup_epochs=2, min_lr=0.0)
        >>> [round(learning_rate(cfg, 1.0, e, 12), 3) for e in (0, 1, 2, 7, 12)]
        [0.0, 0.5, 1.0, 0.5, 0.0]
    """
    if epoch < cfg.warmup_epochs:
        return cfg.warmup_start_lr + (base_lr - cfg.warmup_start_lr) * epoch / cfg.warmup_epochs
    t = epoch - cfg.warmup_epochs
    if cfg.granularity == "epoch":
        t = float(math.floor(t + 1e-9))
    if cfg.name == "constant":
        return base_lr
    if cfg.name == "cosine":
        period = cfg.period_epochs if cfg.period_epochs is not None else max(total_epochs - cfg.warmup_epochs, 1e-12)
        return _cosine(base_lr, cfg.min_lr, min(t / period, 1.0))
    if cfg.name == "cosine_restarts":
        start, period = _sgdr_period(t, cfg.period_epochs, cfg.period_mult)
        return _cosine(base_lr, cfg.min_lr, (t - start) / period)
    if cfg.name == "staircase":
        return base_lr * cfg.final_factor ** (_stage(t, cfg.stages, cfg.stage_base) / (cfg.stages - 1))
    raise AssertionError(cfg.name)  # LRScheduleConfig validates the name


def _cosine(high: float, low: float, fraction: float) -> float:
    return low + (high - low) * 0.5 * (1.0 + math.cos(math.pi * fraction))


def _sgdr_period(t: float, first: float, mult: float) -> tuple[float, float]:
    """(start, length) of the SGDR period containing time t."""
    if mult == 1.0:
        index = math.floor(t / first)
        return index * first, first
    index = math.floor(math.log1p(t * (mult - 1.0) / first) / math.log(mult))
    start = first * (mult ** index - 1.0) / (mult - 1.0)
    while t < start:  # guard the floating-point boundaries
        index -= 1
        start = first * (mult ** index - 1.0) / (mult - 1.0)
    while t >= start + first * mult ** index:
        start += first * mult ** index
        index += 1
    return start, first * mult ** index


def _stage(t: float, stages: int, base: float) -> int:
    end = 0.0
    for i in range(stages):
        end += base ** i
        if t < end:
            return i
    return stages - 1


def staircase_epochs(cfg: LRScheduleConfig) -> float:
    """Epochs covered by a staircase schedule (3280 for Burda et al.'s 8 stages of 3^i epochs)."""
    return sum(cfg.stage_base ** i for i in range(cfg.stages))


def geometric_level(epoch: int) -> int:
    """The level n of epoch e in a geometric warm-up: ``floor(log2(e + 1))`` (level n lasts 2**n epochs)."""
    return (int(epoch) + 1).bit_length() - 1


def kl_beta(cfg: KLWarmupConfig, epoch: int) -> float:
    """The weight of the KL term during (0-based, whole) epoch ``epoch``.

    Example:
        >>> from zoo.config import KLWarmupConfig
        >>> cfg = KLWarmupConfig(name="geometric", levels=10)
        >>> [round(kl_beta(cfg, e), 4) for e in (0, 1, 2, 3, 511, 1022, 1023)]
        [0.0, 0.1, 0.1, 0.1292, 0.7743, 0.7743, 1.0]
    """
    e = int(epoch) - cfg.delay_epochs
    if e < 0:
        return 0.0
    if cfg.name == "none":
        return 1.0
    if cfg.name == "linear":
        return 1.0 if e >= cfg.epochs else cfg.start + (1.0 - cfg.start) * e / cfg.epochs
    if cfg.name == "geometric":
        n, levels = geometric_level(e), cfg.levels
        if n >= levels:
            return 1.0
        return 0.0 if n == 0 else 10.0 ** ((n - levels) / (levels - 1))
    raise AssertionError(cfg.name)  # KLWarmupConfig validates the name


def kl_warmup_epochs(cfg: KLWarmupConfig) -> float:
    """Epochs until beta reaches 1 (including the delay): ``2**N - 1`` + delay for geometric."""
    if cfg.name == "none":
        return float(cfg.delay_epochs)
    if cfg.name == "linear":
        return cfg.delay_epochs + math.ceil(cfg.epochs)
    return cfg.delay_epochs + 2 ** cfg.levels - 1


def schedule_values(cfg, step: int, steps_per_epoch: int, total_steps: int) -> tuple[float, float]:
    """``(learning rate, KL weight)`` at ``step`` of a run of ``total_steps`` steps of a
    :class:`~zoo.config.TrainConfig`, compressed when ``cfg.schedule_epochs`` is set (module docstring).

    Example:
        >>> from zoo.config import TrainConfig
        >>> cfg = TrainConfig(steps=100, kl_warmup={"name": "linear", "epochs": 200}, schedule_epochs=2000)
        >>> [round(schedule_values(cfg, s, 50, 100)[1], 3) for s in (0, 5, 9, 10, 99)]
        [0.0, 0.5, 0.9, 1.0, 1.0]
    """
    if cfg.schedule_epochs is None:
        epoch, total_epochs, whole = step / steps_per_epoch, total_steps / steps_per_epoch, step // steps_per_epoch
    else:
        epoch = step / total_steps * cfg.schedule_epochs
        total_epochs, whole = float(cfg.schedule_epochs), math.floor(epoch + 1e-9)
    return learning_rate(cfg.lr_schedule, cfg.optimizer.lr, epoch, total_epochs), kl_beta(cfg.kl_warmup, whole)


def _schedule_end_epochs(cfg) -> float:
    """Epochs after which the learning-rate schedule has nothing left to do (0 for none)."""
    lr = cfg.lr_schedule
    end = lr.warmup_epochs
    if lr.name == "staircase":
        end += staircase_epochs(lr)
    elif lr.name == "cosine" and lr.period_epochs is not None:
        end += lr.period_epochs
    return end


def schedule_warnings(cfg, steps_per_epoch: int, total_steps: int) -> list[str]:
    """What a run of ``total_steps`` steps leaves unfinished of its recipe's schedules: the KL warm-up,
    the learning-rate warm-up, a staircase or fixed-period schedule. Empty when nothing is cut short
    (always with ``schedule_epochs``, which compresses them into the run)."""
    if cfg.schedule_epochs is not None or steps_per_epoch < 1:  # no whole batch: training says so itself
        return []
    spe, run_epochs = steps_per_epoch, total_steps / steps_per_epoch
    length = f"{total_steps:,} steps ({run_epochs:.3g} epochs of {spe:,} steps)"
    fix = "train longer, or add --schedule-to-steps to compress the recipe's schedules into this run"
    out = []
    kl_end = kl_warmup_epochs(cfg.kl_warmup)
    if kl_end > run_epochs:
        _, beta = schedule_values(cfg, total_steps - 1, spe, total_steps)
        out.append(f"warning: the run ends before the KL warm-up: {length}, but the recipe's {cfg.kl_warmup.name} "
                   f"warm-up reaches beta = 1 after {kl_end:g} epochs ({math.ceil(kl_end * spe):,} steps); the last "
                   f"step trains with beta = {beta:.3g}, so the model is not trained for the ELBO that `zoo eval` "
                   f"reports (expect a large KL and poor samples); {fix}")
    if cfg.lr_schedule.warmup_epochs > run_epochs:
        lr, _ = schedule_values(cfg, total_steps - 1, spe, total_steps)
        out.append(f"warning: the run ends before the learning-rate warm-up: {length}, warm-up "
                   f"{cfg.lr_schedule.warmup_epochs:g} epochs; the last step uses lr = {lr:.3g} of "
                   f"{cfg.optimizer.lr:g}; {fix}")
    end = _schedule_end_epochs(cfg)
    if cfg.lr_schedule.name in ("staircase", "cosine") and end > run_epochs and end > cfg.lr_schedule.warmup_epochs:
        out.append(f"warning: the run ends before the {cfg.lr_schedule.name} learning-rate schedule does "
                   f"({end:g} epochs): {length}; {fix}")
    return out
