"""Training throughput and peak memory of each zoo spec for a fixed batch, on this machine.

    python bench/bench_train.py                      # every spec of the zoo
    python bench/bench_train.py vae ladder --steps 20 --batch-size 100
    python bench/bench_train.py nvae8 --set nvae8:C=64 --batch nvae8=4 --device cuda

Each spec runs in a fresh Python process (so one spec's memory does not count against the next):
the full-size model (or with --set SPEC:NAME=VALUE) is built, fed synthetic data of its observed
shape in the likelihood's domain ({0,1} for Bernoulli, 8-bit levels in [-1,1] for the logistic
mixture), and trained with the real update (`zoo.training.train.train_step`: objective, backward, gradient
clipping, Adamax) for `--warmup` untimed then `--steps` timed steps. Reported: parameters,
seconds per step, images per second, and peak memory -- the process's peak resident set size
(``resource.getrusage``; its size after building the model is shown as "base") on CPU, or
``torch.cuda.max_memory_allocated`` on a GPU.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: Batches for the convolutional CIFAR-10 models, whose steps take seconds on a CPU.
DEFAULT_BATCH = {"nvae8": 8, "nvae16": 8}


def _measure(spec: str, overrides: dict, batch: int, steps: int, warmup: int, device: str, threads: int) -> dict:
    import resource

    import torch

    torch.set_num_threads(threads)
    from zoo.config import TrainConfig
    from zoo.registry import create_model
    from zoo.training.train import build_optimizer, train_step

    torch.manual_seed(0)
    model = create_model(spec, **overrides).to(device)
    model.train()
    obs = model.graph.observed[0]
    shape = (batch, *obs.shape)
    if obs.family == "discretized_logistic_mixture":
        x = torch.randint(0, 256, shape).float().mul(2 / 255).sub(1)
    else:
        x = torch.bernoulli(torch.full(shape, 0.3))
    x = x.to(device)
    cfg = TrainConfig(steps=1, grad_clip=200.0, optimizer={"name": "adamax", "lr": 1e-3})
    optimizer = build_optimizer(model, cfg.optimizer)
    params = [p for p in model.parameters() if p.requires_grad]
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cuda = device.startswith("cuda")
    for _ in range(warmup):
        train_step(model, optimizer, params, x, cfg, 1e-4, 1.0, contextlib.nullcontext())
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for _ in range(steps):
        obj, _, reason = train_step(model, optimizer, params, x, cfg, 1e-4, 1.0, contextlib.nullcontext())
    if cuda:
        torch.cuda.synchronize()
    seconds = (time.perf_counter() - start) / steps
    return {
        "spec": spec, "overrides": overrides, "parameters": model.num_parameters(), "batch": batch,
        "shape": list(obs.shape), "device": device, "threads": threads, "steps": steps,
        "s_per_step": seconds, "images_per_s": batch / seconds,
        "peak_mb": (torch.cuda.max_memory_allocated() / 2 ** 20) if cuda
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "base_mb": None if cuda else base_rss, "loss": obj.loss.item(),
    }


def _parse_assignments(items, what):
    out: dict = {}
    for item in items:
        key, _, value = item.partition("=")
        if not value:
            raise SystemExit(f"{what} expects NAME=VALUE, got {item!r}")
        out[key] = value
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("specs", nargs="*", help="zoo model names (default: every spec)")
    parser.add_argument("--batch-size", type=int, default=100, help="batch of the specs not in --batch (default 100)")
    parser.add_argument("--batch", action="append", default=[], metavar="SPEC=N", help="batch of one spec")
    parser.add_argument("--set", action="append", default=[], metavar="SPEC:NAME=VALUE", help="a spec constant")
    parser.add_argument("--steps", type=int, default=10, help="timed steps (default 10)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first (default 2)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1: on a shared machine more threads oversubscribe)")
    parser.add_argument("--json", action="store_true", help="print JSON lines instead of a table")
    parser.add_argument("--_one", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._one:  # child process: measure one spec, print one JSON line
        job = json.loads(args._one)
        print(json.dumps(_measure(**job)))
        return 0
    sys.path.insert(0, ROOT)
    from zoo.registry import list_models

    specs = args.specs or [m.name for m in list_models()]
    batches = {k: int(v) for k, v in _parse_assignments(args.batch, "--batch").items()}
    overrides: dict = {}
    for item in args.set:
        spec, _, assignment = item.partition(":")
        name, _, value = assignment.partition("=")
        overrides.setdefault(spec, {})[name] = json.loads(value)
    rows = []
    for spec in specs:
        job = {"spec": spec, "overrides": overrides.get(spec, {}), "steps": args.steps, "warmup": args.warmup,
               "batch": batches.get(spec, DEFAULT_BATCH.get(spec, args.batch_size)), "device": args.device,
               "threads": args.threads}
        proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--_one", json.dumps(job)], cwd=ROOT,
                              capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=ROOT))
        if proc.returncode != 0:
            print(f"{spec}: failed\n{proc.stderr.strip()[-2000:]}", file=sys.stderr)
            continue
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        rows.append(row)
        if args.json:
            print(json.dumps(row), flush=True)
    if not args.json:
        print(_table(rows))
    return 0


def _table(rows) -> str:
    head = f"{'spec':<12}{'params':>13}{'batch':>7}  {'input':<12}{'s/step':>9}{'images/s':>10}{'peak MB':>10}{'base MB':>9}  device"
    lines = [head, "-" * len(head)]
    for r in rows:
        name = r["spec"] + ("*" if r["overrides"] else "")
        base = f"{r['base_mb']:.0f}" if r["base_mb"] is not None else "-"
        lines.append(f"{name:<12}{r['parameters']:>13,}{r['batch']:>7}  {'x'.join(map(str, r['shape'])):<12}"
                     f"{r['s_per_step']:>9.3f}{r['images_per_s']:>10.1f}{r['peak_mb']:>10.0f}{base:>9}  "
                     f"{r['device']} ({r['threads']} threads)")
    if any(r["overrides"] for r in rows):
        lines.append("* with --set overrides: " + "; ".join(f"{r['spec']} {r['overrides']}" for r in rows if r["overrides"]))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
