"""Compiled zoo models against their hand-written twins (bench/twins.py): the cost of compiling.

    python bench/bench_twins.py                       # vae, ladder (batch 100, 1), nvae8 (L=4, C=32; 4, 1)
    python bench/bench_twins.py vae --batch 20 --calls 400

For each model the spec is compiled and its twin copies the weights; both run, seeded alike, on
the same batch, and the script stops unless their per-example ELBOs agree bit for bit. Then, on
one thread, it alternates the two call by call (which goes first alternates too) and measures
each call's process CPU time and wall time for

* forward: the training loss (``zoo.runtime.objectives.compute_objective`` vs the twin's forward);
* fwd+bwd: the loss and its backward pass;
* step: a whole update, ``zero_grad`` + fwd+bwd + ``Adam.step``.

Reported: compiled / twin ratios of the median CPU time (and of the median wall time) per call.
Data: random images of the spec's shape in its likelihood's domain. The ladder's smallest batch is 2 (batch
normalisation in training needs two examples). Targets (issue 15): <= 1.02 at the benchmark batch
sizes, <= 1.10 at batch 1.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.dirname(os.path.abspath(__file__))]

from twins import TWINS  # noqa: E402
from zoo.runtime.objectives import compute_objective  # noqa: E402
from zoo.registry import create_model  # noqa: E402


#: Benchmark sizes: nvae8 at full size takes seconds per call on a CPU; 4 layers of 32 channels
#: keep every kind of cell. Batches: what a CPU step at that size affords.
SIZES = {"nvae8": {"L": 4, "C": 32}}
BATCHES = {"nvae8": [4, 1], "attentive_ladder": [100, 2]}


def pair(name: str, batch: int):
    """The compiled model, its twin with the same weights, and a batch; checked to agree."""
    torch.manual_seed(0)
    sizes = SIZES.get(name, {})
    model = create_model(name, **sizes).train()
    with torch.no_grad():  # ReZero gates start at 0; open them so that the check covers the attention
        for param_name, param in model.named_parameters():
            if param_name.endswith(".gamma"):
                param.fill_(0.5)
    twin = TWINS[name](**{k: v for k, v in sizes.items() if k == "L"}).copy_from(model).train()
    obs = model.graph.observed[0]
    if obs.family == "discretized_logistic_mixture":
        x = torch.randint(0, 256, (batch, *obs.shape)).float().mul(2 / 255).sub(1)
    else:
        x = torch.bernoulli(torch.full((batch, *obs.shape), 0.3))
    torch.manual_seed(1)
    elbo = model(x).elbo
    torch.manual_seed(1)
    _, twin_elbo = twin(x)
    if not torch.equal(elbo, twin_elbo):
        raise SystemExit(f"{name}: the twin's ELBO differs from the compiled model's by "
                         f"{(elbo - twin_elbo).abs().max().item():.3g}; fix the twin before timing")
    return model, twin, x


def tasks(model, twin, x):
    """name -> (compiled call, twin call) for each measured operation."""
    opts = {m: torch.optim.Adam(m.parameters(), lr=1e-6) for m in (model, twin)}

    def fwd(m):
        return (lambda: compute_objective(m, x).loss) if m is model else (lambda: twin(x)[0])

    def fwd_bwd(m):
        f = fwd(m)
        return lambda: f().backward()

    def step(m):
        f = fwd_bwd(m)

        def run():
            opts[m].zero_grad(set_to_none=True)
            f()
            opts[m].step()
        return run

    return {"forward": (fwd(model), fwd(twin)), "fwd+bwd": (fwd_bwd(model), fwd_bwd(twin)),
            "step": (step(model), step(twin))}


def alternate(a, b, calls: int, warmup: int = 5):
    """Per-call (cpu, wall) seconds of a and b, called alternately (the first of each pair alternates)."""
    for _ in range(warmup):
        a(), b()
    times = {0: [], 1: []}
    fns = (a, b)
    for i in range(calls):
        for k in ((0, 1) if i % 2 == 0 else (1, 0)):
            c0, w0 = time.process_time(), time.perf_counter()
            fns[k]()
            times[k].append((time.process_time() - c0, time.perf_counter() - w0))
    return times[0], times[1]


def ratio(a, b, idx):
    return statistics.median(t[idx] for t in a) / statistics.median(t[idx] for t in b)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="*", default=list(TWINS))
    ap.add_argument("--batch", type=int, nargs="*", help="batches (default: 100 and 1; nvae8: 4 and 1)")
    ap.add_argument("--calls", type=int, default=200, help="timed calls of each implementation per operation")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    print("| model, batch | forward | fwd+bwd | step | twin step (ms, wall median) |")
    print("|---|---|---|---|---|")
    for name in args.models:
        for batch in args.batch or BATCHES.get(name, [100, 1]):
            if batch == 1 and name in ("ladder", "attentive_ladder"):
                batch = 2  # batch normalisation in training needs two examples
            model, twin, x = pair(name, batch)
            cells, twin_ms = [], 0.0
            for op, (a, b) in tasks(model, twin, x).items():
                ta, tb = alternate(a, b, args.calls)
                cells.append(f"{ratio(ta, tb, 0):.3f} ({ratio(ta, tb, 1):.3f})")
                twin_ms = statistics.median(t[1] for t in tb) * 1e3
            print(f"| {name}, {batch} | " + " | ".join(cells) + f" | {twin_ms:.2f} |", flush=True)
    print("\ncompiled / twin: ratio of median process CPU time per call (of median wall time), one thread")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
