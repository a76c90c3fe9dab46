"""The training loop: plain functions over (model, data, config).

:func:`train` runs a :class:`~zoo.config.TrainConfig` on a compiled model and an
:class:`~zoo.data.ImageData`, writing ``log.csv`` and ``checkpoint.pt`` into the run folder.

**Exact resume.** Everything random is a function of the position in training: the data order
and the binarization/flip noise of (seed, epoch, batch) (:mod:`zoo.data`), the model's sampling
noise of (seed, step, rank) (torch is reseeded before every step, :func:`zoo.training.distributed.step_seed`),
and the schedules of the step (:mod:`zoo.training.schedules`). A checkpoint stores the weights, the
optimizer, the EMA and the position, so a run resumed from it -- after SIGINT, SIGTERM or
``kill -9`` -- performs exactly the updates of an uninterrupted run and ends at the same weights.
SIGINT/SIGTERM finish the current step, write a checkpoint and stop; checkpoints are also written
every ``checkpoint_every`` steps and at the end.

**Failure handling.** A step whose loss or gradient norm is NaN/Inf, or whose gradient norm
exceeds ``grad_skip``, is skipped (no update) and counted; ``max_skips`` consecutive skips stop
the run with a message and a checkpoint. ``grad_clip`` clips the global gradient norm.

**Data-parallel runs.** Every rank draws the same *global* batch of ``batch_size x world_size``
images, encodes it with the global batch's noise and keeps its slice (see :mod:`zoo.training.distributed`).
"""
from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
from dataclasses import asdict, dataclass
from typing import Optional

import torch
from torch import nn

from .checkpoint import CHECKPOINT_NAME, capture_rng, restore_rng, save_checkpoint
from ..config import OptimizerConfig, TrainConfig
from .data_pass import elbo_pass, model_input
from .distributed import DistContext, all_reduce_mean, any_rank, seed_torch, single_process, step_seed
from .ema import EMA
from ..errors import ZooError
from ..runtime.objectives import bits_per_dim, compute_objective, data_dims
from .optim import OPTIMIZERS
from .runlog import RunLog
from .schedules import schedule_values

__all__ = ["TrainState", "TrainingInterrupted", "TooManySkips", "train", "build_optimizer", "model_input",
           "steps_per_epoch", "train_step"]


@dataclass
class TrainState:
    """The position of a run: ``step`` updates done (skipped ones included), the ``epoch`` and the
    index of the next ``batch`` in it, and the skipped-step counters."""

    step: int = 0
    epoch: int = 0
    batch: int = 0
    skipped_total: int = 0
    skipped_consecutive: int = 0
    finished: bool = False

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TrainState":
        return cls(**{k: data[k] for k in asdict(cls()) if k in data})


class TrainingInterrupted(Exception):
    """SIGINT or SIGTERM stopped the run after a checkpoint was written."""

    def __init__(self, signum: int, step: int, path: str):
        self.signum, self.step, self.path = signum, step, path
        name = signal.Signals(signum).name
        super().__init__(f"{name} received: stopped after step {step:,}; checkpoint written to {path}")


class TooManySkips(ZooError):
    """Too many consecutive steps were skipped (NaN/Inf or over ``grad_skip``)."""


def build_optimizer(model: nn.Module, cfg: OptimizerConfig) -> torch.optim.Optimizer:
    """Adam, Adamax or AdamW over every trainable parameter: torch's, without the import of
    ``torch._dynamo`` that costs an eager run ~2 s before its first step (:mod:`zoo.training.optim`)."""
    params = [p for p in model.parameters() if p.requires_grad]
    cls = OPTIMIZERS[cfg.name]
    return cls(params, lr=cfg.lr, betas=tuple(cfg.betas), eps=cfg.eps, weight_decay=cfg.weight_decay)


def steps_per_epoch(n_images: int, batch_size: int, world_size: int = 1) -> int:
    """Updates per epoch: whole global batches of ``batch_size x world_size`` (the rest is dropped)."""
    return n_images // (batch_size * world_size)


class _StopRequest:
    """Turns SIGINT/SIGTERM into a flag checked between steps; a second SIGINT stops at once."""

    def __init__(self):
        self.signum: Optional[int] = None
        self._old: dict = {}

    def _handle(self, signum, frame):
        if self.signum is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signum = signum

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc):
        for sig, handler in self._old.items():
            signal.signal(sig, handler)
        return False


class _Window:
    """Sums of logged quantities over the steps since the last CSV row."""

    def __init__(self, latents):
        self.latents = list(latents)
        self.reset()

    def reset(self):
        self.n = 0
        self.sums = dict.fromkeys(["loss", "nelbo", "recon", "kl", "grad_norm"] + [f"kl/{z}" for z in self.latents],
                                  0.0)
        self.steps = 0
        self.t0 = time.perf_counter()

    def add(self, obj, loss: float, norm: float):
        self.steps += 1
        if not math.isfinite(loss):
            return
        self.n += 1
        values = {"loss": loss, "grad_norm": norm, **obj.means()}  # one device sync
        for k, v in values.items():
            self.sums[k] += v

    def means(self) -> list[float]:
        return [self.sums[k] / self.n if self.n else float("nan") for k in self.sums]


def train(model: nn.Module, data, config: TrainConfig, run_dir: str, *, ctx: Optional[DistContext] = None,
          valid=None, resume: Optional[dict] = None, meta: Optional[dict] = None,
          progress: bool = True, started: Optional[float] = None) -> TrainState:
    """Train ``model`` on ``data`` as ``config`` says, writing logs and checkpoints to ``run_dir``.

    Args:
        model: a compiled :class:`~zoo.runtime.model.HierarchicalVAE`, freshly built with ``torch.manual_seed(config.seed)``
            (its initial weights are part of what the seed fixes).
        data: the training :class:`~zoo.data.ImageData`, already shaped like the spec's observed variable.
        config: the operative :class:`TrainConfig`.
        run_dir: where ``log.csv`` and ``checkpoint.pt`` go (must exist).
        ctx: the process's place in a data-parallel run (default: one process on CPU/GPU).
        valid: optional validation data, evaluated (single-sample negative ELBO) every
            ``eval_every_epochs`` epochs and at the end.
        resume: a loaded checkpoint to continue from (:func:`zoo.training.checkpoint.load_checkpoint`).
        meta: entries stored in every checkpoint as they are (spec record, recipe, data description).
        progress: show a progress bar (rank 0 only).
        started: ``time.perf_counter()`` when the command started; the time from it to the end of
            the first step is reported (default: from the call).

    Returns:
        The final :class:`TrainState` (``finished`` is True).

    Raises:
        TrainingInterrupted: SIGINT/SIGTERM (after writing a checkpoint).
        TooManySkips: ``max_skips`` consecutive skipped steps (after writing a checkpoint).
    """
    from ..data import make_loader

    started = time.perf_counter() if started is None else started
    ctx = ctx or single_process()
    cfg = config
    model.to(ctx.device)
    loader = make_loader(data, cfg.batch_size * ctx.world_size, shuffle=True, seed=cfg.seed, drop_last=True)
    spe = len(loader)
    total = cfg.steps if cfg.steps is not None else cfg.epochs * spe
    optimizer = build_optimizer(model, cfg.optimizer)
    ema = EMA(model, cfg.ema) if cfg.ema else None
    state = TrainState()
    if resume is not None:
        state = _restore(resume, model, optimizer, ema, spe)
    else:
        _initialize_from_data(model, loader, data.encoding, cfg, ctx.device)
    if state.step > total:
        raise ZooError(f"the run is at step {state.step:,}, past the {total:,} steps asked for; give --steps or "
                       "--epochs beyond it")
    wrapped = ctx.wrap(model)
    latents = list(model.latents)
    dims = data_dims(model)
    path = f"{run_dir}/{CHECKPOINT_NAME}"
    log = RunLog(run_dir, latents, total_steps=total, start_step=state.step, enabled=ctx.is_main,
                 progress=progress, resume_step=state.step if resume is not None else None)
    meta = dict(meta or {})

    def checkpoint(lr: float, beta: float) -> None:
        if ctx.is_main:
            save_checkpoint(dict(meta, config=cfg.to_dict(), model=model.state_dict(), optimizer=optimizer.state_dict(),
                                 ema=ema.state_dict() if ema else None, rng=capture_rng(), progress=state.to_dict(),
                                 scheduler={"step": state.step, "lr": lr, "beta": beta, "steps_per_epoch": spe,
                                            "total_steps": total}), path)
        ctx.barrier()

    params = [p for p in model.parameters() if p.requires_grad]
    autocast = torch.autocast(ctx.device.type, dtype=torch.bfloat16) if cfg.dtype == "bf16" \
        else contextlib.nullcontext()
    window = _Window(latents)
    objective = compiled_objective() if cfg.compile else compute_objective
    lr = beta = float("nan")
    model.train()
    try:
        with _StopRequest() as stop:
            while state.step < total:
                loader.set_epoch(state.epoch)
                loader.skip(state.batch)
                for index, batch in loader.indexed():
                    lr, beta = schedule_values(cfg, state.step, spe, total)
                    x = model_input(batch, data.encoding, seed=cfg.seed, epoch=state.epoch, index=index,
                                    augment_ops=cfg.augment)
                    x = x[ctx.rank * cfg.batch_size:(ctx.rank + 1) * cfg.batch_size].to(ctx.device, non_blocking=True)
                    seed_torch(step_seed(cfg.seed, state.step, ctx.rank), ctx.device)
                    obj, norm, reason = train_step(wrapped, optimizer, params, x, cfg, lr, beta, autocast, objective)
                    window.add(obj, obj.loss.item(), norm)
                    if reason is None:
                        state.skipped_consecutive = 0
                        if ema is not None:
                            ema.update(model)
                    else:
                        state.skipped_total += 1
                        state.skipped_consecutive += 1
                    if started is not None:
                        log.message(f"first step done {time.perf_counter() - started:.1f} s after start"
                                    + (" (including torch.compile)" if cfg.compile else ""))
                        started = None
                    state.step += 1
                    state.batch = index + 1
                    epoch_done = state.batch == spe
                    if epoch_done:
                        state.epoch, state.batch = state.epoch + 1, 0
                    log.advance()
                    if state.step % cfg.log_every == 0 or state.step == total:
                        _log_window(log, window, ctx, state, lr, beta, dims, cfg.batch_size * ctx.world_size)
                    if reason is not None and state.skipped_consecutive >= cfg.max_skips:
                        checkpoint(lr, beta)
                        raise TooManySkips(_skip_message(state, reason, cfg, path))
                    if epoch_done and valid is not None and cfg.eval_every_epochs and \
                            state.epoch % cfg.eval_every_epochs == 0 and state.step < total:
                        _validate(model, ema, valid, cfg, ctx, log, state, dims)
                    if state.step % cfg.checkpoint_every == 0 and state.step < total:
                        checkpoint(lr, beta)
                    if any_rank(ctx, stop.signum is not None):
                        checkpoint(lr, beta)
                        raise TrainingInterrupted(stop.signum or signal.SIGTERM, state.step, path)
                    if state.step >= total:
                        break
            state.finished = True
            if valid is not None:
                _validate(model, ema, valid, cfg, ctx, log, state, dims)
            checkpoint(lr, beta)
    finally:
        log.close()
    return state


def compiled_objective(backend: str = "inductor"):
    """:func:`~zoo.runtime.objectives.compute_objective` through ``torch.compile`` (what ``compile: true``
    trains with). Every zoo model traces to one graph (no breaks; tests/zoo/test_compile.py), and
    beta is traced as a symbol, so a KL warm-up does not recompile."""
    return torch.compile(compute_objective, backend=backend)


def train_step(wrapped, optimizer, params, x, cfg: TrainConfig, lr: float, beta: float, autocast,
               objective=compute_objective):
    """One update: objective, backward, gradient norm and clipping, then the step unless skipped.

    Args:
        wrapped: the model (or its DDP wrapper) to run.
        optimizer, params: the optimizer and the parameters whose gradient norm is checked.
        x: the batch (model input) of this rank.
        cfg: the run's config (objective, free bits, clipping, skipping).
        lr, beta: the learning rate and KL weight of this step.
        autocast: a context (``torch.autocast`` for bf16, or a null context).
        objective: :func:`~zoo.runtime.objectives.compute_objective` or its compiled form
            (:func:`compiled_objective`).

    Returns:
        ``(objective, gradient norm before clipping, reason the step was skipped or None)``.
    """
    for group in optimizer.param_groups:
        group["lr"] = lr
    optimizer.zero_grad(set_to_none=True)
    with autocast:
        obj = objective(wrapped, x, kind=cfg.objective, beta=beta, free_bits=cfg.free_bits,
                                samples=cfg.train_samples, analytic_kl=cfg.analytic_kl)
    obj.loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip if cfg.grad_clip else float("inf")).item()
    loss = obj.loss.item()
    reason = None
    if not math.isfinite(loss):
        reason = f"non-finite loss ({loss})"
    elif not math.isfinite(norm):
        reason = f"non-finite gradient norm ({norm})"
    elif cfg.grad_skip is not None and norm > cfg.grad_skip:
        reason = f"gradient norm {norm:.4g} above grad_skip = {cfg.grad_skip:g}"
    if reason is None:
        optimizer.step()
    else:
        optimizer.zero_grad(set_to_none=True)
    return obj, norm, reason


def _skip_message(state: TrainState, reason: str, cfg: TrainConfig, path: str) -> str:
    return (f"training stopped: {state.skipped_consecutive} consecutive steps were skipped (max_skips = "
            f"{cfg.max_skips}); the last at step {state.step:,} (epoch {state.epoch}): {reason}. The weights are "
            f"those of the last good update, saved in {path}. Lower optimizer.lr, set grad_clip, raise grad_skip, "
            "use dtype: fp32, or check the data; then continue with `zoo train --resume RUN_DIR --recipe-set ...`")


def _log_window(log: RunLog, window: _Window, ctx: DistContext, state: TrainState, lr: float, beta: float,
                dims: int, global_batch: int) -> None:
    means = all_reduce_mean(ctx, window.means())
    elapsed = max(time.perf_counter() - window.t0, 1e-9)
    row = dict(zip(window.sums, means))
    row.update(step=state.step, epoch=state.epoch, lr=lr, beta=beta, nelbo_bpd=bits_per_dim(row["nelbo"], dims),
               skipped=state.skipped_total, images_per_s=window.steps * global_batch / elapsed,
               wall_s=log.elapsed())
    log.train_row(row)
    window.reset()


def _validate(model, ema, valid, cfg: TrainConfig, ctx: DistContext, log: RunLog, state: TrainState,
              dims: int) -> None:
    """Single-sample negative ELBO on the validation data (EMA weights when kept), rank 0 only."""
    if not ctx.is_main:
        return
    with (ema.applied(model) if ema is not None else contextlib.nullcontext()):
        result = elbo_pass(model, valid, batch_size=cfg.eval_batch_size, seed=cfg.seed, device=ctx.device)
    model.train()
    row = {"step": state.step, "epoch": state.epoch, "nelbo": result["nelbo"], "recon": result["recon"],
           "kl": result["kl"], "nelbo_bpd": bits_per_dim(result["nelbo"], dims)}
    row.update({f"kl/{z}": v for z, v in result["kl_per_layer"].items()})
    log.valid_row(row)
    log.message(f"step {state.step:,} (epoch {state.epoch}): validation negative ELBO {result['nelbo']:.3f} nats "
                f"({row['nelbo_bpd']:.4f} bits/dim)")


def _restore(ckpt: dict, model, optimizer, ema, spe: int) -> TrainState:
    """Load weights, optimizer, EMA and RNG states; check the position fits this data and batch size."""
    model.load_state_dict(ckpt["model"])
    if ckpt.get("optimizer"):
        optimizer.load_state_dict(ckpt["optimizer"])
    if ema is not None and ckpt.get("ema"):
        ema.load_state_dict(ckpt["ema"])
    if ckpt.get("rng"):
        restore_rng(ckpt["rng"])
    state = TrainState.from_dict(ckpt["progress"])
    saved_spe = (ckpt.get("scheduler") or {}).get("steps_per_epoch", spe)
    if saved_spe != spe:
        raise ZooError(f"the checkpoint was written with {saved_spe} steps per epoch, this run has {spe}; resuming "
                       "needs the same data set, validation split, batch size and process count")
    state.finished = False
    return state


def _initialize_from_data(model, loader, encoding: str, cfg: TrainConfig, device) -> None:
    """Data-dependent initialisation (blocks that define ``init_from_data_update``), once, before
    the first step of a fresh run, on global batches (identical on every rank), in eval mode.
    Models without such blocks return before drawing a batch."""
    limit = cfg.init_batches or len(loader)
    seed_torch(step_seed(cfg.seed, 0, 0, stream=1), device)

    def batches():
        loader.set_epoch(0)
        for index, batch in loader.indexed():
            if index >= limit:
                break
            yield model_input(batch, encoding, seed=cfg.seed, epoch=0, index=index, stream="init").to(device)

    model.eval()
    model.initialize_from_data(batches())
    model.train()
