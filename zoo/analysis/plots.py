"""Figures of a run, as PNG files (matplotlib, Agg backend; no display needed).

* :func:`plot_learning_curves`: the negative ELBO (train means and validation passes, told apart),
  its KL part, the KL of every layer, the KL weight beta and the learning rate against the training
  step, from ``log.csv``, with the KL warm-up marked.
* :func:`plot_kl_per_layer`: the mean KL of each latent layer, layer 1 (the top) on the left, as
  the papers' appendices show how the hierarchy is used (log axis across orders of magnitude).
* :func:`plot_active_units`: active units per layer out of the layer's units.
* :func:`draw_learning_curves_detached`: :func:`plot_learning_curves` in a detached interpreter,
  so that ``zoo train`` returns without waiting ~2 s for matplotlib at the end of a run.

Every figure is drawn into a temporary file beside its target and renamed onto it, so an
interrupted drawing never leaves a half-written PNG under the documented name.
"""
from __future__ import annotations

import math
import os
from typing import Optional

__all__ = ["plot_learning_curves", "plot_kl_per_layer", "plot_active_units", "draw_learning_curves_detached"]


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
    """Write ``fig`` to ``path`` all at once: drawn into a temporary file in the same folder, then
    renamed onto ``path`` (atomic), so a crash or a signal mid-drawing leaves the old file or none."""
    import tempfile

    import matplotlib.pyplot as plt

    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fig.tight_layout()
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            fig.savefig(f, dpi=120, format=os.path.splitext(path)[1][1:] or "png")
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    finally:
        plt.close(fig)
    return path


def _warmup_end(steps: list[float], betas: list[float]) -> Optional[float]:
    """The first logged step at which beta reached 1 after being below it (None: no warm-up logged)."""
    if not betas or min(betas) >= 1.0:
        return None
    for step, beta in zip(steps, betas):
        if beta >= 1.0:
            return step
    return math.inf  # still warming up at the end


def plot_learning_curves(log_csv: str, out_png: str, *, title: Optional[str] = None,
                         ema: Optional[bool] = None) -> str:
    """Learning curves from a run's ``log.csv``; returns the PNG path.

    Four panels against the training step: the negative ELBO, the total KL, the KL of every latent
    layer (log scale when layers differ by more than a factor 100), and the schedules (beta and the
    learning rate). Training rows are lines (means over ``log_every`` steps); validation passes are
    separate markers, labelled with the weights they used (EMA or not, when ``ema`` is known). The KL
    warm-up is shaded in every panel and its end marked; an unfinished one is said so in the title.
    """
    from ..training.runlog import read_log

    rows = read_log(log_csv)
    train = [r for r in rows if r.get("phase") == "train"]
    valid = [r for r in rows if r.get("phase") == "valid"]
    plt = _pyplot()
    fig, axes = plt.subplots(1, 4, figsize=(17, 3.9))
    valid_label = "validation" + {True: " (EMA weights)", False: "", None: ""}[ema]
    steps = [_float(r["step"]) for r in train]
    vsteps = [_float(r["step"]) for r in valid]
    for ax, key, name in ((axes[0], "nelbo", "-ELBO"), (axes[1], "kl", "KL")):
        if train:
            ax.plot(steps, [_float(r[key]) for r in train], "-", color="tab:blue", label=f"train {name} (window mean)")
        if valid:
            ax.plot(vsteps, [_float(r[key]) for r in valid], "D", color="tab:orange", markersize=6,
                    markeredgecolor="black", label=f"{valid_label} {name}")
    layers = [k for k in (rows[0].keys() if rows else []) if k.startswith("kl/")]
    if train and layers:
        cmap = plt.get_cmap("viridis")
        finite = []
        for i, key in enumerate(layers):
            values = [_float(r.get(key)) for r in train]
            finite += [v for v in values if math.isfinite(v) and v > 0]
            axes[2].plot(steps, values, "-", color=cmap(i / max(len(layers) - 1, 1)), label=key[3:], linewidth=1.2)
        if finite and max(finite) / max(min(finite), 1e-12) > 100:
            axes[2].set_yscale("log")
        axes[2].legend(fontsize=7, ncol=2 if len(layers) > 6 else 1, title="train, per layer", title_fontsize=7)
    if train:
        betas = [_float(r["beta"]) for r in train]
        axes[3].plot(steps, betas, color="tab:blue", label="KL weight beta")
        lr_axis = axes[3].twinx()
        lr_axis.plot(steps, [_float(r["lr"]) for r in train], color="tab:red", label="learning rate")
        lr_axis.set_ylabel("learning rate", color="tab:red")
        end = _warmup_end(steps, betas)
        if end is not None:
            right = steps[-1] if math.isinf(end) else end
            for ax in axes:
                ax.axvspan(0, right, color="gold", alpha=0.15, linewidth=0)
            if math.isinf(end):
                axes[3].set_title(f"schedules: KL warm-up unfinished (beta = {betas[-1]:.3g} at the end)",
                                  color="darkred", fontsize=9)
            else:
                for ax in axes:
                    ax.axvline(end, color="goldenrod", linestyle="--", linewidth=1)
                axes[3].annotate(f"warm-up ends\nstep {end:,.0f}", (end, 0.5), xytext=(4, 0),
                                 textcoords="offset points", fontsize=7, color="goldenrod")
    for ax, ylabel in zip(axes, ("nats per example", "nats per example", "nats per example", "beta")):
        ax.set_xlabel("step")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    for ax in axes[:2]:
        if ax.lines:
            ax.legend(fontsize=8)
    axes[0].set_title(title or "negative ELBO")
    axes[1].set_title("KL term")
    axes[2].set_title("KL per layer")
    if not axes[3].get_title():
        axes[3].set_title("schedules (KL warm-up shaded)" if train and _warmup_end(steps, betas) else "schedules")
    return _save(fig, out_png)


def plot_kl_per_layer(kl_per_layer: dict, out_png: str, *, title: Optional[str] = None) -> str:
    """Bars of the mean KL (nats) of each latent, in the spec's order (``z[1]``, the top, first)."""
    plt = _pyplot()
    names = list(kl_per_layer)
    fig, ax = plt.subplots(figsize=(max(4.0, 0.45 * len(names) + 2), 3.5))
    values = [kl_per_layer[n] for n in names]
    ax.bar(range(len(names)), values, color="tab:blue")
    positive = [v for v in values if v > 0]
    if positive and max(positive) / min(positive) > 100:  # layers differ by orders of magnitude
        ax.set_yscale("log")
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=45 if len(names) > 8 else 0, ha="right" if len(names) > 8 else "center")
    ax.set_ylabel("KL (nats per example)")
    ax.set_xlabel("latent layer (top of the hierarchy on the left)")
    ax.set_title(title or "KL per layer", fontsize=9 if title and len(title) > 60 else None)
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
    counted = f"{total} of {sum(units[n] for n in names)} active"
    ax.set_title(f"{title} ({counted})" if title else f"active units per layer ({counted})",
                 fontsize=9 if title and len(title) > 60 else None)
    ax.set_ylabel("units")
    ax.set_xlabel("latent layer (top of the hierarchy on the left)")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, out_png)


def draw_learning_curves_detached(log_csv: str, out_png: str, *, ema: Optional[bool] = None):
    """Start :func:`plot_learning_curves` in a new interpreter and return at once (its ``Popen``).

    ``zoo train`` draws its end-of-run figure this way: importing matplotlib and drawing cost ~2 s
    that the command need not wait for. The child runs in its own session, so a Ctrl-C at the
    terminal after the command returned does not stop it, and it writes the PNG atomically
    (:func:`_save`); if it fails, it says so on stderr (``zoo report RUN`` draws the curves too).
    """
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # this copy of zoo, not an installed one
    code = f"import sys; sys.path.insert(0, {root!r}); from zoo.analysis.plots import _main; sys.exit(_main(sys.argv[1:]))"
    return subprocess.Popen([sys.executable, "-c", code, log_csv, out_png, {True: "ema", False: "raw", None: "-"}[ema]],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True)


def _main(argv: list[str]) -> int:
    """``LOG_CSV OUT_PNG ema|raw|-``: the detached drawing of :func:`draw_learning_curves_detached`."""
    import sys

    log_csv, out_png, ema = argv
    try:
        plot_learning_curves(log_csv, out_png, ema={"ema": True, "raw": False, "-": None}[ema])
    except Exception as err:  # noqa: BLE001 -- the parent has returned; stderr is all that is left to tell
        print(f"zoo: the learning curves {out_png} could not be drawn ({type(err).__name__}: {err}); "
              "`zoo report` draws them from log.csv", file=sys.stderr)
        return 1
    return 0
