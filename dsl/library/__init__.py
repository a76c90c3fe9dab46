"""The language's standard library: signatures of every block, family, combinator and option.

Importing this package imports every library module, each of which declares its signatures.
"""
from . import core  # noqa: F401  (declares signatures)
from . import bijectors, flows, resnet  # noqa: F401  (self-reflective VAE: bijectors, MAF decoder, ResNet)
from . import priors, pseudo, vdvae  # noqa: F401  (DVP-VAE: pseudo-inputs, learned priors, VDVAE blocks)
from . import attention  # noqa: F401  (deep attentive VAE: depth-wise attention, non-local blocks)
from .registry import (OptionSignature, UnknownNameError, all_names, blocks, combinators, families,
                       kind_of, lookup, options)
from .signature import (ACTIVATIONS, REQUIRED, BlockSignature, CombinatorSignature, FamilySignature, Param,
                        ShapeArgs, ShapeError, Signature, suggest)

__all__ = [
    "ACTIVATIONS", "REQUIRED", "BlockSignature", "CombinatorSignature", "FamilySignature", "Param",
    "ShapeArgs", "ShapeError", "Signature", "suggest", "OptionSignature", "UnknownNameError",
    "all_names", "blocks", "combinators", "families", "kind_of", "lookup", "options",
]
