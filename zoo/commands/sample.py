"""Draw samples from a trained model and write image grids.

    zoo sample RUN_DIR -n 64 [--temperature T] -o grid.png

Also writes GRID_reconstructions.png (test images over their reconstructions; needs the data
set) and, for models with pseudo-inputs, GRID_pseudo.png (each pseudo-input sample beside the
image generated from it). Images are the likelihood's mean unless --sample is given.
"""
from __future__ import annotations

import argparse
import os
import sys

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", metavar="RUN_DIR|CHECKPOINT", help="a run folder or a checkpoint.pt file")
    parser.add_argument("-n", type=int, default=64, help="number of samples (default 64)")
    parser.add_argument("--temperature", "-t", type=float, default=1.0,
                        help="multiplies every prior's standard deviation (default 1)")
    parser.add_argument("-o", "--output", default="samples.png", metavar="GRID.png", help="the PNG to write")
    parser.add_argument("--nrow", type=int, help="images per row (default: square grid)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sample", action="store_true", help="sample the likelihood instead of showing its mean")
    parser.add_argument("--reconstructions", type=int, default=32, metavar="N",
                        help="test images to reconstruct (0: no reconstruction grid; default 32)")
    parser.add_argument("--data-root", metavar="DIR", help="where the data set is (default: the run's)")
    parser.add_argument("--no-ema", action="store_true", help="use the raw weights even if the run kept an EMA")


def run(args: argparse.Namespace) -> int:
    from zoo.config import SampleConfig
    from zoo.errors import ZooError
    from zoo.training.runs import load_split, open_trained_model
    from zoo.analysis.sampling import pseudo_input_images, reconstruction_images, sample_images, save_grid

    if not args.output.lower().endswith(".png"):
        raise ZooError(f"-o must name a .png file, got {args.output}")
    cfg = SampleConfig(n=args.n, temperature=args.temperature, seed=args.seed, use_ema=not args.no_ema,
                       mean=not args.sample, nrow=args.nrow, reconstructions=args.reconstructions)
    model, mg, ckpt, weights = open_trained_model(args.run, use_ema=cfg.use_ema, for_eval=True)
    data_info = ckpt.get("data") or {}
    encoding = data_info.get("encoding", "binarize")
    folder = os.path.dirname(os.path.abspath(args.output))
    os.makedirs(folder, exist_ok=True)
    stem = os.path.splitext(args.output)[0]
    save_grid(sample_images(model, cfg, encoding), args.output, cfg.nrow)
    written = [f"{args.output}: {cfg.n} samples at temperature {cfg.temperature:g} ({weights} weights)"]
    if cfg.reconstructions:
        root = args.data_root if args.data_root is not None else data_info.get("root")
        try:
            data = load_split(data_info["name"], cfg.split, root, mg, validation=ckpt["config"].get("validation"))
        except ZooError as err:
            print(f"note: no reconstruction grid: {err}", file=sys.stderr)
        else:
            images, nrow = reconstruction_images(model, data, cfg)
            path = f"{stem}_reconstructions.png"
            save_grid(images, path, nrow)
            written.append(f"{path}: {data.name} {cfg.split} images (odd rows) and their reconstructions (even rows)")
    images, ncol, legend = pseudo_input_images(model, mg, cfg, encoding)
    if images is not None:
        path = f"{stem}_pseudo.png"
        save_grid(images, path, ncol)
        written.append(f"{path}: one row per sample; {legend}")
    print("\n".join(written))
    return 0
