"""The cost of strongly connected layers: attentive16 vs nvae16, and the cost per layer.

For each configuration, in its own process, it builds the full-size model, runs one warm-up
training step and then times `--steps` steps of forward + backward of ``-elbo.mean()`` on one
batch of random CIFAR-sized images (only speed and memory are measured), and records

* the time of a step (the fastest of the timed steps: the least disturbed by other work on a
  shared machine),
* the peak memory of training: CUDA, the largest allocation (``max_memory_allocated``); CPU, the
  growth of the process's peak resident set over the steps (activations and gradients; the
  weights themselves are reported apart).

The configurations are attentive16, attentive16 without its non-local cells (depth-wise attention
only, Table 5 cases 7 and 15) and the NVAE baseline (attentive16 with its three mechanisms off,
which is nvae16's architecture) at L = 8 and L = 16, so the table shows the ratios at equal depth
and the marginal cost of one more layer of each; and the NVAE at L = 30, the depth of the NVAE in
the paper's Table 4 (ours is single-scale, so this is a proxy for that comparison).

Usage:
    python bench/bench_attentive.py [--batch 4] [--steps 2] [--threads 1] [--device cpu|cuda] [--depths 8,16,30]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NVAE = dict(depthwise_prior=False, depthwise_posterior=False, nonlocal_cells=False)


FAMILIES = ("attentive", "depthwise", "nvae")


def _configs(depths):
    out = []
    for L in depths:
        if L <= 16:
            out.append(("attentive", L, {"L": L}))
            out.append(("depthwise", L, {"L": L, "nonlocal_cells": False}))
        out.append(("nvae", L, {"L": L, **NVAE}))
    return out


def _rss_bytes() -> int:
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss is in KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def worker(overrides: dict, batch: int, steps: int, device: str, threads: int) -> dict:
    """One configuration, measured in this process."""
    import torch

    torch.set_num_threads(threads)
    from zoo.runtime.lower import lower
    from zoo.registry import compile_spec

    torch.manual_seed(0)
    model = lower(compile_spec("attentive16", overrides)).to(device)
    params = model.num_parameters()
    x = (torch.randint(0, 256, (batch, 3, 32, 32)).float() / 127.5 - 1).to(device)

    def step():
        model.zero_grad(set_to_none=False)
        loss = -model(x).elbo.mean()
        loss.backward()
        if device == "cuda":
            torch.cuda.synchronize()

    rss_before = _rss_bytes()
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    step()  # warm-up (allocates the gradients)
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    if device == "cuda":
        peak = torch.cuda.max_memory_allocated() - base
    else:
        peak = _rss_bytes() - rss_before
    return {"parameters": params, "weights_bytes": 4 * params, "step_s": min(times),
            "peak_bytes": peak, "threads": threads, "batch": batch, "device": device}


def _run(overrides, args) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", json.dumps(overrides), "--batch", str(args.batch),
           "--steps", str(args.steps), "--device", args.device, "--threads", str(args.threads)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--depths", default="8,16,30", help="comma-separated L values (attentive up to 16)")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        sys.path.insert(0, ROOT)
        print(json.dumps(worker(json.loads(args.worker), args.batch, args.steps, args.device, args.threads)))
        return 0

    results = {}
    for family, L, overrides in _configs([int(d) for d in args.depths.split(",")]):
        print(f"measuring {family} L={L} ...", file=sys.stderr, flush=True)
        results[(family, L)] = _run(overrides, args)

    print(f"forward + backward of -ELBO, batch {args.batch}, {args.device}, {args.threads} thread(s), "
          f"fastest of {args.steps} steps")
    print("attentive: attentive16; depthwise: without its non-local cells; nvae: all three mechanisms off")
    print(f"{'model':<12} {'L':>3} {'parameters':>13} {'step (s)':>9} {'s / layer':>10} {'peak (MiB)':>11}")
    for (family, L), r in sorted(results.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        print(f"{family:<12} {L:>3} {r['parameters']:>13,} {r['step_s']:>9.2f} {r['step_s'] / L:>10.3f} "
              f"{r['peak_bytes'] / 2 ** 20:>11.0f}")
    depths = sorted({L for _, L in results})
    for L in depths:
        for family in ("attentive", "depthwise"):
            if (family, L) in results and ("nvae", L) in results:
                a, n = results[(family, L)], results[("nvae", L)]
                print(f"L={L}: {family} / nvae  time x{a['step_s'] / n['step_s']:.2f}, "
                      f"peak memory x{a['peak_bytes'] / max(n['peak_bytes'], 1):.2f}, "
                      f"parameters x{a['parameters'] / n['parameters']:.2f}")
    for family in FAMILIES:
        pts = sorted((L, r["step_s"]) for (f, L), r in results.items() if f == family)
        if len(pts) >= 2:
            (l0, t0), (l1, t1) = pts[0], pts[-1]
            print(f"{family}: marginal cost of a layer (L={l0} -> {l1}): {(t1 - t0) / (l1 - l0):.3f} s per step")
    if ("attentive", 16) in results and ("nvae", 30) in results:
        a, n = results[("attentive", 16)], results[("nvae", 30)]
        print(f"attentive L=16 vs nvae L=30 (Table 4's depths): time x{a['step_s'] / n['step_s']:.2f}, "
              f"peak memory x{a['peak_bytes'] / max(n['peak_bytes'], 1):.2f}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({f"{f}{L}": r for (f, L), r in results.items()}, handle, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
