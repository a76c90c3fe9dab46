"""Signatures of learned priors: families whose parameters live inside the family.

These take no parameter network (``conditional=False``): `prior u = diffusion(...)`,
`prior u = mog(components = 10)`, `prior z[1] = vamp(encoder = posterior(z[1]), components = 500)`.
Implementations: :mod:`zoo.nn.diffusion` and :mod:`zoo.nn.mixtures`.
"""
from __future__ import annotations

from .registry import family
from .signature import Param

__all__: list[str] = []

family("diffusion",
       Param("steps", "int", 25, doc="T: steps of ancestral sampling and of the test-time bound"),
       Param("gamma_min", "float", -6.0, doc="log-SNR schedule gamma(t) = gamma_min + (gamma_max - gamma_min) t"),
       Param("gamma_max", "float", 7.0),
       Param("channels", "int", 16, doc="model_channels of the UNet"),
       Param("res_blocks", "int", 2, doc="num_res_blocks of the UNet"),
       Param("dropout", "float", 0.0, doc="dropout inside the UNet's residual blocks"),
       Param("groups", "int", 16, doc="GroupNorm groups of the UNet"),
       Param("time_scale", "float", 1000.0, doc="t in [0, 1] is multiplied by this before the sinusoidal "
                                                 "embedding (the official code uses 1)"),
       Param("clip", "float", 1.0, doc="clamp the predicted u to [-clip, clip] when sampling (0: no clamp)"),
       packed_params=(), conditional=False,
       doc="Variational diffusion model over a pseudo-input (Kingma et al. 2021; DVP-VAE Appendix A): "
           "continuous time, linear log-SNR schedule, epsilon-prediction by a small UNet. log_prob is a "
           "stochastic LOWER BOUND on log r(u) (one t per example in training; the T-step bound at test time).")

family("mog",
       Param("components", "int", 10, doc="number of mixture components (equally weighted)"),
       Param("init_std", "float", 0.1, doc="standard deviation of the random initial means"),
       packed_params=(), conditional=False,
       doc="Mixture of diagonal Gaussians with learned means and log-variances and equal weights "
           "(the 'MoG' pseudo-input prior of the DVP-VAE ablation).")

family("vamp",
       Param("encoder", "factor", doc="the posterior evaluated at the pseudo-inputs, e.g. posterior(z[1])"),
       Param("components", "int", 500, doc="K: number of learnable pseudo-inputs"),
       Param("data_range", "floats", (0.0, 1.0), doc="pseudo-inputs are clamped (hardtanh) to [low, high]"),
       Param("init_mean", "float", 0.05, doc="mean of the Gaussian initialisation of the pseudo-inputs"),
       Param("init_std", "float", 0.01, doc="standard deviation of their initialisation"),
       packed_params=(), conditional=False,
       doc="VampPrior (Tomczak & Welling 2018): p(z) = 1/K sum_k q(z | u_k) with K learnable pseudo-inputs "
           "u_k in the data space, evaluated through the encoder factor.")
