"""Benchmark the factorization check on fully connected hierarchies.

For each depth L the script writes a spec -- every prior reads all layers above it
(``prior z[l] | z[<l]``), the decoder reads all layers, and the posterior is bottom-up Markov
(``posterior z[l] | z[l+1], x``), so every factor that leaves something out is unfaithful -- and
compiles it through the normal pipeline (``compile_spec``, no lowering). It then times:

* extract: building the check's problem from the IR (:func:`compiler.dsep_problem.problem_from_graph`);
* verdict: the verdict, missing set and witness of every factor (``repair=False``);
* verdict + repair: the full check, with the minimal repair of every violation;
* NaMI: the faithful minimal inverse of the whole model;
* and, for comparison, the naive loop of networkx calls per latent that the issue measured:
  ``nx.is_d_separator`` for the verdict and ``nx.find_minimal_d_separator`` for the repair.

Usage:
    python bench/bench_dsep.py                 # L = 16, 64, 256; naive repair up to L = 64
    python bench/bench_dsep.py --L 16 64 --naive-repair-max 256 --repeat 3
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SPEC = """model "fully connected hierarchy of {L} layers, bottom-up Markov posterior (benchmark)"
let L = {L}
observed x : [8] ~ bernoulli
latent z[1..L] : [2] ~ normal
prior z[1] = normal(loc = 0, scale = 1)
prior z[l in 2..L] | z[<l] = linear(concat(z[<l]))
posterior z[L] | x = linear(x)
posterior z[l in 1..L-1] | z[l+1], x = linear(concat(z[l+1], x))
likelihood x | z = linear(concat(z))
"""


def compile_benchmark(L: int, directory: str):
    from zoo.registry import compile_spec

    path = os.path.join(directory, f"fc{L}.hvae")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(SPEC.format(L=L))
    return compile_spec(path)


def best_of(repeat: int, fn):
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def naive_verdict(problem):
    """One nx.is_d_separator call per latent (the baseline of the issue)."""
    import networkx as nx

    from compiler.dsep_paths import closure

    unfaithful = []
    for i, v in enumerate(problem.order):
        left = {u for u in problem.order[:i] if u not in problem.parents[v]}
        given = closure(problem.graph, problem.parents[v] | problem.observed, problem.deterministic)
        if left and not nx.is_d_separator(problem.graph, {v}, left, set(given)):
            unfaithful.append(v)
    return unfaithful


def naive_repair(problem, unfaithful):
    """One nx.find_minimal_d_separator call per unfaithful latent."""
    from compiler.dsep_paths import closure, minimal_repair

    position = {v: i for i, v in enumerate(problem.order)}
    for v in unfaithful:
        left = [u for u in problem.order[:position[v]] if u not in problem.parents[v]]
        given = closure(problem.graph, problem.parents[v] | problem.observed, problem.deterministic)
        minimal_repair(problem.graph, v, left, given, problem.deterministic)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--L", type=int, nargs="+", default=[16, 64, 256])
    parser.add_argument("--repeat", type=int, default=3, help="report the best of this many runs")
    parser.add_argument("--naive-repair-max", type=int, default=64,
                        help="largest L for the naive repair (it takes minutes at 256)")
    args = parser.parse_args(argv)

    from compiler.dsep import check_problem
    from compiler.dsep_problem import problem_from_graph
    from compiler.nami import faithful_inverse

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for L in args.L:
            t = time.perf_counter()
            mg = compile_benchmark(L, tmp)
            t_compile = time.perf_counter() - t
            t_extract, problem = best_of(args.repeat, lambda: problem_from_graph(mg))
            t_verdict, report = best_of(args.repeat, lambda: check_problem(problem, repair=False, inverse=False))
            t_full, full = best_of(args.repeat, lambda: check_problem(problem, inverse=False))
            t_nami, _ = best_of(args.repeat, lambda: faithful_inverse(problem))
            assert [v.latent for v in full.violations] == [v.latent for v in report.violations]
            t_nverdict, unfaithful = best_of(1, lambda: naive_verdict(problem))
            assert unfaithful == [v.latent for v in full.violations]
            t_nrepair = None
            if L <= args.naive_repair_max:
                t_nrepair, _ = best_of(1, lambda: naive_repair(problem, unfaithful))
            rows.append((L, problem.graph.number_of_edges(), len(full.violations), t_compile, t_extract, t_verdict,
                         t_full, t_nami, t_nverdict, t_nrepair))
            print(f"L = {L}: {len(full.violations)} violations, methods "
                  f"{full.to_dict()['methods']}", file=sys.stderr)
    header = ("L", "edges", "violations", "compile s", "extract ms", "verdict ms", "verdict + repair ms",
              "extract + verdict + repair ms", "NaMI ms", "naive verdict ms", "naive repair ms")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for L, edges, nv, tc, te, tv, tf, tn, nvt, nrt in rows:
        cells = [str(L), str(edges), str(nv), f"{tc:.1f}", f"{te * 1e3:.1f}", f"{tv * 1e3:.1f}", f"{tf * 1e3:.1f}",
                 f"{(te + tf) * 1e3:.1f}", f"{tn * 1e3:.1f}", f"{nvt * 1e3:.0f}",
                 "skipped" if nrt is None else f"{nrt * 1e3:.0f}"]
        print("| " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
