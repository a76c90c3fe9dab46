"""Arguments and helpers shared by several subcommands."""
from __future__ import annotations

import argparse
import math
from typing import Any

__all__ = ["add_spec_arguments", "add_budget_argument", "overrides_from"]


def add_spec_arguments(parser: argparse.ArgumentParser, *, many: bool = False) -> None:
    """SPEC (a zoo model name or a .hvae path) and repeatable `--set NAME=VALUE`."""
    parser.add_argument("spec", nargs="+" if many else None, metavar="SPEC",
                        help="a model name from `zoo list` or a path to a .hvae file")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
                        help="override a spec constant (repeatable), e.g. --set L=8 --set hidden=[256,256]")


def add_budget_argument(parser: argparse.ArgumentParser) -> None:
    """`--max-parameters N`: the parameter budget checked before any weight is allocated (zoo.training.budget)."""
    parser.add_argument("--max-parameters", type=_count, metavar="N", default=None,
                        help="refuse a model with more parameters than N, before allocating it "
                             "(default 1e10; the memory available is checked too)")


def _count(text: str) -> int:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number, e.g. 2e10") from None
    if not (math.isfinite(value) and value >= 1 and value.is_integer()):
        raise argparse.ArgumentTypeError(f"'{text}' is not a positive whole number")
    return int(value)


def spec_arguments(args: argparse.Namespace) -> list[str]:
    """The SPEC arguments with each directory replaced by its model specs (fragments left out)."""
    import os

    from zoo.registry import spec_files

    out: list[str] = []
    for item in args.spec:
        out.extend(spec_files(item) if os.path.isdir(item) else [item])
    return out


def overrides_from(args: argparse.Namespace) -> dict[str, Any]:
    """Parse every --set into {name: constant}; raises SpecError on a malformed value."""
    from dsl import parse_override

    out: dict[str, Any] = {}
    for item in args.overrides or ():
        name, value = parse_override(item)
        out[name] = value
    return out
