"""Monotone rational-quadratic splines (Durkan, Bekasov, Murray & Papamakarios 2019, Appendix A).

Each coordinate has its own spline on ``[-bound, bound]``, made of K bins with positive widths
and heights that each sum to ``2 * bound``, positive slopes at the K - 1 interior knots and slope 1
at the two boundary knots, so that it joins the identity outside the interval continuously and
with a continuous derivative. All functions work elementwise on tensors of shape ``(B, n)``
with parameters of shape ``(B, n, K)`` (widths, heights) and ``(B, n, K - 1)`` (interior slopes).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["spline_parameters", "rq_spline_forward", "rq_spline_inverse"]


def spline_parameters(raw_widths: torch.Tensor, raw_heights: torch.Tensor, raw_slopes: torch.Tensor, *,
                      bound: float, min_width: float, min_slope: float):
    """Constrained spline parameters from unconstrained ones.

    ``width = min_width + (2 bound - K min_width) softmax(raw)`` (likewise heights) and
    ``slope = min_slope + softplus(raw)``, the recipe TF-Probability documents for its
    ``RationalQuadraticSpline``, which the SeRe paper used.

    Args:
        raw_widths, raw_heights: (B, n, K).
        raw_slopes: (B, n, K - 1).

    Returns:
        (widths, heights, slopes) with the shapes of the inputs.
    """
    k = raw_widths.shape[-1]
    span = 2.0 * bound - k * min_width
    widths = min_width + span * torch.softmax(raw_widths, dim=-1)
    heights = min_width + span * torch.softmax(raw_heights, dim=-1)
    slopes = min_slope + F.softplus(raw_slopes)
    return widths, heights, slopes


def _knots(sizes: torch.Tensor, bound: float) -> torch.Tensor:
    """Knot positions (B, n, K + 1) from bin sizes (B, n, K), the last knot exactly at +bound."""
    knots = F.pad(torch.cumsum(sizes, dim=-1), (1, 0)) - bound
    return torch.cat([knots[..., :-1], torch.full_like(knots[..., -1:], bound)], dim=-1)


def _bin_terms(v: torch.Tensor, knots_in: torch.Tensor, widths, heights, slopes, bound: float):
    """Per element: inside the interval?, v clamped to it, and its bin's x_k, y_k, w_k, h_k, d_k, d_k+1."""
    inside = (v > -bound) & (v < bound)
    v = v.clamp(-bound, bound)  # keep the unused branch finite outside, so no NaN leaks into gradients
    # index of the bin: how many interior knots lie at or below v (0..K-1)
    idx = (v.unsqueeze(-1) >= knots_in[..., 1:-1]).sum(dim=-1, keepdim=True)
    d = F.pad(slopes, (1, 1), value=1.0)  # boundary slopes are 1
    xk = torch.gather(_knots(widths, bound), -1, idx).squeeze(-1)
    yk = torch.gather(_knots(heights, bound), -1, idx).squeeze(-1)
    wk = torch.gather(widths, -1, idx).squeeze(-1)
    hk = torch.gather(heights, -1, idx).squeeze(-1)
    dk = torch.gather(d, -1, idx).squeeze(-1)
    dk1 = torch.gather(d, -1, idx + 1).squeeze(-1)
    return inside, v, xk, yk, wk, hk, dk, dk1


def rq_spline_forward(x: torch.Tensor, widths, heights, slopes, *, bound: float):
    """y = spline(x) and log dy/dx, both (B, n); the identity (log-derivative 0) outside the interval."""
    inside, xc, xk, yk, wk, hk, dk, dk1 = _bin_terms(x, _knots(widths, bound), widths, heights, slopes, bound)
    s = hk / wk
    xi = ((xc - xk) / wk).clamp(0.0, 1.0)
    t = xi * (1 - xi)
    denom = s + (dk1 + dk - 2 * s) * t
    y = yk + hk * (s * xi * xi + dk * t) / denom
    log_deriv = 2 * torch.log(s) + torch.log(dk1 * xi * xi + 2 * s * t + dk * (1 - xi) ** 2) - 2 * torch.log(denom)
    return torch.where(inside, y, x), torch.where(inside, log_deriv, torch.zeros_like(x))


def rq_spline_inverse(y: torch.Tensor, widths, heights, slopes, *, bound: float):
    """x = spline^-1(y) and log dx/dy, both (B, n): the root in [0, 1] of the bin's quadratic."""
    inside, yc, xk, yk, wk, hk, dk, dk1 = _bin_terms(y, _knots(heights, bound), widths, heights, slopes, bound)
    s = hk / wk
    rel = yc - yk
    gap = dk1 + dk - 2 * s
    a = hk * (s - dk) + rel * gap
    b = hk * dk - rel * gap
    c = -s * rel
    disc = (b * b - 4 * a * c).clamp(min=0.0)
    xi = ((2 * c) / (-b - torch.sqrt(disc))).clamp(0.0, 1.0)  # the stable form of the root
    x = xk + xi * wk
    t = xi * (1 - xi)
    denom = s + gap * t
    log_deriv = 2 * torch.log(s) + torch.log(dk1 * xi * xi + 2 * s * t + dk * (1 - xi) ** 2) - 2 * torch.log(denom)
    return torch.where(inside, x, y), torch.where(inside, -log_deriv, torch.zeros_like(y))
