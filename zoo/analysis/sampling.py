"""Samples, reconstructions and pseudo-inputs of a trained model, as image grids (PNG).

* :func:`sample_images`: ancestral samples ``model.sample(n, temperature)``; the likelihood's
  mean by default (Bernoulli probabilities as grey levels; for 8-bit images the mixture's exact mean
  for one channel, its per-pixel mode for RGB: ``Distribution.point``).
* :func:`reconstruction_images`: test images and their reconstructions, in alternating rows.
* :func:`pseudo_input_images`: for models with pseudo-input variables (``mg.variables("pseudo")``,
  e.g. the DCT pseudo-inputs of the diffusion VampPrior), each sampled pseudo-input beside the
  image generated from it. A pseudo-input is shown as an image when it is image-shaped
  (``[1 or 3, H, W]``) and through every feature computed from it alone that has the data's
  shape (e.g. the inverse DCT); such panels are min-max scaled per image for display.
"""
from __future__ import annotations

import math
from typing import Optional

import torch

from ..config import SampleConfig

__all__ = ["to_display", "make_grid", "save_grid", "sample_images", "reconstruction_images",
           "pseudo_input_views", "pseudo_input_images"]


def to_display(x: torch.Tensor, encoding: str) -> torch.Tensor:
    """Model-domain images -> [0, 1] for display: {0,1}/probabilities as they are, [-1,1] rescaled."""
    x = x.detach().float().cpu()
    if encoding == "8bit":
        x = (x + 1.0) / 2.0
    return x.clamp(0.0, 1.0)


def _minmax(x: torch.Tensor) -> torch.Tensor:
    flat = x.reshape(x.shape[0], -1)
    low, high = flat.min(1).values, flat.max(1).values
    scale = torch.where(high > low, high - low, torch.ones_like(high))
    return ((flat - low[:, None]) / scale[:, None]).reshape(x.shape)


def make_grid(images: torch.Tensor, nrow: Optional[int] = None, pad: int = 2) -> torch.Tensor:
    """(N, C, H, W) in [0, 1] -> one (H', W', C) image with ``nrow`` images per row and white gaps."""
    n, c, h, w = images.shape
    nrow = nrow or max(1, int(math.ceil(math.sqrt(n))))
    rows = int(math.ceil(n / nrow))
    grid = torch.ones(c, rows * (h + pad) + pad, nrow * (w + pad) + pad)
    for i in range(n):
        r, k = divmod(i, nrow)
        top, left = pad + r * (h + pad), pad + k * (w + pad)
        grid[:, top:top + h, left:left + w] = images[i]
    return grid.permute(1, 2, 0)


def save_grid(images: torch.Tensor, path: str, nrow: Optional[int] = None) -> str:
    """Write images in [0, 1] as a PNG grid; returns the path."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    if images.shape[-1] < 28:  # upscale small images (8x8 digits) so the grid is legible
        factor = -(-28 // images.shape[-1])
        images = images.repeat_interleave(factor, dim=-2).repeat_interleave(factor, dim=-1)
    grid = make_grid(images, nrow).numpy()
    if grid.shape[2] == 1:
        plt.imsave(path, grid[:, :, 0], cmap="gray", vmin=0.0, vmax=1.0)
    else:
        plt.imsave(path, grid[:, :, :3])
    return path


def _seeded(model, seed: int):
    """Draw with torch seeded by ``seed``, leaving the caller's RNG state untouched."""
    from .evaluate import seeded

    return seeded(seed, next(model.parameters()).device)


@torch.no_grad()
def sample_images(model, cfg: SampleConfig, encoding: str) -> torch.Tensor:
    """``cfg.n`` samples from the generative model, as display images in [0, 1]."""
    model.eval()
    with _seeded(model, cfg.seed):
        x = model.sample(cfg.n, cfg.temperature, mean=cfg.mean)
    return to_display(x, encoding)


@torch.no_grad()
def reconstruction_images(model, data, cfg: SampleConfig) -> tuple[torch.Tensor, int]:
    """Rows of originals and their reconstructions (``cfg.reconstructions`` images, default 8 per row).

    Returns:
        ``(images, nrow)`` for :func:`save_grid`.
    """
    from .evaluate import eval_batches

    n = cfg.reconstructions or cfg.n
    nrow = cfg.nrow or 8
    model.eval()
    with _seeded(model, cfg.seed):
        x = next(eval_batches(data, n, seed=cfg.seed, limit=n))
        recon = model.reconstruct(x, mean=cfg.mean)
    rows = []
    for start in range(0, x.shape[0], nrow):
        rows += [to_display(x[start:start + nrow], data.encoding), to_display(recon[start:start + nrow], data.encoding)]
    images = torch.cat([_pad_row(r, nrow) for r in rows])
    return images, nrow


def _pad_row(row: torch.Tensor, nrow: int) -> torch.Tensor:
    if row.shape[0] == nrow:
        return row
    return torch.cat([row, torch.ones(nrow - row.shape[0], *row.shape[1:])])


def pseudo_input_views(mg, data_shape) -> dict[str, list[str]]:
    """For each pseudo-input, the feature nodes computed from it alone that have the data's shape,
    nearest first."""
    import networkx as nx

    from compiler.graph import OpInfo

    flow = mg.dataflow
    out = {}
    for var in mg.variables("pseudo"):
        found = []
        lengths = nx.single_source_shortest_path_length(flow, var.name)
        for node, dist in sorted(lengths.items(), key=lambda kv: kv[1]):
            info = mg.info(node)
            if not isinstance(info, OpInfo) or info.kind != "feature" or tuple(info.shape or ()) != tuple(data_shape):
                continue
            if _random_inputs(mg, flow, node) == {var.name}:
                found.append(node)
        out[var.name] = found
    return out


def _random_inputs(mg, flow, node: str) -> set:
    """The random variables a computation reads, directly or through other computations (the
    search stops at random variables, so a pseudo-input's own posterior inputs do not count)."""
    from compiler.nodes import VarInfo

    seen, stack, found = set(), [node], set()
    while stack:
        for parent in flow.predecessors(stack.pop()):
            if parent in seen:
                continue
            seen.add(parent)
            if isinstance(mg.info(parent), VarInfo):
                found.add(parent)
            else:
                stack.append(parent)
    return found


@torch.no_grad()
def pseudo_input_images(model, mg, cfg: SampleConfig, encoding: str) -> tuple[Optional[torch.Tensor], int, str]:
    """Each sampled pseudo-input (as an image and/or through its data-shaped features) beside the
    image generated from it: one row per sample.

    Returns:
        ``(images, nrow, legend)``; ``images`` is None when the model has no pseudo-inputs that
        can be shown.
    """
    data_shape = tuple(mg.observed[0].shape)
    views = pseudo_input_views(mg, data_shape)
    if not views:
        return None, 0, ""
    model.eval()
    captured: dict = {}
    hooks = [model.ops[node].register_forward_hook(
                 lambda module, inputs, output, node=node: captured.__setitem__(node, output))
             for nodes in views.values() for node in nodes if node in model.ops]
    try:
        with _seeded(model, cfg.seed):
            x, latents = model.sample(cfg.n, cfg.temperature, mean=cfg.mean, return_latents=True)
    finally:
        for hook in hooks:
            hook.remove()
    panels, legend = [], []
    for name, features in views.items():
        u = latents[name]
        if u.dim() == 4 and u.shape[1] in (1, 3):
            panels.append(_fit(_minmax(u.float().cpu()), data_shape))
            legend.append(f"{name} (min-max scaled)")
        for node in features:
            if node in captured:  # computed in the generative pass, from this very sample of u
                panels.append(_minmax(captured[node].float().cpu()))
                legend.append(f"{node} (min-max scaled)")
    if not panels:
        return None, 0, ""
    panels.append(to_display(x, encoding))
    legend.append("generated x")
    ncol = len(panels)
    images = torch.stack(panels, dim=1).reshape(-1, *panels[-1].shape[1:])
    return images, ncol, "columns: " + ", ".join(legend)


def _fit(u: torch.Tensor, data_shape) -> torch.Tensor:
    """Resize an image-shaped pseudo-input to the data's size (nearest) and channels, for the grid."""
    c, h, w = data_shape
    if u.shape[2:] != (h, w):
        u = torch.nn.functional.interpolate(u, size=(h, w), mode="nearest")
    if u.shape[1] != c:
        u = u.mean(1, keepdim=True).expand(-1, c, -1, -1)
    return u
