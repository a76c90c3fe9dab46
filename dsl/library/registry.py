"""The catalogue of signatures: one namespace for blocks, families, combinators and options.

Each library module declares its signatures with :func:`block`, :func:`family`,
:func:`combinator` and :func:`option`. A name can be declared once; a second declaration
raises, so two modules can never silently shadow each other.
"""
from __future__ import annotations

import sys
from typing import Callable, Iterable, Optional

from .signature import (BlockSignature, CombinatorSignature, FamilySignature, Param, Shape, ShapeArgs,
                        Signature, suggest)

__all__ = [
    "block", "family", "combinator", "option", "lookup", "blocks", "families", "combinators",
    "options", "all_names", "UnknownNameError", "OptionSignature", "kind_of",
]


class UnknownNameError(LookupError):
    """A name that no library module declares; carries a 'did you mean' hint."""

    def __init__(self, name: str, what: str, hint: Optional[str]):
        super().__init__(f"unknown {what} '{name}'")
        self.name, self.what, self.hint = name, what, hint


class OptionSignature(Signature):
    """A symbolic option value such as `bounded_log_scale(-5, 5)`: constant arguments only."""


_BLOCKS: dict[str, BlockSignature] = {}
_FAMILIES: dict[str, FamilySignature] = {}
_COMBINATORS: dict[str, CombinatorSignature] = {}
_OPTIONS: dict[str, OptionSignature] = {}


def _caller_module() -> str:
    """The module that called block(), family(), ... (two frames up). `sys._getframe` rather than
    `inspect.stack()`, which reads the source of every frame and made importing dsl take seconds
    once torch was loaded."""
    return sys._getframe(2).f_globals.get("__name__", "")


def _register(table: dict, sig: Signature) -> Signature:
    for other in (_BLOCKS, _FAMILIES, _COMBINATORS, _OPTIONS):
        if sig.name in other:
            raise ValueError(f"'{sig.name}' is declared twice in the block library "
                             f"({other[sig.name].module} and {sig.module})")
    table[sig.name] = sig
    return sig


def block(name: str, *params: Param, shape: Callable[[ShapeArgs], Shape], doc: str,
          out_param: Optional[str] = None, out_kind: str = "channels", role: str = "feature",
          invertible: tuple[str, ...] = (), separable: bool = False) -> BlockSignature:
    """Declare a deterministic block (`invertible`, `separable`: see :class:`BlockSignature`)."""
    for p in invertible:
        if not any(q.name == p and q.kind in ("feature", "features") for q in params):
            raise ValueError(f"block {name}: invertible argument {p!r} is not one of its feature parameters")
    sig = BlockSignature(name, tuple(params), doc, _caller_module(), shape, out_param, out_kind, role,
                         tuple(invertible), separable)
    return _register(_BLOCKS, sig)


def family(name: str, *params: Param, doc: str, param_channels: Callable[[Shape, dict], int] = None,
           packed_params: tuple[str, ...] = ("params",), conditional: bool = True,
           discrete: bool = False) -> FamilySignature:
    """Declare a distribution family."""
    sig = FamilySignature(name, tuple(params), doc, _caller_module(), param_channels, packed_params,
                          conditional, discrete)
    return _register(_FAMILIES, sig)


def combinator(name: str, *params: Param, doc: str) -> CombinatorSignature:
    """Declare a combinator of distributions."""
    return _register(_COMBINATORS, CombinatorSignature(name, tuple(params), doc, _caller_module()))


def option(name: str, *params: Param, doc: str) -> OptionSignature:
    """Declare a symbolic option value (its params must all be constants)."""
    return _register(_OPTIONS, OptionSignature(name, tuple(params), doc, _caller_module()))


def kind_of(name: str) -> Optional[str]:
    """'block', 'family', 'combinator', 'option' or None."""
    for kind, table in (("block", _BLOCKS), ("family", _FAMILIES), ("combinator", _COMBINATORS),
                        ("option", _OPTIONS)):
        if name in table:
            return kind
    return None


def lookup(name: str, kind: str) -> Signature:
    """The signature of `name` as a `kind`, or UnknownNameError with close matches."""
    table = {"block": _BLOCKS, "family": _FAMILIES, "combinator": _COMBINATORS, "option": _OPTIONS}[kind]
    try:
        return table[name]
    except KeyError:
        raise UnknownNameError(name, kind, suggest(name, list(table))) from None


def blocks() -> dict[str, BlockSignature]:
    return dict(_BLOCKS)


def families() -> dict[str, FamilySignature]:
    return dict(_FAMILIES)


def combinators() -> dict[str, CombinatorSignature]:
    return dict(_COMBINATORS)


def options() -> dict[str, OptionSignature]:
    return dict(_OPTIONS)


def all_names() -> Iterable[str]:
    return [*_BLOCKS, *_FAMILIES, *_COMBINATORS, *_OPTIONS]
