"""The `model "..."` header as a template: ``{NAME}`` is replaced by the constant's value.

``model "Ladder VAE, {L} stochastic layers (MNIST)"`` reads "5 stochastic layers" by default and
"3 stochastic layers" with ``--set L=3``, so a description never contradicts the model that was
built. Only bare constant names go between braces (computed words come from a `let`, e.g.
``let kind = "strongly connected" if depthwise_prior else "chained"``); ``{{`` and ``}}`` are
literal braces.
"""
from __future__ import annotations

import re
from typing import Any, Callable, Mapping

__all__ = ["interpolate", "format_constant", "placeholders", "titled", "literal_constants"]

_FIELD = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")


def format_constant(value: Any) -> str:
    """A constant as the language writes it: ``5``, ``0.001``, ``true``, ``[256, 256]``, text as is."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(format_constant(v) for v in value) + "]"
    return str(value)


def placeholders(template: str) -> list[str]:
    """The names between braces, in order (``{{``/``}}`` excluded)."""
    return [m.group(1).strip() for m in _FIELD.finditer(template) if m.group(1) is not None]


def interpolate(template: str, constants: Mapping[str, Any], *,
                missing: Callable[[str], str] = lambda name: "{" + name + "}") -> str:
    """Replace every ``{NAME}`` of ``template`` by ``format_constant(constants[NAME])``.

    Args:
        template: the header text.
        constants: the spec's constants (after ``--set``).
        missing: what to write for a name that is not a constant (default: leave ``{NAME}``).

    Example:
        >>> interpolate("Ladder VAE, {L} stochastic layers {{x}}", {"L": 3})
        'Ladder VAE, 3 stochastic layers {x}'
    """
    def field(m: re.Match) -> str:
        if m.group(0) in ("{{", "}}"):
            return m.group(0)[0]
        name = m.group(1).strip()
        return format_constant(constants[name]) if name in constants else missing(name)

    return _FIELD.sub(field, template)


def titled(name: str, overrides: Mapping[str, Any] | None = None, description: str = "") -> str:
    """How every command names a model: ``ladder (--set L=3): Ladder VAE, 3 stochastic layers (MNIST)``."""
    sets = " ".join(f"--set {k}={format_constant(v)}" for k, v in (overrides or {}).items())
    head = f"{name} ({sets})" if sets else str(name)
    return f"{head}: {description}" if description else head


def literal_constants(statements) -> dict[str, Any]:
    """The `let` constants of a loaded spec whose values need no elaboration: literals, and
    ``a if NAME else b`` over literals and an earlier literal boolean. Cheap: what `zoo list` fills
    its descriptions with (every command that builds the model uses the elaborated constants)."""
    from . import ast

    values: dict[str, Any] = {}

    def literal(expr):
        if isinstance(expr, (ast.Number, ast.String, ast.Bool)):
            return expr.value
        if isinstance(expr, ast.Conditional) and isinstance(expr.test, ast.Ref) and expr.test.index is None \
                and isinstance(values.get(expr.test.name), bool):
            return literal(expr.body if values[expr.test.name] else expr.orelse)
        raise LookupError

    for s in statements:
        if isinstance(s, ast.LetDecl):
            try:
                values[s.name] = literal(s.value)
            except LookupError:
                values.pop(s.name, None)
    return values
