"""Check that each spec's inference model respects the factorization of its exact posterior.

For every spec: parse, check, build the graph and validate it (any error is printed with its
location), then test each posterior factor with D-separation in the generative model. Every
violation is printed with the line of its posterior statement, the earlier latents it leaves out,
an active path as witness and the minimal parents to add; then the spec's assumptions, the
comparison with a faithful minimal inverse (NaMI), and the warnings.

Exit status: 0 when every spec is faithful or departs only where an `assume` statement says so,
1 when an unacknowledged violation remains, 2 when a spec has an error.

Examples:
    zoo check specs/            # every model of a directory (fragments `_*.hvae` are left out)
    zoo check dlgm --json
    zoo check nvae16 --set L=4
"""
from __future__ import annotations

import argparse
import json
import sys

from .common import add_spec_arguments, overrides_from, spec_arguments

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_spec_arguments(parser, many=True)
    parser.add_argument("--json", action="store_true",
                        help="print a JSON list with one object per spec (model, faithful, violations, "
                             "assumptions, suggested_parents, inverse, warnings)")
    parser.add_argument("--verbose", "-v", action="store_true",
                        help="also show how each statement was decided, every acknowledged departure with "
                             "its repair, and every edge of the comparison with the faithful minimal inverse")


def run(args: argparse.Namespace) -> int:
    from dsl.errors import SpecError
    from zoo.errors import ZooError

    overrides = overrides_from(args)
    status, results = 0, []
    for i, spec in enumerate(spec_arguments(args)):
        try:
            report = _check(spec, overrides)
        except (SpecError, ZooError) as err:
            if args.debug:
                raise
            status = 2
            results.append({"model": spec, "error": str(err)})
            if not args.json:
                print(str(err), file=sys.stderr)
            continue
        if not report.faithful:
            status = max(status, 1)
        if args.json:
            entry = report.to_dict()
            entry["spec_warnings"] = list(report.spec_warnings)
            results.append(entry)
        else:
            if i:
                print()
            print(_text(report, args.verbose))
    if args.json:
        print(json.dumps(results, indent=2))
    return status


def _check(spec: str, overrides):
    from compiler.dsep import check_posterior_factorization
    from zoo.registry import compile_spec, gc_paused

    with gc_paused():  # the check, too, allocates in proportion to the graph
        return check_posterior_factorization(compile_spec(spec, overrides))


def _text(report, verbose: bool) -> str:
    from compiler.dsep import format_report

    out = format_report(report, verbose=verbose)
    if report.spec_warnings:
        out += "\n" + "\n".join(report.spec_warnings)
    return out
