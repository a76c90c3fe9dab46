"""Training-step time of the self-reflective VAE against its DLGM baseline, as a ratio.

Both models are the zoo's full-size specs (sere_mlp: SeRe Table 5; dlgm: the same MLP components
with mean-field inference). Each step is one Adam update on the batch-mean negative ELBO of the
same batch of binarised 28 x 28 images: forward, backward, optimizer step. The models take turns
step by step, so that load from other processes hits them alike; the ratio is the median over
rounds of (model's step time / DLGM's step time in the same round), after `--warmup` untimed rounds.

Usage:
    python bench/bench_sere.py [--batch 256] [--steps 20] [--warmup 3] [--threads 1] [--device cpu] [--json]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from zoo.registry import create_model  # noqa: E402

MODELS = ("dlgm", "sere_mlp", "sere_mlp_top")


def _step(model, opt, x) -> float:
    """Seconds for one Adam step on the batch-mean negative ELBO."""
    if x.device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    loss = -model(x).elbo.mean()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    if x.device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def interleaved_times(names, x: torch.Tensor, steps: int, warmup: int) -> dict[str, list[float]]:
    """Per model, the seconds of each timed step. The models take turns step by step (the order
    rotating every round), so a busy machine slows them alike and per-round ratios stay fair."""
    runs = {}
    for name in names:
        torch.manual_seed(0)
        model = create_model(name).to(x.device).train()
        runs[name] = (model, torch.optim.Adam(model.parameters(), lr=1e-3))
    times = {name: [] for name in names}
    for r in range(warmup + steps):
        order = names[r % len(names):] + names[: r % len(names)]
        for name in order:
            t = _step(*runs[name], x)
            if r >= warmup:
                times[name].append(t)
    return times


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256, help="batch size (SeRe Table 4: 256)")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    x = torch.bernoulli(torch.full((args.batch, 1, 28, 28), 0.13), generator=gen).to(args.device)
    times = interleaved_times(list(MODELS), x, args.steps, args.warmup)
    rows = {}
    for name in MODELS:
        t = times[name]
        ratios = [a / b for a, b in zip(t, times["dlgm"])]
        rows[name] = {"parameters": create_model(name).num_parameters(), "median_ms": 1e3 * statistics.median(t),
                      "min_ms": 1e3 * min(t), "max_ms": 1e3 * max(t),
                      "ratio_to_dlgm": statistics.median(ratios), "ratio_of_minima": min(t) / min(times["dlgm"])}
    result = {"batch": args.batch, "steps": args.steps, "threads": args.threads, "device": args.device,
              "torch": torch.__version__, "models": rows}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"training step (Adam, batch {args.batch}, {args.device}, {args.threads} thread(s), median of {args.steps})")
    print(f"  {'model':<14}{'parameters':>12}{'ms/step':>10}{'min':>9}{'max':>9}{'vs dlgm':>9}{'min/min':>9}")
    for name, r in rows.items():
        print(f"  {name:<14}{r['parameters']:>12,}{r['median_ms']:>10.1f}{r['min_ms']:>9.1f}{r['max_ms']:>9.1f}"
              f"{r['ratio_to_dlgm']:>8.2f}x{r['ratio_of_minima']:>8.2f}x")
    print("  vs dlgm: median over rounds of (step time / dlgm's step time in the same round)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
