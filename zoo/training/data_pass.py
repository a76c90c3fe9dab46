"""What training and evaluation share: model input from raw batches, and the ELBO pass over a data set.

Training validates with :func:`elbo_pass` and evaluation reads its batches through
:func:`model_input`; both live here, below :mod:`zoo.training.train` and :mod:`zoo.analysis.evaluate`, so that
neither of those imports the other.
"""
from __future__ import annotations

import contextlib
from typing import Iterator, Optional

import torch

__all__ = ["model_input", "eval_batches", "seeded", "elbo_pass"]


def model_input(batch: torch.Tensor, encoding: str, *, seed: int, epoch: int, index: int,
                augment_ops=(), stream: str = "train") -> torch.Tensor:
    """A ``uint8`` batch -> model input, with flips and binarization drawn from generators of
    (seed, epoch, batch index), so the draw is the same in a resumed run."""
    from ..data import augment, batch_generator, to_model_input

    if augment_ops:
        batch = augment(batch, tuple(augment_ops), batch_generator(seed, epoch, index, stream=f"{stream}/augment"))
    return to_model_input(batch, encoding, batch_generator(seed, epoch, index, stream=f"{stream}/binarize"))


def eval_batches(data, batch_size: int, *, seed: int, limit: Optional[int] = None) -> Iterator[torch.Tensor]:
    """Model input for the first ``limit`` images (all by default), in file order, binarized once
    with noise fixed by (seed, batch index)."""
    from ..data import make_loader

    loader = make_loader(data, batch_size, shuffle=False, seed=seed, drop_last=False)
    loader.set_epoch(0)
    seen = 0
    for index, batch in loader.indexed():
        if limit is not None:
            if seen >= limit:
                return
            batch = batch[: limit - seen]
        seen += batch.shape[0]
        yield model_input(batch, data.encoding, seed=seed, epoch=0, index=index, stream="eval")


@contextlib.contextmanager
def seeded(seed: int, device: torch.device):
    """Seed torch for a block, restoring the caller's RNG state afterwards."""
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


@torch.no_grad()
def elbo_pass(model, data, *, batch_size: int, seed: int = 0, device=None, limit: Optional[int] = None,
              analytic_kl: bool = True) -> dict:
    """The mean single-sample negative ELBO, reconstruction and KL terms over ``data`` (nats).

    Leaves the model in eval mode; the caller's RNG state is not touched.
    """
    device = torch.device(device) if device is not None else next(model.parameters()).device
    model.eval()
    n, sums = 0, {"recon": 0.0, "kl": {}}
    with seeded(seed, device):
        for x in eval_batches(data, batch_size, seed=seed, limit=limit):
            terms = model(x.to(device), analytic_kl=analytic_kl)
            n += x.shape[0]
            sums["recon"] += (-terms.log_px).double().sum().item()
            for z, value in terms.kl.items():
                sums["kl"][z] = sums["kl"].get(z, 0.0) + value.double().sum().item()
    per_layer = {z: v / n for z, v in sums["kl"].items()}
    recon = sums["recon"] / n
    kl = sum(per_layer.values())
    return {"nelbo": recon + kl, "recon": recon, "kl": kl, "kl_per_layer": per_layer, "examples": n}
