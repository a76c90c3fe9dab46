"""Multi-process training with ``torchrun`` and DistributedDataParallel.

``torchrun --nproc_per_node K -m zoo.cli train SPEC ...`` starts K processes; each reads its
rank from the environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``,
``MASTER_PORT``), joins the process group (NCCL on GPUs, gloo on CPUs) and trains its shard of
every global batch. Only rank 0 writes logs, plots and checkpoints. Multi-node runs are the same
command on every node with ``--nnodes``/``--rdzv-endpoint`` (torchrun's own options).

What a K-process run computes: the global batch of K x B images is the one a single process
with batch K x B would draw (``zoo.data``'s loader guarantee; binarization and flips are drawn
for the whole global batch and sliced), each rank computes the mean loss of its B images, and DDP
averages the gradients, so every optimizer step sees the gradient of the global batch's mean
loss. The posterior samples differ from a single-process run's (each rank has its own noise).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
import torch.distributed as dist

from ..errors import ZooError

__all__ = ["DistContext", "init_distributed", "single_process", "step_seed", "seed_torch", "all_reduce_mean", "any_rank"]


@dataclass
class DistContext:
    """Where this process stands in a run: rank, world size, device, backend."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    backend: Optional[str] = None

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """The model DDP-wrapped when there are several processes (else the model itself)."""
        if not self.distributed:
            return model
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids)

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def close(self) -> None:
        if self.distributed and dist.is_initialized():
            dist.destroy_process_group()


def _default_device(local_rank: int) -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    return torch.device("cpu")


def single_process(device: Optional[str] = None) -> DistContext:
    """The context of an ordinary one-process run."""
    return DistContext(0, 1, 0, torch.device(device) if device else _default_device(0), None)


def init_distributed(device: Optional[str] = None) -> DistContext:
    """Join the process group that ``torchrun`` set up, or return a one-process context.

    Args:
        device: ``cpu``, ``cuda`` or ``cuda:N``; default: this rank's GPU if there is one, else CPU.

    Raises:
        ZooError: the environment is incomplete (``WORLD_SIZE`` > 1 without ``RANK`` or a master
            address), or CUDA is requested without GPUs.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return single_process(device)
    missing = [k for k in ("RANK", "MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
    if missing:
        raise ZooError(f"WORLD_SIZE={world} but {', '.join(missing)} not set; start multi-process runs with "
                       "torchrun --nproc_per_node K -m zoo.cli train ...")
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device is None:
        dev = _default_device(local)
    else:
        dev = torch.device(device)
        if dev.type == "cuda" and dev.index is None:
            dev = torch.device("cuda", local)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ZooError("--device cuda was given but no GPU is visible")
        torch.cuda.set_device(dev)
    backend = "nccl" if dev.type == "cuda" else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, rank=rank, world_size=world)
    return DistContext(rank, world, local, dev, backend)


def step_seed(seed: int, step: int, rank: int = 0, stream: int = 0) -> int:
    """The torch seed of one training step of one rank: 63 bits of ``SeedSequence([seed, step, rank, stream])``.

    Reseeding every step makes the model's sampling noise a function of (seed, step, rank), so a
    resumed run draws exactly what the interrupted one would have, whatever ran in between.
    """
    words = np.random.SeedSequence([int(seed), int(step), int(rank), int(stream)]).generate_state(2, dtype=np.uint32)
    return ((int(words[0]) << 32) | int(words[1])) & ((1 << 63) - 1)


def seed_torch(value: int, device: torch.device) -> None:
    """Seed the generator(s) the model samples from: the CPU one, and the device's when on a GPU.

    Not ``torch.manual_seed``: on a machine without an initialised GPU it queues a CUDA seeding
    call, with a formatted stack, on every use -- per step that is slow and grows without bound.
    """
    torch.default_generator.manual_seed(value)
    if device.type == "cuda":
        torch.cuda.manual_seed(value)


def all_reduce_mean(ctx: DistContext, values: list[float]) -> list[float]:
    """The mean of each value over all ranks (the values themselves in a one-process run)."""
    if not ctx.distributed:
        return list(values)
    t = torch.tensor(values, dtype=torch.float64, device=ctx.device if ctx.backend == "nccl" else "cpu")
    dist.all_reduce(t)
    return (t / ctx.world_size).tolist()


def any_rank(ctx: DistContext, flag: bool) -> bool:
    """True on every rank if ``flag`` is true on any rank (so all ranks stop at the same step)."""
    if not ctx.distributed:
        return bool(flag)
    t = torch.tensor([1.0 if flag else 0.0], device=ctx.device if ctx.backend == "nccl" else "cpu")
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)
