"""List the models of the zoo: name, one-line description and paper."""
from __future__ import annotations

import argparse
import json

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pattern", nargs="?", default="*", help="glob over model names (default: all)")
    parser.add_argument("--json", action="store_true", help="print a JSON list")


def run(args: argparse.Namespace) -> int:
    from zoo.registry import list_models

    models = list_models(args.pattern)
    if args.json:
        print(json.dumps([{"model": m.name, "description": m.description, "paper": m.paper,
                           "dataset": m.dataset} for m in models], indent=2))
        return 0
    width = max((len(m.name) for m in models), default=5)
    for m in models:
        print(f"{m.name:<{width}}  {m.description}")
        if m.paper:
            print(f"{'':<{width}}    {m.paper}")
    return 0
