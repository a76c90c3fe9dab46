"""Signature of the self-reflective masked autoregressive flow decoder (SeRe Section 4, Appendix 9).

The likelihood ``maf`` is a conditional Masked Autoregressive Flow (Papamakarios et al. 2017)
over 8-bit images: the family dequantizes the data, maps it to logit space, and scores it under
``T`` flows of ``L`` conditional MADEs each (one MADE per conditioning feature, SeRe Figure 5b),
with batch-normalisation bijectors between them, on top of a unit-rank Gaussian base
distribution whose raw parameters the spec computes (SeRe Figure 5a refines them residually
across the layers). Its log-likelihood is a lower bound on the log probability *mass* of the
8-bit image; every Jacobian term is included (see docs/models/sere.md).
"""
from __future__ import annotations

from .bijectors import DIAGONALS
from .registry import family
from .signature import ACTIVATIONS, Param

__all__: list[str] = []

family("maf",
       Param("loc", "feature", doc="raw loc of the unit-rank Gaussian base (the image's shape, or flat)"),
       Param("scale", "feature", doc="raw diagonal of the base's scale matrix, mapped by `diag`"),
       Param("factor", "feature", doc="the rank-one factor u of the base's scale diag(d) + u u^T"),
       Param("cond", "features", doc="one conditioning feature per MADE of each flow (z[1..L] in SeRe)"),
       Param("flows", "int", 2, doc="flows T; each is one MADE per conditioning feature"),
       Param("hidden", "ints", (1024, 1024), doc="hidden widths of every MADE"),
       Param("act", "choice", "relu", choices=ACTIVATIONS, doc="hidden activation of the MADEs"),
       Param("order", "choice", "random", choices=("random", "left_to_right"),
             doc="input order of each MADE: a seeded random permutation per MADE, or raster order"),
       Param("seed", "int", 0, doc="seed of the random input orders (stored in the checkpoint as buffers)"),
       Param("batchnorm", "bool", True, doc="batch-normalisation bijectors between consecutive MADEs"),
       Param("bn_momentum", "float", 0.01, doc="update rate of the running averages (Keras/TFP decay 0.99)"),
       Param("alpha", "float", 0.05, doc="logit transform y = logit(alpha + (1 - alpha) s) of dequantized s in [0, 1)"),
       Param("symmetric", "bool", False, doc="use MAF's logit(alpha + (1 - 2 alpha) s) instead"),
       Param("bits", "int", 8, doc="bits per channel of the data (in [-1, 1] as docs/conventions.md says)"),
       Param("diag", "choice", "softplus_elu", choices=DIAGONALS, doc="positive map of the base's raw diagonal"),
       param_channels=lambda shape, opts: shape[0],
       packed_params=("loc", "scale", "factor"), discrete=True,
       doc="Self-reflective masked autoregressive flow over 8-bit images in [-1, 1] (SeRe Section 4): uniform "
           "dequantization, logit transform, T flows of conditional MADEs (mask offset for the conditioning "
           "inputs), batch-norm bijectors, unit-rank Gaussian base. log_prob is a lower bound on the log "
           "probability mass of the image.")
