"""Check that each spec's inference model respects the factorization of its exact posterior.

For every spec: parse, check, build the graph and validate it (any error is printed with its
location), then test each posterior factor with D-separation in the generative model. Every
violation is printed with the line of its posterior statement, the earlier latents it leaves out,
an active path as witness and the minimal parents to add; then the spec's assumptions, the
comparison with a faithful minimal inverse (NaMI), and the warnings.

`--fix` rewrites each violating posterior statement (its parents, and what its network reads, so
that the new parents are actually read; :mod:`compiler.repair`), prints the patched spec through
the formatter (`--write`: in place; `--diff`: a unified diff) and re-checks it.

Exit status: 0 when every spec is faithful or departs only where an `assume` statement says so,
1 when an unacknowledged violation remains (after `--fix`: in the patched spec), 2 when a spec
has an error. `--json` prints one list, one object per spec (docs/diagnostics.schema.json).

Examples:
    zoo check specs/            # every model of a directory (fragments `_*.hvae` are left out)
    zoo check dlgm --json
    zoo check nvae16 --set L=4
    zoo check tests/fixtures/specs/skip_markov.hvae --fix --diff
"""
from __future__ import annotations

import argparse
import sys

from .common import add_spec_arguments, overrides_from, spec_arguments

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_spec_arguments(parser, many=True)
    parser.add_argument("--json", action="store_true",
                        help="print a JSON list with one object per spec (model, respects_exact_factorization, "
                             "passes_check, violations, assumptions, diagnostics, ...; docs/diagnostics.schema.json)")
    parser.add_argument("--verbose", "-v", action="store_true",
                        help="also show how each statement was decided, every acknowledged departure with "
                             "its repair, and every edge of the comparison with the faithful minimal inverse")
    parser.add_argument("--fix", action="store_true",
                        help="rewrite each violating posterior statement; print the patched spec and re-check it")
    fix = parser.add_mutually_exclusive_group()
    fix.add_argument("--write", action="store_true", help="with --fix: write the patched spec in place")
    fix.add_argument("--diff", action="store_true", help="with --fix: print a unified diff instead of the spec")


def run(args: argparse.Namespace) -> int:
    from dsl.errors import SpecError
    from zoo.errors import ZooError

    from .json_output import check_entry, check_error_entry, dumps

    overrides = overrides_from(args)
    if (args.write or args.diff) and not args.fix:
        raise ZooError("--write and --diff go with --fix")
    status, results = 0, []
    for i, spec in enumerate(spec_arguments(args)):
        try:
            report, factors = _check(spec, overrides)
            if args.fix:
                report, factors = _fix(spec, overrides, report, args)
        except (SpecError, ZooError) as err:
            if args.debug:
                raise
            status = 2
            results.append(check_error_entry(spec, err))
            if not args.json:
                print(str(err), file=sys.stderr)
            continue
        repairs = None
        if not report.faithful:
            status = max(status, 1)
            if not args.fix:  # the statement rewrites `--fix` would apply, to show beside the violations
                repairs = _repairs(spec, overrides, report)
        if args.json:
            results.append(check_entry(report, factors, repairs))
        elif not args.fix:
            if i:
                print()
            print(_text(report, args.verbose, repairs))
    if args.json:
        print(dumps(results))
    return status


def _check(spec: str, overrides, text=None, *, inverse=True):
    """The factorization report of a spec and its posterior factors (spans, declared parents)."""
    from compiler.dsep import check_posterior_factorization
    from compiler.repair import posterior_factors
    from zoo.registry import compile_spec, gc_paused

    mg = compile_spec(spec, overrides, text=text)
    with gc_paused():  # the check, too, allocates in proportion to the graph
        return check_posterior_factorization(mg, inverse=inverse), posterior_factors(mg)


def _repairs(spec: str, overrides, report):
    """The :class:`compiler.repair.RepairResult` of the spec's file (its statement rewrites)."""
    from compiler.repair import repair_spec
    from zoo.registry import spec_path

    path = spec_path(spec)
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    return repair_spec(text, path, lambda t: _check(path, overrides, t, inverse=False)[0], report=report)


def _fix(spec: str, overrides, report, args):
    """Repair `spec`; print (or write, or diff) the patched text; return the re-check (report, factors)."""
    import difflib

    from dsl.layout import format_source
    from zoo.registry import spec_path

    path = spec_path(spec)
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    result = _repairs(spec, overrides, report)
    new = format_source(result.text, path=path)
    final = _check(path, overrides, new)
    out = sys.stderr if args.json else sys.stdout
    if args.write:
        if new != text:
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(new)
    elif args.diff:
        out.writelines(difflib.unified_diff(text.splitlines(True), new.splitlines(True), path, path + " (fixed)"))
    else:
        out.write(new)
    for r in result.repairs:
        print(f"repaired {r.describe()}", file=sys.stderr)
    for location, latents in result.unrepaired:
        print(f"{location}: could not repair q({', '.join(latents)}): no rewrite of the statement "
              f"passes the check; add the suggested parents by hand", file=sys.stderr)
    print(_text(final[0], False), file=sys.stderr)
    return final


def _text(report, verbose: bool, repairs=None) -> str:
    from compiler.dsep import format_report

    out = format_report(report, verbose=verbose)
    if repairs is not None:
        for r in repairs.repairs:
            out += (f"\n  {r.span}: rewrite (zoo check --fix): {' '.join(r.before.split())}"
                    f"\n      -> {' '.join(r.after.split())}")
        for location, latents in repairs.unrepaired:
            out += f"\n  {location}: no statement rewrite makes q({', '.join(latents)}) faithful; add the parents by hand"
    if report.spec_warnings:
        out += "\n" + "\n".join(str(w) for w in report.spec_warnings)
    return out
