"""Bijective blocks: the shared transformational layers ``z_l = f_l(eps_l; z_{l-1})`` of the
self-reflective VAE (Apostolopoulou et al., Section 3), with exact inverses and log-determinants.

Every bijector here is a block (its `forward(x, cond)` returns y, which is what a spec's
``feature z[l] = affine_rank1(eps[l], cond = z[l-1])`` computes) and also offers

* ``forward_and_log_det(x, cond) -> (y, log|det dy/dx|)``,
* ``inverse(y, cond) -> x`` and ``inverse_and_log_det(y, cond) -> (x, log|det dx/dy|)``.

The model never needs the log-determinants: prior and posterior are both densities over the
base latents eps, so the KL of the ELBO is the closed-form Gaussian KL in eps-space. They are
exact all the same, for tests and for users who compose these blocks into flows.

Shapes: x and y are ``(B, *shape)``; they are flattened to ``(B, n)`` inside. cond is any
``(B, *)`` and is flattened too.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .layers import activation
from .registry import register_block
from .splines import rq_spline_forward, rq_spline_inverse, spline_parameters

__all__ = ["positive_diagonal", "rank1_apply", "rank1_solve", "rank1_log_det", "ParamNet", "AffineRank1",
           "SplineCouplingLayer", "SplineCoupling"]


def positive_diagonal(raw: torch.Tensor, kind: str = "softplus_elu") -> torch.Tensor:
    """Map raw values to a positive diagonal: softplus(elu(raw)) (SeRe eq. 11), softplus or exp."""
    if kind == "softplus_elu":
        return F.softplus(F.elu(raw))
    if kind == "softplus":
        return F.softplus(raw)
    if kind == "exp":
        return torch.exp(raw)
    raise ValueError(f"unknown positive map {kind!r}; choose softplus_elu, softplus or exp")


# -- the diagonal-plus-rank-one affine map S = diag(d) + u u^T ---------------------------------------

def rank1_apply(x: torch.Tensor, shift: torch.Tensor, d: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """``shift + (diag(d) + u u^T) x`` for (B, n) tensors."""
    return shift + d * x + u * (u * x).sum(dim=-1, keepdim=True)


def rank1_solve(y: torch.Tensor, shift: torch.Tensor, d: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """``(diag(d) + u u^T)^-1 (y - shift)`` by the Sherman-Morrison formula, (B, n)."""
    w = (y - shift) / d
    a = (u * u / d).sum(dim=-1, keepdim=True)
    return w - (u / d) * (u * w).sum(dim=-1, keepdim=True) / (1.0 + a)


def rank1_log_det(d: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """``log det(diag(d) + u u^T) = sum log d + log(1 + u^T diag(d)^-1 u)`` (matrix determinant lemma), (B,)."""
    return torch.log(d).sum(dim=-1) + torch.log1p((u * u / d).sum(dim=-1))


# -- conditioning networks ---------------------------------------------------------------------------

class ParamNet(nn.Module):
    """(B, in) -> (B, out): an MLP ``Linear -> act`` per hidden width, then ``Linear -> out_act``.

    With ``in_features == 0`` there is nothing to condition on, and the outputs are learned
    constants (drawn from N(0, init_std^2), then passed through `out_act` like a network's).
    """

    def __init__(self, in_features: int, out_features: int, hidden: Sequence[int] = (), act: str = "tanh",
                 out_act: str = "tanh", init_std: float = 0.1):
        super().__init__()
        self.out_features = out_features
        self.out_act = activation(out_act)
        if in_features == 0:
            self.constant = nn.Parameter(init_std * torch.randn(out_features))
            self.net = None
            return
        layers: list[nn.Module] = []
        width = in_features
        for h in hidden:
            layers += [nn.Linear(width, h), activation(act)]
            width = h
        layers.append(nn.Linear(width, out_features))
        self.net = nn.Sequential(*layers)

    def forward(self, inputs: Optional[torch.Tensor], batch: int) -> torch.Tensor:
        if self.net is None:
            return self.out_act(self.constant).expand(batch, self.out_features)
        return self.out_act(self.net(inputs))


def _flat(t: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
    return None if t is None else t.flatten(1)


def _cond_width(in_shapes: dict) -> int:
    return math.prod(in_shapes["cond"]) if in_shapes.get("cond") is not None else 0


class _Bijector(nn.Module):
    """Shared plumbing: flatten to (B, n), run the flat transform, restore the shape."""

    def forward(self, x: torch.Tensor, cond: Optional[torch.Tensor] = None) -> torch.Tensor:
        return self.forward_and_log_det(x, cond)[0]

    def forward_and_log_det(self, x: torch.Tensor, cond: Optional[torch.Tensor] = None):
        y, log_det = self._forward_flat(x.flatten(1), _flat(cond))
        return y.reshape(x.shape), log_det

    def inverse(self, y: torch.Tensor, cond: Optional[torch.Tensor] = None) -> torch.Tensor:
        return self.inverse_and_log_det(y, cond)[0]

    def inverse_and_log_det(self, y: torch.Tensor, cond: Optional[torch.Tensor] = None):
        x, log_det = self._inverse_flat(y.flatten(1), _flat(cond))
        return x.reshape(y.shape), log_det


@register_block("affine_rank1")
class AffineRank1(_Bijector):
    """``y = c + (diag(d) + u u^T) x`` (SeRe Table 5: "diagonal plus unit-rank affine", TFP's
    ``Affine(shift, scale_diag, scale_perturb_factor)``).

    Three networks of `cond` -- for the shift c, the raw diagonal and the factor u -- each with
    `hidden` layers (SeRe: two of 20 units, tanh, tanh output); ``d = diag(raw) > 0``, so the
    scale matrix is symmetric positive definite and the map is invertible.
    """

    def __init__(self, *, in_shapes, out_shape, hidden=(20, 20), act="tanh", out_act="tanh",
                 diag="softplus_elu", init_std=0.1):
        super().__init__()
        n, c = math.prod(in_shapes["x"]), _cond_width(in_shapes)
        self.diag = diag
        self.shift = ParamNet(c, n, hidden, act, out_act, init_std)
        self.scale_diag = ParamNet(c, n, hidden, act, out_act, init_std)
        self.scale_perturb_factor = ParamNet(c, n, hidden, act, out_act, init_std)

    def parameters_of(self, cond: Optional[torch.Tensor], batch: int):
        """(shift, d, u), each (B, n)."""
        shift = self.shift(cond, batch)
        d = positive_diagonal(self.scale_diag(cond, batch), self.diag)
        return shift, d, self.scale_perturb_factor(cond, batch)

    def _forward_flat(self, x, cond):
        shift, d, u = self.parameters_of(cond, x.shape[0])
        return rank1_apply(x, shift, d, u), rank1_log_det(d, u)

    def _inverse_flat(self, y, cond):
        shift, d, u = self.parameters_of(cond, y.shape[0])
        return rank1_solve(y, shift, d, u), -rank1_log_det(d, u)


class SplineCouplingLayer(nn.Module):
    """One coupling layer: keeps x[:, :masked] and transforms x[:, masked:] with elementwise
    rational-quadratic splines whose parameters come from three networks (bin widths, bin heights,
    knot slopes) of ``[cond, x[:, :masked]]``. Inverse in one pass: the kept coordinates are
    the same on both sides."""

    def __init__(self, n: int, cond: int, masked: int, *, hidden, act, out_act, bins, bound, min_width,
                 min_slope, init_std):
        super().__init__()
        self.masked, self.bins, self.units = masked, bins, n - masked
        self.bound, self.min_width, self.min_slope = bound, min_width, min_slope
        inputs = cond + masked
        self.bin_widths = ParamNet(inputs, self.units * bins, hidden, act, out_act, init_std)
        self.bin_heights = ParamNet(inputs, self.units * bins, hidden, act, out_act, init_std)
        self.knot_slopes = ParamNet(inputs, self.units * (bins - 1), hidden, act, out_act, init_std)

    def _splines(self, kept: torch.Tensor, cond: Optional[torch.Tensor]):
        parts = [t for t in (cond, kept) if t is not None and t.shape[1] > 0]
        inputs = torch.cat(parts, dim=1) if parts else None
        b = kept.shape[0]
        w = self.bin_widths(inputs, b).reshape(b, self.units, self.bins)
        h = self.bin_heights(inputs, b).reshape(b, self.units, self.bins)
        s = self.knot_slopes(inputs, b).reshape(b, self.units, self.bins - 1)
        return spline_parameters(w, h, s, bound=self.bound, min_width=self.min_width, min_slope=self.min_slope)

    def forward(self, x, cond):
        kept, moved = x[:, : self.masked], x[:, self.masked:]
        y, log_deriv = rq_spline_forward(moved, *self._splines(kept, cond), bound=self.bound)
        return torch.cat([kept, y], dim=1), log_deriv.sum(dim=1)

    def inverse(self, y, cond):
        kept, moved = y[:, : self.masked], y[:, self.masked:]
        x, log_deriv = rq_spline_inverse(moved, *self._splines(kept, cond), bound=self.bound)
        return torch.cat([kept, x], dim=1), log_deriv.sum(dim=1)


@register_block("spline_coupling")
class SplineCoupling(_Bijector):
    """A composition of `splines` rational-quadratic spline coupling layers (Durkan et al. 2019),
    layer i keeping the first ``mask * i`` coordinates fixed: SeRe Table 9 ("# bins 32, # splines 5,
    mask size 5, range_min -20") read as TF-Probability's documented spline flow,
    ``RealNVP(num_masked = 5 * i, bijector_fn = spline_params[i])`` for i = 0..4, whose networks
    also see the conditioning feature. See docs/models/sere.md for this reading.
    """

    def __init__(self, *, in_shapes, out_shape, hidden=(60, 60), act="tanh", out_act="tanh", bins=32, bound=20.0,
                 splines=5, mask=5, min_width=1e-3, min_slope=1e-3, init_std=0.1):
        super().__init__()
        n, c = math.prod(in_shapes["x"]), _cond_width(in_shapes)
        self.layers = nn.ModuleList(
            SplineCouplingLayer(n, c, mask * i, hidden=hidden, act=act, out_act=out_act, bins=bins, bound=bound,
                                min_width=min_width, min_slope=min_slope, init_std=init_std)
            for i in range(splines))

    def _forward_flat(self, x, cond):
        log_det = x.new_zeros(x.shape[0])
        for layer in self.layers:
            x, ld = layer(x, cond)
            log_det = log_det + ld
        return x, log_det

    def _inverse_flat(self, y, cond):
        log_det = y.new_zeros(y.shape[0])
        for layer in reversed(self.layers):
            y, ld = layer.inverse(y, cond)
            log_det = log_det + ld
        return y, log_det
