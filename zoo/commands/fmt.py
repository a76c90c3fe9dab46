"""Format spec files in place, keeping their comments and the author's line breaks.

Each SPEC is a `.hvae` file or a directory (every `.hvae` file under it, fragments included).
The formatter (:func:`dsl.layout.format_source`) rewrites each statement canonically and keeps
comments, blank lines, keyword alignment and hand-made line breaks that are spaced canonically.

Exit status: 0 when done (with `--check`: when no file would change), 1 with `--check` when some
file would change (each is listed), 2 when a file does not parse.

Examples:
    zoo fmt specs/
    zoo fmt --check specs/ tests/fixtures/specs/
    zoo fmt --diff specs/ladder.hvae
"""
from __future__ import annotations

import argparse
import difflib
import os
import sys

__all__ = ["add_arguments", "run", "spec_paths"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="SPEC", help="a .hvae file or a directory of them")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true",
                      help="write nothing; list the files that would change and exit 1 if any would")
    mode.add_argument("--diff", action="store_true", help="write nothing; print a unified diff per file")


def spec_paths(items) -> list[str]:
    """Every `.hvae` file named or under a named directory, sorted, without duplicates."""
    from zoo.errors import ZooError

    out: list[str] = []
    for item in items:
        if os.path.isdir(item):
            for root, dirs, files in os.walk(item):
                dirs.sort()
                out.extend(os.path.join(root, f) for f in sorted(files) if f.endswith(".hvae"))
        elif os.path.isfile(item):
            out.append(item)
        else:
            raise ZooError(f"zoo fmt: no such file or directory: {item}")
    return list(dict.fromkeys(out))


def run(args: argparse.Namespace) -> int:
    from dsl.errors import SpecError
    from dsl.layout import format_source

    status = 0
    changed = []
    for path in spec_paths(args.paths):
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        try:
            new = format_source(text, path=path)
        except SpecError as err:
            print(str(err), file=sys.stderr)
            status = 2
            continue
        if new == text:
            continue
        changed.append(path)
        if args.check:
            print(f"would reformat {path}")
        elif args.diff:
            sys.stdout.writelines(difflib.unified_diff(text.splitlines(True), new.splitlines(True), path, path))
        else:
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(new)
            print(f"reformatted {path}")
    if args.check and changed and status == 0:
        status = 1
    return status
