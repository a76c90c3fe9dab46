"""The distributions a compiled model computes with.

Every distribution is over a batch of values of shape ``(B, *event_shape)``; :meth:`log_prob`
sums over the event and returns ``(B,)``. The reparameterization trick lives in one place,
:meth:`Normal.rsample`; every other Gaussian (the precision-weighted and residual posteriors,
the diagonal-plus-low-rank base) samples through it or through its own exact formula.

A :meth:`kl` returns the analytic KL divergence where one exists and ``None`` otherwise, in
which case the objective falls back to the single-sample estimate ``log q(z) - log p(z)``.
"""
from __future__ import annotations

import math
from typing import Callable, Optional

import torch
import torch.nn.functional as F

__all__ = ["Distribution", "Normal", "MappedNormal", "ConstantNormal", "Bernoulli", "DiscretizedLogisticMixture",
           "event_sum", "log1mexp", "log_bin_mass"]

LOG_2PI = math.log(2 * math.pi)


def event_sum(t: torch.Tensor) -> torch.Tensor:
    """Sum over every dimension but the batch."""
    return t.sum(dim=1) if t.dim() == 2 else t.reshape(t.shape[0], -1).sum(dim=1)


def log1mexp(a: torch.Tensor) -> torch.Tensor:
    """``log(1 - exp(-a))`` for a > 0, accurate everywhere (Maechler 2012: expm1 below log 2, log1p above)."""
    return torch.where(a < math.log(2.0), torch.log(-torch.expm1(-a)), torch.log1p(-torch.exp(-a)))


def log_bin_mass(plus: torch.Tensor, minus: torch.Tensor, mid: torch.Tensor, log_density_offset: torch.Tensor
                 ) -> torch.Tensor:
    """``log(sigmoid(plus) - sigmoid(minus))``, the log mass of a logistic between two standardised edges.

    Computed in log space as ``log sigmoid(hi) + log1mexp(log sigmoid(hi) - log sigmoid(lo))`` on the
    side of the centre where both sigmoids are small (a bin right of the centre is reflected,
    ``sigmoid(-minus) - sigmoid(-plus)``), so neither tail cancels. Where the log-sigmoid
    difference d is below ``eps ** (1/3)`` of the dtype (4.9e-3 in float32, 6.1e-6 in float64) its
    rounding error (about eps / d, relative) would exceed the error of the midpoint rule (about d**2),
    so the density at the centre times the bin width is used there:
    ``mid - 2 softplus(mid) - log_density_offset`` with ``log_density_offset = log(scale / width)``.
    """
    flip = mid > 0
    hi = torch.where(flip, -minus, plus)
    lo = torch.where(flip, -plus, minus)
    log_hi = F.logsigmoid(hi)
    d = log_hi - F.logsigmoid(lo)  # >= 0
    threshold = torch.finfo(d.dtype).eps ** (1.0 / 3.0)
    exact = log_hi + log1mexp(d.clamp(min=threshold))
    density = mid - 2.0 * F.softplus(mid) - log_density_offset
    return torch.where(d > threshold, exact, density)


class Distribution:
    """The interface every distribution implements."""

    has_rsample = True

    def rsample(self, temperature: float = 1.0) -> torch.Tensor:
        raise NotImplementedError

    def sample(self, temperature: float = 1.0) -> torch.Tensor:
        with torch.no_grad():
            return self.rsample(temperature)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def kl(self, other: "Distribution") -> Optional[torch.Tensor]:
        return None

    @property
    def mean(self) -> torch.Tensor:
        raise NotImplementedError

    def point(self) -> torch.Tensor:
        """The value shown as "the" image of a likelihood (``sample(mean=True)``): the mean by default."""
        return self.mean


class Normal(Distribution):
    """Diagonal Gaussian.

    Args:
        loc, scale: tensors of shape ``(B, *event)`` (scale > 0).
        raw: the raw network outputs ``(raw_loc, raw_scale)`` and the mapping that produced
            ``(loc, scale)`` from them; kept so a residual posterior can add to them.

    Two subclasses cost less where they can: :class:`MappedNormal` maps its raw outputs only when
    ``loc`` or ``scale`` is first read (a residual posterior reads only the raw outputs of its
    delta), and :class:`ConstantNormal` keeps constant parameters as numbers (an N(0, 1) prior
    allocates nothing and scores without dividing by ones). Both give the same values, bit for
    bit, as a :class:`Normal` of the materialised tensors.
    """

    def __init__(self, loc: torch.Tensor, scale: torch.Tensor,
                 raw: Optional[tuple[torch.Tensor, torch.Tensor]] = None,
                 mapping: Optional[Callable] = None):
        self.loc, self.scale = loc, scale
        self.raw, self.mapping = raw, mapping

    def rsample(self, temperature: float = 1.0) -> torch.Tensor:
        loc, scale = self.loc, self.scale
        eps = torch.randn_like(loc)
        return loc + (scale if temperature == 1.0 else temperature * scale) * eps

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        z = (value - self.loc) / self.scale
        return event_sum(-0.5 * z * z - torch.log(self.scale) - 0.5 * LOG_2PI)

    def kl(self, other: Distribution) -> Optional[torch.Tensor]:
        if isinstance(other, ConstantNormal):
            return other.kl_from(self)
        if not isinstance(other, Normal):
            return None
        var_ratio = (self.scale / other.scale) ** 2
        t = ((self.loc - other.loc) / other.scale) ** 2
        return event_sum(0.5 * (var_ratio + t - 1.0 - torch.log(var_ratio)))

    @property
    def mean(self) -> torch.Tensor:
        return self.loc

    def entropy(self) -> torch.Tensor:
        return event_sum(0.5 + 0.5 * LOG_2PI + torch.log(self.scale))


class MappedNormal(Normal):
    """A :class:`Normal` given by raw network outputs and the mapping to (loc, scale), which runs
    when ``loc`` or ``scale`` is first read (and once).

    Args:
        raw_loc, raw_scale: the raw outputs.
        mapping: has ``loc(raw)`` and ``scale(raw)`` (a
            :class:`~zoo.nn.families.NormalParameterization`) and, called, maps both.
    """

    def __init__(self, raw_loc: torch.Tensor, raw_scale: torch.Tensor, mapping):
        self.raw, self.mapping = (raw_loc, raw_scale), mapping
        self._loc: Optional[torch.Tensor] = None
        self._scale: Optional[torch.Tensor] = None

    @property
    def loc(self) -> torch.Tensor:
        if self._loc is None:
            self._loc = self.mapping.loc(self.raw[0])
        return self._loc

    @property
    def scale(self) -> torch.Tensor:
        if self._scale is None:
            self._scale = self.mapping.scale(self.raw[1])
        return self._scale


class ConstantNormal(Normal):
    """N(loc, scale^2) with the same numbers ``loc`` and ``scale`` for every element of a batch of
    shape ``(B, *event)``: the constant prior of a top latent, e.g. ``normal(0, 1)``.

    Nothing is allocated until a sample is drawn; terms with ``loc = 0`` or ``scale = 1`` are left
    out, not computed with zeros and ones. ``.loc`` and ``.scale`` materialise full tensors for
    code that needs them.
    """

    def __init__(self, loc: float, scale: float, shape: tuple[int, ...], device=None, dtype=None):
        """`shape` is the full ``(B, *event)``."""
        self.c, self.s = float(loc), float(scale)
        self.shape, self.device, self.dtype = tuple(shape), device, dtype
        self.raw = self.mapping = None

    @property
    def loc(self) -> torch.Tensor:
        return torch.full(self.shape, self.c, device=self.device, dtype=self.dtype)

    @property
    def scale(self) -> torch.Tensor:
        return torch.full(self.shape, self.s, device=self.device, dtype=self.dtype)

    def _affine(self, eps: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
        s = self.s * temperature
        if s != 1.0:
            eps = s * eps
        return eps + self.c if self.c != 0.0 else eps

    def rsample(self, temperature: float = 1.0) -> torch.Tensor:
        return self._affine(torch.randn(self.shape, device=self.device, dtype=self.dtype), temperature)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        z = value - self.c if self.c != 0.0 else value
        if self.s != 1.0:
            z = z / self.s
        return event_sum(-0.5 * z * z - (math.log(self.s) + 0.5 * LOG_2PI))

    def kl_from(self, q: Normal) -> torch.Tensor:
        """KL(q || self) for a diagonal Gaussian q."""
        var_ratio = (q.scale / self.s if self.s != 1.0 else q.scale) ** 2
        d = q.loc - self.c if self.c != 0.0 else q.loc
        t = (d / self.s if self.s != 1.0 else d) ** 2
        return event_sum(0.5 * (var_ratio + t - 1.0 - torch.log(var_ratio)))



class Bernoulli(Distribution):
    """Independent Bernoulli variables with the given logits; values in {0, 1}."""

    has_rsample = False

    def __init__(self, logits: torch.Tensor):
        self.logits = logits

    def rsample(self, temperature: float = 1.0) -> torch.Tensor:
        return torch.bernoulli(torch.sigmoid(self.logits)).detach()

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        return -event_sum(F.binary_cross_entropy_with_logits(self.logits, value, reduction="none"))

    @property
    def mean(self) -> torch.Tensor:
        return torch.sigmoid(self.logits)


class DiscretizedLogisticMixture(Distribution):
    """Mixture of discretized logistics over quantised data in [-1, 1] (Salimans et al. 2017).

    The parameter tensor ``(B, M * (1 + 2C + C(C-1)/2), H, W)`` holds, along channels: M mixture
    logits, then M*C means, M*C log-scales, and M*C(C-1)/2 coefficients by which each channel's
    mean depends linearly on the earlier channels (for RGB: g on r; b on r and g).

    Each of the 2**bits levels is a bin of width 2/(2**bits - 1); the lowest and highest bins
    extend to -inf and +inf, so the probabilities of all levels sum to one. Each bin's log mass is
    exact in log space (:func:`log_bin_mass`); only bins far narrower than the logistic's scale,
    where the dtype cannot resolve the difference of CDFs, use the density times the bin width.

    The image it stands for (:meth:`point`) is the exact :attr:`mean` for one channel and the
    per-pixel :attr:`mode` for RGB.
    """

    has_rsample = False

    def __init__(self, params: torch.Tensor, channels: int, components: int, bits: int = 8,
                 min_log_scale: float = -7.0):
        b, _, h, w = params.shape
        c, m = channels, components
        n_coef = c * (c - 1) // 2
        self.c, self.m, self.bits = c, m, bits
        self.logits = params[:, :m]  # (B, M, H, W)
        rest = params[:, m:]
        self.means = rest[:, : m * c].reshape(b, m, c, h, w)
        self.log_scales = rest[:, m * c: 2 * m * c].reshape(b, m, c, h, w).clamp(min=min_log_scale)
        self.coeffs = torch.tanh(rest[:, 2 * m * c: 2 * m * c + m * n_coef].reshape(b, m, n_coef, h, w))
        self.half_bin = 1.0 / (2 ** bits - 1)

    def _channel_means(self, x: torch.Tensor) -> torch.Tensor:
        """Means with the autoregressive dependence on earlier channels of x: (B, M, C, H, W)."""
        means = [self.means[:, :, 0]]
        k = 0
        for ch in range(1, self.c):
            mean = self.means[:, :, ch]
            for prev in range(ch):
                mean = mean + self.coeffs[:, :, k] * x[:, prev].unsqueeze(1)
                k += 1
            means.append(mean)
        return torch.stack(means, dim=2)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        x = value  # (B, C, H, W) in [-1, 1]
        means = self._channel_means(x)
        centered = x.unsqueeze(1) - means  # (B, M, C, H, W)
        inv_s = torch.exp(-self.log_scales)
        plus = inv_s * (centered + self.half_bin)
        minus = inv_s * (centered - self.half_bin)
        log_cdf_plus = F.logsigmoid(plus)  # the lowest bin, (-inf, x + half]
        log_one_minus_cdf_minus = F.logsigmoid(-minus)  # the highest bin, [x - half, +inf)
        log_mid = log_bin_mass(plus, minus, inv_s * centered, self.log_scales + math.log(0.5 / self.half_bin))
        edge = 1.0 - self.half_bin / 2
        x_ = x.unsqueeze(1).expand_as(log_mid)
        log_probs = torch.where(x_ < -edge, log_cdf_plus, torch.where(x_ > edge, log_one_minus_cdf_minus, log_mid))
        log_probs = log_probs.sum(dim=2) + torch.log_softmax(self.logits, dim=1)  # (B, M, H, W)
        return event_sum(torch.logsumexp(log_probs, dim=1))

    def _edges(self, like: torch.Tensor) -> torch.Tensor:
        """The 2**bits - 1 boundaries between levels, -1 + (2k + 1) half, k = 0 .. 2**bits - 2."""
        k = torch.arange(2 ** self.bits - 1, device=like.device, dtype=like.dtype)
        return -1.0 + (2.0 * k + 1.0) * self.half_bin

    def _channel_mean(self, mean: torch.Tensor, log_scale: torch.Tensor) -> torch.Tensor:
        """E[x] of one discretized logistic (end bins included): ``-1 + 2 half sum_k sigmoid((mu - e_k) / s)``,
        the telescoped sum of level x bin mass over the 2**bits levels."""
        edges = self._edges(mean)  # (E,)
        z = (mean.unsqueeze(-1) - edges) * torch.exp(-log_scale).unsqueeze(-1)
        return -1.0 + 2.0 * self.half_bin * torch.sigmoid(z).sum(-1)

    @property
    def mean(self) -> torch.Tensor:
        """E[x] per pixel (B, C, H, W), exact, over the 2**bits levels with their end bins.

        Only for one channel: with several, a channel's mean depends on the earlier channels' values
        through the coefficients, so E[x] needs a sum over 256**(C-1) levels per pixel; use
        :attr:`mode` (what sample images show for RGB, see :meth:`point`).
        """
        if self.c != 1:
            raise NotImplementedError(f"the exact mean of a {self.c}-channel discretized logistic mixture "
                                      "sums over 256^(C-1) levels per pixel; use .mode")
        weights = torch.softmax(self.logits, dim=1)  # (B, M, H, W)
        per_component = self._channel_mean(self.means[:, :, 0], self.log_scales[:, :, 0])  # (B, M, H, W)
        return (weights * per_component).sum(1, keepdim=True)

    @property
    def mode(self) -> torch.Tensor:
        """A per-pixel mode (B, C, H, W), on the levels: the most probable mixture component of each pixel,
        then channel by channel the most probable level given the earlier channels' chosen levels
        (the nearest level to the centre, or an end bin when its mass is larger). It is the exact
        mode for one component and one channel, and a greedy one otherwise."""
        pick = torch.argmax(self.logits, dim=1, keepdim=True)  # (B, 1, H, W)
        take = lambda t: torch.gather(t, 1, pick.unsqueeze(2).expand(-1, 1, t.shape[2], -1, -1)).squeeze(1)
        means, log_scales, coeffs = take(self.means), take(self.log_scales), take(self.coeffs) if self.c > 1 else None
        levels = 2 ** self.bits - 1
        out, k = [], 0
        for ch in range(self.c):
            mu = means[:, ch]
            for prev in range(ch):
                mu = mu + coeffs[:, k] * out[prev]
                k += 1
            inv_s = torch.exp(-log_scales[:, ch])
            nearest = torch.round((mu.clamp(-1.0, 1.0) + 1) / 2 * levels) / levels * 2 - 1
            lowest = F.logsigmoid(inv_s * (-1.0 + self.half_bin - mu))
            highest = F.logsigmoid(-inv_s * (1.0 - self.half_bin - mu))
            mid = log_bin_mass(inv_s * (nearest - mu + self.half_bin), inv_s * (nearest - mu - self.half_bin),
                               inv_s * (nearest - mu), log_scales[:, ch] + math.log(0.5 / self.half_bin))
            interior = (nearest > -1 + self.half_bin) & (nearest < 1 - self.half_bin)
            mid = torch.where(interior, mid, torch.full_like(mid, -math.inf))
            best = torch.stack([lowest, mid, highest]).argmax(0)
            out.append(torch.where(best == 0, -1.0, torch.where(best == 2, 1.0, nearest)))
        return torch.stack(out, dim=1)

    def point(self) -> torch.Tensor:
        """The image shown for this distribution: :attr:`mean` for one channel, :attr:`mode` for several."""
        return self.mean if self.c == 1 else self.mode

    def rsample(self, temperature: float = 1.0) -> torch.Tensor:
        b, m, c, h, w = self.means.shape
        gumbel = -torch.log(-torch.log(torch.rand_like(self.logits).clamp(1e-5, 1 - 1e-5)))
        pick = F.one_hot(torch.argmax(self.logits / max(temperature, 1e-6) + gumbel, dim=1), m)
        pick = pick.permute(0, 3, 1, 2).unsqueeze(2).to(self.means.dtype)  # (B, M, 1, H, W)
        means = (self.means * pick).sum(1)
        log_scales = (self.log_scales * pick).sum(1)
        coeffs = (self.coeffs * pick).sum(1)
        u = torch.rand_like(means).clamp(1e-5, 1 - 1e-5)
        noise = torch.exp(log_scales) * temperature * (torch.log(u) - torch.log1p(-u))
        out, k = [], 0
        for ch in range(c):
            v = means[:, ch] + noise[:, ch]
            for prev in range(ch):
                v = v + coeffs[:, k] * out[prev]
                k += 1
            out.append(v.clamp(-1.0, 1.0))
        levels = 2 ** self.bits - 1
        x = torch.stack(out, dim=1)
        return (torch.round((x + 1) / 2 * levels) / levels * 2 - 1).detach()

