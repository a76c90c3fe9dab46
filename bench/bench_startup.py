"""What a user waits for before work starts: `zoo check vae`, and `zoo train`'s time to first step.

    python bench/bench_startup.py                  # 10 runs per measurement
    python bench/bench_startup.py --runs 5 --data-root ../shared/data

Every measurement runs in fresh interpreters, alternating the compared variants run by run, and
reports the median wall time and the median CPU time of the child processes (on a shared machine
read the CPU column). Measured:

* ``zoo check vae`` with bytecode caches (an installed package: ``PYTHONPYCACHEPREFIX`` to a warmed
  folder) against ``PYTHONDONTWRITEBYTECODE=1`` with no ``__pycache__`` in the source tree (every
  module of ``dsl``/``compiler``/``zoo`` compiled from source on each run); target < 0.3 s.
* ``zoo train vae --steps 3`` (the published size, 425k parameters, binarized MNIST): the reported
  "first step done" time and the wall time until the command returns.
* Building the optimizer and running one training step in an interpreter that has loaded torch and
  the model: ``torch.optim.Adamax`` (which imports ``torch._dynamo`` on construction and step)
  against ``zoo.training.optim.Adamax`` (which does not).
* The end-of-run figure: drawing ``learning_curves.png`` in the process (what ``zoo train`` did)
  against starting the detached drawing (what it does); the wall time the command waits.
"""
from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(argv, env=None) -> tuple[float, float, str]:
    """(wall s, CPU s of the child, stderr) of one fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{done.stderr[-3000:]}")
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, done.stderr + done.stdout


def _alternate(variants: dict, runs: int) -> dict:
    """variants: label -> (argv, env). Runs them in turn ``runs`` times; label -> lists of results."""
    results = {label: [] for label in variants}
    for i in range(runs):
        order = list(variants) if i % 2 == 0 else list(variants)[::-1]
        for label in order:
            results[label].append(_run(*variants[label]))
    return results


def _median(values) -> float:
    return statistics.median(values)


def _ms(s: float) -> str:
    return f"{s * 1e3:.0f} ms" if s < 1 else f"{s:.2f} s"


def check_startup(runs: int) -> None:
    python = sys.executable
    cached = tempfile.mkdtemp(prefix="zoo-pyc-")
    base = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")}
    variants = {
        "bytecode cached": ([python, "-m", "zoo.cli", "check", "vae"], dict(base, PYTHONPYCACHEPREFIX=cached)),
        "PYTHONDONTWRITEBYTECODE=1": ([python, "-m", "zoo.cli", "check", "vae"], dict(base, PYTHONDONTWRITEBYTECODE="1")),
        "python -c pass": ([python, "-c", "pass"], base),
    }
    _run(*variants["bytecode cached"])  # warm the cache
    stale = [d for d, _, _ in os.walk(os.path.join(ROOT, "dsl")) if os.path.basename(d) == "__pycache__"]
    results = _alternate(variants, runs)
    print(f"`zoo check vae`, {runs} fresh interpreters each (median wall / CPU):\n")
    print("| variant | wall | CPU |\n|---|---:|---:|")
    for label, rows in results.items():
        print(f"| {label} | {_ms(_median([r[0] for r in rows]))} | {_ms(_median([r[1] for r in rows]))} |")
    if stale:
        print("\n(note: dsl/ has __pycache__ folders, so the PYTHONDONTWRITEBYTECODE runs read them too)")
    print()


def train_startup(runs: int, data_root: str) -> None:
    python = sys.executable
    rows = []
    for _ in range(runs):
        out = os.path.join(tempfile.mkdtemp(prefix="zoo-train-"), "run")
        wall, cpu, text = _run([python, "-m", "zoo.cli", "train", "vae", "--data", "binarized_mnist", "--data-root",
                                data_root, "--steps", "3", "--no-progress", "--out", out])
        first = float(re.search(r"first step done ([\d.]+) s", text).group(1))
        rows.append((first, wall, cpu))
    print(f"`zoo train vae --data binarized_mnist --steps 3`, {runs} runs (median):\n")
    print("| first step done (reported) | command wall | command CPU |\n|---:|---:|---:|")
    print(f"| {_median([r[0] for r in rows]):.2f} s | {_median([r[1] for r in rows]):.2f} s | "
          f"{_median([r[2] for r in rows]):.2f} s |\n")


OPTIMIZER_PROBE = """
import sys, time, torch
torch.set_num_threads(1)
sys.path.insert(0, {root!r})
from zoo.registry import create_model
import zoo.training.optim
model = create_model("vae").train()
x = torch.bernoulli(torch.full((20, 1, 28, 28), 0.3))
from zoo.runtime.objectives import compute_objective
compute_objective(model, x).loss.backward()  # the autograd engine started outside the timing
start, cpu = time.perf_counter(), time.process_time()
cls = {cls}
opt = cls(model.parameters(), lr=1e-3)
opt.zero_grad()
compute_objective(model, x).loss.backward()
opt.step()
print(time.perf_counter() - start, time.process_time() - cpu, "torch._dynamo" in sys.modules)
"""


def _print_probe_table(results: dict, title: str, columns: list[str]) -> None:
    """A table of probes that print ``wall cpu [extra]``: the medians of the first two, the first
    run's extra words."""
    print(title + "\n")
    print("| " + " | ".join(columns) + " |\n|---|" + "---:|" * 2 + "---|" * (len(columns) - 3))
    for label, rows in results.items():
        parsed = [r[2].split() for r in rows]
        extra = [f" {w} |" for w in parsed[0][2:len(columns) - 1]]
        print(f"| {label} | {_ms(_median([float(p[0]) for p in parsed]))} | "
              f"{_ms(_median([float(p[1]) for p in parsed]))} |" + "".join(extra))
    print()


def optimizer_startup(runs: int) -> None:
    python = sys.executable
    variants = {cls: ([python, "-c", OPTIMIZER_PROBE.format(root=ROOT, cls=cls)], None)
                for cls in ("torch.optim.Adamax", "zoo.training.optim.Adamax")}
    _print_probe_table(_alternate(variants, runs),
                       f"Optimizer construction + one step of vae (batch 20), in-process timing, {runs} fresh "
                       "interpreters each:", ["optimizer", "wall", "CPU", "imports torch._dynamo"])


PLOT_PROBE = """
import sys, time
sys.path.insert(0, {root!r})
from zoo.analysis import plots
start, cpu = time.perf_counter(), time.process_time()
{call}
print(time.perf_counter() - start, time.process_time() - cpu)
"""


def plot_wait(runs: int, data_root: str) -> None:
    python = sys.executable
    run = os.path.join(tempfile.mkdtemp(prefix="zoo-train-"), "run")
    _run([python, "-m", "zoo.cli", "train", "vae", "--data", "binarized_mnist", "--data-root", data_root,
          "--steps", "20", "--no-progress", "--recipe-set", "log_every=2", "--out", run])
    log, png = os.path.join(run, "log.csv"), os.path.join(run, "lc.png")
    calls = {"in the process (before)": f"plots.plot_learning_curves({log!r}, {png!r}, ema=False)",
             "detached (now)": f"plots.draw_learning_curves_detached({log!r}, {png!r}, ema=False)"}
    variants = {label: ([python, "-c", PLOT_PROBE.format(root=ROOT, call=call)], None) for label, call in calls.items()}
    results = _alternate(variants, runs)
    time.sleep(3)  # let the last detached drawing finish
    _print_probe_table(results, f"End-of-run figure: what the command waits for, {runs} fresh interpreters each:",
                       ["drawing", "wall", "CPU of the command"])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--data-root", default=os.environ.get("ZOO_DATA", os.path.join(ROOT, "..", "shared", "data")))
    parser.add_argument("--only", choices=["check", "train", "optimizer", "plot"], nargs="+",
                        default=["check", "train", "optimizer", "plot"])
    args = parser.parse_args(argv)
    if "check" in args.only:
        check_startup(args.runs)
    if "optimizer" in args.only:
        optimizer_startup(args.runs)
    if "plot" in args.only:
        plot_wait(args.runs, args.data_root)
    if "train" in args.only:
        train_startup(max(3, args.runs // 2), args.data_root)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
