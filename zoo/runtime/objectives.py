"""The training objectives, over the :class:`~zoo.runtime.model.ELBOTerms` of any compiled model.

One negative ELBO and one importance-weighted bound serve every spec: a model family is a spec,
never a subclass with its own loss. The KL weight beta (warm-up) and free bits are parameters.

* **Negative ELBO** (per example, nats): ``-log p(x | z) + sum_l KL_l`` where ``KL_l`` is the
  analytic KL(q || p) of latent l where it exists, else ``log q(z_l) - log p(z_l)`` at the sample.
  The training loss is ``mean_b[-log p(x_b | z_b)] + beta * sum_l max(lambda, mean_b KL_l(b))``:
  with lambda > 0 this is the free-bits objective of Kingma et al. (2016, eq. 12) with the latents
  grouped by layer (one group per latent variable of the spec), averaged over the minibatch; with
  lambda = 0 and beta = 1 it is exactly the mean negative ELBO.
* **IWAE** (Burda et al. 2016): ``-log (1/K) sum_k w_k`` with ``log w_k = log p(x, z_k) - log q(z_k | x)``
  from K posterior samples per example, always with sample-based densities.

Reported values are the true bounds (beta = 1, no free bits) in nats per example; divide by
``D ln 2`` for bits per dimension (:func:`bits_per_dim`, D = number of observed dimensions).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

import torch

from .model import sum_terms

__all__ = ["Objective", "negative_elbo", "iwae", "compute_objective", "bits_per_dim", "data_dims",
           "replicate"]


@dataclass
class Objective:
    """What one batch contributes: the loss, and the numbers it was made of.

    Only ``loss`` and the batch means are computed with it; the per-example terms are computed
    from the batch's terms when read (detached), so a training step pays for what its log records
    and no more.

    Attributes:
        loss: the scalar to minimise (beta and free bits applied).
        recon_mean: the batch mean of ``-log p(x | z)``, the loss's reconstruction term.
        kl_means: per latent, the batch mean of its KL term (before free bits).
        log_px: (N,) ``log p(x | z)`` of each of the N = K * B rows the model ran on.
        layer_kl: per latent, (N,) its KL term.
        samples: K, the posterior samples per example (rows ``i * B + b``: sample-major).
        beta: the KL weight used.
        iw_bound: (B,) the negative IWAE bound of each example (IWAE only).

    Per example (B,), in nats, at beta = 1 without free bits: ``recon``, ``kl`` (per latent),
    ``total_kl``, ``nelbo`` (their sum) and ``bound`` (what ``loss`` optimises at beta = 1:
    ``nelbo`` for the ELBO, the negative IWAE bound for ``iwae``), each averaged over the K samples.
    """

    loss: torch.Tensor
    recon_mean: torch.Tensor
    kl_means: dict[str, torch.Tensor]
    log_px: torch.Tensor
    layer_kl: dict[str, torch.Tensor]
    samples: int = 1
    beta: float = 1.0
    iw_bound: Optional[torch.Tensor] = None
    extras: dict = field(default_factory=dict)

    def _per_example(self, rows: torch.Tensor) -> torch.Tensor:
        rows = rows.detach().float()
        return rows if self.samples == 1 else rows.reshape(self.samples, -1).mean(0)

    @property
    def recon(self) -> torch.Tensor:
        return self._per_example(-self.log_px)

    @property
    def kl(self) -> dict[str, torch.Tensor]:
        return {name: self._per_example(value) for name, value in self.layer_kl.items()}

    @property
    def total_kl(self) -> torch.Tensor:
        return sum_terms(self.kl.values(), self.recon)

    @property
    def nelbo(self) -> torch.Tensor:
        recon = self.recon
        return recon + sum_terms(self.kl.values(), recon)

    @property
    def bound(self) -> torch.Tensor:
        return self.nelbo if self.iw_bound is None else self.iw_bound

    def means(self) -> dict[str, float]:
        """The batch means the training log records -- ``nelbo``, ``recon``, ``kl`` and ``kl/<latent>``
        -- from the loss's own terms, with one transfer to the host."""
        values = torch.stack([self.recon_mean.detach().float()]
                             + [v.detach().float() for v in self.kl_means.values()]).tolist()
        recon, layers = values[0], values[1:]
        kl = math.fsum(layers)
        out = {"nelbo": recon + kl, "recon": recon, "kl": kl}
        out.update({f"kl/{name}": v for name, v in zip(self.kl_means, layers)})
        return out


def negative_elbo(terms, *, beta: float = 1.0, free_bits: float = 0.0) -> Objective:
    """The (beta-weighted, free-bits) negative ELBO of a batch.

    Args:
        terms: :class:`~zoo.runtime.model.ELBOTerms` of the batch.
        beta: weight of the KL terms in the loss (KL warm-up); the reported ``nelbo`` ignores it.
        free_bits: lambda in nats per latent layer: a layer's minibatch-mean KL below lambda is
            replaced by lambda in the loss (so it gets no gradient), Kingma et al. 2016, eq. 12.

    Returns:
        An :class:`Objective`.

    Example:
        >>> from zoo.runtime.model import ELBOTerms
        >>> t = torch.tensor
        >>> terms = ELBOTerms(t([-3.0]), t([-1.0]), {"z[1]": t([0.5]), "z[2]": t([1.5])}, {}, {}, t([-3.0]))
        >>> negative_elbo(terms).loss.item(), negative_elbo(terms, beta=0.5).loss.item()
        (3.0, 2.0)
        >>> negative_elbo(terms, free_bits=1.0).loss.item()  # z[1] counts as 1 nat
        3.5
    """
    log_px = terms.log_px.float()
    recon_mean = -log_px.mean()  # equals (-log_px).mean() bit for bit, one pass less
    kl_means, penalty = {}, None
    for name, value in terms.kl.items():
        layer = kl_means[name] = value.float().mean()
        layer = torch.clamp(layer, min=free_bits) if free_bits > 0 else layer
        penalty = layer if penalty is None else penalty + layer
    loss = recon_mean
    if penalty is not None:  # no zeros to start from, no multiply by beta = 1
        loss = loss + (penalty if beta == 1.0 else beta * penalty)
    return Objective(loss, recon_mean, kl_means, log_px, terms.kl, 1, float(beta))


def iwae(terms, samples: int) -> Objective:
    """The negative importance-weighted bound with K = ``samples`` posterior samples per example.

    Args:
        terms: :class:`~zoo.runtime.model.ELBOTerms` of a batch replicated K times sample-major
            (see :func:`replicate`), i.e. of K * B examples.
        samples: K.

    Returns:
        An :class:`Objective` whose ``loss`` is the mean negative IWAE bound over the B examples
        and whose ``nelbo``, ``recon`` and ``kl`` are averaged over the K samples.
    """
    k = int(samples)
    log_w = terms.log_weight.float()
    b = log_w.shape[0] // k
    bound = -(torch.logsumexp(log_w.reshape(k, b), dim=0) - math.log(k))
    log_px = terms.log_px.float()
    kl_means = {name: value.detach().float().mean() for name, value in terms.kl.items()}
    return Objective(bound.mean(), -log_px.detach().mean(), kl_means, log_px, terms.kl, k, 1.0, bound.detach())


def replicate(x, k: int):
    """Repeat a batch K times along the batch axis, sample-major: row ``i * B + b`` is example b."""
    if k == 1:
        return x
    if isinstance(x, dict):
        return {name: replicate(t, k) for name, t in x.items()}
    return x.unsqueeze(0).expand(k, *x.shape).reshape(k * x.shape[0], *x.shape[1:])


def compute_objective(model, x, *, kind: str = "elbo", beta: float = 1.0, free_bits: float = 0.0,
                      samples: int = 1, analytic_kl: bool = True) -> Objective:
    """Run the model on a batch and score it with the chosen objective (``elbo`` or ``iwae``)."""
    if kind == "iwae":
        return iwae(model(replicate(x, samples), analytic_kl=False), samples)
    if kind != "elbo":
        raise ValueError(f"unknown objective {kind!r} (objectives: elbo, iwae)")
    return negative_elbo(model(x, analytic_kl=analytic_kl), beta=beta, free_bits=free_bits)


def data_dims(model) -> int:
    """D, the number of observed dimensions of one example (for bits per dimension)."""
    graph = getattr(model, "graph", None) or model.module.graph  # a bare model or a DDP wrapper
    return sum(math.prod(v.shape) for v in graph.observed)


def bits_per_dim(nats, dims: int):
    """Nats per example -> bits per dimension: ``nats / (D ln 2)``."""
    return nats / (dims * math.log(2.0))
