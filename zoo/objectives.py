"""The training objectives, over the :class:`~zoo.model.ELBOTerms` of any compiled model.

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
import torch

__all__ = ["Objective", "negative_elbo", "iwae", "compute_objective", "bits_per_dim", "data_dims",
           "replicate"]


@dataclass
class Objective:
    """What one batch contributes.

    Attributes:
        loss: the scalar to minimise (beta and free bits applied).
        nelbo: (B,) the negative ELBO of each example in nats (beta = 1, no free bits).
        recon: (B,) ``-log p(x | z)`` in nats.
        kl: per latent, (B,) its KL term in nats.
        bound: (B,) the negative bound that ``loss`` optimises at beta = 1: ``nelbo`` for the
            ELBO, the negative IWAE bound for ``iwae``.
        beta: the KL weight used.
    """

    loss: torch.Tensor
    nelbo: torch.Tensor
    recon: torch.Tensor
    kl: dict[str, torch.Tensor]
    bound: torch.Tensor
    beta: float = 1.0
    extras: dict = field(default_factory=dict)

    @property
    def total_kl(self) -> torch.Tensor:
        return _total(self.kl.values(), self.recon)


def _total(values, like: torch.Tensor) -> torch.Tensor:
    """The sum of some (B,) tensors; zeros like `like` when there are none."""
    total = None
    for v in values:
        total = v if total is None else total + v
    return torch.zeros_like(like) if total is None else total


def negative_elbo(terms, *, beta: float = 1.0, free_bits: float = 0.0) -> Objective:
    """The (beta-weighted, free-bits) negative ELBO of a batch.

    Args:
        terms: :class:`~zoo.model.ELBOTerms` of the batch.
        beta: weight of the KL terms in the loss (KL warm-up); the reported ``nelbo`` ignores it.
        free_bits: lambda in nats per latent layer: a layer's minibatch-mean KL below lambda is
            replaced by lambda in the loss (so it gets no gradient), Kingma et al. 2016, eq. 12.

    Returns:
        An :class:`Objective`.

    Example:
        >>> from zoo.model import ELBOTerms
        >>> t = torch.tensor
        >>> terms = ELBOTerms(t([-3.0]), t([-1.0]), {"z[1]": t([0.5]), "z[2]": t([1.5])}, {}, {}, t([-3.0]))
        >>> negative_elbo(terms).loss.item(), negative_elbo(terms, beta=0.5).loss.item()
        (3.0, 2.0)
        >>> negative_elbo(terms, free_bits=1.0).loss.item()  # z[1] counts as 1 nat
        3.5
    """
    recon = -terms.log_px.float()
    kl = {name: value.float() for name, value in terms.kl.items()}
    penalty = None
    for value in kl.values():
        layer = value.mean()
        layer = torch.clamp(layer, min=free_bits) if free_bits > 0 else layer
        penalty = layer if penalty is None else penalty + layer
    loss = recon.mean()
    if penalty is not None:  # no zeros to start from, no multiply by beta = 1
        loss = loss + (penalty if beta == 1.0 else beta * penalty)
    nelbo = recon + _total(kl.values(), recon)
    return Objective(loss, nelbo.detach(), recon.detach(), {k: v.detach() for k, v in kl.items()},
                     nelbo.detach(), float(beta))


def iwae(terms, samples: int) -> Objective:
    """The negative importance-weighted bound with K = ``samples`` posterior samples per example.

    Args:
        terms: :class:`~zoo.model.ELBOTerms` of a batch replicated K times sample-major
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
    recon = (-terms.log_px.float()).reshape(k, b).mean(0)
    kl = {name: value.float().reshape(k, b).mean(0).detach() for name, value in terms.kl.items()}
    nelbo = recon + _total(kl.values(), recon)
    return Objective(bound.mean(), nelbo.detach(), recon.detach(), kl, bound.detach(), 1.0)


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
