"""`validate_graph`: invariants of a built :class:`ModelGraph`, the counterpart of fx's `Graph.lint`.

The spec checker guarantees these for graphs built from specs; this pass re-checks them on the
IR itself, so that a graph built or transformed by other code is held to the same rules.
"""
from __future__ import annotations

from dsl import library as lib
from dsl.check import find_cycle
from dsl.errors import Diagnostic

from .graph import ModelGraph, VarInfo

__all__ = ["validate_graph"]


def validate_graph(mg: ModelGraph) -> list[Diagnostic]:
    """Every violated invariant, as diagnostics (empty when the graph is sound).

    Checks: both PGM views are DAGs; every variable has the factors its kind requires and no
    others; every computation names a declared block, family or combinator; every latent is
    sampled exactly once in the inference plan.
    """
    out: list[Diagnostic] = []

    def error(msg, span=None, hint=None):
        out.append(Diagnostic(msg, span, hint, "error", "ir").with_source(mg.spec.sources))

    # on the PGMs' edges themselves: building mg.generative as a graph would cost ten times more
    pgm_edges: dict[str, list] = {"p": [], "q": []}
    for a, b, models in mg.graph.edges(data="pgm"):
        for m in models:
            pgm_edges[m].append((a, b))
    for name, model in (("generative", "p"), ("inference", "q")):
        cycle = find_cycle(pgm_edges[model])
        if cycle:
            error(f"the {name} graph has a cycle: {' -> '.join(cycle + [cycle[0]])}",
                  mg.info(cycle[0]).span)
    for v in mg.variables():
        wanted = {"observed": {"likelihood"}, "latent": {"prior", "posterior"}, "pseudo": {"prior", "posterior"}}[v.kind]
        have = {k for k in ("prior", "posterior", "likelihood") if f"{k}({v.name})" in mg.graph}
        if have != wanted:
            error(f"{v.kind} variable {v.name} has factors {sorted(have)}, expected {sorted(wanted)}", v.span)
    for op in mg.ops():
        if op.kind == "feature" and op.op != "identity" and lib.kind_of(op.op) != "block":
            error(f"{op.name} uses '{op.op}', which is not a declared block", op.span)
        if op.kind in ("factor", "dist") and lib.kind_of(op.op) not in ("family", "combinator"):
            error(f"{op.name} uses '{op.op}', which is not a declared family or combinator", op.span)
    sampled = [n for n in mg.infer_plan if isinstance(mg.info(n), VarInfo) and mg.info(n).kind != "observed"]
    if sorted(sampled) != sorted(set(sampled)) or set(sampled) != {v.name for v in mg.variables("latent", "pseudo")}:
        error("the inference plan does not sample every latent exactly once")
    return out
