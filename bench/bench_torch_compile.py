"""What `zoo train --compile` buys: eager against torch.compile training steps, per zoo model.

    python bench/bench_torch_compile.py vae ladder --batch 100 --steps 10
    python bench/bench_torch_compile.py nvae8 --set L=2 --batch 4

For each model (full size, or with --set overrides) two copies with the same weights train on the
same batch of random data in the spec's domain, one through ``zoo.runtime.objectives.compute_objective``,
one through ``zoo.training.train.compiled_objective()`` (inductor). After warm-up steps (the first compiles;
its wall time is reported) the two alternate step by step, one thread; reported are the medians of
the process CPU time per step and the speed-up eager / compiled.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from zoo.config import TrainConfig  # noqa: E402
from zoo.runtime.objectives import compute_objective  # noqa: E402
from zoo.registry import create_model  # noqa: E402
from zoo.training.train import build_optimizer, compiled_objective, train_step  # noqa: E402


def _data(model, batch: int) -> torch.Tensor:
    obs = model.graph.observed[0]
    shape = (batch, *obs.shape)
    if obs.family == "discretized_logistic_mixture":
        return torch.randint(0, 256, shape).float().mul(2 / 255).sub(1)
    return torch.bernoulli(torch.full(shape, 0.3))


def measure(name: str, overrides: dict, batch: int, steps: int) -> dict:
    torch.manual_seed(0)
    eager = create_model(name, **overrides)
    compiled = create_model(name, **overrides)
    compiled.load_state_dict(eager.state_dict())
    x = _data(eager, batch)
    cfg = TrainConfig(steps=1, grad_clip=200.0, optimizer={"name": "adamax", "lr": 1e-4})
    runs = []
    for model, objective in ((eager, compute_objective), (compiled, compiled_objective())):
        model.train()
        opt = build_optimizer(model, cfg.optimizer)
        params = [p for p in model.parameters() if p.requires_grad]
        runs.append(lambda m=model, o=opt, p=params, f=objective: train_step(
            m, o, p, x, cfg, 1e-4, 1.0, contextlib.nullcontext(), f))
    start = time.perf_counter()
    runs[1]()  # compiles
    compile_s = time.perf_counter() - start
    runs[0](), runs[1]()
    times = ([], [])
    for i in range(steps):
        for k in ((0, 1) if i % 2 == 0 else (1, 0)):
            c = time.process_time()
            runs[k]()
            times[k].append(time.process_time() - c)
    e, c = statistics.median(times[0]), statistics.median(times[1])
    return {"model": name, "batch": batch, "eager_s": e, "compiled_s": c, "speedup": e / c, "compile_s": compile_s}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+")
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--steps", type=int, default=10, help="timed steps of each")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="a spec constant (all models)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    overrides = {k: int(v) if v.lstrip("-").isdigit() else v for k, v in (s.split("=", 1) for s in args.set)}
    print("| model | batch | eager step (CPU s) | compiled step (CPU s) | speed-up | first compiled step (wall s) |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in args.models:
        r = measure(name, overrides, args.batch, args.steps)
        print(f"| {name} | {r['batch']} | {r['eager_s']:.4f} | {r['compiled_s']:.4f} | {r['speedup']:.2f} | "
              f"{r['compile_s']:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
