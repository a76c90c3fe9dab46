"""The `.hvae` spec language: grammar, parser, AST, elaboration and semantic checks.

This package imports lark and nothing heavier (no torch, no networkx), so checking a spec is
fast and needs no GPU stack.

Example:
    >>> import dsl
    >>> spec = dsl.parse_spec('''
    ... observed x : [4] ~ bernoulli
    ... latent z : [2] ~ normal
    ... prior z = normal(loc = 0, scale = 1)
    ... posterior z | x = mlp(x, hidden = [8])
    ... likelihood x | z = mlp(z, hidden = [8])
    ... ''')
    >>> [d.severity for d in dsl.check_spec(spec)]
    []
"""
from .ast import Spec, Span
from .check import check_spec, checked
from .elaborate import elaborate, parse_override
from .errors import Diagnostic, SpecError, SpecSemanticError, SpecSyntaxError
from .parser import load_spec, parse_spec
from .values import ConcreteSpec

__all__ = [
    "Spec", "Span", "ConcreteSpec", "Diagnostic", "SpecError", "SpecSemanticError", "SpecSyntaxError",
    "parse_spec", "load_spec", "elaborate", "check_spec", "checked", "parse_override",
]
