"""The self-reflective masked autoregressive flow decoder (SeRe Section 4 and Appendix 9).

Directions: every flow step maps the *base* side to the *data* side in ``forward`` (generation,
u -> x) and back in ``inverse`` (density evaluation, x -> u); each returns the log-determinant of
the Jacobian of the map it computes. For a MAF the inverse is one pass and the forward is
sequential over the data dimensions (Papamakarios et al. 2017).

The likelihood ``maf`` (:class:`MAFFamily`) scores an 8-bit image x in [-1, 1]:

1. v = 2^bits-level integer of x; dequantize: ``v' = v + w``, ``w ~ U[0, 1)^D``; ``s = v' / 2^bits``;
2. logit space: ``y = logit(p)``, ``p = alpha + (1 - alpha) s`` (SeRe 9.1; MAF's
   ``alpha + (1 - 2 alpha) s`` with ``symmetric = true``);
3. ``u_0 = g^-1(y)`` through T flows of one conditional MADE per conditioning feature, with
   batch-normalisation bijectors between consecutive MADEs;
4. the unit-rank Gaussian base ``u_0 = loc + (diag(d) + f f^T) e``, ``e ~ N(0, I)``.

    log p(v') = log N(e; 0, I) - log det(diag(d) + f f^T) + log|det dg^-1/dy|
                + sum_i [log(1 - alpha) - bits log 2 - log p_i - log(1 - p_i)]

and ``E_w[log p(v + w)] <= log P(v)``, the log probability mass of the 8-bit image (the
dequantization bound of Theis et al. 2016). ``log_prob`` returns its one-sample estimate.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence

import torch
from torch import nn

from ..runtime.distributions import LOG_2PI, Distribution
from .bijectors import positive_diagonal, rank1_apply, rank1_log_det, rank1_solve
from .made import ConditionalMADE
from .registry import register_family

__all__ = ["BatchNormBijector", "MAFLayer", "ConditionalMAF", "LogitTransform", "SelfReflectiveMAF", "MAFFamily"]


class BatchNormBijector(nn.Module):
    """Batch normalisation as a bijector (Papamakarios et al. 2017, Appendix B), over (B, n).

    Density direction: ``u = (x - m) / sqrt(v + eps) * exp(log_gamma) + beta`` with the batch's
    mean and variance in training (the running averages are updated, rate `momentum`) and the
    running averages in evaluation. Generation always uses the running averages.
    """

    def __init__(self, n: int, *, momentum: float = 0.01, eps: float = 1e-5):
        super().__init__()
        self.momentum, self.eps = momentum, eps
        self.log_gamma = nn.Parameter(torch.zeros(n))
        self.beta = nn.Parameter(torch.zeros(n))
        self.register_buffer("running_mean", torch.zeros(n))
        self.register_buffer("running_var", torch.ones(n))

    def _stats(self, x: Optional[torch.Tensor]):
        if self.training and x is not None and x.shape[0] > 1:
            mean, var = x.mean(dim=0), x.var(dim=0, unbiased=False)
            with torch.no_grad():
                unbiased = var * x.shape[0] / (x.shape[0] - 1)
                self.running_mean.lerp_(mean.detach(), self.momentum)
                self.running_var.lerp_(unbiased.detach(), self.momentum)
            return mean, var
        return self.running_mean, self.running_var

    def inverse(self, x: torch.Tensor, cond=None):
        mean, var = self._stats(x)
        u = (x - mean) * torch.rsqrt(var + self.eps) * torch.exp(self.log_gamma) + self.beta
        log_det = (self.log_gamma - 0.5 * torch.log(var + self.eps)).sum()
        return u, log_det.expand(x.shape[0])

    def forward(self, u: torch.Tensor, cond=None):
        mean, var = self.running_mean, self.running_var
        x = (u - self.beta) * torch.exp(-self.log_gamma) * torch.sqrt(var + self.eps) + mean
        log_det = (0.5 * torch.log(var + self.eps) - self.log_gamma).sum()
        return x, log_det.expand(u.shape[0])


class MAFLayer(nn.Module):
    """One MADE as an affine autoregressive bijector over (B, n), conditioned on (B, C).

    Generation: ``x_i = u_i exp(a_i) + m_i`` with ``(m_i, a_i) = MADE(x_<i, c)``, in increasing
    degree (n passes); density: ``u_i = (x_i - m_i) exp(-a_i)`` in one pass,
    ``log|det du/dx| = -sum_i a_i``.
    """

    def __init__(self, n: int, cond: int, hidden: Sequence[int], *, act: str = "relu", order: str = "random",
                 generator: Optional[torch.Generator] = None):
        super().__init__()
        self.made = ConditionalMADE(n, cond, hidden, outputs=2, act=act, order=order, generator=generator)

    def inverse(self, x: torch.Tensor, cond: Optional[torch.Tensor] = None):
        shift, log_scale = self.made(x, cond).unbind(dim=1)
        return (x - shift) * torch.exp(-log_scale), -log_scale.sum(dim=1)

    def forward(self, u: torch.Tensor, cond: Optional[torch.Tensor] = None):
        x = torch.zeros_like(u)
        for i in torch.argsort(self.made.data_degrees).tolist():
            shift, log_scale = self.made(x, cond).unbind(dim=1)
            if torch.is_grad_enabled():
                x = x.clone()  # the MADE's backward needs the x it saw
            x[:, i] = u[:, i] * torch.exp(log_scale[:, i]) + shift[:, i]
        shift, log_scale = self.made(x, cond).unbind(dim=1)
        return x, log_scale.sum(dim=1)


class ConditionalMAF(nn.Module):
    """T flows of one :class:`MAFLayer` per conditioning input (SeRe Figure 5b), generative order
    ``MADE(t, 1), ..., MADE(t, L)`` for t = 1..T, the MADE (t, l) conditioned on ``cond[l]``, with a
    :class:`BatchNormBijector` between consecutive MADEs."""

    def __init__(self, n: int, cond_widths: Sequence[int], *, flows: int, hidden: Sequence[int], act: str = "relu",
                 order: str = "random", seed: int = 0, batchnorm: bool = True, bn_momentum: float = 0.01):
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        steps: list[nn.Module] = []
        self.cond_index: list[Optional[int]] = []
        for _ in range(flows):
            for l, c in enumerate(cond_widths):
                if steps and batchnorm:
                    steps.append(BatchNormBijector(n, momentum=bn_momentum))
                    self.cond_index.append(None)
                steps.append(MAFLayer(n, c, hidden, act=act, order=order, generator=generator))
                self.cond_index.append(l)
        self.steps = nn.ModuleList(steps)

    def _cond(self, k: int, cond: Sequence[torch.Tensor]):
        i = self.cond_index[k]
        return None if i is None else cond[i].flatten(1)

    def inverse(self, x: torch.Tensor, cond: Sequence[torch.Tensor]):
        log_det = x.new_zeros(x.shape[0])
        for k in reversed(range(len(self.steps))):
            x, ld = self.steps[k].inverse(x, self._cond(k, cond))
            log_det = log_det + ld
        return x, log_det

    def forward(self, u: torch.Tensor, cond: Sequence[torch.Tensor]):
        log_det = u.new_zeros(u.shape[0])
        for k in range(len(self.steps)):
            u, ld = self.steps[k](u, self._cond(k, cond))
            log_det = log_det + ld
        return u, log_det


class LogitTransform:
    """8-bit data in [-1, 1] <-> dequantized logit space (step 1-2 of the module docstring)."""

    def __init__(self, alpha: float = 0.05, symmetric: bool = False, bits: int = 8):
        self.alpha, self.bits = alpha, bits
        self.slope = 1.0 - (2.0 if symmetric else 1.0) * alpha  # p = alpha + slope * s
        self.levels = 2 ** bits

    def to_logit(self, x: torch.Tensor, noise: Optional[torch.Tensor] = None):
        """(B, D) data -> (y, sum_i log|dy_i/dv'_i|) with fresh uniform noise unless given.

        x is rounded to the nearest of the 2^bits levels of [-1, 1]; values outside [-1, 1] count as
        the edge levels (as the discretized logistic's edge bins do).
        """
        v = torch.round((x + 1) * (self.levels - 1) / 2).clamp(0, self.levels - 1)
        w = torch.rand_like(v) if noise is None else noise
        s = (v + w) / self.levels
        rest = (self.levels - v - w) / self.levels  # 1 - s, computed without cancellation near s = 1
        log_p = torch.log(self.alpha + self.slope * s)
        log_1mp = torch.log((1 - self.alpha - self.slope) + self.slope * rest)  # log(1 - p)
        y = log_p - log_1mp
        log_det = math.log(self.slope) - self.bits * math.log(2.0) - log_p - log_1mp
        return y, log_det.sum(dim=1)

    def to_data(self, y: torch.Tensor) -> torch.Tensor:
        """Logit space -> the 8-bit image in [-1, 1] whose dequantization bin contains it."""
        s = (torch.sigmoid(y) - self.alpha) / self.slope
        v = torch.floor(s * self.levels).clamp(0, self.levels - 1)
        return 2 * v / (self.levels - 1) - 1


class SelfReflectiveMAF(Distribution):
    """The decoder's distribution over (B, *shape) 8-bit images; see the module docstring."""

    has_rsample = False

    def __init__(self, flow: ConditionalMAF, cond: Sequence[torch.Tensor], loc, diag, factor,
                 transform: LogitTransform, shape):
        self.flow, self.cond, self.transform, self.shape = flow, list(cond), transform, tuple(shape)
        self.loc, self.diag, self.factor = loc, diag, factor  # (B, D) each

    def _base_log_prob(self, u: torch.Tensor) -> torch.Tensor:
        e = rank1_solve(u, self.loc, self.diag, self.factor)
        return -0.5 * (e * e).sum(dim=1) - 0.5 * e.shape[1] * LOG_2PI - rank1_log_det(self.diag, self.factor)

    def logit_log_prob(self, value: torch.Tensor, noise: Optional[torch.Tensor] = None):
        """(log density of the dequantized data in logit space, log|det dy/dv'|), each (B,)."""
        y, log_det_data = self.transform.to_logit(value.flatten(1), noise)
        u, log_det_flow = self.flow.inverse(y, self.cond)
        return self._base_log_prob(u) + log_det_flow, log_det_data

    def log_prob(self, value: torch.Tensor, noise: Optional[torch.Tensor] = None) -> torch.Tensor:
        """One-sample estimate of the dequantization lower bound on log P(value), (B,)."""
        log_py, log_det_data = self.logit_log_prob(value, noise)
        return log_py + log_det_data

    def _push(self, e: torch.Tensor) -> torch.Tensor:
        u = rank1_apply(e, self.loc, self.diag, self.factor)
        y, _ = self.flow(u, self.cond)
        return self.transform.to_data(y).reshape(-1, *self.shape)

    def rsample(self, temperature: float = 1.0) -> torch.Tensor:
        with torch.no_grad():
            return self._push(temperature * torch.randn_like(self.loc))

    @property
    def mean(self) -> torch.Tensor:
        """The image of the base distribution's mean (temperature 0); a flow has no closed-form mean."""
        with torch.no_grad():
            return self._push(torch.zeros_like(self.loc))


@register_family("maf")
class MAFFamily(nn.Module):
    """Builds the flow once; maps the raw base parameters and the conditioning features to a
    :class:`SelfReflectiveMAF`."""

    def __init__(self, *, in_shapes, target_shape, flows=2, hidden=(1024, 1024), act="relu", order="random", seed=0,
                 batchnorm=True, bn_momentum=0.01, alpha=0.05, symmetric=False, bits=8, diag="softplus_elu"):
        super().__init__()
        self.shape = tuple(target_shape)
        n = math.prod(self.shape)
        widths = [math.prod(s) for s in in_shapes["cond"]]
        self.flow = ConditionalMAF(n, widths, flows=flows, hidden=hidden, act=act, order=order, seed=seed,
                                   batchnorm=batchnorm, bn_momentum=bn_momentum)
        self.diag = diag
        self.transform = LogitTransform(alpha, symmetric, bits)

    def forward(self, loc: torch.Tensor, scale: torch.Tensor, factor: torch.Tensor,
                cond: Sequence[torch.Tensor]) -> SelfReflectiveMAF:
        d = positive_diagonal(scale.flatten(1), self.diag)
        return SelfReflectiveMAF(self.flow, cond, loc.flatten(1), d, factor.flatten(1), self.transform, self.shape)
