"""Figures of a run, as PNG files (matplotlib, Agg backend; no display needed).

* :func:`plot_learning_curves`: the negative ELBO (train and validation), its KL part, the KL
  weight beta and the learning rate against the training step, from ``log.csv``.
* :func:`plot_kl_per_layer`: the mean KL of each latent layer, layer 1 (the top) on the left, as
  the papers' appendices show how the hierarchy is used.
* :func:`plot_active_units`: active units per layer out of the layer's units.
"""
from __future__ import annotations

import math
import os
from typing import Optional

__all__ = ["plot_learning_curves", "plot_kl_per_layer", "plot_active_units"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _float(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _save(fig, path: str) -> str:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def plot_learning_curves(log_csv: str, out_png: str, *, title: Optional[str] = None) -> str:
    """Learning curves from a run's ``log.csv``; returns the PNG path."""
    from .runlog import read_log

    rows = read_log(log_csv)
    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for phase, style in (("train", "-"), ("valid", "o-")):
        part = [r for r in rows if r.get("phase") == phase]
        if not part:
            continue
        steps = [_float(r["step"]) for r in part]
        axes[0].plot(steps, [_float(r["nelbo"]) for r in part], style, label=f"{phase} -ELBO", markersize=3)
        axes[1].plot(steps, [_float(r["kl"]) for r in part], style, label=f"{phase} KL", markersize=3)
    train = [r for r in rows if r.get("phase") == "train"]
    if train:
        steps = [_float(r["step"]) for r in train]
        axes[2].plot(steps, [_float(r["beta"]) for r in train], label="KL weight beta")
        lr_axis = axes[2].twinx()
        lr_axis.plot(steps, [_float(r["lr"]) for r in train], color="tab:red", label="learning rate")
        lr_axis.set_ylabel("learning rate", color="tab:red")
    axes[0].set_ylabel("nats per example")
    axes[1].set_ylabel("nats per example")
    axes[2].set_ylabel("beta")
    for ax in axes:
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    axes[0].legend()
    axes[1].legend()
    axes[0].set_title(title or "negative ELBO")
    axes[1].set_title("KL term")
    axes[2].set_title("schedules")
    return _save(fig, out_png)


def plot_kl_per_layer(kl_per_layer: dict, out_png: str, *, title: Optional[str] = None) -> str:
    """Bars of the mean KL (nats) of each latent, in the spec's order (``z[1]``, the top, first)."""
    plt = _pyplot()
    names = list(kl_per_layer)
    fig, ax = plt.subplots(figsize=(max(4.0, 0.45 * len(names) + 2), 3.5))
    ax.bar(range(len(names)), [kl_per_layer[n] for n in names], color="tab:blue")
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=45 if len(names) > 8 else 0, ha="right" if len(names) > 8 else "center")
    ax.set_ylabel("KL (nats per example)")
    ax.set_xlabel("latent layer (top of the hierarchy on the left)")
    ax.set_title(title or "KL per layer")
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, out_png)


def plot_active_units(active: dict, units: dict, out_png: str, *, title: Optional[str] = None) -> str:
    """Bars of active units per latent layer over the layer's size (layers without a posterior mean skipped)."""
    plt = _pyplot()
    names = [n for n in active if active[n] is not None]
    fig, ax = plt.subplots(figsize=(max(4.0, 0.45 * len(names) + 2), 3.5))
    xs = range(len(names))
    ax.bar(xs, [units[n] for n in names], color="none", edgecolor="gray", label="units")
    ax.bar(xs, [active[n] for n in names], color="tab:green", label="active (Var_x E_q[z] > threshold)")
    ax.set_xticks(list(xs))
    ax.set_xticklabels(names, rotation=45 if len(names) > 8 else 0, ha="right" if len(names) > 8 else "center")
    total = sum(active[n] for n in names)
    ax.set_title(title or f"active units per layer ({total} of {sum(units[n] for n in names)})")
    ax.set_ylabel("units")
    ax.set_xlabel("latent layer (top of the hierarchy on the left)")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, out_png)
