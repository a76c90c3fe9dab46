"""The elaborated form of a spec: constants folded, index ranges expanded, arguments bound.

Elaboration (:mod:`dsl.elaborate`) turns each statement of a :class:`dsl.ast.Spec` into concrete
elements -- one :class:`Variable`, :class:`Feature` or :class:`Factor` per index -- whose
expressions are :class:`Value` trees with every argument bound to a named parameter of its
block, family or combinator. Node names are the spec's own: ``x``, ``z[3]``, ``h[17]``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Optional

from .ast import Span

__all__ = [
    "Value", "Const", "Symbol", "NodeRef", "Apply", "ListValue", "Dist", "Combine", "FactorRefValue",
    "Invalid", "Origin", "Variable", "Feature", "Factor", "Assumption", "ArrayInfo", "ConcreteSpec",
    "node_name", "walk",
]


def node_name(array: str, index: Optional[int]) -> str:
    return array if index is None else f"{array}[{index}]"


@dataclass(frozen=True)
class Value:
    span: Span = field(compare=False, repr=False)


@dataclass(frozen=True)
class Const(Value):
    """A constant: int, float, bool, str or a tuple of constants."""

    value: Any


@dataclass(frozen=True)
class Symbol(Value):
    """A bare name that is neither a constant nor a node (`tanh`), or an option call
    (`bounded_log_scale(-5, 5)`); validated where it is used."""

    name: str
    args: tuple = ()


@dataclass(frozen=True)
class NodeRef(Value):
    """A reference to a variable or feature node, optionally to one channel group of it."""

    node: str
    group: Optional[str] = None

    @property
    def key(self) -> str:
        return self.node if self.group is None else f"{self.node}.{self.group}"


@dataclass(frozen=True)
class Apply(Value):
    """A block applied to bound arguments (every parameter present, defaults filled in)."""

    block: str
    args: tuple[tuple[str, Value], ...]

    def arg(self, name: str) -> Value:
        return dict(self.args)[name]


@dataclass(frozen=True)
class ListValue(Value):
    items: tuple[Value, ...]


@dataclass(frozen=True)
class Dist(Value):
    """A distribution family applied to bound arguments, for the variable `target`."""

    family: str
    args: tuple[tuple[str, Value], ...]
    target: str

    def arg(self, name: str) -> Value:
        return dict(self.args)[name]

    def options(self) -> dict[str, Any]:
        return {k: v for k, v in self.args if isinstance(v, (Const, Symbol))}


@dataclass(frozen=True)
class Combine(Value):
    """A combinator over distributions (residual, precision_weighted)."""

    combinator: str
    args: tuple[tuple[str, Value], ...]
    target: str


@dataclass(frozen=True)
class FactorRefValue(Value):
    """`prior(z[3])`: the distribution computed by another factor."""

    kind: str
    node: str

    @property
    def factor_id(self) -> str:
        return f"{self.kind}({self.node})"


@dataclass(frozen=True)
class Invalid(Value):
    """Stands in for an expression that failed to elaborate (its error is already recorded)."""


def walk(value: Value) -> Iterator[Value]:
    """Every value in a tree, pre-order."""
    yield value
    if isinstance(value, (Apply, Dist, Combine)):
        for _, v in value.args:
            yield from walk(v)
    elif isinstance(value, ListValue):
        for v in value.items:
            yield from walk(v)


# -- concrete elements -----------------------------------------------------------------------

@dataclass(frozen=True)
class Origin:
    """The statement an element was expanded from; elements of one range statement share it."""

    span: Span = field(compare=False)
    statement: int  # position of the statement in the spec
    kind: str  # variable kind, "feature" or factor kind
    array: str
    binder: Optional[str] = None  # the index variable, if the statement binds one
    low: Optional[int] = None
    high: Optional[int] = None


@dataclass(frozen=True)
class Variable:
    name: str
    array: str
    index: Optional[int]
    kind: str  # observed | latent | pseudo
    shape: tuple[int, ...]
    family: Optional[Dist]
    span: Span = field(compare=False)
    origin: Origin = field(compare=False)


@dataclass(frozen=True)
class Feature:
    name: str
    array: str
    index: Optional[int]
    value: Value
    groups: tuple[tuple[str, int], ...]
    span: Span = field(compare=False)
    origin: Origin = field(compare=False)


@dataclass(frozen=True)
class Factor:
    kind: str  # prior | posterior | likelihood
    target: str
    parents: Optional[tuple[str, ...]]  # declared parents (node names), None when not declared
    value: Value  # Dist or Combine
    span: Span = field(compare=False)
    origin: Origin = field(compare=False)
    parent_spans: tuple[Span, ...] = field(default=(), compare=False)

    @property
    def id(self) -> str:
        return f"{self.kind}({self.target})"


@dataclass(frozen=True)
class Assumption:
    left: tuple[str, ...]
    right: tuple[str, ...]
    given: tuple[str, ...]
    reason: Optional[str]
    span: Span = field(compare=False)
    sufficient: bool = False  # `assume LEFT sufficient`


@dataclass(frozen=True)
class ArrayInfo:
    name: str
    kind: str  # observed | latent | pseudo | feature
    indices: Optional[tuple[int, ...]]  # None for a scalar (unindexed) name
    span: Span = field(compare=False)

    def describe(self) -> str:
        if self.indices is None:
            return "a single (unindexed) node"
        runs, start = [], None
        idx = list(self.indices)
        for i, v in enumerate(idx):
            if start is None:
                start = v
            if i + 1 == len(idx) or idx[i + 1] != v + 1:
                runs.append(f"{start}" if start == v else f"{start}..{v}")
                start = None
        return "defined for " + ", ".join(runs)


@dataclass(frozen=True)
class ConcreteSpec:
    """A spec after elaboration: what :func:`compiler.build_graph` consumes."""

    name: str
    description: str
    paper: str
    dataset: str
    constants: dict[str, Any]
    variables: dict[str, Variable]
    features: dict[str, Feature]
    factors: tuple[Factor, ...]
    assumptions: tuple[Assumption, ...]
    arrays: dict[str, ArrayInfo]
    sources: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    overrides: dict[str, Any] = field(default_factory=dict)

    def factor(self, kind: str, target: str) -> Optional[Factor]:
        for f in self.factors:
            if f.kind == kind and f.target == target:
                return f
        return None

    def variables_of(self, *kinds: str) -> list[Variable]:
        return [v for v in self.variables.values() if v.kind in kinds]
