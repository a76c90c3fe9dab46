"""The PyTorch half of the block library: one `nn.Module` class per signature name.

A block class is registered under the name of its signature in :mod:`dsl.library` and is built
with keyword arguments only::

    cls(in_shapes={...}, out_shape=(...), **constant_params)

where `in_shapes` maps each tensor argument to its shape (a list of shapes for list arguments)
and `out_shape` is the shape the checker inferred. Its `forward` takes the tensor arguments as
keywords. Families are built the same way with `target_shape` (the variable's shape) instead of
`out_shape`, and their `forward` returns a :class:`zoo.runtime.distributions.Distribution`.
"""
from __future__ import annotations

from typing import Callable

from torch import nn

from dsl import library as lib

__all__ = ["register_block", "register_family", "register_combinator", "block_class", "family_class",
           "combinator_class", "UnknownBlockError", "registered"]


class UnknownBlockError(LookupError):
    """A name with a signature but no PyTorch implementation (or none at all)."""


_TABLES: dict[str, dict[str, type]] = {"block": {}, "family": {}, "combinator": {}}


def _register(kind: str, name: str) -> Callable[[type], type]:
    def deco(cls: type) -> type:
        table = _TABLES[kind]
        if name in table:
            raise ValueError(f"{kind} '{name}' is registered twice ({table[name].__qualname__} and {cls.__qualname__})")
        if lib.kind_of(name) != kind:
            raise ValueError(f"{kind} '{name}' has no signature in dsl.library; declare it there first")
        if not issubclass(cls, nn.Module):
            raise TypeError(f"{cls.__qualname__} must be an nn.Module")
        table[name] = cls
        return cls
    return deco


def register_block(name: str):
    """Class decorator: the implementation of block `name`."""
    return _register("block", name)


def register_family(name: str):
    """Class decorator: the implementation of distribution family `name`."""
    return _register("family", name)


def register_combinator(name: str):
    """Class decorator: the implementation of combinator `name`."""
    return _register("combinator", name)


def _lookup(kind: str, name: str) -> type:
    try:
        return _TABLES[kind][name]
    except KeyError:
        hint = lib.suggest(name, list(_TABLES[kind]))
        raise UnknownBlockError(f"no PyTorch implementation of {kind} '{name}'" + (f"; {hint}" if hint else "")) from None


def block_class(name: str) -> type:
    return _lookup("block", name)


def family_class(name: str) -> type:
    return _lookup("family", name)


def combinator_class(name: str) -> type:
    return _lookup("combinator", name)


def registered(kind: str) -> dict[str, type]:
    return dict(_TABLES[kind])
