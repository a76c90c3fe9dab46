"""DVP-VAE vs the VampPrior: the scalability comparison of Kuzina & Tomczak's Table 6 (MNIST, 32 channels).

For dvp_mnist and vampprior_mnist with K = 500 and K = 1000 pseudo-inputs it measures

* the time of one training step (forward, backward, Adamax update) at the recipe's batch size,
* the peak memory of training (CUDA: max allocated; CPU: the growth of the process's peak RSS
  during the steps, each configuration in its own process),
* the time to sample 1,000 images,

and prints them with ratios to DVP-VAE (the paper reports seconds per epoch, GB and seconds per
1,000 samples on an A100). Data are random binary images: only speed and memory are measured.

Usage:
    python bench/bench_dvp.py [--batch 250] [--steps 3] [--device cpu|cuda] [--threads 1] [--json out.json]
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
CONFIGS = [("DVP", "dvp_mnist", {}), ("Vamp K=500", "vampprior_mnist", {"K": 500}),
           ("Vamp K=1000", "vampprior_mnist", {"K": 1000})]


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: kilobytes


def measure(name: str, overrides: dict, batch: int, steps: int, device: str, samples: int) -> dict:
    """Run one configuration in this process and return its numbers."""
    import torch

    sys.path.insert(0, ROOT)
    from zoo.registry import create_model

    torch.manual_seed(0)
    model = create_model(name, **overrides).to(device)
    x = (torch.rand(batch, 1, 28, 28, device=device) < 0.13).float()
    model.initialize_from_data([x])
    opt = torch.optim.Adamax(model.parameters(), lr=1e-3)

    def sync():
        if device == "cuda":
            torch.cuda.synchronize()

    def step():
        opt.zero_grad(set_to_none=True)
        (-model(x).elbo.mean()).backward()
        opt.step()

    step()  # warm-up (allocator, kernels)
    sync()
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    rss_before = _peak_rss_mb()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sync()
    step_time = (time.perf_counter() - start) / steps
    memory = torch.cuda.max_memory_allocated() / 2 ** 20 if device == "cuda" else _peak_rss_mb()
    model.eval()
    with torch.no_grad():
        model.sample(8)  # warm-up
        sync()
        start = time.perf_counter()
        model.sample(samples)
        sync()
        sample_time = (time.perf_counter() - start) * 1000.0 / samples
    return {"parameters": model.num_parameters(), "step_s": step_time, "memory_mb": memory,
            "rss_before_mb": rss_before, "sample_s_per_1000": sample_time}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=250, help="training batch (the MNIST recipe: 250)")
    parser.add_argument("--steps", type=int, default=3, help="timed training steps after one warm-up")
    parser.add_argument("--samples", type=int, default=1000, help="images sampled for the sampling time")
    parser.add_argument("--device", default="cuda" if _cuda() else "cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch threads on CPU")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--worker", nargs=2, metavar=("SPEC", "OVERRIDES"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        import torch

        torch.set_num_threads(args.threads)
        result = measure(args.worker[0], json.loads(args.worker[1]), args.batch, args.steps, args.device, args.samples)
        print(json.dumps(result))
        return 0
    rows = []
    for label, spec, overrides in CONFIGS:
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", spec, json.dumps(overrides),
               "--batch", str(args.batch), "--steps", str(args.steps), "--samples", str(args.samples),
               "--device", args.device, "--threads", str(args.threads)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT)
        rows.append((label, json.loads(out.stdout.strip().splitlines()[-1])))
        print(f"measured {label}", file=sys.stderr)
    base = rows[0][1]
    mem = "peak CUDA memory" if args.device == "cuda" else "peak RSS"
    print(f"device {args.device}, batch {args.batch}, {args.steps} timed steps, {args.samples} samples")
    print(f"{'model':<13}{'params':>11}{'step s':>9}{'x DVP':>7}{mem + ' MB':>20}{'x DVP':>7}"
          f"{'sample s/1000':>15}{'x DVP':>7}")
    for label, r in rows:
        print(f"{label:<13}{r['parameters']:>11,}{r['step_s']:>9.3f}{r['step_s'] / base['step_s']:>7.2f}"
              f"{r['memory_mb']:>20.0f}{r['memory_mb'] / base['memory_mb']:>7.2f}"
              f"{r['sample_s_per_1000']:>15.3f}{r['sample_s_per_1000'] / base['sample_s_per_1000']:>7.2f}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({"device": args.device, "batch": args.batch, "results": dict(rows)}, handle, indent=2)
    return 0


def _cuda() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:
        return False


if __name__ == "__main__":
    raise SystemExit(main())
