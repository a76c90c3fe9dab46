"""Train a small DVP-VAE briefly on MNIST and report both likelihood estimates side by side.

The standard importance-weighted bound (:meth:`HierarchicalVAE.log_likelihood`: sample-based
log-densities for every layer, the diffusion prior's bound as the log-weight of one joint
diffusion path) and the official code's estimate (:func:`zoo.analysis.breakdown.official_log_likelihood`:
analytic KLs for the Gaussian layers, the diffusion bound's grid average) are computed on the same
test images with the same number of importance samples, next to the ELBO breakdown and the
active units. The point is the difference between the two estimators, not the model's quality. A
third number separates the official estimate's two departures: analytic KLs with the sample-based
(T-step) diffusion bound.

Usage:
    python bench/dvp_estimates.py [--steps 300] [--batch 100] [--test 100] [--k 100] [--mnist DIR]
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import time

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL = dict(C=16, HID=16, NB=2)  # the MNIST architecture (8 latents, T = 25) with narrower blocks


def read_idx_images(path: str) -> np.ndarray:
    """An IDX image file (optionally gzipped) as uint8 (N, 1, H, W)."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as handle:
        raw = handle.read()
    n, h, w = (int.from_bytes(raw[i:i + 4], "big") for i in (4, 8, 12))
    return np.frombuffer(raw, np.uint8, offset=16).reshape(n, 1, h, w)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--test", type=int, default=100, help="test images to evaluate")
    parser.add_argument("--k", type=int, default=100, help="importance samples")
    parser.add_argument("--mnist", default=os.path.join(ROOT, "..", "shared", "data", "MNIST", "raw"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", help="also write the numbers to this file")
    parser.add_argument("--save", help="also save the trained weights (state_dict) to this file")
    args = parser.parse_args(argv)
    sys.path.insert(0, ROOT)
    from zoo.analysis.active_units import active_units
    from zoo.analysis.breakdown import mean_breakdown, official_log_likelihood
    from zoo.registry import create_model

    torch.set_num_threads(args.threads)
    torch.manual_seed(123)
    train = torch.from_numpy(read_idx_images(os.path.join(args.mnist, "train-images-idx3-ubyte.gz")).copy()).float() / 255
    test = torch.from_numpy(read_idx_images(os.path.join(args.mnist, "t10k-images-idx3-ubyte.gz"))[:args.test].copy()).float() / 255
    binarise = torch.bernoulli  # dynamic binarisation: a fresh sample each time a batch is drawn
    model = create_model("dvp_mnist", **SMALL)
    model.initialize_from_data(binarise(chunk) for chunk in train.split(1000))
    opt = torch.optim.Adamax(model.parameters(), lr=1e-2, weight_decay=1e-6)
    start = time.time()
    for step in range(args.steps):
        x = binarise(train[torch.randint(0, len(train), (args.batch,))])
        loss = -model(x).elbo.mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        if step % 50 == 0:
            print(f"step {step}: -elbo {loss.item():.1f} nats ({time.time() - start:.0f} s)", file=sys.stderr)
    model.eval()
    x = binarise(test)  # binarised once, reused by every importance sample
    with torch.no_grad():
        standard = model.log_likelihood(x, importance_samples=args.k, chunk=10).mean().item()
    official = official_log_likelihood(model, x, importance_samples=args.k, chunk=10).mean().item()
    analytic_only = official_log_likelihood(model, x, importance_samples=args.k, chunk=10,
                                            diffusion="trajectory").mean().item()
    table = mean_breakdown(model, [x])
    au = active_units(model, [x])
    out = {"steps": args.steps, "parameters": model.num_parameters(), "importance_samples": args.k,
           "test_images": len(x), "nll_standard": -standard, "nll_official": -official,
           "nll_analytic_kl_trajectory_diffusion": -analytic_only,
           "breakdown": table, "active_units": au.fraction, "active_units_per_layer": dict(au.per_layer),
           "train_seconds": time.time() - start}
    print(json.dumps(out, indent=2))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(out, handle, indent=2)
    if args.save:
        torch.save(model.state_dict(), args.save)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
