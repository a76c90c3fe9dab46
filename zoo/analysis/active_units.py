"""The active-units metric (Burda et al. 2016; DVP-VAE eqs. 23-24) for any compiled spec.

A latent dimension i of layer l is active when the data explain its posterior mean:

    A_{l,i} = Var_x [ E_{q(z_<l | x)} E_{q(z_l | z_<l, x)} [z_{l,i}] ]  >  delta   (delta = 0.01)

(in our layer order the layers above z[l] are z[<l]). The inner expectation is the posterior's
mean; the outer one, over the latents above, is a Monte-Carlo average over `samples` inference
passes. The variance over the data is accumulated across batches in float64.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import torch

from ..runtime.model import HierarchicalVAE

__all__ = ["ActiveUnits", "active_units"]


@dataclass
class ActiveUnits:
    """Result of :func:`active_units`.

    Attributes:
        fraction: active dimensions / all dimensions, over the latents (pseudo-inputs excluded),
            as in eq. 23.
        per_layer: latent or pseudo-input -> fraction of its dimensions that are active.
        variances: latent or pseudo-input -> the (event-shaped) A_l of eq. 24.
        threshold: delta.
    """

    fraction: float
    per_layer: "OrderedDict[str, float]"
    variances: "OrderedDict[str, torch.Tensor]"
    threshold: float


@torch.no_grad()
def active_units(model: HierarchicalVAE, batches, *, threshold: float = 0.01, samples: int = 1) -> ActiveUnits:
    """Compute eq. 23-24 over an iterable of data batches (e.g. the test set).

    Args:
        model: a compiled spec (call ``model.eval()`` first for deterministic layers).
        batches: iterable of data batches as ``model(x)`` accepts them.
        threshold: delta (0.01 in Burda et al. and DVP-VAE).
        samples: inference passes averaged per batch for the expectation over the layers above.

    Raises:
        ValueError: no batches, or a posterior without a mean.
    """
    s1: dict[str, torch.Tensor] = {}
    s2: dict[str, torch.Tensor] = {}
    n = 0
    for x in batches:
        means: dict[str, torch.Tensor] = {}
        for _ in range(samples):
            terms = model(x)
            for z in model.latents:
                m = terms.distributions[f"posterior({z})"].mean.double()
                means[z] = means[z] + m if z in means else m
        for z, m in means.items():
            m = m / samples
            s1[z] = s1.get(z, 0) + m.sum(0)
            s2[z] = s2.get(z, 0) + (m * m).sum(0)
        n += next(iter(means.values())).shape[0]
    if n < 2:
        raise ValueError("active_units: needs at least two data points")
    variances = OrderedDict((z, (s2[z] - s1[z] ** 2 / n) / (n - 1)) for z in model.latents)
    per_layer = OrderedDict((z, float((v > threshold).double().mean())) for z, v in variances.items())
    layers = [z for z in model.latents if model.graph.info(z).kind == "latent"]
    active = sum(int((variances[z] > threshold).sum()) for z in layers)
    total = sum(variances[z].numel() for z in layers)
    return ActiveUnits(active / total if total else float("nan"), per_layer, variances, threshold)
