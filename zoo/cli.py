"""The `zoo` command: `zoo list | build | check | render | report | train | eval | sample | fmt | lsp`.

Each subcommand lives in :mod:`zoo.commands` as a module with `add_arguments(parser)` and
`run(args) -> int`. :func:`main` is the only place that turns exceptions into exit codes:
spec errors and :class:`ZooError` print their message and exit with 2 (with ``--json``, a JSON
document of diagnostics on stdout instead), and no user mistake shows a traceback (``--debug``
shows it).
"""
from __future__ import annotations

import argparse
import atexit
import gc
import importlib
import sys
from typing import Optional, Sequence

__all__ = ["main", "COMMANDS", "SHORT_COMMANDS"]

COMMANDS = {
    "list": "the models of the zoo",
    "build": "parse, check and compile a spec; print a summary",
    "check": "verify that each spec's posterior respects the exact posterior's factorization",
    "render": "draw a spec's graphical model or architecture",
    "report": "write a self-contained HTML model card (SPEC) or run report (RUN folder)",
    "train": "train a spec on a data set",
    "eval": "evaluate a trained model: ELBO, importance-weighted NLL, KL per layer, active units",
    "sample": "draw samples from a trained model",
    "fmt": "format .hvae files, keeping their comments (--check for CI)",
    "lsp": "the language server for editors (stdio)",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zoo", description="Hierarchical VAEs from .hvae specs.")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, help_text in COMMANDS.items():
        try:
            module = importlib.import_module(f"zoo.commands.{name}")
        except ModuleNotFoundError as err:
            if err.name != f"zoo.commands.{name}":
                raise
            continue
        p = sub.add_parser(name, help=help_text, description=(module.__doc__ or help_text).strip())
        # SUPPRESS: unless given here, keep the value of the top-level `zoo --debug`
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


#: Short commands that import no torch. Run as the program, they skip the garbage collection
#: Python does at exit, which would re-scan every object of a compiled spec only to free memory
#: the operating system takes back anyway (a tenth of `zoo check` at L = 256).
SHORT_COMMANDS = frozenset({"list", "check", "render", "fmt"})


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line (``sys.argv`` when `argv` is None, i.e. as the program); return the exit status."""
    from dsl.errors import SpecError

    from .errors import ZooError

    parser = build_parser()
    args = parser.parse_args(argv)
    if argv is None and args.command in SHORT_COMMANDS:
        atexit.register(gc.disable)  # at exit only: in-process callers pass argv and keep their collector
    try:
        return int(args._run(args) or 0)
    except (SpecError, ZooError) as err:
        if args.debug:
            raise
        if getattr(args, "json", False):  # one JSON document on stdout, as the command's own output
            from .commands.json_output import dumps, error_document

            print(dumps(error_document(args.command, getattr(args, "spec", None), err)))
        else:
            print(str(err), file=sys.stderr)
        return 2
    except BrokenPipeError:  # `zoo check --json | head`: the reader left; not an error of ours
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        if args.debug:
            raise
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
