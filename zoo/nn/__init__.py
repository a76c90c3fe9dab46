"""PyTorch implementations of the language's blocks, families and combinators.

Importing this package registers every implementation under its signature's name.
"""
from . import core, families, nvae  # noqa: F401  (register implementations)
from . import bijectors, flows, resnet  # noqa: F401  (self-reflective VAE: bijectors, MAF decoder, ResNet)
from . import dct, diffusion, mixtures, pseudo, vdvae  # noqa: F401  (DVP-VAE: pseudo-inputs, priors, blocks)
from . import attention  # noqa: F401  (deep attentive VAE: depth-wise attention, non-local blocks)
from .registry import (UnknownBlockError, block_class, combinator_class, family_class, register_block,
                       register_combinator, register_family, registered)

__all__ = ["UnknownBlockError", "block_class", "combinator_class", "family_class", "register_block",
           "register_combinator", "register_family", "registered"]
