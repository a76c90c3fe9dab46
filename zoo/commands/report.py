"""Write a self-contained HTML page about a spec or a trained run.

    zoo report SPEC [--set NAME=VALUE] -o card.html
    zoo report RUN_DIR [-k K] [--split test] [--limit N] -o report.html

For a spec (a zoo model or a .hvae file), the model card: the spec's header, the graphical
model with its plates and the architecture (inline SVG, zoomable), the factorization verdict
with every violation or acknowledged departure (hover one to light up its active path on the
diagram), the parameters per component and the highlighted spec source. For a run folder, the
card of its spec plus learning curves, the KL of every layer over training, an evaluation
(importance-weighted NLL with K importance samples on the first N images of a split, KL per layer,
active units), samples, reconstructions, attention maps where the model has them, and the
operative recipe; every figure states the step, split, K and limit it came from. The page needs
no network and no files beside it. Diagrams need Graphviz's `dot` (without it the page says so).
See docs/diagrams.md.
"""
from __future__ import annotations

import argparse
import os

from .common import overrides_from

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="SPEC|RUN_DIR",
                        help="a model name, a .hvae file, or a run folder written by zoo train --out")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
                        help="SPEC: override a spec constant (repeatable)")
    parser.add_argument("-o", "--output", metavar="FILE.html",
                        help="where to write (default: NAME_card.html or NAME_report.html here)")
    parser.add_argument("--importance-samples", "-k", type=int, default=50, metavar="K",
                        help="RUN: importance samples of the NLL (default 50)")
    parser.add_argument("--split", default="test", help="RUN: the split to evaluate (default test)")
    parser.add_argument("--limit", type=int, default=500, metavar="N",
                        help="RUN: evaluate the first N images of the split (default 500; 0 for all)")
    parser.add_argument("--samples", type=int, default=64, metavar="N", help="RUN: samples to draw (default 64)")
    parser.add_argument("--seed", type=int, default=0, help="RUN: seed of evaluation and samples (default 0)")
    parser.add_argument("--no-ema", action="store_true", help="RUN: the raw weights even if the run kept an EMA")
    parser.add_argument("--device", default="cpu", help="RUN: cpu (default), cuda or cuda:N")
    parser.add_argument("--data-root", metavar="DIR", help="RUN: where the data set is (default: the run's)")


def run(args: argparse.Namespace) -> int:
    from zoo.errors import ZooError

    if args.output and not args.output.lower().endswith((".html", ".htm")):
        raise ZooError(f"zoo report writes HTML: name the file *.html, not {args.output}")
    if os.path.isdir(args.target):
        if args.overrides:
            raise ZooError("--set changes a spec; a run's spec is fixed by its checkpoint")
        from zoo.report import run_report

        text = run_report(args.target, importance_samples=args.importance_samples, split=args.split,
                          limit=args.limit or None, samples=args.samples, seed=args.seed, use_ema=not args.no_ema,
                          device=args.device, data_root=args.data_root)
        default = f"{os.path.basename(os.path.normpath(args.target))}_report.html"
    else:
        from zoo.report import model_card

        text = model_card(args.target, overrides_from(args))
        default = f"{os.path.splitext(os.path.basename(args.target))[0]}_card.html"
    path = args.output or default
    try:
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as err:
        raise ZooError(f"cannot write {path}: {err.strerror}") from err
    print(f"wrote {path} ({len(text.encode('utf-8')) // 1024:,} KiB)")
    return 0
