"""What the factorization check reports, as data (`to_dict`) and as text (`format_report`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

__all__ = ["FactorVerdict", "StatementSummary", "Violation", "AssumptionUse", "SufficiencyAssumption",
           "FactorizationReport", "format_report", "verdict_fields"]

METHODS = ("chain rule", "local links", "search", "sufficiency")


@dataclass(frozen=True)
class FactorVerdict:
    """The verdict on one posterior factor and how it was reached (one of :data:`METHODS`)."""

    latent: str
    faithful: bool
    method: str
    statement: str = ""


@dataclass(frozen=True)
class StatementSummary:
    """A posterior statement checked as one unit: its elements and how each was decided."""

    statement: str
    location: str
    latents: tuple
    methods: dict
    unfaithful: int

    def to_dict(self) -> dict:
        return {"statement": self.statement, "location": self.location, "latents": list(self.latents),
                "methods": dict(self.methods), "unfaithful": self.unfaithful}


@dataclass(frozen=True)
class Violation:
    """An unfaithful posterior factor q(v | parents).

    Attributes:
        latent: v.
        location, line: where its posterior statement is ("path:line:col").
        statement: the statement it was expanded from (``posterior z[l in 2..10]``).
        parents: its inference parents as the spec states them.
        missing: the earlier latents it leaves out that are d-connected to v given its parents and
            the observations (each has an active path), in inference order.
        witness: one active path from v to a member of `missing` (node names).
        witness_text: the same path with arrows.
        suggested_parents: the minimal set of parents to add for the factor to become faithful.
        method: how it was decided ("local links" or "search").
        acknowledged: every latent in `missing` is covered by a declared assumption.
        acknowledged_by: locations of the assumptions that cover some of them.
        unacknowledged: the members of `missing` no assumption covers.
        sufficiency: for a factor that is faithful exactly when these generative summaries are
            sufficient statistics of their inputs (a minimal set); empty for a violation.
    """

    latent: str
    location: str
    line: Optional[int]
    statement: str
    parents: tuple
    missing: tuple
    witness: tuple
    witness_text: str
    suggested_parents: tuple
    method: str
    acknowledged: bool = False
    acknowledged_by: tuple = ()
    unacknowledged: tuple = ()
    sufficiency: tuple = ()

    def to_dict(self) -> dict:
        out = {"latent": self.latent, "line": self.line, "location": self.location, "statement": self.statement,
               "parents": list(self.parents), "missing": list(self.missing), "witness": list(self.witness),
               "witness_text": self.witness_text, "suggested_parents": list(self.suggested_parents),
               "acknowledged": self.acknowledged, "acknowledged_by": list(self.acknowledged_by),
               "unacknowledged": list(self.unacknowledged), "method": self.method}
        if self.sufficiency:
            out["sufficiency"] = list(self.sufficiency)
        return out


@dataclass(frozen=True)
class SufficiencyAssumption:
    """A generative summary that some factors are faithful only if it is a sufficient statistic.

    The posterior of each factor in `factors` reads `feature` -- computed with the generative
    model's parameters -- and not everything it is computed from; the factor is faithful exactly
    when the exact posterior depends on `sufficient_for` only through the feature's value.

    Attributes:
        feature: the summary (a top-down state, an attention context, a prior's parameters, ...).
        sufficient_for: its inputs in the generative graph, which it must summarise without loss.
        factors: the latents whose factors need it (each with its full record in
            ``FactorizationReport.resting``).
        acknowledged: every factor that needs it is acknowledged (by ``assume FEATURE sufficient``
            or by an independence assumption covering what the factor leaves out).
        acknowledged_by: locations of those assumptions.
    """

    feature: str
    sufficient_for: tuple
    factors: tuple
    acknowledged: bool
    acknowledged_by: tuple = ()

    def to_dict(self) -> dict:
        return {"feature": self.feature, "sufficient_for": list(self.sufficient_for), "factors": list(self.factors),
                "acknowledged": self.acknowledged, "acknowledged_by": list(self.acknowledged_by)}


@dataclass(frozen=True)
class AssumptionUse:
    """One `assume` statement and the departures it acknowledges (over all its indices)."""

    text: str
    location: str
    line: Optional[int]
    reason: Optional[str]
    left: tuple
    right: tuple
    given: tuple
    acknowledges: tuple  # latents whose violation it (partly) covers
    implied: bool  # the generative model already implies the stated independence

    @property
    def used(self) -> bool:
        return bool(self.acknowledges)

    def to_dict(self) -> dict:
        return {"statement": self.text, "location": self.location, "line": self.line, "reason": self.reason,
                "left": list(self.left), "right": list(self.right), "given": list(self.given),
                "used": self.used, "acknowledges": list(self.acknowledges), "implied": self.implied}


@dataclass
class FactorizationReport:
    """The result of :func:`compiler.dsep.check_posterior_factorization`.

    Attributes:
        model: the model's name.
        order: the inference order of the latents.
        factors: one :class:`FactorVerdict` per latent, in inference order.
        violations: the unfaithful factors, acknowledged or not.
        assumptions: the spec's assumptions and what they acknowledge.
        inverse: the faithful minimal inverse (:class:`compiler.nami.Inverse`), if computed.
        warnings: diagnostics (unneeded assumptions), :class:`dsl.errors.Diagnostic` objects.
        spec_warnings: the spec's own lint warnings (diagnostics), carried along for `zoo check`.
        statements: one :class:`StatementSummary` per posterior statement.
        resting: the factors that are faithful only if some generative summaries are sufficient
            (:class:`Violation` records with `sufficiency` set), kept apart from `violations`.
        sufficiency: the minimal sufficiency assumptions those factors rest on, one per summary.
    """

    model: str
    order: tuple
    factors: tuple
    violations: tuple
    assumptions: tuple = ()
    inverse: object = None
    warnings: tuple = ()
    spec_warnings: tuple = ()
    statements: tuple = ()
    resting: tuple = ()
    sufficiency: tuple = ()

    @property
    def faithful(self) -> bool:
        """No violation and no sufficiency assumption is left unacknowledged."""
        return all(v.acknowledged for v in self.violations) and all(a.acknowledged for a in self.sufficiency)

    @property
    def exact(self) -> bool:
        """No factor departs from the exact posterior's factorization, and none rests on sufficiency."""
        return not self.violations and not self.resting

    @property
    def suggested_parents(self) -> dict:
        return {v.latent: list(v.suggested_parents) for v in self.violations}

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            **verdict_fields(self),
            "order": list(self.order),
            "violations": [v.to_dict() for v in self.violations],
            "assumptions": [a.to_dict() for a in self.assumptions],
            "suggested_parents": self.suggested_parents,
            "inverse": self.inverse.to_dict() if self.inverse is not None else None,
            "methods": {m: sum(1 for f in self.factors if f.method == m) for m in METHODS},
            "statements": [s.to_dict() for s in self.statements],
            "sufficiency_assumptions": [a.to_dict() for a in self.sufficiency],
            "resting_on_sufficiency": [v.to_dict() for v in self.resting],
            "warnings": [w.to_dict() for w in self.warnings],
        }


def verdict_fields(report: FactorizationReport) -> dict:
    """The two verdicts of the JSON output, named so that neither reads as the other.

    `respects_exact_factorization`: no posterior factor departs from the exact posterior's
    factorization (false for sere_mlp and dlgm, whose departures are declared with `assume`).
    `passes_check`: every departure is acknowledged by an `assume` statement; `zoo check` exits 0.
    """
    return {"respects_exact_factorization": report.exact, "passes_check": report.faithful}


def _short(names, limit=6) -> str:
    names = list(names)
    if len(names) <= limit:
        return ", ".join(names)
    return ", ".join(names[:limit - 2]) + f", ... ({len(names) - limit + 1} more), " + names[-1]


def format_report(report: FactorizationReport, *, verbose: bool = False) -> str:
    """The text `zoo check` prints: the verdict, every unacknowledged violation with its location,
    witness and repair, the assumptions with what they acknowledge (each acknowledged departure in
    full with `verbose`), the comparison with the faithful minimal inverse, and warnings."""
    n, ack = len(report.violations), sum(1 for v in report.violations if v.acknowledged)
    s, sack = len(report.sufficiency), sum(1 for a in report.sufficiency if a.acknowledged)
    if report.exact:
        head = "faithful: every posterior factor respects the exact posterior's factorization"
    elif report.faithful:
        parts = ([f"{ack} acknowledged departure(s) from the exact posterior's factorization"] if ack else []) + \
                ([f"{sack} acknowledged sufficiency assumption(s)"] if sack else [])
        head = "faithful up to " + " and ".join(parts)
    elif n == ack:
        head = (f"NOT certified: faithful only if {s - sack} unacknowledged sufficiency assumption(s) hold"
                + (f"; {ack} acknowledged departure(s)" if ack else ""))
    else:
        head = f"NOT faithful: {n - ack} unacknowledged violation(s)" + (f", {ack} acknowledged" if ack else "")
        if s - sack:
            head += f"; {s - sack} unacknowledged sufficiency assumption(s)"
    lines = [f"{report.model}: {head}"]
    if verbose:
        for st in report.statements:
            how = ", ".join(f"{n} by {m}" for m, n in st.methods.items())
            lines.append(f"  {st.location}: {st.statement}: {len(st.latents)} factor(s), {st.unfaithful} unfaithful "
                         f"({how})")
    for v in report.violations:
        if v.acknowledged and not verbose:
            continue  # summarised under its assumption below
        tag = "acknowledged" if v.acknowledged else "violation"
        lines.append(f"  {v.location}: {tag}: q({v.latent} | {', '.join(v.parents) or '-'}) leaves out "
                     f"{_short(v.missing)}")
        lines.append(f"      active path: {v.witness_text}")
        lines.append(f"      repair: also condition on {_short(v.suggested_parents)}")
        if v.acknowledged:
            lines.append(f"      acknowledged by the assumption at {', '.join(v.acknowledged_by)}")
        elif v.acknowledged_by:
            lines.append(f"      assumptions at {', '.join(v.acknowledged_by)} cover only part; "
                         f"not covered: {_short(v.unacknowledged)}")
    for a in report.sufficiency:
        if a.acknowledged and not verbose:
            continue  # summarised under its assumption below
        tag = "acknowledged" if a.acknowledged else "unacknowledged"
        first = next(v for v in report.resting if v.latent == a.factors[0])
        lines.append(f"  {first.location}: {tag} sufficiency assumption: {a.feature} is sufficient for "
                     f"{_short(a.sufficient_for)}, needed by q({_short(a.factors)})")
        if verbose:  # every factor that needs it, with its active path and repair
            for v in (r for r in report.resting if r.latent in a.factors):
                lines.append(f"      q({v.latent} | {', '.join(v.parents) or '-'}) leaves out {_short(v.missing)}; "
                             f"active path: {v.witness_text}; repair: also condition on "
                             f"{_short(v.suggested_parents)}")
        elif not a.acknowledged:
            lines.append(f"      e.g. q({first.latent} | {', '.join(first.parents) or '-'}) leaves out "
                         f"{_short(first.missing)}; active path: {first.witness_text}")
        if not a.acknowledged:
            lines.append(f"      acknowledge with `assume {a.feature} sufficient`, or repair: also condition on "
                         f"{_short(first.suggested_parents)}")
    for a in report.assumptions:
        state = f"acknowledges {len(a.acknowledges)} factor(s)" if a.used else "not needed"
        lines.append(f"  {a.location}: assumption `{a.text}`: {state}")
        covered = [v for v in report.violations if v.acknowledged and a.location in v.acknowledged_by]
        if covered and not verbose:
            first = covered[0]
            lines.append(f"      {'e.g. ' if len(covered) > 1 else ''}q({first.latent} | "
                         f"{', '.join(first.parents) or '-'}) leaves out {_short(first.missing)}; "
                         f"active path: {first.witness_text}")
            if len(covered) > 1:
                lines.append(f"      acknowledged: {_short(tuple(v.latent for v in covered))} "
                             f"(-v lists each with its repair)")
        held = [b for b in report.sufficiency if b.acknowledged and a.location in b.acknowledged_by]
        if held and not verbose:
            first = held[0]
            lines.append(f"      {'e.g. ' if len(held) > 1 else ''}{first.feature} is sufficient for "
                         f"{_short(first.sufficient_for)}, needed by q({_short(first.factors)})")
            if len(held) > 1:
                lines.append(f"      assumed sufficient: {_short(tuple(b.feature for b in held))} "
                             f"(-v lists each with the factors that need it)")
    inv = report.inverse
    if inv is not None:
        order = "same order" if inv.same_order else "order " + _short(inv.order)
        summary = f", {len(inv.summarised)} read through a deterministic parent" if inv.summarised else ""
        lines.append(f"  faithful minimal inverse (NaMI, {order}): {len(inv.missing)} edge(s) missing from the "
                     f"inference model, {len(inv.unnecessary)} unnecessary{summary}")
        if verbose or len(inv.missing) + len(inv.unnecessary) + len(inv.summarised) <= 12:
            for u, v in inv.missing:
                lines.append(f"      missing      {u} -> {v}")
            for u, v, d in inv.summarised:
                lines.append(f"      summarised   {u} -> {v} (through {d})")
            for u, v in inv.unnecessary:
                lines.append(f"      unnecessary  {u} -> {v}")
    for w in report.warnings:
        lines.append(str(w))
    return "\n".join(lines)
