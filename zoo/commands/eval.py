"""Evaluate a trained model: negative ELBO, importance-weighted NLL, KL per layer, active units.

    zoo eval RUN_DIR|CHECKPOINT [--importance-samples K] [--split test] [--json] [--plots]

The NLL is in nats for binary data and in bits/dim for 8-bit images (both are always in the
JSON); K defaults to the recipe's `importance_samples`. EMA weights are used when the run kept
them (--no-ema for the raw weights). See docs/training.md for the conventions.
"""
from __future__ import annotations

import argparse
import json
import os

__all__ = ["add_arguments", "run", "evaluate_run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", metavar="RUN_DIR|CHECKPOINT", help="a run folder or a checkpoint.pt file")
    parser.add_argument("--importance-samples", "-k", type=int, metavar="K",
                        help="importance samples per image (default: the recipe's importance_samples)")
    parser.add_argument("--split", default="test", help="test (default), valid or train")
    parser.add_argument("--batch-size", type=int, metavar="N", help="images per batch (default: the recipe's "
                        "eval_batch_size)")
    parser.add_argument("--limit", type=int, metavar="N", help="evaluate only the first N images of the split")
    parser.add_argument("--seed", type=int, default=0, help="seed of the binarization and the samples (default 0)")
    parser.add_argument("--data-root", metavar="DIR", help="where the data set is (default: the run's)")
    parser.add_argument("--no-ema", action="store_true", help="use the raw weights even if the run kept an EMA")
    parser.add_argument("--device", metavar="DEVICE", help="cpu, cuda or cuda:N (default: a GPU if there is one)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--out", metavar="FILE.json", help="also write the JSON object to FILE.json")
    parser.add_argument("--plots", action="store_true",
                        help="write kl_per_layer_<split>_step<N>_k<K>_n<images>.png and active_units_<...>.png "
                        "beside the checkpoint, titled with what they measured")
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bar: one plain line every 30 seconds (also when stderr is not a terminal)")


def evaluate_run(path: str, *, importance_samples=None, split: str = "test", batch_size=None, limit=None,
                 seed: int = 0, data_root=None, use_ema: bool = True, device=None, progress: bool = False) -> dict:
    """The full ``zoo eval`` JSON object for a run folder or checkpoint."""
    import torch

    from zoo.training.checkpoint import checkpoint_path
    from zoo.config import EvalConfig, TrainConfig
    from zoo.analysis.evaluate import evaluate_model
    from zoo.training.runs import load_split, open_trained_model

    model, mg, ckpt, weights = open_trained_model(path, use_ema=use_ema, for_eval=True)
    train_cfg = TrainConfig.from_dict(ckpt["config"])
    cfg = EvalConfig(importance_samples=importance_samples or train_cfg.importance_samples, split=split,
                     batch_size=batch_size or train_cfg.eval_batch_size, limit=limit, seed=seed, use_ema=use_ema,
                     analytic_kl=train_cfg.analytic_kl)
    data_info = ckpt.get("data") or {}
    root = data_root if data_root is not None else data_info.get("root")
    data = load_split(data_info["name"], split, root, mg, validation=train_cfg.validation)
    dev = torch.device(device) if device else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model.to(dev)
    # progress and scheduler state are not needed to evaluate: a damaged one (already reported by the
    # checkpoint's schema check) reads as unknown
    progress_info = ckpt.get("progress") if isinstance(ckpt.get("progress"), dict) else {}
    scheduler = ckpt.get("scheduler") if isinstance(ckpt.get("scheduler"), dict) else {}
    step = progress_info.get("step") if isinstance(progress_info.get("step"), int) else None
    if progress:
        import sys

        count = len(data) if limit is None else min(limit, len(data))
        print(f"evaluating {_described(ckpt['spec'].get('name'), ckpt['spec'].get('overrides'), mg.description)}; step "
              f"{format(step, ',') if step is not None else '(unknown)'} on {count:,} {split} images, K = {cfg.importance_samples:,}",
              file=sys.stderr)
        if _beta_warning(scheduler.get("beta")):
            print(_beta_warning(scheduler.get("beta")), file=sys.stderr)
    result = evaluate_model(model, data, cfg, device=dev, progress=progress)
    head = {
        "model": ckpt["spec"]["name"],
        "description": mg.description,
        "spec_sha256": ckpt["spec"]["sha256"],
        "overrides": ckpt["spec"].get("overrides", {}),
        "checkpoint": os.path.abspath(checkpoint_path(path)),
        "step": step,
        "epoch": progress_info.get("epoch"),
        "finished": progress_info.get("finished"),
        "beta": scheduler.get("beta"),
        "weights": weights,
        "data": data_info["name"],
        "split": split,
        "seed": seed,
        "batch_size": cfg.batch_size,
    }
    return {**head, **result}


def _described(name: str, overrides, description: str = "") -> str:
    from dsl.describe import titled

    return titled(name, overrides, description)


def _beta_warning(beta) -> str:
    """A line when the checkpoint was trained with a KL weight below 1 (an unfinished warm-up)."""
    if beta is None or beta != beta or beta >= 1:
        return ""
    return (f"  warning: trained with KL weight beta = {beta:.3g} at its last step (the KL warm-up did not finish), "
            "so the KL below is not that of a model trained for the ELBO; train longer or use "
            "zoo train --schedule-to-steps")


def _format(r: dict) -> str:
    lines = [_described(r["model"], r.get("overrides"), r.get("description", "")),
             f"  at step {r['step']:,} ({r['weights']} weights), {r['data']} {r['split']}: {r['examples']:,} images, "
             f"K = {r['importance_samples']}"]
    if _beta_warning(r.get("beta")):
        lines.append(_beta_warning(r.get("beta")))
    lines += [
             f"  NLL (importance-weighted)  {r['nll_nats']:.3f} nats  ({r['nll_bpd']:.4f} bits/dim)  "
             f"+- {r['nll_nats_sem']:.3f} (s.e.m.)",
             f"  negative ELBO              {r['neg_elbo_nats']:.3f} nats  ({r['neg_elbo_bpd']:.4f} bits/dim)",
             f"    reconstruction           {r['recon_nats']:.3f} nats",
             f"    KL                       {r['kl_nats']:.3f} nats",
             f"  active units               {r['active_units_total']} of "
             f"{sum(v for v in r['latent_units'].values() if v)} (threshold {r['au_threshold']})",
             "  per layer:  layer  KL (nats)  active / units"]
    for z, kl in r["kl_per_layer_nats"].items():
        active, units = r["active_units"].get(z), r["latent_units"].get(z)
        au = f"{active} / {units}" if active is not None else "n/a"
        lines.append(f"              {z:<6} {kl:9.3f}  {au}")
    return "\n".join(lines)


def plot_names(r: dict) -> tuple[str, str]:
    """The eval plots' paths beside the checkpoint, stamped with what they measured, so evaluations of
    another step, split, K or image count do not overwrite each other:
    ``kl_per_layer_test_step5000_k100_n1000.png`` and ``active_units_...``."""
    folder = os.path.dirname(r["checkpoint"])
    stamp = f"{r['split']}_step{r['step']}_k{r['importance_samples']}_n{r['examples']}"
    return (os.path.join(folder, f"kl_per_layer_{stamp}.png"), os.path.join(folder, f"active_units_{stamp}.png"))


def _plots(r: dict) -> None:
    import sys

    from zoo.analysis.plots import plot_active_units, plot_kl_per_layer

    kl_png, au_png = plot_names(r)
    stamp = (f"{_described(r['model'], r.get('overrides'))}, step {r['step']:,}, {r['split']} "
             f"({r['examples']:,} images), K = {r['importance_samples']:,}, {r['weights']} weights")
    for path in (kl_png, au_png):
        if os.path.exists(path):
            print(f"note: overwriting {path} (an evaluation with the same step, split, K and image count)",
                  file=sys.stderr)
    plot_kl_per_layer(r["kl_per_layer_nats"], kl_png, title=f"KL per layer: {stamp}")
    plot_active_units(r["active_units"], r["latent_units"], au_png, title=f"active units: {stamp}")
    print(f"plots: {kl_png}, {au_png}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    result = evaluate_run(args.run, importance_samples=args.importance_samples, split=args.split,
                          batch_size=args.batch_size, limit=args.limit, seed=args.seed, data_root=args.data_root,
                          use_ema=not args.no_ema, device=args.device,
                          progress="lines" if args.no_progress or args.json else True)
    text = json.dumps(result, indent=2)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
    if args.plots:
        _plots(result)
    print(text if args.json else _format(result))
    return 0
