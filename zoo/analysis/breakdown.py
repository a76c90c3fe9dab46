"""Per-term breakdown of the ELBO, and the DVP-VAE official code's likelihood estimate.

For a spec with a pseudo-input u (DVP-VAE, eq. 15/17) the runtime's ELBO is

    elbo = log p(x | z)  -  sum_l KL(q(z_l | ...) || p(z_l | ...))  -  [log r(u | x) - log r_hat(u)]

where the last bracket is evaluated at the sampled u and log r_hat(u) is the diffusion prior's
variational bound ``-(L0 + Lt + LT)`` (their eq. 31). :func:`elbo_breakdown` reports every one of
these numbers, and the analytic entropy H[r(u | x)] that eq. 17 writes in place of
``-log r(u | x)``.

:func:`official_log_likelihood` is the estimate the official code reports as "NLL" (their
``estimate_nll``): importance weights ``log p(x|z_k) - sum_l KL_l - [log q(u_k) - log p(u_k)]`` with
*analytic* KLs for the Gaussian layers and the diffusion bound's stratified time average ("quadrature") at
test time. It is not the standard importance-weighted bound, which uses ``log p(x, z_k) -
log q(z_k | x)`` with sample-based densities for every layer (:meth:`HierarchicalVAE.log_likelihood`);
docs/models/dvp.md reports both.
"""
from __future__ import annotations

import math
from collections import OrderedDict
from typing import Optional

import torch

from ..runtime.model import ELBOTerms, HierarchicalVAE
from ..nn.diffusion import diffusion_bound

__all__ = ["elbo_breakdown", "mean_breakdown", "official_log_likelihood"]


def elbo_breakdown(model: HierarchicalVAE, x, *, terms: Optional[ELBOTerms] = None) -> "OrderedDict[str, torch.Tensor]":
    """Every term of the ELBO of one batch, per example, in nats.

    Args:
        model: any compiled spec.
        x: the batch (as for ``model(x)``); ignored when `terms` is given.
        terms: the result of ``model(x)`` if it was already computed (the breakdown then reports
            exactly the numbers that ELBO was made of, including the diffusion bound's terms).

    Returns:
        An ordered dict of (B,) tensors:

        * ``elbo`` and ``reconstruction`` (log p(x | ...));
        * ``kl/<z>`` for every latent and pseudo-input (analytic where the runtime used it, else
          ``log q - log p`` at the sample), and ``kl`` = the sum over latents (not pseudo-inputs);
        * for every pseudo-input u: ``log_q/u`` = log r(u | x) at the sample, ``entropy/u`` =
          H[r(u | x)] (when the posterior has one), ``log_p/u`` = log r_hat(u) or its bound, and
          the bound's own terms when the prior reports them (``L0/u``, ``Lt/u``, ``LT/u`` for the
          diffusion prior, losses in nats with ``log_p/u = -(L0 + Lt + LT)``).

        ``elbo = reconstruction - kl - sum over pseudo-inputs of kl/u`` holds exactly.

    Example:
        >>> terms = model(x)
        >>> table = elbo_breakdown(model, x, terms=terms)
        >>> {k: v.mean().item() for k, v in table.items()}   # averages over the batch
    """
    if terms is None:
        terms = model(x)
    out: "OrderedDict[str, torch.Tensor]" = OrderedDict(elbo=terms.elbo, reconstruction=terms.log_px)
    latents = [z for z in model.latents if model.graph.info(z).kind == "latent"]
    pseudo = [u for u in model.latents if model.graph.info(u).kind == "pseudo"]
    for z in model.latents:
        out[f"kl/{z}"] = terms.kl[z]
    out["kl"] = sum((terms.kl[z] for z in latents), torch.zeros_like(terms.elbo))
    for u in pseudo:
        q, p = terms.distributions[f"posterior({u})"], terms.distributions[f"prior({u})"]
        out[f"log_q/{u}"] = terms.log_q[u]
        if hasattr(q, "entropy"):
            out[f"entropy/{u}"] = q.entropy()
        out[f"log_p/{u}"] = terms.log_p[u]
        for name, value in (getattr(p, "terms", None) or {}).items():
            out[f"{name}/{u}"] = value
    return out


def mean_breakdown(model: HierarchicalVAE, batches) -> "OrderedDict[str, float]":
    """:func:`elbo_breakdown` averaged over every example of an iterable of batches (no gradients)."""
    sums: "OrderedDict[str, float]" = OrderedDict()
    count = 0
    with torch.no_grad():
        for x in batches:
            table = elbo_breakdown(model, x)
            n = next(iter(table.values())).shape[0]
            for k, v in table.items():
                sums[k] = sums.get(k, 0.0) + float(v.double().sum())
            count += n
    if count == 0:
        raise ValueError("mean_breakdown: no batches")
    return OrderedDict((k, v / count) for k, v in sums.items())


def official_log_likelihood(model: HierarchicalVAE, x, importance_samples: int = 1000, *,
                            chunk: Optional[int] = None, diffusion: str = "quadrature") -> torch.Tensor:
    """The official DVP-VAE "NLL" estimate, negated: ``log (1/K) sum_k exp(w_k)``, shape (B,).

    ``w_k`` is the ELBO of the k-th forward pass with analytic KLs for every Gaussian layer and
    ``log q(u_k) - log r_hat(u_k)`` for the pseudo-input, the diffusion bound estimated by the
    continuous-time integrand averaged over T stratified times (the official code's grid t = k/T
    is biased high; see :mod:`zoo.nn.diffusion`). Runs in eval mode without gradients and restores the
    model's mode afterwards.

    Args:
        model: a compiled spec.
        x: the batch (already binarised once for Bernoulli data, reused by all K samples).
        importance_samples: K (the official configs use 1000).
        chunk: samples per forward pass (default: all K at once).
        diffusion: the diffusion bound's test-time estimate; "quadrature" is the official one,
            "discrete" or "trajectory" isolate the effect of the analytic KLs alone.
    """
    inputs = model._inputs(x)
    batch = next(iter(inputs.values())).shape[0]
    k_total = int(importance_samples)
    chunk = max(1, min(chunk or k_total, k_total))
    was_training = model.training
    model.eval()
    running, done = None, 0
    try:
        with torch.no_grad(), diffusion_bound(model, diffusion):
            while done < k_total:
                k = min(chunk, k_total - done)
                rep = {n: t.unsqueeze(0).expand(k, *t.shape).reshape(k * t.shape[0], *t.shape[1:])
                       for n, t in inputs.items()}
                w = model(rep, analytic_kl=True).elbo.reshape(k, batch)
                lse = torch.logsumexp(w, dim=0)
                running = lse if running is None else torch.logaddexp(running, lse)
                done += k
    finally:
        model.train(was_training)
    return running - math.log(k_total)
