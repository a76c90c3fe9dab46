"""Mixture priors: a mixture of Gaussians and the VampPrior (Tomczak & Welling 2018).

Both return a :class:`DiagonalMixture`: K diagonal Gaussian components shared by the whole batch,
``log p(z) = logsumexp_k [log w_k + log N(z; m_k, s_k^2)]``, sampled by choosing a component per
example (so there is no reparameterised sample; a prior only needs `log_prob` and `sample`).

Temperature scales the standard deviation within the chosen component. At temperature 0 the
component is not drawn either: every value is the mean of the most probable component (the first
one when weights tie, as the VampPrior's equal weights always do), so ``sample(temperature=0)`` is
deterministic. Between 0 and 1 the component is still drawn from the weights.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..runtime.distributions import LOG_2PI, Distribution, Normal
from .registry import register_family

__all__ = ["DiagonalMixture", "MixtureOfGaussians", "VampPrior"]


class DiagonalMixture(Distribution):
    """A batch of B values, each from the mixture sum_k w_k N(loc_k, scale_k^2).

    Args:
        loc, scale: (K, *event) component parameters.
        log_weights: (K,) log mixture weights (normalised here).
        batch: how many values :meth:`sample` draws.
    """

    has_rsample = False

    def __init__(self, loc: torch.Tensor, scale: torch.Tensor, log_weights: torch.Tensor, batch: int):
        self.loc, self.scale, self.batch = loc, scale, batch
        self.log_weights = torch.log_softmax(log_weights, dim=0)

    def component_log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """(B, *event) -> (B, K): log N(value; loc_k, scale_k^2) summed over the event."""
        k = self.loc.shape[0]
        x = value.reshape(value.shape[0], 1, -1)  # (B, 1, D)
        loc, scale = self.loc.reshape(1, k, -1), self.scale.reshape(1, k, -1)  # (1, K, D)
        z = (x - loc) / scale
        return (-0.5 * z * z - torch.log(scale) - 0.5 * LOG_2PI).sum(-1)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        return torch.logsumexp(self.component_log_prob(value) + self.log_weights, dim=1)  # (B,)

    def rsample(self, temperature: float = 1.0) -> torch.Tensor:
        with torch.no_grad():
            if temperature == 0:
                pick = torch.argmax(self.log_weights).expand(self.batch)  # the first on ties
            else:
                pick = torch.multinomial(self.log_weights.exp(), self.batch, replacement=True)  # (B,)
            eps = torch.randn((self.batch, *self.loc.shape[1:]), device=self.loc.device, dtype=self.loc.dtype)
            return self.loc[pick] + temperature * self.scale[pick] * eps

    @property
    def mean(self) -> torch.Tensor:
        w = self.log_weights.exp().reshape(-1, *([1] * (self.loc.dim() - 1)))
        m = (w * self.loc).sum(0)
        return m.unsqueeze(0).expand(self.batch, *m.shape)


@register_family("mog")
class MixtureOfGaussians(nn.Module):
    """K equally weighted diagonal Gaussians with learned means and log-variances.

    The official code starts every mean at 0 (identical components that only the 0.01-std noise
    of the log-variances separates); we draw the initial means from N(0, init_std^2).
    """

    def __init__(self, *, in_shapes, target_shape, components=10, init_std=0.1):
        super().__init__()
        shape = (components, *target_shape)
        self.means = nn.Parameter(init_std * torch.randn(shape))
        self.log_vars = nn.Parameter(0.01 * torch.randn(shape))
        self.register_buffer("log_weights", torch.zeros(components), persistent=False)

    def forward(self, *, batch: int) -> DiagonalMixture:
        return DiagonalMixture(self.means, torch.exp(0.5 * self.log_vars), self.log_weights, batch)


@register_family("vamp")
class VampPrior(nn.Module):
    """p(z) = 1/K sum_k q(z | u_k): the posterior `encoder` evaluated at K learnable pseudo-inputs.

    The pseudo-inputs live in the data space of the observed variable the encoder reads; they are
    created when the model binds this module (their shape is the data's), stored as
    ``hardtanh(raw)`` with raw ~ N(init_mean, init_std^2) and clamped to `data_range`.
    The model is kept as a plain attribute (not a submodule), so that ``copy.deepcopy`` of the
    model maps it to the copy.
    """

    def __init__(self, *, in_shapes, target_shape, encoder, components=500, data_range=(0.0, 1.0),
                 init_mean=0.05, init_std=0.01):
        super().__init__()
        self.encoder, self.components = encoder, int(components)
        self.low, self.high = float(data_range[0]), float(data_range[1])
        self.init_mean, self.init_std = float(init_mean), float(init_std)
        self.target_shape = tuple(target_shape)
        self.__dict__["_model"] = None
        self.data = None  # the observed variable the pseudo-inputs stand for

    def bind_model(self, model) -> None:
        import networkx as nx

        from dsl.errors import Diagnostic, SpecSemanticError

        graph = model.graph
        upstream = nx.ancestors(model._inference_dataflow(), self.encoder)
        variables = [n for n in upstream if graph.info(n).is_random]
        observed = [n for n in variables if graph.info(n).kind == "observed"]
        if len(observed) != 1 or len(variables) != 1:
            me = next(n for n, m in model.ops.items() if m is self)
            raise SpecSemanticError([Diagnostic(
                f"vamp(encoder = {self.encoder}): the encoder must read exactly one observed variable and no "
                f"latents, but it reads {', '.join(sorted(variables)) or 'nothing'}",
                graph.info(me).span, "use the posterior of the top latent, e.g. posterior(z[1]) | x",
                "error", "vamp").with_source(graph.spec.sources)])
        self.data = observed[0]
        if "raw" not in self._parameters:
            shape = (self.components, *graph.info(self.data).shape)
            self.raw = nn.Parameter(self.init_mean + self.init_std * torch.randn(shape))
        self.__dict__["_model"] = model

    def pseudo_inputs(self) -> torch.Tensor:
        """(K, *data shape), clamped to the data range."""
        return F.hardtanh(self.raw, self.low, self.high)

    def forward(self, *, batch: int) -> DiagonalMixture:
        model = self.__dict__["_model"]
        if model is None:
            raise RuntimeError("vamp is not bound to a model; build it with zoo.runtime.lower")
        q = model.evaluate(self.encoder, {self.data: self.pseudo_inputs()})
        if not isinstance(q, Normal):
            raise TypeError(f"vamp: {self.encoder} must be a diagonal Gaussian, got {type(q).__name__}")
        log_w = torch.zeros(self.components, device=q.loc.device, dtype=q.loc.dtype)
        return DiagonalMixture(q.loc, q.scale, log_w, batch)

    def extra_repr(self) -> str:
        return f"encoder={self.encoder}, components={self.components}, data_range=[{self.low}, {self.high}]"
