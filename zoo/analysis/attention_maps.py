"""Attention maps of a compiled model, and the plots of the deep attentive VAE's Appendix F.

Two kinds of maps:

* **depth-wise** -- for every `attend` block, the weights alpha_{m->l}(i, j) of its n contexts at
  every pixel, ``(B, n, H, W)``, labelled with the layer l whose context it computes, the layer of
  each attended context and the model it belongs to (``generative``: a prior's attention;
  ``inference``: a posterior's);
* **spatial** -- for every non-local block (inside residual cells or standalone), the weights
  ``softmax(s q^T k)`` over all pixels, ``(B, Q, H*W)``: one row per query pixel (all H*W of
  them, or the ones asked for, which keeps memory small for big models).

The maps are extracted with forward hooks that recompute the weights from the inputs the block
received; the forward pass itself is untouched, so a pass with maps recorded computes exactly
what one without does::

    maps = attention_maps(model, x)                 # eval mode, no gradients
    plot_depthwise(maps, "depthwise.png")           # layer x attended layer, mean over pixels
    plot_spatial(maps, "spatial.png", query=(8, 8))
"""
from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from typing import Iterator, Optional, Sequence

import torch

from ..nn.attention import Attend
from ..nn.nvae import NonLocal

__all__ = ["DepthwiseMap", "SpatialMap", "AttentionMaps", "record_attention", "attention_maps", "plot_depthwise",
           "plot_spatial"]

_INDEXED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\[(\d+)\]")


@dataclass
class DepthwiseMap:
    """The weights of one depth-wise attention block.

    Attributes:
        node: the block's node id, e.g. ``p[5]/update``.
        model: ``generative`` or ``inference``.
        layer: the layer whose context the block computes (the index of its statement), or None.
        sources: the layer each attended context comes from, in order (None where it has none).
        weights: ``(B, n, ...)``, summing to one over n at every pixel.
    """

    node: str
    model: str
    layer: Optional[int]
    sources: tuple
    weights: torch.Tensor


@dataclass
class SpatialMap:
    """The weights of one non-local block.

    Attributes:
        name: the module's path in the model, e.g. ``ops.e[3].blocks.0.nodes.1.nonlocal_block``.
        size: (H, W) of the feature it attends over.
        queries: the query pixels, as flat indices ``row * W + col``, one per row of `weights`.
        weights: ``(B, len(queries), H * W)``.
    """

    name: str
    size: tuple
    queries: tuple
    weights: torch.Tensor

    def image(self, query: tuple, example: int = 0) -> torch.Tensor:
        """The (H, W) map of where pixel `query` = (row, col) attends."""
        flat = query[0] * self.size[1] + query[1]
        if flat not in self.queries:
            raise KeyError(f"pixel {query} was not recorded; recorded: {[divmod(q, self.size[1]) for q in self.queries]}")
        return self.weights[example, self.queries.index(flat)].reshape(self.size)


@dataclass
class AttentionMaps:
    """Everything one recorded pass saw, in execution order."""

    depthwise: list = field(default_factory=list)
    spatial: list = field(default_factory=list)

    def layer_matrix(self, model: str = "generative"):
        """Mean attention weight of every layer on every attended layer (over examples and pixels).

        Returns:
            (layers, sources, matrix): the target layers (rows), the attended layers (columns) and
            a ``(len(layers), len(sources))`` tensor, NaN where a layer does not attend.
        """
        maps = [m for m in self.depthwise if m.model == model and m.layer is not None]
        layers = sorted({m.layer for m in maps})
        sources = sorted({s for m in maps for s in m.sources if s is not None})
        matrix = torch.full((len(layers), len(sources)), float("nan"))
        for m in maps:
            w = m.weights.float()  # (B, n, ...): pixels after n for convolutional blocks, none for MLP ones
            mean = w.reshape(w.shape[0], w.shape[1], -1).mean(dim=(0, 2))  # (n,)
            for s, w in zip(m.sources, mean.tolist()):
                if s is not None:
                    row, col = layers.index(m.layer), sources.index(s)
                    matrix[row, col] = w if torch.isnan(matrix[row, col]) else matrix[row, col] + w
        return layers, sources, matrix


def _layer_of(node: str) -> Optional[int]:
    match = _INDEXED.match(node)
    return int(match.group(1)) if match else None


def _source_layer(graph, node: str, seen=None) -> Optional[int]:
    """The layer of the named feature an attended input comes from (through anonymous blocks)."""
    info = graph.info(node)
    if getattr(info, "named", False) or not hasattr(info, "inputs"):
        return _layer_of(node)
    seen = seen or set()
    for _, inp in info.inputs:
        for src in (inp if isinstance(inp, tuple) else (inp,)):
            if src not in seen:
                seen.add(src)
                layer = _source_layer(graph, src, seen)
                if layer is not None:
                    return layer
    return None


def _depthwise_hook(maps: AttentionMaps, graph, node: str):
    info = graph.info(node)
    values = dict(info.inputs)["values"]
    sources = tuple(_source_layer(graph, v) for v in values)
    model = "generative" if "p" in graph.models_of(node) else "inference"

    def hook(module, args, kwargs, output):
        with torch.no_grad():
            weights = module.scores(**kwargs).detach().cpu()
        maps.depthwise.append(DepthwiseMap(node, model, _layer_of(node), sources, weights))
    return hook


def _spatial_hook(maps: AttentionMaps, name: str, queries: Optional[Sequence[tuple]]):
    def hook(module, args, kwargs, output):
        x = args[0] if args else kwargs["x"]
        h, w = x.shape[-2:]
        with torch.no_grad():
            weights = module.attention(x)  # (B, HW, HW)
        if queries is None:
            flat = tuple(range(h * w))
        else:
            flat = tuple(dict.fromkeys(min(r, h - 1) * w + min(c, w - 1) for r, c in queries))
            weights = weights[:, list(flat)]  # (B, Q, HW)
        maps.spatial.append(SpatialMap(name, (h, w), flat, weights.detach().cpu()))
    return hook


@contextlib.contextmanager
def record_attention(model, *, depthwise: bool = True, spatial: bool = True,
                     queries: Optional[Sequence[tuple]] = None) -> Iterator[AttentionMaps]:
    """Record the attention maps of every forward pass run inside the block.

    Args:
        model: a :class:`zoo.runtime.model.HierarchicalVAE`.
        depthwise, spatial: which kinds to record.
        queries: for spatial maps, the (row, col) query pixels to keep (clipped to each block's
            size); None keeps every row (H*W x H*W per block and example).

    Yields:
        An :class:`AttentionMaps` that fills up as passes run.
    """
    maps = AttentionMaps()
    handles = []
    try:
        if depthwise:
            for node, module in model.ops.items():
                if isinstance(module, Attend):
                    handles.append(module.register_forward_hook(_depthwise_hook(maps, model.graph, node),
                                                                with_kwargs=True))
        if spatial:
            for name, module in model.named_modules():
                if isinstance(module, NonLocal):
                    handles.append(module.register_forward_hook(_spatial_hook(maps, name, queries), with_kwargs=True))
        yield maps
    finally:
        for h in handles:
            h.remove()


def attention_maps(model, x, **kwargs) -> AttentionMaps:
    """Run the inference pass on `x` in eval mode without gradients and return its attention maps.

    Keyword arguments go to :func:`record_attention`. The model's train/eval mode is restored.
    """
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), record_attention(model, **kwargs) as maps:
            model(x)
    finally:
        model.train(was_training)
    return maps


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def plot_depthwise(maps: AttentionMaps, path: str, *, title: Optional[str] = None) -> str:
    """Heat maps of the depth-wise attention (Appendix F): for each model, the mean weight that
    every layer (rows) puts on every attended layer (columns). Writes a PNG and returns its path."""
    panels = [(m, *maps.layer_matrix(m)) for m in ("generative", "inference")]
    panels = [p for p in panels if p[1]]
    if not panels:
        raise ValueError("no depth-wise attention was recorded (does the model have attend blocks?)")
    fig = _figure(5.0 * len(panels), 4.5)
    for k, (model, layers, sources, matrix) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), k + 1)
        image = ax.imshow(matrix.numpy(), cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
        ax.set_xticks(range(len(sources)), [str(s) for s in sources], fontsize=7)
        ax.set_yticks(range(len(layers)), [str(s) for s in layers], fontsize=7)
        ax.set_xlabel("attended layer m")
        ax.set_ylabel("layer l")
        ax.set_title({"generative": "prior: alpha(m -> l)", "inference": "posterior: alpha(m -> l)"}[model])
        fig.colorbar(image, ax=ax, fraction=0.046)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path


def plot_spatial(maps: AttentionMaps, path: str, *, query: Optional[tuple] = None, example: int = 0,
                 max_panels: int = 12, title: Optional[str] = None) -> str:
    """Where one query pixel attends in each non-local block (Appendix F's spatial maps).

    Args:
        maps: recorded with spatial maps.
        path: the PNG to write.
        query: (row, col) of the query pixel in each block's own resolution (clipped to it);
            default: the centre, or the first recorded query.
        example: which example of the batch.
        max_panels: at most this many blocks, evenly spread over the recorded ones.
    """
    if not maps.spatial:
        raise ValueError("no spatial attention was recorded (does the model have non-local blocks?)")
    chosen = maps.spatial
    if len(chosen) > max_panels:
        step = len(chosen) / max_panels
        chosen = [chosen[int(i * step)] for i in range(max_panels)]
    cols = min(4, len(chosen))
    rows = -(-len(chosen) // cols)
    fig = _figure(3.0 * cols, 3.0 * rows)
    for k, m in enumerate(chosen):
        h, w = m.size
        if query is None:
            pix = (h // 2, w // 2) if len(m.queries) == h * w else divmod(m.queries[0], w)
        else:
            pix = (min(query[0], h - 1), min(query[1], w - 1))
        ax = fig.add_subplot(rows, cols, k + 1)
        ax.imshow(m.image(pix, example).numpy(), cmap="magma")
        ax.plot([pix[1]], [pix[0]], marker="x", color="cyan")
        ax.set_title(m.name.replace("ops.", ""), fontsize=6)
        ax.axis("off")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path
