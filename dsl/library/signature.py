"""Signatures of the language's building blocks: what arguments they take and what shape they give.

A signature is the torch-free half of a block (its PyTorch half is registered under the same
name in :mod:`zoo.nn`). Signatures let `zoo check` resolve names, validate arguments and infer
every feature's shape without importing torch.

Shapes never include the batch dimension: a vector feature is ``(n,)``, an image feature
``(channels, height, width)``.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

__all__ = [
    "REQUIRED", "Param", "Signature", "BlockSignature", "FamilySignature", "CombinatorSignature",
    "ShapeError", "ShapeArgs", "Shape", "suggest",
    "PARAM_KINDS", "ACTIVATIONS",
]

Shape = tuple[int, ...]


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED = _Required()

# What an argument may be. "feature" is one tensor-valued expression, "features" a list of them
# (a single feature is accepted as a list of one), "dist" a distribution expression,
# "factor" a reference like posterior(z) used as a function, "option" a symbolic choice that
# may take constant arguments (e.g. bounded_log_scale(-5, 5)); the rest are constants.
PARAM_KINDS = ("feature", "features", "dist", "factor", "int", "float", "bool", "str",
               "ints", "floats", "choice", "option", "number_or_feature")

ACTIVATIONS = ("none", "relu", "leaky_relu", "elu", "tanh", "sigmoid", "swish", "silu", "gelu",
               "softplus")


class ShapeError(Exception):
    """Raised by a shape rule; the checker turns it into a located diagnostic."""

    def __init__(self, message: str, param: Optional[str] = None):
        super().__init__(message)
        self.param = param


@dataclass(frozen=True)
class Param:
    """One argument of a signature.

    Attributes:
        name: keyword name; positional arguments bind to params in declaration order.
        kind: one of :data:`PARAM_KINDS`.
        default: :data:`REQUIRED` or the value used when the argument is omitted.
        choices: for "choice" the allowed names; for "option" a mapping name -> arity.
        variadic: a "features" param that collects all remaining positional arguments.
        doc: one line for the language reference.
    """

    name: str
    kind: str
    default: Any = REQUIRED
    choices: Any = ()
    variadic: bool = False
    doc: str = ""

    def __post_init__(self):
        if self.kind not in PARAM_KINDS:
            raise ValueError(f"unknown parameter kind {self.kind!r}")

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @property
    def tensor_valued(self) -> bool:
        return self.kind in ("feature", "features", "dist", "number_or_feature")


@dataclass(frozen=True)
class ShapeArgs:
    """What a shape rule sees: the shapes of tensor arguments and the values of the others."""

    block: str
    shapes: dict[str, Any]
    values: dict[str, Any]

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None

    def shape(self, name: str) -> Shape:
        return self.shapes[name]

    def require_rank(self, name: str, *ranks: int) -> Shape:
        shape = self.shapes[name]
        if len(shape) not in ranks:
            want = " or ".join(_rank_word(r) for r in ranks)
            raise ShapeError(f"{self.block}: argument '{name}' must be {want}, got shape {list(shape)}", name)
        return shape


def _rank_word(rank: int) -> str:
    return {1: "a vector [n]", 3: "an image [c, h, w]"}.get(rank, f"rank {rank}")


@dataclass(frozen=True)
class Signature:
    name: str
    params: tuple[Param, ...]
    doc: str = ""
    module: str = ""  # the python module that declared it, for the reference docs

    def param(self, name: str) -> Optional[Param]:
        for p in self.params:
            if p.name == name:
                return p
        return None

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)


@dataclass(frozen=True)
class BlockSignature(Signature):
    """A deterministic block: features in, one feature out.

    Attributes:
        shape_rule: ShapeArgs -> output shape; raises ShapeError.
        out_param: the name of the parameter that sets the output width, which may be left out
            when the block is the parameter network of a distribution (the checker fills it).
        out_kind: "vector" when `out_param` is a flat length, "channels" when it is the channel
            count of an image-shaped output.
        role: what the block is, for diagrams: feature, bijector, attention, pseudo, ...
        invertible: the tensor arguments the output determines once the block's other tensor
            arguments are known (``x`` of ``affine_rank1(x, cond)``: x = f^-1(y; cond)); for a list
            argument, each of its elements given the other elements. The factorization check's
            backward rule reads it (docs/factorization.md, "Invertible features").
        separable: each element of an `invertible` list argument is determined by the output alone
            (``concat``: the parts of a concatenation are its slices).
    """

    shape_rule: Callable[[ShapeArgs], Shape] = field(default=None, compare=False)
    out_param: Optional[str] = None
    out_kind: str = "channels"
    role: str = "feature"
    invertible: tuple[str, ...] = ()
    separable: bool = False


@dataclass(frozen=True)
class FamilySignature(Signature):
    """A distribution family.

    Attributes:
        param_channels: (variable shape, option values) -> channel count of the packed parameter
            tensor its parameter network must produce (for image variables; vectors use the
            flat count).
        packed_params: the names of tensor params that carry packed raw parameters.
        conditional: False for families whose parameters are learned inside the family
            (mixtures, diffusion), which then take no parameter network.
        discrete: True when log_prob is a probability mass (the data is quantised).
    """

    param_channels: Callable[[Shape, dict], int] = field(default=None, compare=False)
    packed_params: tuple[str, ...] = ("params",)
    conditional: bool = True
    discrete: bool = False


@dataclass(frozen=True)
class CombinatorSignature(Signature):
    """Builds one distribution from others, e.g. a posterior residual on its prior."""


def suggest(name: str, candidates: Sequence[str]) -> Optional[str]:
    """A 'did you mean' hint, or None."""
    close = difflib.get_close_matches(name, list(candidates), n=3, cutoff=0.6)
    if not close:
        return None
    return "did you mean " + " or ".join(f"'{c}'" for c in close) + "?"
