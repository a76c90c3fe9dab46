"""How long a spec takes to compile, stage by stage, and `zoo check` end to end, as the hierarchy deepens.

Three generated families, each at L = 16, 64 and 256 stochastic layers by default:

* ``nvae``: the NVAE top-down structure of `specs/nvae8.hvae` (bottom-up cells, a context chain
  whose prior reads every earlier layer, residual posteriors), with small channel counts;
* ``ladder``: a Ladder-VAE-like MLP hierarchy (a bottom-up MLP chain, MLP priors on the layer
  above, precision-weighted posteriors);
* ``sere``: the self-reflective structure of `specs/sere_mlp.hvae` (shared bijectors
  z[l] = f(eps[l]; z[l-1]) as deterministic PGM nodes, independent evidence encoders, and the
  decoder on every z[l]), with its `assume` acknowledging the departures.

Stages, in one process, each the median of a few runs, as CPU time of this process (the machine
may be shared; the wall medians are printed beside them): parse + load (`dsl.load_spec`),
elaborate + check (`dsl.checked`), build the graph (`compiler.build_graph`), validate
(`validate_graph`), optionally lowering to PyTorch (`zoo.runtime.lower.lower`, which allocates the
weights). The stages run with the cyclic GC paused, as `compile_spec` runs them.

Then, in fresh interpreters, what a user waits for: **start-up** (a bare interpreter, and
`zoo check vae`, whose own work is a few ms) and **`zoo check` end to end** on each generated spec
(start-up, compile and the factorization check with its repairs), with the CPU time of the
factorization check alone beside it. Targets: `zoo check vae` under 0.3 s; `zoo check` under 1 s
at L = 256.

Usage:
    python bench/bench_compile.py [--layers 16 64 256] [--repeats 5] [--lower] [--families nvae sere]
                                  [--runs 5] [--check-timeout 120]
"""
from __future__ import annotations

import argparse
import dataclasses
import pathlib
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Callable

ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import dsl  # noqa: E402
from compiler.graph import build_graph  # noqa: E402
from compiler.validate import validate_graph  # noqa: E402
from zoo.registry import gc_paused  # noqa: E402

NVAE = """\
model "generated NVAE-like top-down hierarchy"
let L = {L}
let C = 8
let Z = 4
observed x : [3, 32, 32] ~ discretized_logistic_mixture(components = 5)
latent   z[1..L] : [Z, 16, 16] ~ normal(mean = tanh_bound(5), variance = bounded_log_scale(-5, 5), min_scale = 0.01)
feature e[L+1] = nvae_cell(conv(x, out = C, k = 3, weight_norm = true), scales = [0, -2])
feature e[l in 1..L] = nvae_cell(e[l+1])
feature c[1] = param([2 * C, 16, 16])
feature c[l in 2..L] = nvae_cell(conv(concat(c[l-1], z[l-1]), out = 2 * C, k = 1, weight_norm = true))
prior z[1] = normal(loc = 0, scale = 1)
prior z[l in 2..L] | z[<l] = conv(c[l], k = 1, pre = elu, weight_norm = true)
posterior z[1] | x = conv(elu(conv(e[1], out = 2 * C, k = 1, pre = elu, weight_norm = true)), k = 3, weight_norm = true)
posterior z[l in 2..L] | x, z[<l] =
    residual(prior(z[l]), normal(conv(conv(c[l], out = 2 * C, k = 1, weight_norm = true) + e[l], k = 3, weight_norm = true)))
feature out = nvae_cell(conv(concat(c[L], z[L]), out = 2 * C, k = 1, weight_norm = true), scales = [2, 0])
likelihood x | z = conv(out, k = 3, pre = elu, weight_norm = true)
"""

LADDER = """\
model "generated Ladder-VAE-like MLP hierarchy"
let L = {L}
let H = 64
let D = 8
observed x : [1, 28, 28] ~ bernoulli
latent z[1..L] : [D] ~ normal(variance = softplus, min_scale = 0.0001)
feature h[L] = mlp(x, hidden = [H], out = H, act = leaky_relu, out_act = leaky_relu, norm = batch)
feature h[l in 1..L-1] = mlp(h[l+1], hidden = [H], out = H, act = leaky_relu, out_act = leaky_relu, norm = batch)
prior z[1] = normal(loc = 0, scale = 1)
prior z[l in 2..L] | z[l-1] = mlp(z[l-1], hidden = [H, H], act = leaky_relu, norm = batch)
posterior z[1] | x = linear(h[1])
posterior z[l in 2..L] | x, z[l-1] = precision_weighted(prior(z[l]), normal(linear(h[l])))
likelihood x | z[L] = mlp(z[L], hidden = [H, H], act = leaky_relu, norm = batch)
"""

SERE = """\
model "generated self-reflective hierarchy, decoder on every layer"
let L = {L}
let D = 4
let H = 32
observed x : [1, 28, 28] ~ bernoulli
latent eps[1..L] : [D] ~ normal(variance = softplus_elu_var)
feature z[1] = affine_rank1(eps[1], hidden = [H])
feature z[l in 2..L] = affine_rank1(eps[l], cond = z[l-1], hidden = [H])
feature e[l in 1..L] = mlp(x, hidden = [H], out = 8)
feature k[l in 2..L] = mlp(z[l-1], hidden = [H], out = 8)
prior eps[1] = normal(loc = 0, scale = 1)
prior eps[l in 2..L] | z[l-1] = mlp(z[l-1], hidden = [H])
posterior eps[1] | x = mlp(e[1], hidden = [H])
posterior eps[l in 2..L] | z[l-1], x = mlp(concat(k[l], e[l]), hidden = [H])
likelihood x | z[1..L] = mlp(concat(z[1..L]), hidden = [H])
assume eps[l in 3..L] independent of eps[<l] given z[l-1], x "the decoder reads every layer (SeRe eq. 3)"
"""

FAMILIES = {"nvae": NVAE, "ladder": LADDER, "sere": SERE}


def _median_time(fn: Callable[[], object], repeats: int) -> tuple[float, float, object]:
    """(median CPU seconds of this process, median wall seconds, last result) of `repeats` calls."""
    cpu, wall, result = [], [], None
    for _ in range(repeats):
        c, w = time.process_time(), time.perf_counter()
        result = fn()
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - w)
    return statistics.median(cpu), statistics.median(wall), result


def measure(path: str, repeats: int, lower: bool) -> dict[str, float]:
    """CPU and wall seconds per stage for one spec file (medians); keys `stage` and `stage/wall`."""
    out: dict[str, float] = {}

    def stage(name, fn, n=repeats):
        with gc_paused():
            out[name], out[name + "/wall"], result = _median_time(fn, n)
        return result

    spec = stage("parse+load", lambda: dsl.load_spec(path))
    concrete, shapes, warnings = stage("elaborate+check", lambda: dsl.checked(spec))
    mg = stage("build_graph", lambda: build_graph(concrete, shapes, warnings))
    # a fresh ModelGraph each time: validation builds (and caches) the PGMs, as it does once per run
    problems = stage("validate", lambda: validate_graph(dataclasses.replace(mg)))
    assert not problems, problems
    for key in ("", "/wall"):
        out["compile" + key] = sum(out[s + key] for s in ("parse+load", "elaborate+check", "build_graph"))
    out["nodes"], out["edges"] = mg.graph.number_of_nodes(), mg.graph.number_of_edges()
    if lower:
        from zoo.runtime.lower import lower as lower_graph

        model = stage("lower", lambda: lower_graph(mg), max(1, repeats // 2))
        out["parameters"] = model.num_parameters()
    return out


def measure_check(path: str) -> float:
    """CPU seconds of the factorization check alone (verdicts, repairs, NaMI) on the compiled spec."""
    from compiler.dsep import check_posterior_factorization
    from zoo.registry import compile_spec

    mg = compile_spec(path)
    with gc_paused():
        return _median_time(lambda: check_posterior_factorization(mg), 1)[0]


def run_command(argv: list[str], runs: int, timeout: float) -> dict[str, float]:
    """Median wall and CPU seconds of `argv` in fresh interpreters; None values past `timeout`."""
    wall, cpu = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        try:
            done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"wall": None, "cpu": None}
        wall.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if done.returncode not in (0, 1):  # 1: the check found violations, still a full run
            raise SystemExit(f"{' '.join(argv)} failed:\n{done.stderr}")
    return {"wall": statistics.median(wall), "cpu": statistics.median(cpu)}


def _ms(seconds) -> str:
    if seconds is None:
        return "timeout"
    return f"{seconds * 1e3:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layers", type=int, nargs="+", default=[16, 64, 256])
    parser.add_argument("--repeats", type=int, default=5, help="runs per stage; the median is reported")
    parser.add_argument("--lower", action="store_true", help="also time lowering to PyTorch (allocates weights)")
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=list(FAMILIES))
    parser.add_argument("--runs", type=int, default=5, help="fresh interpreters per end-to-end measurement")
    parser.add_argument("--check-timeout", type=float, default=120.0,
                        help="seconds after which one `zoo check` run is reported as a timeout")
    parser.add_argument("--no-end-to-end", action="store_true", help="skip start-up and `zoo check` runs")
    args = parser.parse_args(argv)

    if args.lower:
        import zoo.runtime.lower  # noqa: F401  (import torch once, outside the timings)
        import zoo.nn  # noqa: F401

    python = sys.executable
    if not args.no_end_to_end:
        print("Start-up (fresh interpreters; median wall / CPU):\n")
        print("| command | wall | CPU |")
        print("|---|---:|---:|")
        for label, cmd in (("python -c pass", [python, "-c", "pass"]),
                           ("zoo check vae", [python, "-m", "zoo.cli", "check", "vae"])):
            r = run_command(cmd, max(args.runs, 5), args.check_timeout)
            print(f"| `{label}` | {_ms(r['wall'])} | {_ms(r['cpu'])} |", flush=True)
        print()

    header = ("| spec | L | nodes | edges | parse+load | elaborate+check | build_graph | compile total (wall) "
              "| validate |")
    sep = "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    if args.lower:
        header += " lower | parameters |"
        sep += "---:|---:|"
    if not args.no_end_to_end:
        header += " `zoo check` wall | CPU | of which the factorization check |"
        sep += "---:|---:|---:|"
    print("Stages in one process (median CPU time) and `zoo check` end to end (median of fresh interpreters):\n")
    print(header)
    print(sep)
    with tempfile.TemporaryDirectory() as tmp:
        for family in args.families:
            for layers in args.layers:
                path = pathlib.Path(tmp) / f"{family}{layers}.hvae"
                path.write_text(FAMILIES[family].format(L=layers), encoding="utf-8")
                r = measure(str(path), args.repeats, args.lower)
                row = (f"| {family} | {layers} | {r['nodes']:,} | {r['edges']:,} | {_ms(r['parse+load'])} "
                       f"| {_ms(r['elaborate+check'])} | {_ms(r['build_graph'])} "
                       f"| **{_ms(r['compile'])}** ({_ms(r['compile/wall'])}) | {_ms(r['validate'])} |")
                if args.lower:
                    row += f" {_ms(r['lower'])} | {r['parameters']:,} |"
                if not args.no_end_to_end:
                    runs = args.runs if layers < 256 else max(1, args.runs // 2)
                    e2e = run_command([python, "-m", "zoo.cli", "check", str(path)], runs, args.check_timeout)
                    dsep = None
                    if e2e["cpu"] is not None:  # the check finishes: time it alone, once, in this process
                        dsep = measure_check(str(path))
                    row += f" **{_ms(e2e['wall'])}** | {_ms(e2e['cpu'])} | {_ms(dsep)} |"
                print(row, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
