"""The abstract syntax tree of a `.hvae` spec: frozen dataclasses that remember where they came from.

Every node carries a :class:`Span` so that any later pass (elaboration, semantic checks, the
factorization checker) can point at the exact source text it is talking about. The classes are
plain data: semantics live in :mod:`dsl.elaborate` and :mod:`dsl.check`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Union

__all__ = [
    "Span", "Node", "Expr", "Number", "String", "Bool", "Ref", "Call", "Keyword", "ListExpr",
    "FactorRef", "BinaryOp", "UnaryOp", "Compare", "BoolOp", "Conditional",
    "Index", "IndexAt", "IndexSpan", "IndexBinder", "IndexRelation", "Target",
    "Statement", "ModelDecl", "PaperDecl", "DatasetDecl", "ImportDecl", "Binding", "LetDecl",
    "VariableDecl", "FeatureDecl", "Group", "FactorDecl", "AssumeDecl", "Spec",
    "VARIABLE_KINDS", "FACTOR_KINDS",
]

VARIABLE_KINDS = ("observed", "latent", "pseudo")
FACTOR_KINDS = ("prior", "posterior", "likelihood")


@dataclass(frozen=True)
class Span:
    """A region of source text: 1-based line and column, end exclusive."""

    path: str
    line: int
    column: int
    end_line: int
    end_column: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Node:
    span: Span = field(compare=False, repr=False)


# -- expressions -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Expr(Node):
    pass


@dataclass(frozen=True)
class Number(Expr):
    value: Union[int, float]


@dataclass(frozen=True)
class String(Expr):
    value: str


@dataclass(frozen=True)
class Bool(Expr):
    value: bool


@dataclass(frozen=True)
class Index(Node):
    """How a reference selects elements of an array."""


@dataclass(frozen=True)
class IndexAt(Index):
    """`z[l-1]`: one element."""

    at: Expr


@dataclass(frozen=True)
class IndexSpan(Index):
    """`z[1..L]`: an inclusive range."""

    low: Expr
    high: Expr


@dataclass(frozen=True)
class IndexBinder(Index):
    """`z[l in 2..L]`: a range that binds the index variable `l` (targets and assumptions only)."""

    var: str
    low: Expr
    high: Expr


@dataclass(frozen=True)
class IndexRelation(Index):
    """`z[<l]`, `h[>=l]`: every defined element below or above a bound."""

    relation: str  # one of "<", "<=", ">", ">="
    bound: Expr


@dataclass(frozen=True)
class Ref(Expr):
    """A name, optionally indexed and optionally selecting a channel group: `d[l].key`."""

    name: str
    index: Optional[Index] = None
    group: Optional[str] = None


@dataclass(frozen=True)
class Keyword(Node):
    name: str
    value: Expr


@dataclass(frozen=True)
class Call(Expr):
    """`name(arg, ..., key = value, ...)`: a block, a distribution family or a symbolic option."""

    func: str
    args: tuple[Expr, ...] = ()
    kwargs: tuple[Keyword, ...] = ()


@dataclass(frozen=True)
class ListExpr(Expr):
    items: tuple[Expr, ...] = ()


@dataclass(frozen=True)
class FactorRef(Expr):
    """`prior(z[l])`: the distribution another factor computes, e.g. for a residual posterior."""

    kind: str
    target: Ref


@dataclass(frozen=True)
class BinaryOp(Expr):
    op: str  # + - * / // % **
    left: Expr
    right: Expr


@dataclass(frozen=True)
class UnaryOp(Expr):
    op: str  # "-" or "not"
    operand: Expr


@dataclass(frozen=True)
class Compare(Expr):
    op: str  # < <= > >= == !=
    left: Expr
    right: Expr


@dataclass(frozen=True)
class BoolOp(Expr):
    op: str  # "and" or "or"
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Conditional(Expr):
    """`body if test else orelse`, decided when the spec is elaborated."""

    test: Expr
    body: Expr
    orelse: Expr


# -- statements --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Target(Node):
    """What a statement defines: `z`, `z[3]`, `z[1..L]` or `z[l in 2..L]`."""

    name: str
    index: Optional[Index] = None


@dataclass(frozen=True)
class Statement(Node):
    pass


@dataclass(frozen=True)
class ModelDecl(Statement):
    description: str


@dataclass(frozen=True)
class PaperDecl(Statement):
    text: str


@dataclass(frozen=True)
class DatasetDecl(Statement):
    name: str


@dataclass(frozen=True)
class Binding(Node):
    name: str
    value: Expr


@dataclass(frozen=True)
class ImportDecl(Statement):
    path: str
    bindings: tuple[Binding, ...] = ()


@dataclass(frozen=True)
class LetDecl(Statement):
    name: str
    value: Expr


@dataclass(frozen=True)
class VariableDecl(Statement):
    kind: str  # observed | latent | pseudo
    target: Target
    shape: Expr
    family: Optional[Expr] = None


@dataclass(frozen=True)
class Group(Node):
    name: str
    width: Expr


@dataclass(frozen=True)
class FeatureDecl(Statement):
    target: Target
    value: Expr
    groups: tuple[Group, ...] = ()


@dataclass(frozen=True)
class FactorDecl(Statement):
    kind: str  # prior | posterior | likelihood
    target: Target
    parents: Optional[tuple[Ref, ...]]
    value: Expr


@dataclass(frozen=True)
class AssumeDecl(Statement):
    left: tuple[Ref, ...]
    right: tuple[Ref, ...]
    given: tuple[Ref, ...] = ()
    reason: Optional[str] = None
    sufficient: bool = False  # `assume LEFT sufficient`: features that are sufficient statistics of their inputs


@dataclass(frozen=True)
class Spec:
    """A parsed spec file. After :func:`dsl.load_spec`, imports are spliced into `statements`."""

    statements: tuple[Statement, ...]
    path: str = "<string>"
    sources: tuple[tuple[str, str], ...] = field(default=(), compare=False, repr=False)

    @property
    def source_map(self) -> dict[str, str]:
        return dict(self.sources)
