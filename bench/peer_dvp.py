"""dvp_mnist against the official DVP-VAE code (AKuzina/dvp_vae), side by side on this machine.

    python bench/peer_dvp.py /path/to/dvp_vae [--batch 250] [--rounds 10] [--threads 1]

The official code is not part of this repository: check it out (e.g. ``git clone
https://github.com/AKuzina/dvp_vae``) and give the folder. Its configuration
``configs/experiment/mnist/dvp_vae.yaml`` (resolved by hand below: 32 channels, a 7x7 DCT context
with a 25-step diffusion prior, two 4-scale latents, SiLU, no batch or weight normalisation) is
built without hydra; W&B, hydra, omegaconf, torchmetrics and six, which its modules import but a benchmark does not use,
are replaced by empty stand-ins; the diffusion prior's hard-coded ``device = 'cuda'`` is set to
the CPU. Its training step is the official one (``model.train_step``, backward,
``utils.trainer.optim_step`` with gradient clipping at 5 and Adamax, ``update_ema`` at 0.999).
Ours is ``zoo.training.train.train_step`` with the dvp_mnist recipe (Adamax, clipping at 5) plus the EMA
update.

Same batches: real MNIST training images (from --data-root), each batch given to the official
code as it loads it (grey levels in [-1, 1]; it binarises the target inside its loss) and to ours
binarised by ``torch.bernoulli`` inside the timed step. Both initialise their DCT normalisation
from the same images. Rounds alternate which goes first; every call's process CPU time and wall
time are recorded. Sampling: 100 and 1,000 images at temperature 1 in eval mode. Peak memory: the
growth of the peak resident set size from the built model over the training steps, each
implementation in a fresh process (``--worker``).

Targets (issue 15): ours / official <= 0.8 for the training step, <= 0.5 for sampling 100 and
1,000 images, <= 1 for memory growth.

Convolution floor of sampling (``--floor``): both implementations make the same convolution calls
(same shapes, same oneDNN kernels), so the CPU time ours spends inside them bounds from below what
any fp32 implementation of the same sampler can reach. The script times the convolution kernels of
one sampling of each size by ours and prints that time over the official sampling's median CPU
time: the smallest ratio reachable without changing the convolutions. (Training is left out: under
the dispatch hook that times the kernels, the backward convolutions of a training step took longer
than the whole step does without it, so that figure would not be a bound.)
"""
from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import types

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
MNIST = os.path.join(ROOT, "..", "shared", "data", "MNIST", "raw", "train-images-idx3-ubyte.gz")

# configs/experiment/mnist/dvp_vae.yaml over configs/model/context_ladder_vae.yaml and its encoder
# (small_ladder), decoder (context_ladder) and z_L_prior (ddgm) files, interpolations resolved.
MODEL = {"num_ch": 32, "scale_ch_mult": 1.0, "block_ch_mult": 1.0, "data_ch": 1, "data_dim": 28,
         "latent_scales": [4, 4], "latent_width": [1, 1], "weight_norm": False, "batch_norm": False,
         "activation": "silu", "start_scale_at_x": False}
OFFICIAL = {
    "_target_": "model.context_ladder_vae.CTX_LADDER_VAE", "name": "context_ladder", "prior": "standard",
    "likelihood": "bernoulli", "num_mix": 1, "beta_start": 1, "beta_end": 1, "warmup": 0, "is_k": 1000,
    "ctx_size": 7, "latent_scales": [4, 4], "latent_width": [1, 1], "activation": "silu", "batch_norm": False,
    "weight_norm": False, "padding_mode": "zeros", "num_ch": 32, "scale_ch_mult": 1.0, "block_ch_mult": 1.0,
    "start_scale_at_x": False, "pretrain_prior_epochs": 0, "ctx_type": "dct",
    "encoder": dict(MODEL, _target_="model.encoder.SmallLadderEncoder", num_init_blocks=0, num_blocks_per_scale=3,
                    dset="mnist"),
    "decoder": dict(MODEL, _target_="model.context_decoder.ContextLadderDecoder", num_blocks_per_scale=1,
                    num_postprocess_blocks=0, ctx_type="dct", ctx_size=7, padding_mode="zeros",
                    likelihood="bernoulli", num_mix=1, min_logvar=-10, decoder_res_mode="2x3", z_L_prior={
                        "_target_": "model.ddgm.DiffusionPrior", "T": 25, "t_sample": "uniform",
                        "parametrization": "eps", "ll": "gaussian", "cont_time": True,
                        "model": {"_target_": "utils.thirdparty.unet.UNetModel", "image_size": 7, "in_channels": 1,
                                  "out_channels": 1, "model_channels": 16, "num_res_blocks": 2, "dropout": 0.0,
                                  "num_heads": 1, "channel_mult": [1], "use_scale_shift_norm": True,
                                  "attention_resolutions": "tuple([])"},
                        "noise_schedule": {"_target_": "model.ddgm.LinearNoiseSchedule", "gamma_min": -6.0,
                                           "gamma_max": 7.0, "train": False}}),
}


def instantiate(cfg):
    """hydra.utils.instantiate for what the configuration uses: nested ``_target_`` dicts."""
    if isinstance(cfg, dict):
        cfg = {k: instantiate(v) for k, v in cfg.items()}
        target = cfg.pop("_target_", None)
        if target is None:
            return cfg
        module, name = target.rsplit(".", 1)
        return getattr(__import__(module, fromlist=[name]), name)(**cfg)
    if isinstance(cfg, list):
        return [instantiate(v) for v in cfg]
    return cfg


def _stub_modules():
    """Empty stand-ins for the packages the official modules import but a benchmark never calls."""
    wandb = types.ModuleType("wandb")
    wandb.log = lambda *a, **k: None
    wandb.save = lambda *a, **k: None
    wandb.Image = wandb.Histogram = lambda *a, **k: None
    wandb.run = types.SimpleNamespace(dir=".")
    hydra = types.ModuleType("hydra")
    hydra.utils = types.ModuleType("hydra.utils")
    hydra.utils.instantiate = instantiate
    import urllib.request

    six = types.ModuleType("six")
    six.moves = types.ModuleType("six.moves")
    six.moves.urllib = urllib
    torchmetrics = types.ModuleType("torchmetrics")  # FID during evaluation only
    omegaconf = types.ModuleType("omegaconf")
    omegaconf.DictConfig = dict
    sys.modules.update({"wandb": wandb, "hydra": hydra, "hydra.utils": hydra.utils, "six": six,
                        "six.moves": six.moves, "omegaconf": omegaconf, "torchmetrics": torchmetrics})


def mnist_batches(path: str, batch: int, count: int) -> list[torch.Tensor]:
    """`count` batches of real MNIST training images, grey levels in [0, 1], (B, 1, 28, 28)."""
    with gzip.open(path, "rb") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
    x = torch.from_numpy(images[: batch * count].astype(np.float32) / 255.0)
    return list(x.split(batch))


class Official:
    """The official model, optimizer and EMA, and its training step."""

    name = "official"

    def __init__(self, checkout: str, batches):
        sys.path.insert(0, checkout)
        _stub_modules()
        import utils.trainer as trainer
        from datasets.dct import DCT

        self.trainer = trainer
        torch.manual_seed(0)
        self.model = instantiate(OFFICIAL)
        self.ema = instantiate(OFFICIAL)
        self.ema.load_state_dict(self.model.state_dict())
        self.ema.requires_grad_(False)
        for m in list(self.model.modules()) + list(self.ema.modules()):
            if hasattr(m, "noise_schedule") and getattr(m, "device", None) == "cuda":
                m.device = torch.device("cpu")  # hard-coded 'cuda' in DiffusionPrior.__init__
        # DCT normalisation as DCT_dataset.preprocess_dct computes it, over the benchmark's images
        dct = DCT(28, 28)
        coeffs = torch.cat([dct.dct2(2 * x - 1) for x in batches])
        scale = torch.floor(coeffs).abs().max(0)[0]
        for m in (self.model, self.ema):
            m.decoder.decoder_blocks[0].dct_scale.data = scale[None, :, :7, :7]
        self.args = types.SimpleNamespace(grad_clip=5.0, grad_skip_thr=0, ema_rate=0.999)
        self.optimizer = torch.optim.Adamax(self.model.parameters(), lr=1e-2, eps=1e-8, weight_decay=1e-6)
        self.model.current_epoch = 0

    def step(self, x):
        self.model.train()
        loss, _ = self.model.train_step([2 * x - 1, torch.zeros(x.shape[0])], mode="train")
        loss.backward()
        if torch.isnan(loss).sum() == 0:
            self.trainer.optim_step(self.args, self.model, self.optimizer, None)
            with torch.no_grad():
                self.trainer.update_ema(self.model, self.ema, self.args.ema_rate)
        self.optimizer.zero_grad()

    @torch.no_grad()
    def sample(self, n):
        self.model.eval()
        return self.model.generate_x(n, t=1.0)


class Ours:
    """dvp_mnist with its recipe's optimizer, clipping and EMA, and zoo.training.train.train_step."""

    name = "zoo"

    def __init__(self, batches, compile: bool = False):
        from zoo.config import TrainConfig
        from zoo.training.ema import EMA
        from zoo.registry import create_model
        from zoo.runtime.objectives import compute_objective
        from zoo.training.train import build_optimizer, compiled_objective, train_step

        torch.manual_seed(0)
        self.model = create_model("dvp_mnist")
        gen = torch.Generator().manual_seed(0)
        self.model.initialize_from_data([torch.bernoulli(x, generator=gen) for x in batches])
        self.cfg = TrainConfig(steps=1, grad_clip=5.0, optimizer={"name": "adamax", "lr": 1e-2, "eps": 1e-8,
                                                                  "weight_decay": 1e-6})
        self.optimizer = build_optimizer(self.model, self.cfg.optimizer)
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.ema = EMA(self.model, 0.999)
        self._train_step = train_step
        self.objective = compiled_objective() if compile else compute_objective

    def step(self, x):
        self.model.train()
        self._train_step(self.model, self.optimizer, self.params, torch.bernoulli(x), self.cfg, 1e-2, 1.0,
                         contextlib.nullcontext(), self.objective)
        self.ema.update(self.model)

    @torch.no_grad()
    def sample(self, n):
        self.model.eval()
        return self.model.sample(n)


def _timed(fn, *args):
    c, w = time.process_time(), time.perf_counter()
    fn(*args)
    return time.process_time() - c, time.perf_counter() - w


def alternate(impls, op, args_per_round):
    """{name: [(cpu, wall), ...]}: one call of each per round, the first of each round alternating."""
    out = {i.name: [] for i in impls}
    for r, args in enumerate(args_per_round):
        for impl in (impls if r % 2 == 0 else impls[::-1]):
            out[impl.name].append(_timed(getattr(impl, op), *args))
    return out


def _peak_rss_mb() -> float:
    """This process's peak resident set size: VmHWM (Linux; reset by exec, unlike ru_maxrss, which a
    child started by a large process inherits), else ru_maxrss."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(which: str, checkout: str, batch: int, steps: int, data: str, compile: bool = False) -> dict:
    """Peak-RSS growth over `steps` training steps of one implementation, in this (fresh) process."""
    batches = mnist_batches(data, batch, steps)
    impl = Official(checkout, batches) if which == "official" else Ours(batches, compile)
    base = _peak_rss_mb()
    for x in batches:
        impl.step(x)
    return {"base_mb": base, "growth_mb": _peak_rss_mb() - base}


def convolution_seconds(fn, *args) -> float:
    """CPU seconds one call of `fn` spends inside convolution kernels, forward and backward.

    Each convolution is timed where it is dispatched (a ``TorchDispatchMode``), so the figure is
    that of the kernels themselves, without the profiler's bookkeeping."""
    from torch.utils._python_dispatch import TorchDispatchMode

    kernels = {torch.ops.aten.convolution.default}
    total = [0.0]

    class Timer(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if func not in kernels:
                return func(*args, **(kwargs or {}))
            start = time.process_time()
            out = func(*args, **(kwargs or {}))
            total[0] += time.process_time() - start
            return out

    with Timer():
        fn(*args)
    return total[0]


def _ratio(ours, theirs, k):
    return statistics.median(t[k] for t in ours) / statistics.median(t[k] for t in theirs)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkout", help="folder of the official code (github.com/AKuzina/dvp_vae)")
    ap.add_argument("--batch", type=int, default=250, help="training batch (the official MNIST config: 250)")
    ap.add_argument("--rounds", type=int, default=10, help="timed training steps of each")
    ap.add_argument("--sample-rounds", type=int, default=3, help="timed samplings of each size")
    ap.add_argument("--samples", type=int, nargs="*", default=[100, 1000])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--data", default=MNIST, help="MNIST train-images-idx3-ubyte.gz")
    ap.add_argument("--compile", action="store_true",
                    help="train ours through torch.compile (zoo train --compile); the first step compiles")
    ap.add_argument("--floor", action="store_true",
                    help="also report the convolution floor of sampling: ours' time in convolution kernels / official time")
    ap.add_argument("--worker", choices=["official", "zoo"], help=argparse.SUPPRESS)
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    checkout = os.path.abspath(args.checkout)
    if args.worker:
        print(json.dumps(worker(args.worker, checkout, args.batch, args.rounds, args.data, args.compile)))
        return 0
    if not os.path.isfile(os.path.join(checkout, "model", "context_ladder_vae.py")):
        raise SystemExit(f"{checkout}: not a checkout of AKuzina/dvp_vae (no model/context_ladder_vae.py)")
    batches = mnist_batches(args.data, args.batch, args.rounds + 2)
    impls = [Ours(batches, args.compile), Official(checkout, batches)]
    n_params = {i.name: sum(p.numel() for p in i.model.parameters()) for i in impls}
    print(f"parameters: zoo {n_params['zoo']:,}, official {n_params['official']:,}; batch {args.batch}, "
          f"{args.threads} thread(s)", flush=True)
    warm = time.perf_counter()
    alternate(impls, "step", [(b,) for b in batches[:2]])  # warm-up (and, with --compile, compilation)
    print(f"warm-up (2 steps each{', compiling ours' if args.compile else ''}): "
          f"{time.perf_counter() - warm:.0f} s", flush=True)
    rows = {"train step": alternate(impls, "step", [(b,) for b in batches[2:]])}
    for n in args.samples:
        alternate(impls, "sample", [(n,)])  # warm-up
        rows[f"sample {n}"] = alternate(impls, "sample", [(n,)] * args.sample_rounds)
    result = {"batch": args.batch, "threads": args.threads, "compile": args.compile, "parameters": n_params, "rows": {}}
    print("| | zoo (s, wall median) | official (s, wall median) | CPU-time ratio | wall ratio |")
    print("|---|---|---|---|---|")
    for name, t in rows.items():
        zw, ow = (statistics.median(x[1] for x in t[k]) for k in ("zoo", "official"))
        cpu, wall = _ratio(t["zoo"], t["official"], 0), _ratio(t["zoo"], t["official"], 1)
        result["rows"][name] = {"zoo_wall_s": zw, "official_wall_s": ow, "cpu_ratio": cpu, "wall_ratio": wall}
        print(f"| {name} | {zw:.3f} | {ow:.3f} | {cpu:.2f} | {wall:.2f} |", flush=True)
    if args.floor:
        print("| convolution floor | ours in conv kernels (CPU s) | official (CPU s, median) | floor ratio |")
        print("|---|---|---|---|")
        for n in args.samples:
            name = f"sample {n}"
            conv = convolution_seconds(impls[0].sample, n)
            official = statistics.median(x[0] for x in rows[name]["official"])
            result["rows"][name]["floor_ratio"] = conv / official
            print(f"| {name} | {conv:.3f} | {official:.3f} | {conv / official:.2f} |", flush=True)
    mem = {}
    for which in ("zoo", "official"):
        cmd = [sys.executable, os.path.abspath(__file__), checkout, "--worker", which, "--batch", str(args.batch),
               "--rounds", str(min(args.rounds, 5)), "--threads", str(args.threads), "--data", args.data] \
            + (["--compile"] if args.compile else [])
        mem[which] = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.splitlines()[-1])
    result["memory"] = mem
    print(f"| peak RSS growth (MB) | {mem['zoo']['growth_mb']:.0f} | {mem['official']['growth_mb']:.0f} | "
          f"{mem['zoo']['growth_mb'] / max(mem['official']['growth_mb'], 1e-9):.2f} | |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
