"""How long a spec takes to compile, stage by stage, as the hierarchy gets deeper.

Two generated families, each at L = 8, 16, 32, 64 and 128 stochastic layers:

* ``nvae``: the NVAE top-down structure of `specs/nvae8.hvae` (bottom-up cells, a context chain
  whose prior reads every earlier layer, residual posteriors), with small channel counts;
* ``ladder``: a Ladder-VAE-like MLP hierarchy (a bottom-up MLP chain, MLP priors on the layer
  above, precision-weighted posteriors).

Stages, each the median of a few runs: parse + load (`dsl.load_spec` of the file), elaborate +
check (`dsl.checked`), build the graph (`compiler.build_graph`), validate (`validate_graph`), and
lowering to PyTorch (`zoo.lower.lower`, which allocates the weights). The target is parse +
compile (everything through `build_graph`) under 1 s at L = 64.

Usage:
    python bench/bench_compile.py [--layers 8 16 32 64 128] [--repeats 5] [--no-lower]
"""
from __future__ import annotations

import argparse
import pathlib
import statistics
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

FAMILIES = {"nvae": NVAE, "ladder": LADDER}


def _median_time(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def measure(path: str, repeats: int, lower: bool) -> dict[str, float]:
    """Seconds per stage for one spec file (medians)."""
    out: dict[str, float] = {}
    out["parse+load"], spec = _median_time(lambda: dsl.load_spec(path), repeats)
    out["elaborate+check"], checked = _median_time(lambda: dsl.checked(spec), repeats)
    concrete, shapes, warnings = checked
    out["build_graph"], mg = _median_time(lambda: build_graph(concrete, shapes, warnings), repeats)
    out["validate"], problems = _median_time(lambda: validate_graph(mg), repeats)
    assert not problems, problems
    out["compile"] = out["parse+load"] + out["elaborate+check"] + out["build_graph"]
    out["nodes"], out["edges"] = mg.graph.number_of_nodes(), mg.graph.number_of_edges()
    if lower:
        from zoo.lower import lower as lower_graph

        out["lower"], model = _median_time(lambda: lower_graph(mg), max(1, repeats // 2))
        out["parameters"] = model.num_parameters()
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layers", type=int, nargs="+", default=[8, 16, 32, 64, 128])
    parser.add_argument("--repeats", type=int, default=5, help="runs per stage; the median is reported")
    parser.add_argument("--no-lower", action="store_true", help="skip lowering to PyTorch")
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=list(FAMILIES))
    args = parser.parse_args(argv)

    if not args.no_lower:
        import zoo.lower  # noqa: F401  (import torch once, outside the timings)
        import zoo.nn  # noqa: F401

    header = "| spec | L | nodes | edges | parse+load | elaborate+check | build_graph | compile total | validate |"
    sep = "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    if not args.no_lower:
        header += " lower | parameters |"
        sep += "---:|---:|"
    print(header)
    print(sep)
    with tempfile.TemporaryDirectory() as tmp:
        for family in args.families:
            for layers in args.layers:
                path = pathlib.Path(tmp) / f"{family}{layers}.hvae"
                path.write_text(FAMILIES[family].format(L=layers), encoding="utf-8")
                r = measure(str(path), args.repeats, not args.no_lower)
                row = (f"| {family} | {layers} | {r['nodes']} | {r['edges']} | {r['parse+load'] * 1e3:.0f} ms "
                       f"| {r['elaborate+check'] * 1e3:.0f} ms | {r['build_graph'] * 1e3:.0f} ms "
                       f"| **{r['compile'] * 1e3:.0f} ms** | {r['validate'] * 1e3:.0f} ms |")
                if not args.no_lower:
                    row += f" {r['lower'] * 1e3:.0f} ms | {r['parameters']:,} |"
                print(row, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
