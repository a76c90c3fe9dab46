"""Does the inference model respect the factorization of the exact posterior?

Faithful posterior factorization
--------------------------------
A hierarchical VAE's inference model samples its latents in an order v_1, ..., v_n and gives each
one a factor q(v_i | pa_q(v_i)) whose parents are earlier latents, deterministic functions of
them, and the data x. The exact posterior of the generative model factorizes by the chain rule as

    p(v_1, ..., v_n | x) = prod_i p(v_i | v_1, ..., v_{i-1}, x),

so the variational family can contain the exact posterior only if every exact conditional depends
on nothing but what the factor reads:

    p(v_i | v_<i, x) = p(v_i | pa_q(v_i), x)    for every i.

This holds for every distribution the generative graph G can represent exactly when v_i is
d-separated in G from the earlier latents it does not read, M_i = v_<i - pa_q(v_i), given its
parents and the observed variables. (Everything in pa_q(v_i) is computed from v_<i and x, so
conditioning on v_<i and on v_<i together with pa_q(v_i) is the same.) We call the inference
model *faithful* when this holds for every factor -- its family then contains the exact
posterior -- and each failing factor a *violation*: the factor leaves out a latent on which the
exact conditional depends, and no setting of the encoder's weights can recover that dependence.

Deterministic nodes: D-separation
---------------------------------
Bijector outputs (``z[l] = f(eps[l]; z[l-1])``), pseudo-input transforms and other deterministic
features that statements name as parents are nodes of G. Plain d-separation treats them like any
unobserved node, which misses independences: a deterministic node whose parents are all observed
is itself known. Geiger, Verma & Pearl's D-separation adds exactly that rule -- a deterministic
node is observed when all of its parents are, iterated to a fixed point -- and is sound and
complete for graphs with functional nodes. Running d-separation with the conditioning set closed
under that rule is D-separation (docs/factorization.md, "D-separation by closure", has the proof),
so the check closes pa_q(v_i) and the observed variables (:func:`compiler.dsep_paths.closure`) and
runs one Bayes-ball search (:func:`compiler.dsep_paths.active_reach`). The endpoints are always
random variables: the check is over latents, never over feature maps.

Invertible features: blocks marked invertible in an argument (identity aliases, ``affine_rank1``,
the splines, ``concat``, ``add``, ...) add a backward rule to the closure -- the output and the other
arguments determine the argument -- which the docs prove sound (a node of the closure is a function
of the conditioning set, so conditioning on either is the same).

Generative features a posterior reads
-------------------------------------
A feature computed with the *generative* model's parameters that a posterior reads (a top-down
state, an attention context, the prior's parameters) is a node of G (:mod:`compiler.dsep_features`):
the exact posterior is defined for the generative parameters, and the posterior sees the feature's
value, not what it is computed from. A factor that fails on that graph but would hold were such
*summaries* sufficient statistics of the random variables they are computed from rests on a
**sufficiency assumption** (:func:`sufficient_summaries` finds a minimal set). It is reported apart
from violations, and the model is faithful only when a spec acknowledges it
(``assume STATE sufficient``): no verdict rests on an unstated assumption.

Theorem 1 of the self-reflective VAE paper is this check on its Figure 3: eps[l] reads z[l-1]
and x; every path from eps[l] to eps[<l] enters z[l-1], which is conditioned on, so the factor is
faithful -- while the decoder reads z[L] only. When the decoder reads every z[l], the path
``eps[3] -> z[3] -> x <- z[1] <- eps[1]`` is active (x is an observed collider, z[1] is not
determined by z[2]) and the factor of eps[3] is not.

What the report says
--------------------
For each violation: the latent, the line of its posterior statement, the left-out latents that
are d-connected to it (``missing``), one active path as a witness, and the minimal set of parents
to add (:func:`compiler.dsep_paths.minimal_repair`, built on
:func:`networkx.find_minimal_d_separator`). For the whole model: a faithful minimal inverse
computed from the generative graph alone (:mod:`compiler.nami`) and the edges by which the spec's
inference model differs from it. A spec may acknowledge a deliberate departure with
``assume A independent of B given C``: a violation of the factor of v is acknowledged when
assumptions with v on one side cover every latent in its missing set on the other side, and their
given-clause is part of what the factor conditions on. Acknowledged violations are reported but do
not make the model unfaithful; an assumption that acknowledges nothing is a warning.
``assume FEATURES sufficient`` acknowledges the factors that rest on those summaries.

Speed
-----
A per-latent loop of searches costs O(n (V + E)), which is cubic in the depth of a fully connected
hierarchy. The spec states its structure with range statements, and the check runs each range
statement as a unit (:mod:`compiler.dsep_ranges`): two certificates -- the chain rule (nothing is
left out) and local links (everything left out is adjacent, or a co-parent through a conditioned
child) -- decide an element by bookkeeping on sets, with no search; the search is the fallback for
the elements they do not decide. docs/factorization.md proves both and gives the benchmark.

Examples
--------
A chain z1 -> z2 -> z3 whose decoder also reads z1, with a top-down Markov posterior:

>>> from compiler.dsep_problem import problem_from_edges
>>> p = problem_from_edges([("z1", "z2"), ("z2", "z3"), ("z3", "x"), ("z1", "x")],
...                        order=["z1", "z2", "z3"], observed=["x"],
...                        parents={"z1": ["x"], "z2": ["z1", "x"], "z3": ["z2", "x"]})
>>> report = check_problem(p)
>>> report.faithful
False
>>> [(v.latent, v.missing, v.witness_text) for v in report.violations]
[('z3', ('z1',), 'z3 -> x <- z1')]

The self-reflective structure, with deterministic ``z1 = eps1`` and ``z2 = f(eps2; z1)``:

>>> p = problem_from_edges([("eps1", "z1"), ("z1", "eps2"), ("z1", "z2"), ("eps2", "z2"), ("z2", "x")],
...                        order=["eps1", "eps2"], observed=["x"], deterministic=["z1", "z2"],
...                        parents={"eps1": ["x"], "eps2": ["z1", "x"]})
>>> check_problem(p).faithful
True

References
----------
Geiger, Verma & Pearl. Identifying independence in Bayesian networks. Networks 20, 1990.
Shachter. Bayes-Ball: the rational pastime. UAI 1998.
van der Zander & Liskiewicz. Finding minimal d-separators in linear time and applications. UAI 2020.
Webb et al. Faithful inversion of generative models for effective amortized inference. NeurIPS 2018.
Apostolopoulou, Rosenfeld & Dubrawski. Self-reflective variational inference (Theorem 1).
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, replace

import networkx as nx

from .dsep_paths import (ClosureBase, active_reach, ancestors_of, arrows, closure, is_separated, minimal_repair,
                         witness_path)
from .dsep_problem import Problem, problem_from_graph
from .dsep_ranges import chain_rule, local_links, statements
from .dsep_report import (AssumptionUse, FactorizationReport, FactorVerdict, StatementSummary, SufficiencyAssumption,
                          Violation, format_report)
from .nodes import natural

__all__ = ["check_posterior_factorization", "check_problem", "FactorizationReport", "Violation",
           "format_report"]


def check_posterior_factorization(mg, *, certificates: bool = True, repair: bool = True,
                                  inverse: bool = True) -> FactorizationReport:
    """Check that a compiled spec's inference model respects the exact posterior's factorization.

    Args:
        mg: a :class:`compiler.graph.ModelGraph`.
        certificates: decide range elements by the chain-rule and local-link certificates where
            they apply (False runs the search for every factor; the verdict is the same).
        repair: compute each violation's minimal repair (False leaves `suggested_parents` empty
            where a search would be needed; for timing the verdict alone).
        inverse: also compute the faithful minimal inverse (NaMI) and compare with it.

    Returns:
        A :class:`FactorizationReport`; ``report.faithful`` is False when a violation or a
        sufficiency assumption is not acknowledged by an assumption.

    Example:
        >>> from zoo.registry import compile_spec
        >>> report = check_posterior_factorization(compile_spec("dlgm"))
        >>> report.faithful, report.exact, len(report.violations)
        (True, False, 9)
    """
    return check_problem(problem_from_graph(mg), certificates=certificates, repair=repair, inverse=inverse)


def check_problem(problem: Problem, *, certificates: bool = True, repair: bool = True,
                  inverse: bool = True) -> FactorizationReport:
    """:func:`check_posterior_factorization` on a :class:`compiler.dsep_problem.Problem`."""
    position = {v: i for i, v in enumerate(problem.order)}
    found, factors, summaries = [], [], []
    for group in statements(problem):  # a range statement is one unit (docs/factorization.md, section 5)
        text = group.key.text if group.key is not None else ""
        methods: dict = {}
        for v in group.latents:
            outcome = _check_factor(problem, v, position, certificates, repair)
            factors.append(FactorVerdict(v, outcome.faithful, outcome.method, text))
            methods[outcome.method] = methods.get(outcome.method, 0) + 1
            if not outcome.faithful:
                found.append((v, text, outcome))
        if group.key is not None:
            summaries.append(StatementSummary(text, problem.location.get(group.latents[0], ""), tuple(group.latents),
                                              methods, sum(1 for f in factors[-len(group.latents):] if not f.faithful)))
    departures, uses = _acknowledge(problem, found, position)
    assumptions, warnings = _assumption_report(problem, uses)
    inv = None
    if inverse:
        from .nami import faithful_inverse

        inv = faithful_inverse(problem)
    violations = tuple(d for d in departures if not d.sufficiency)
    resting = tuple(d for d in departures if d.sufficiency)
    return FactorizationReport(problem.name, problem.order, tuple(factors), violations, tuple(assumptions),
                               inv, tuple(warnings), problem.warnings, tuple(summaries), resting,
                               _sufficiency_report(problem, resting, position))


@dataclass(frozen=True)
class _Outcome:
    """The check of one factor; the fields after `method` are set for departures only."""

    faithful: bool
    method: str
    given: frozenset = frozenset()
    missing: tuple = ()
    witness: tuple = ()
    repair: frozenset = frozenset()
    sufficiency: tuple = ()  # summaries whose sufficiency makes the factor faithful (minimal)


def _check_factor(problem: Problem, v: str, position: dict, certificates: bool, repair: bool) -> _Outcome:
    graph, parents = problem.graph, problem.parents[v]
    left_out = [u for u in problem.order[:position[v]] if u not in parents]
    if chain_rule(left_out):
        return _Outcome(True, "chain rule")
    given = closure(graph, parents, problem.deterministic, problem.inverses, _observed_closure(problem))
    left_out = [u for u in left_out if u not in given]  # read through an invertible feature
    if chain_rule(left_out):
        return _Outcome(True, "chain rule")
    summaries = problem.summaries & given
    if certificates and not summaries:
        links = local_links(problem, v, left_out, given)
        if len(links) == len(left_out):  # every left-out latent is linked: missing = repair = left_out
            return _Outcome(False, "local links", given, tuple(left_out), tuple(links[left_out[-1]]),
                            frozenset(left_out))
    known = _observed_ancestors(problem)
    pred = active_reach(graph, v, given, ancestors_of(graph, given, known), stop=set(left_out))
    left = set(left_out)
    reached = {n for n, _ in pred}
    missing = tuple(u for u in left_out if u in reached)
    if not missing:
        return _Outcome(True, "search")
    added = (minimal_repair(graph, v, left_out, given, problem.deterministic, problem.inverses,
                            _observed_closure(problem), known) if repair else frozenset())
    # the witness leads to a latent the repair adds (one the factor cannot do without), the first
    # that the breadth-first search reaches: a shortest such path
    targets = added or left
    first = next(n for n, _ in pred if n in targets)
    needed = sufficient_summaries(problem, v, given, left_out) if summaries else ()
    return _Outcome(False, "sufficiency" if needed else "search", given, missing, tuple(witness_path(pred, v, first)),
                    added, needed)


def sufficient_summaries(problem: Problem, v: str, given: frozenset, left_out: list) -> tuple:
    """A minimal set of the generative summaries the factor of v reads whose sufficiency makes it
    faithful, or () when no such set exists (the departure is then a violation).

    A summary s -- a deterministic node computed with generative parameters -- is *sufficient* when
    the exact posterior depends on the random variables s is computed from (its random sources,
    :func:`summarised`) only through the value of s. For the check that is one more backward rule: s
    determines its random sources. The factor rests on sufficiency when it is D-separated from what
    it leaves out once every summary in its closure is assumed sufficient; dropping each one whose
    assumption is not needed leaves an inclusion-minimal set. `given` is the factor's closed
    conditioning set.
    """
    graph = problem.graph
    base = _observed_closure(problem)
    topo = problem.cache.get("topological")
    if topo is None:
        topo = problem.cache["topological"] = {n: i for i, n in enumerate(nx.topological_sort(graph))}
    # summaries computed from others (a prior's parameters from the state) are dropped first, so the
    # assumption names the most upstream summary that suffices: the state, not what is made of it
    candidates = sorted(problem.summaries & given, key=lambda n: -topo[n])

    def separated(assumed) -> bool:
        z = given
        while True:  # the assumed summaries determine what they summarise: iterate to a fixed point
            more = set().union(*(summarised(problem, s) for s in assumed if s in z)) - z
            if not more:
                break
            z = closure(graph, z | more, problem.deterministic, problem.inverses, base)
        return is_separated(graph, v, [u for u in left_out if u not in z], z, _observed_ancestors(problem))

    if not candidates or not separated(candidates):
        return ()
    needed = list(candidates)
    for s in candidates:
        rest = [t for t in needed if t != s]
        if rest and separated(rest):  # with none assumed the factor is known to depart
            needed = rest
    return tuple(sorted(needed, key=natural))


def _observed_closure(problem: Problem):
    """The closure of the observations, computed once per problem, to resume from."""
    base = problem.cache.get("observed_closure")
    if base is None:
        base = problem.cache["observed_closure"] = ClosureBase(problem.graph, problem.observed, problem.deterministic,
                                                               problem.inverses)
    return base


def _observed_ancestors(problem: Problem) -> frozenset:
    """The observed variables and their ancestors, computed once per problem (every conditioning
    set of the check contains the observations)."""
    known = problem.cache.get("observed_ancestors")
    if known is None:
        known = problem.cache["observed_ancestors"] = frozenset(ancestors_of(problem.graph, problem.observed))
    return known


def summarised(problem: Problem, summary: str) -> frozenset:
    """The random variables a summary is computed from (through deterministic nodes), observed ones
    excluded: what it must be sufficient for."""
    cache = problem.cache.get("random_sources")
    if cache is None:
        from .nami import random_sources

        cache = problem.cache["random_sources"] = random_sources(problem)
    return frozenset(cache[summary] - problem.observed)


def _sorted(nodes, position: dict) -> tuple:
    return tuple(sorted(nodes, key=lambda n: (0, position[n], "") if n in position else (1, 0, n)))


def _acknowledge(problem: Problem, found: list, position: dict):
    """Build the violations and record which assumptions cover them."""
    uses: dict = OrderedDict((a.location, []) for a in problem.assumptions)
    declared: dict = {}  # summary -> locations of the `assume ... sufficient` statements naming it
    for a in problem.assumptions:
        if a.sufficient:
            for f in a.left:
                declared.setdefault(f, []).append(a.location)
    out = []
    for v, text, outcome in found:
        missing = outcome.missing
        covered, by = set(), []
        if outcome.sufficiency and all(f in declared for f in outcome.sufficiency):
            covered = set(missing)
            for f in outcome.sufficiency:
                for loc in declared[f]:
                    if loc not in by:
                        by.append(loc)
                    if v not in uses[loc]:
                        uses[loc].append(v)
        for a in problem.assumptions:
            if a.sufficient or not a.given <= outcome.given:
                continue
            other = a.right if v in a.left else a.left if v in a.right else None
            hit = set(missing) & other if other else set()
            if hit:
                covered |= hit
                if a.location not in by:
                    by.append(a.location)
                if v not in uses[a.location]:
                    uses[a.location].append(v)
        rest = tuple(u for u in missing if u not in covered)
        out.append(Violation(
            v, problem.location.get(v, ""), problem.line.get(v), text, _sorted(problem.parents[v], position),
            missing, outcome.witness, arrows(problem.graph, list(outcome.witness)), _sorted(outcome.repair, position),
            outcome.method,
            acknowledged=not rest, acknowledged_by=tuple(by), unacknowledged=rest,
            sufficiency=_sorted(outcome.sufficiency, position)))
    return out, uses


def _sufficiency_report(problem: Problem, resting: tuple, position: dict) -> tuple:
    """One :class:`SufficiencyAssumption` per summary that some factor rests on."""
    factors: dict = OrderedDict()
    for d in resting:
        for f in d.sufficiency:
            factors.setdefault(f, []).append(d)
    out = []
    for f, ds in factors.items():
        by = []
        for d in ds:
            by.extend(loc for loc in d.acknowledged_by if loc not in by)
        out.append(SufficiencyAssumption(f, _sorted(summarised(problem, f), position), tuple(d.latent for d in ds),
                                         all(d.acknowledged for d in ds), tuple(by)))
    return tuple(sorted(out, key=lambda a: natural(a.feature)))


def _assumption_report(problem: Problem, uses: dict):
    """One :class:`AssumptionUse` per `assume` statement, and a warning for each unneeded one."""
    from dsl.errors import Diagnostic

    position = {v: i for i, v in enumerate(problem.order)}
    grouped: dict = OrderedDict()
    for a in problem.assumptions:
        grouped.setdefault(a.location, []).append(a)
    out, warnings = [], []
    for location, items in grouped.items():
        first = items[0]
        implied = all(_implied(problem, a) for a in items)
        use = AssumptionUse(first.text, location, first.line, first.reason,
                            _sorted(set().union(*(a.left for a in items)), position),
                            _sorted(set().union(*(a.right for a in items)), position),
                            _sorted(set().union(*(a.given for a in items)), position),
                            tuple(uses.get(location, ())), implied)
        out.append(use)
        if not use.used:
            hint = ("the generative model already implies this independence, so no factor departs from the exact "
                    "posterior by assuming it; remove the statement" if implied else
                    "no posterior factor leaves out what it declares independent while conditioning on its "
                    "given-clause; remove it, or check its indices and given-clause")
            d = Diagnostic("assumption is not needed: it acknowledges no departure of the inference model",
                           first.span, hint, "warning", "unneeded-assumption")
            warnings.append(d.with_source(problem.sources) if first.span is not None else
                            replace(d, message=f"{location}: {d.message}"))
    return out, warnings


def _implied(problem: Problem, a) -> bool:
    """Whether d-separation in the generative graph already gives LEFT independent of RIGHT given GIVEN."""
    left, right = set(a.left), set(a.right)
    given = closure(problem.graph, set(a.given) | problem.observed, problem.deterministic)
    if not left or not right or left & right or (left | right) & given:
        return False
    return nx.is_d_separator(problem.graph, left, right, set(given))
