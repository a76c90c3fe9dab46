"""The JSON documents of `--json`: one function per kind, all described by docs/diagnostics.schema.json.

Every diagnostic in them is a :meth:`dsl.errors.Diagnostic.to_dict` object (code, severity, file,
line, column, end line and column, message, hints, related locations), for errors and warnings
alike, so that an editor, a CI job or a notebook reads every command's output the same way.

- :func:`error_document`: what `zoo build|render|train --json` print when the spec (or anything
  else the user gave) is wrong; :func:`zoo.cli.main` prints it, with exit status 2 as in text mode.
- :func:`check_entry` / :func:`check_error_entry`: one element of `zoo check --json`'s list.
"""
from __future__ import annotations

import json
from typing import Any

__all__ = ["error_document", "check_entry", "check_error_entry", "diagnostics_of", "dumps"]


def diagnostics_of(err: BaseException) -> list[dict]:
    """The diagnostics of a :class:`~dsl.errors.SpecError`, or one unlocated one for any other error."""
    from dsl.errors import Diagnostic, SpecError
    from zoo.errors import ZooError

    if isinstance(err, SpecError):
        return [d.to_dict() for d in err.diagnostics]
    code = "zoo" if isinstance(err, ZooError) else type(err).__name__
    return [Diagnostic(str(err), code=code).to_dict()]


def error_document(command: str, spec: Any, err: BaseException) -> dict:
    """`{"command", "model", "status": "error", "diagnostics"}` for a command that failed."""
    return {"command": command, "model": spec if isinstance(spec, (str, type(None))) else ", ".join(spec),
            "status": "error", "diagnostics": diagnostics_of(err)}


def check_error_entry(spec: str, err: BaseException) -> dict:
    """The entry of `zoo check --json` for a spec that has an error (exit status 2)."""
    return {"model": spec, "status": "error", "diagnostics": diagnostics_of(err)}


def check_entry(report, factors=None, repairs=None) -> dict:
    """The entry of `zoo check --json` for a checked spec: the report's data plus `diagnostics`.

    `diagnostics` holds, as objects, every unacknowledged violation (an error located at its
    posterior statement, with the repair as a hint), the check's warnings and the spec's lint
    warnings; `repairs` the statement rewrites `--fix` would apply (:mod:`compiler.repair`); the
    verdicts are `respects_exact_factorization` and `passes_check`
    (:func:`compiler.dsep_report.verdict_fields`).
    """
    from compiler.repair import violation_diagnostics

    entry = report.to_dict()
    entry["status"] = "passes" if report.faithful else "fails"
    entry["spec_warnings"] = [w.to_dict() for w in report.spec_warnings]
    found = violation_diagnostics(report, factors) + list(report.warnings) + list(report.spec_warnings)
    entry["diagnostics"] = [d.to_dict() for d in found]
    entry["repairs"] = [r.to_dict() for r in repairs.repairs] if repairs is not None else []
    return entry


def dumps(document: Any) -> str:
    return json.dumps(document, indent=2, default=str)
