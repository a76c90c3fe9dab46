"""The node records of the IR: what a :class:`compiler.graph.ModelGraph` node's ``info`` holds.

Kept apart from :mod:`compiler.graph` so that the passes that read a graph (the check, the
diagrams) can name the record types without importing the builder, and the builder's notebook
display can import those passes without an import cycle.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Optional, Union

from dsl.ast import Span
from dsl.values import Origin

__all__ = ["VarInfo", "OpInfo", "FunctionRef", "Input", "natural"]

Input = Union[str, tuple]  # a node id, or a tuple of node ids for a list argument


@dataclass(frozen=True)
class FunctionRef:
    """A factor passed as a function (e.g. the encoder a VampPrior evaluates on its pseudo-inputs)."""

    factor: str


@dataclass(frozen=True)
class VarInfo:
    """A random variable."""

    name: str
    kind: str  # observed | latent | pseudo
    shape: tuple[int, ...]
    family: Optional[str]
    span: Span = field(compare=False)
    origin: Origin = field(compare=False)
    array: str = ""
    index: Optional[int] = None

    @property
    def is_random(self) -> bool:
        return True


@dataclass(frozen=True)
class OpInfo:
    """A computation.

    Attributes:
        kind: "feature", "slice", "factor" or "dist".
        op: block name (feature), family or combinator name (factor/dist), "slice".
        inputs: tensor-valued arguments by parameter name, in signature order.
        params: constant arguments by name (python values; options as (name, args) tuples).
        shape: output shape for features and slices; the variable's shape for distributions.
        target: the variable a factor/dist is over.
        factor_kind: prior | posterior | likelihood for factors.
        named: a user-named feature (its id is the name in the spec).
        role: the block's role for diagrams (feature, bijector, attention, activation, ...).
    """

    name: str
    kind: str
    op: str
    inputs: tuple[tuple[str, Input], ...]
    params: tuple[tuple[str, Any], ...]
    shape: Optional[tuple[int, ...]]
    span: Span = field(compare=False)
    origin: Optional[Origin] = field(default=None, compare=False)
    target: Optional[str] = None
    factor_kind: Optional[str] = None
    named: bool = False
    role: str = "feature"
    slice: Optional[tuple[int, int]] = None

    @property
    def is_random(self) -> bool:
        return False

    def param(self, name: str, default=None):
        return dict(self.params).get(name, default)


def natural(name: str) -> list:
    """A sort key for node ids that puts `z[2]` before `z[10]`, as a person orders layers.

    `re.split` with a captured group alternates text and digits, so two keys compare text with
    text and numbers with numbers.
    """
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(name))]
