"""Benchmark the factorization check on every shape of hierarchy the zoo has, L = 16, 64, 256.

For each shape and depth L the script writes a spec and compiles it through the normal pipeline
(``compile_spec``, no lowering). The shapes:

* ``fc-bottomup``: every prior reads all layers above it (``prior z[l] | z[<l]``), the decoder reads
  all layers, and the posterior is bottom-up Markov (``posterior z[l] | z[l+1], x``), so every factor
  that leaves something out is unfaithful (the local-link certificate decides them);
* ``topdown-state``: an NVAE-style ladder; a top-down state ``c[l] = f(c[l-1], z[l-1])`` that prior
  and posterior both read (a generative summary, a deterministic node of the check's graph), the
  decoder on the last state: strictly faithful, decided by search;
* ``sere-all``: the self-reflective structure with the decoder on every layer: affine bijectors
  ``z[l] = affine_rank1(eps[l], cond = z[l-1])``, posteriors ``eps[l] | z[l-1], x``; every factor
  from the third on rests on the sufficiency of the bijector outputs (search, repair, sufficiency);
* ``dvp-aggregation``: a ladder whose posteriors read the top-down state ``s[l]`` and whose
  likelihood aggregates every z directly (DVP eq. 18): every factor rests on the states' sufficiency.

It times:

* extract: building the check's problem from the IR (:func:`compiler.dsep_problem.problem_from_graph`);
* verdict: the verdict, missing set, witness and sufficiency set of every factor (``repair=False``);
* verdict + repair: the full check, with the minimal repair of every departure;
* same, CPU: extract + verdict + repair in process CPU time (the machine is shared; wall times
  on a loaded machine are a multiple of it);
* NaMI: the faithful minimal inverse of the whole model;
* and, on the fully connected shape, the naive loop of networkx calls per latent that issue 11
  measured: ``nx.is_d_separator`` for the verdict and ``nx.find_minimal_d_separator`` for the repair.

Usage:
    python bench/bench_dsep.py                 # every shape at L = 16, 64, 256
    python bench/bench_dsep.py --shape sere-all --L 16 64 --repeat 3
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SHAPES = {
    "fc-bottomup": """model "fully connected hierarchy of {L} layers, bottom-up Markov posterior (benchmark)"
let L = {L}
observed x : [8] ~ bernoulli
latent z[1..L] : [2] ~ normal
prior z[1] = normal(loc = 0, scale = 1)
prior z[l in 2..L] | z[<l] = linear(concat(z[<l]))
posterior z[L] | x = linear(x)
posterior z[l in 1..L-1] | z[l+1], x = linear(concat(z[l+1], x))
likelihood x | z = linear(concat(z))
""",
    "topdown-state": """model "top-down ladder of {L} layers with a shared state (benchmark)"
let L = {L}
observed x : [8] ~ bernoulli
latent z[1..L] : [2] ~ normal
feature c[1] = param([4])
feature c[l in 2..L] = mlp(concat(c[l-1], z[l-1]), hidden = [4], out = 4)
prior z[1] = normal(loc = 0, scale = 1)
prior z[l in 2..L] | z[<l] = linear(c[l])
posterior z[1] | x = linear(x)
posterior z[l in 2..L] | z[<l], x = linear(concat(c[l], x))
likelihood x | z = linear(concat(c[L], z[L]))
""",
    "sere-all": """model "self-reflective structure of {L} layers, decoder on every layer (benchmark)"
let L = {L}
observed x : [8] ~ bernoulli
latent eps[1..L] : [2] ~ normal
feature z[1] = eps[1]
feature z[l in 2..L] = affine_rank1(eps[l], cond = z[l-1], hidden = [4])
prior eps[1] = normal(loc = 0, scale = 1)
prior eps[l in 2..L] | z[l-1] = linear(z[l-1])
posterior eps[1] | x = linear(x)
posterior eps[l in 2..L] | z[l-1], x = linear(concat(z[l-1], x))
likelihood x | z = linear(concat(z))
""",
    "dvp-aggregation": """model "ladder of {L} layers, posteriors on the state, aggregating decoder (benchmark)"
let L = {L}
observed x : [8] ~ bernoulli
latent z[1..L] : [2] ~ normal
feature s[1] = param([4])
feature s[l in 2..L] = mlp(concat(s[l-1], z[l-1]), hidden = [4], out = 4)
prior z[1] = normal(loc = 0, scale = 1)
prior z[l in 2..L] | z[<l] = linear(s[l])
posterior z[1] | x = linear(x)
posterior z[l in 2..L] | z[<l], x = linear(concat(s[l], x))
likelihood x | z = linear(concat(z))
""",
}


def compile_benchmark(shape: str, L: int, directory: str):
    from zoo.registry import compile_spec

    path = os.path.join(directory, f"{shape}-{L}.hvae")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(SHAPES[shape].format(L=L))
    return compile_spec(path)


def best_of(repeat: int, fn, cpu: bool = False):
    """The best wall time of `repeat` runs (process CPU time with `cpu`), and the last result."""
    clock = time.process_time if cpu else time.perf_counter
    best, out = float("inf"), None
    for _ in range(repeat):
        t = clock()
        out = fn()
        best = min(best, clock() - t)
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
    parser.add_argument("--shape", nargs="+", default=list(SHAPES), choices=list(SHAPES))
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
        for shape in args.shape:
            for L in args.L:
                t = time.perf_counter()
                mg = compile_benchmark(shape, L, tmp)
                t_compile = time.perf_counter() - t
                t_extract, problem = best_of(args.repeat, lambda: problem_from_graph(mg))
                t_verdict, report = best_of(args.repeat, lambda: check_problem(problem, repair=False, inverse=False))
                t_full, full = best_of(args.repeat, lambda: check_problem(problem, inverse=False))
                t_nami, _ = best_of(args.repeat, lambda: faithful_inverse(problem))
                t_cpu, _ = best_of(args.repeat, lambda: check_problem(problem_from_graph(mg), inverse=False), cpu=True)
                departures = full.violations + full.resting
                assert [v.latent for v in departures] == [v.latent for v in report.violations + report.resting]
                t_nverdict = t_nrepair = None
                if shape == "fc-bottomup":
                    t_nverdict, unfaithful = best_of(1, lambda: naive_verdict(problem))
                    assert unfaithful == [v.latent for v in full.violations]
                    if L <= args.naive_repair_max:
                        t_nrepair, _ = best_of(1, lambda: naive_repair(problem, unfaithful))
                rows.append((shape, L, problem.graph.number_of_edges(), len(full.violations), len(full.resting),
                             t_compile, t_extract, t_verdict, t_full, t_cpu, t_nami, t_nverdict, t_nrepair))
                print(f"{shape}, L = {L}: {len(full.violations)} violations, {len(full.resting)} resting on "
                      f"sufficiency, methods {full.to_dict()['methods']}", file=sys.stderr)
    header = ("shape", "L", "edges", "violations", "on sufficiency", "compile s", "extract ms", "verdict ms",
              "verdict + repair ms", "extract + verdict + repair ms", "same, CPU ms", "NaMI ms", "naive verdict ms",
              "naive repair ms")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for shape, L, edges, nv, ns, tc, te, tv, tf, tcpu, tn, nvt, nrt in rows:
        cells = [shape, str(L), str(edges), str(nv), str(ns), f"{tc:.1f}", f"{te * 1e3:.1f}", f"{tv * 1e3:.1f}",
                 f"{tf * 1e3:.1f}", f"{(te + tf) * 1e3:.1f}", f"{tcpu * 1e3:.0f}", f"{tn * 1e3:.1f}",
                 "-" if nvt is None else f"{nvt * 1e3:.0f}", "-" if nrt is None else f"{nrt * 1e3:.0f}"]
        print("| " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
