"""Distribution heads: modules that map parameter tensors to a :class:`Distribution`.

A family module receives the raw parameters its statement's parameter network produced (packed
along channels, or flat) and returns the distribution. Combinators receive distributions.
"""
from __future__ import annotations

from typing import Optional, Union

import torch
import torch.nn.functional as F
from torch import nn

from ..runtime.distributions import Bernoulli, ConstantNormal, DiscretizedLogisticMixture, MappedNormal, Normal
from .registry import register_combinator, register_family

__all__ = ["NormalParameterization", "NormalFamily", "BernoulliFamily", "DiscretizedLogisticFamily",
           "Residual", "PrecisionWeighted", "bounded_log_scale"]

Option = Union[str, tuple]


def _option(value: Option) -> tuple[str, tuple]:
    return (value, ()) if isinstance(value, str) else (value[0], tuple(value[1]))


def bounded_log_scale(raw: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """Squash raw log-scales into [low, high]: ``|b| tanh(x / 2|b|)`` when low = -high = -b,
    otherwise the smoothstep ``low + (high - low) * S((x - low) / (high - low))`` with
    ``S(t) = 3t^2 - 2t^3`` on t clipped to [0, 1] (as in the attentive VAE)."""
    if low == -high:
        b = abs(high)
        return b * torch.tanh(raw / (2 * b))
    t = ((raw - low) / (high - low)).clamp(0.0, 1.0)
    return low + (high - low) * (3 * t * t - 2 * t * t * t)


class NormalParameterization(nn.Module):
    """Maps raw network outputs to (loc, scale) as the spec's `mean` and `variance` options say."""

    def __init__(self, mean: Option = "identity", variance: Option = "log_scale", min_scale: float = 0.0,
                 noise: float = 0.0):
        super().__init__()
        self.mean, self.mean_args = _option(mean)
        self.variance, self.variance_args = _option(variance)
        self.min_scale, self.noise = float(min_scale), float(noise)

    def loc(self, raw: torch.Tensor) -> torch.Tensor:
        if self.mean == "tanh_bound":
            (b,) = self.mean_args
            return b * torch.tanh(raw / (2 * b))
        return raw

    def scale(self, raw: torch.Tensor) -> torch.Tensor:
        if self.noise and self.training:
            raw = raw + self.noise * torch.randn_like(raw)
        v, args = self.variance, self.variance_args
        if v == "log_scale":
            scale = torch.exp(raw)
        elif v == "log_var":
            scale = torch.exp(0.5 * raw)
        elif v == "softplus":
            scale = F.softplus(raw)
        elif v == "softplus_elu_var":
            scale = torch.sqrt(F.softplus(F.elu(raw)))
        elif v == "bounded_log_scale":
            scale = torch.exp(bounded_log_scale(raw, *args))
        elif v == "clamped_log_var":
            scale = torch.exp(0.5 * raw.clamp(*args))
        else:  # the checker only lets declared options through
            raise ValueError(f"unknown variance parameterisation {v!r}")
        return scale + self.min_scale if self.min_scale else scale

    def normal(self, raw_loc: torch.Tensor, raw_scale: torch.Tensor) -> Normal:
        """The Gaussian of these raw outputs. A method the family head calls directly: this module
        holds options, not layers, and a module call per head is overhead a hand-written model does
        not pay."""
        if self.noise and self.training:  # maps now, so the noise is drawn where it always was
            return Normal(self.loc(raw_loc), self.scale(raw_scale), raw=(raw_loc, raw_scale), mapping=self)
        return MappedNormal(raw_loc, raw_scale, self)  # mapped when read: a residual's delta never is

    forward = normal

    def extra_repr(self) -> str:
        return (f"mean={self.mean}{list(self.mean_args) if self.mean_args else ''}, "
                f"variance={self.variance}{list(self.variance_args) if self.variance_args else ''}, "
                f"min_scale={self.min_scale}, noise={self.noise}")


def _as_target(t: torch.Tensor, shape: tuple[int, ...], channels: int) -> torch.Tensor:
    """(B, channels * rest) or (B, channels, *spatial) -> (B, channels, *spatial of shape)."""
    if t.dim() == 2 and len(shape) == 1 and t.shape[1] == channels:
        return t  # a vector event already in place: no reshape to dispatch
    return t.reshape(t.shape[0], channels, *shape[1:])


@register_family("normal")
class NormalFamily(nn.Module):
    """Diagonal Gaussian head: packed `params` (loc, raw scale), or separate `loc` / `scale`, each a
    feature (raw, mapped by the parameterisation) or a constant (used as is)."""

    def __init__(self, *, in_shapes, target_shape, loc=None, scale=None, mean="identity", variance="log_scale",
                 min_scale=0.0, noise=0.0):
        super().__init__()
        self.shape = tuple(target_shape)
        self.const_loc, self.const_scale = loc, scale
        self.param = NormalParameterization(mean, variance, min_scale, noise)
        # device and dtype for distributions with constant parameters (not saved in checkpoints)
        self.register_buffer("anchor", torch.zeros(()), persistent=False)

    def forward(self, params: Optional[torch.Tensor] = None, loc: Optional[torch.Tensor] = None,
                scale: Optional[torch.Tensor] = None, *, batch: Optional[int] = None) -> Normal:
        c = self.shape[0]
        if params is not None:
            p = _as_target(params, self.shape, 2 * c)
            return self.param.normal(p[:, :c], p[:, c:])
        ref = next((t for t in (loc, scale) if t is not None), None)
        if ref is None:  # both constant: nothing to allocate per forward
            return ConstantNormal(self.const_loc, self.const_scale, (batch, *self.shape),
                                  self.anchor.device, self.anchor.dtype)
        batch, device, dtype = ref.shape[0], ref.device, ref.dtype
        if loc is not None:
            loc_t = self.param.loc(_as_target(loc, self.shape, c))
        else:
            loc_t = torch.full((batch, *self.shape), float(self.const_loc), device=device, dtype=dtype)
        if scale is not None:
            scale_t = self.param.scale(_as_target(scale, self.shape, c))
        else:
            scale_t = torch.full((batch, *self.shape), float(self.const_scale), device=loc_t.device, dtype=loc_t.dtype)
        raw = (loc, scale) if loc is not None and scale is not None else None
        return Normal(loc_t, scale_t, raw=raw, mapping=self.param if raw else None)


@register_family("bernoulli")
class BernoulliFamily(nn.Module):
    def __init__(self, *, in_shapes, target_shape):
        super().__init__()
        self.shape = tuple(target_shape)

    def forward(self, params: torch.Tensor) -> Bernoulli:
        return Bernoulli(_as_target(params, self.shape, self.shape[0]))


@register_family("discretized_logistic_mixture")
class DiscretizedLogisticFamily(nn.Module):
    def __init__(self, *, in_shapes, target_shape, components=10, bits=8, min_log_scale=-7.0):
        super().__init__()
        self.shape = tuple(target_shape)
        self.components, self.bits, self.min_log_scale = components, bits, min_log_scale
        c = self.shape[0]
        self.channels = components * (1 + 2 * c + c * (c - 1) // 2)

    def forward(self, params: torch.Tensor) -> DiscretizedLogisticMixture:
        return DiscretizedLogisticMixture(_as_target(params, self.shape, self.channels), self.shape[0],
                                          self.components, self.bits, self.min_log_scale)


@register_combinator("residual")
class Residual(nn.Module):
    """Adds the delta's raw parameters to the base's and maps the sums with the delta's
    parameterisation: NVAE's ``mu_q = mu_p + dmu``, ``log sigma_q = log sigma_p + d log sigma``."""

    def __init__(self, *, in_shapes, target_shape):
        super().__init__()

    def forward(self, base: Normal, delta: Normal) -> Normal:
        if base.raw is None or delta.raw is None:
            raise ValueError("residual() needs both distributions computed from raw network outputs, "
                             "not constant parameters")
        return delta.mapping(base.raw[0] + delta.raw[0], base.raw[1] + delta.raw[1])


@register_combinator("precision_weighted")
class PrecisionWeighted(nn.Module):
    """The Ladder VAE posterior: a product of two Gaussians, renormalised
    (``1/s^2 = 1/s_td^2 + 1/s_bu^2``, ``m = s^2 (m_td/s_td^2 + m_bu/s_bu^2)``)."""

    def __init__(self, *, in_shapes, target_shape):
        super().__init__()

    def forward(self, top_down: Normal, bottom_up: Normal) -> Normal:
        p_td, p_bu = top_down.scale.pow(-2), bottom_up.scale.pow(-2)
        var = 1.0 / (p_td + p_bu)
        loc = var * (top_down.loc * p_td + bottom_up.loc * p_bu)
        return Normal(loc, var.sqrt())
