"""Evaluation of a trained model: one convention, one JSON object.

:func:`evaluate_model` reports, over a split (the test set by default):

* ``neg_elbo_nats``: the single-sample negative ELBO (analytic KLs where they exist);
* ``nll_nats``: the importance-weighted estimate of -log p(x) with K samples (Burda et al. 2016),
  ``-log (1/K) sum_k p(x, z_k) / q(z_k | x)`` with sample-based densities for every layer,
  computed by ``model.log_likelihood`` in chunks of samples;
* both in bits per dimension, ``nats / (D ln 2)``; the headline ``nll`` is in nats for binary
  data and in bits/dim for 8-bit images (docs/conventions.md, docs/training.md);
* ``kl_per_layer_nats``: the mean KL term of each latent variable, in the spec's layer order;
* ``active_units``: per latent variable, the units u with ``Var_x E_q[z_u | x] > 0.01`` (Burda et
  al. 2016; Kuzina & Tomczak, eqs. 23-24), where E_q[z | x] is the mean of the posterior
  distribution computed in the inference pass (given the sampled layers above it), and the total.

Each test image is binarized once (dynamically binarized data sets) with noise fixed by
(seed, batch), and the same binary image is used for every importance sample. The EMA weights
are used when the checkpoint has them (``use_ema``). Batch norm runs in eval mode.
"""
from __future__ import annotations

import math
import time
from typing import Optional

import torch

from ..config import EvalConfig
from ..training.data_pass import elbo_pass, eval_batches, seeded
from ..runtime.objectives import bits_per_dim, data_dims

__all__ = ["evaluate_model", "elbo_pass", "eval_batches", "BINARY_ENCODINGS", "seeded", "time_estimate"]

BINARY_ENCODINGS = ("binarize", "binary")


def time_estimate(first_batch_s: float, first_batch: int, total: int, k: int) -> str:
    """The line printed after the first batch: how long the whole evaluation will take at that pace,
    and a cheaper command when it is long."""
    from ..training.progress import format_duration

    estimate = first_batch_s / max(first_batch, 1) * total
    text = (f"estimated time: {format_duration(estimate)} for {total:,} images at K = {k:,} (the first batch of "
            f"{first_batch:,} took {format_duration(first_batch_s)})")
    if estimate > 600 and (k > 100 or total > 1000):
        text += "; for a quick number use -k 100 --limit 1000"
    return text


def _posterior_mean(terms, z: str) -> Optional[torch.Tensor]:
    dist = terms.distributions.get(f"posterior({z})")
    if dist is None:
        return None
    try:
        return dist.mean.reshape(dist.mean.shape[0], -1)
    except NotImplementedError:
        return None


@torch.no_grad()
def evaluate_model(model, data, cfg: EvalConfig = EvalConfig(), *, device=None, progress: bool = False) -> dict:
    """Every number of ``zoo eval`` for ``model`` on ``data`` (see the module docstring).

    Args:
        model: a trained :class:`~zoo.runtime.model.HierarchicalVAE` (its weights as they should be evaluated).
        data: the :class:`~zoo.data.ImageData` split to evaluate, shaped like the spec's observed variable.
        cfg: :class:`EvalConfig` (importance samples, batch size, ``max_forward``, ``limit``, seed).
        device: where to run (default: the model's device).
        progress: show progress: a bar on a terminal (plain lines every 30 s otherwise, or with
            ``"lines"``), and the estimated total time after the first batch.

    Returns:
        A JSON-able dict: ``examples, dims, encoding, importance_samples, nll, nll_unit, nll_nats,
        nll_nats_sem, nll_bpd, neg_elbo_nats, neg_elbo_bpd, recon_nats, kl_nats, kl_per_layer_nats,
        active_units, active_units_total, latent_units, au_threshold, seconds``.
    """
    device = torch.device(device) if device is not None else next(model.parameters()).device
    model.eval()
    dims = data_dims(model)
    k = cfg.importance_samples
    chunk = max(1, min(k, cfg.max_forward // max(1, cfg.batch_size)))
    latents = list(model.latents)
    n = 0
    recon = nll = nll_sq = 0.0
    kl = dict.fromkeys(latents, 0.0)
    mean_sum: dict = {}
    mean_sq: dict = {}
    started = time.perf_counter()
    total = len(data) if cfg.limit is None else min(cfg.limit, len(data))
    bar = None
    if progress:
        from ..training.progress import Progress

        bar = Progress(total, desc=f"eval K={k}", unit="img", bar=progress != "lines", every_s=30.0)
    with seeded(cfg.seed, device):
        for x in eval_batches(data, cfg.batch_size, seed=cfg.seed, limit=cfg.limit):
            x = x.to(device)
            terms = model(x, analytic_kl=cfg.analytic_kl)
            recon += (-terms.log_px).double().sum().item()
            for z in latents:
                kl[z] += terms.kl[z].double().sum().item()
                mean = _posterior_mean(terms, z)
                if mean is None:
                    mean_sum[z] = None
                elif mean_sum.get(z, 0) is not None:
                    mean = mean.double()
                    mean_sum[z] = mean_sum.get(z, 0) + mean.sum(0)
                    mean_sq[z] = mean_sq.get(z, 0) + (mean * mean).sum(0)
            ll = model.log_likelihood(x, k, chunk=chunk).double()
            nll += (-ll).sum().item()
            nll_sq += (ll * ll).sum().item()
            if n == 0 and bar is not None:
                bar.write(time_estimate(time.perf_counter() - started, x.shape[0], total, k))
            n += x.shape[0]
            if bar is not None:
                bar.update(x.shape[0])
    if bar is not None:
        bar.close()
    nll_nats = nll / n
    variance = max(nll_sq / n - nll_nats ** 2, 0.0)
    kl_per_layer = {z: v / n for z, v in kl.items()}
    neg_elbo = recon / n + sum(kl_per_layer.values())
    active, units = {}, {}
    for z in latents:
        if mean_sum.get(z) is None:
            active[z], units[z] = None, None
            continue
        var = mean_sq[z] / n - (mean_sum[z] / n) ** 2
        active[z] = int((var > cfg.au_threshold).sum().item())
        units[z] = int(var.numel())
    binary = data.encoding in BINARY_ENCODINGS
    nll_bpd = bits_per_dim(nll_nats, dims)
    return {
        "examples": n,
        "dims": dims,
        "encoding": data.encoding,
        "importance_samples": k,
        "nll": nll_nats if binary else nll_bpd,
        "nll_unit": "nats" if binary else "bits/dim",
        "nll_nats": nll_nats,
        "nll_nats_sem": math.sqrt(variance / max(n - 1, 1)),
        "nll_bpd": nll_bpd,
        "neg_elbo_nats": neg_elbo,
        "neg_elbo_bpd": bits_per_dim(neg_elbo, dims),
        "recon_nats": recon / n,
        "kl_nats": sum(kl_per_layer.values()),
        "kl_per_layer_nats": kl_per_layer,
        "active_units": active,
        "active_units_total": sum(v for v in active.values() if v is not None),
        "latent_units": units,
        "au_threshold": cfg.au_threshold,
        "seconds": time.perf_counter() - started,
    }
