"""The run report: the model card of a trained run's spec, and what the run measured.

Sections after the card's: the run (step, data, weights, the operative recipe), learning curves
and the KL of every layer over training (the ``kl/<latent>`` columns of ``log.csv``), an
evaluation on a stated split with a stated number of importance samples K and image limit
(importance-weighted NLL, negative ELBO, KL per layer, active units -- ``zoo eval``'s numbers),
samples, reconstructions, and the depth-wise attention maps where the model has attention. Every
figure's caption states the step, split, K and limit it came from. The figures come from the
same functions as ``zoo train``, ``zoo eval --plots`` and ``zoo sample`` (:mod:`zoo.analysis.plots`,
:mod:`zoo.analysis.sampling`, :mod:`zoo.analysis.attention_maps`), written to a temporary folder and inlined as
PNG; the per-layer KL over time, which no command draws, is drawn here.
"""
from __future__ import annotations

import io
import math
import os
import tempfile
from typing import Optional

import yaml

from .card import card_sections
from .page import caption, escape, page, png_figure, svg_figure, table

__all__ = ["run_report", "kl_over_time_svg"]


def run_report(run: str, *, importance_samples: int = 50, split: str = "test", limit: Optional[int] = 500,
               samples: int = 64, seed: int = 0, use_ema: bool = True, device: str = "cpu", data_root=None) -> str:
    """The HTML page of the report of the run folder `run`.

    Args:
        run: a run folder (``zoo train --out``) with a checkpoint.
        importance_samples: K of the importance-weighted NLL.
        split: the split to evaluate, reconstruct and attend on.
        limit: evaluate only the first `limit` images of the split (None: all of it).
        samples: how many samples to draw.
        seed: seed of the evaluation, the samples and the reconstructions.
        use_ema: use the EMA weights when the run kept them.
        device: where to run the model.
        data_root: where the data set is (default: the run's).
    """
    import torch

    from zoo.commands.eval import evaluate_run
    from zoo.errors import ZooError
    from zoo.training.runs import open_trained_model

    if not os.path.isdir(run):
        raise ZooError(f"{run}: not a run folder (zoo report RUN expects the folder zoo train --out wrote)")
    model, mg, ckpt, weights = open_trained_model(run, use_ema=use_ema)
    model.to(torch.device(device))
    step = ckpt["progress"].get("step")
    spec_name = ckpt["spec"]["name"]
    title, subtitle, sections = card_sections(mg, spec_name, ckpt["spec"].get("overrides"), model=model)
    result = evaluate_run(run, importance_samples=importance_samples, split=split, limit=limit, seed=seed,
                          data_root=data_root, use_ema=use_ema, device=device)
    where = {"step": step, "split": split, "K": importance_samples, "limit": result["examples"], "weights": weights}
    with tempfile.TemporaryDirectory(prefix="zoo-report-") as tmp:
        run_sections = [
            ("run", "Run", _run_summary(run, ckpt, weights)),
            ("curves", "Learning curves", _curves(run, tmp, step)),
            ("evaluation", "Evaluation", _evaluation(result, tmp, where)),
            ("samples", "Samples and reconstructions", _images(model, mg, ckpt, tmp, where, samples, seed, data_root)),
            ("attention", "Attention maps", _attention(model, mg, ckpt, tmp, where, seed, data_root)),
        ]
    title = f"{mg.name}: run report"
    subtitle = (f"{escape(os.path.abspath(run))} &middot; step {step:,} &middot; {escape(ckpt['data']['name'])} "
                f"&middot; {subtitle}")
    return page(title, subtitle, sections[:1] + run_sections + sections[1:])


def _run_summary(run: str, ckpt: dict, weights: str) -> str:
    progress = ckpt["progress"]
    rows = [("run folder", escape(os.path.abspath(run))), ("spec", escape(ckpt["spec"]["name"])),
            ("overrides", escape(", ".join(f"{k}={v}" for k, v in (ckpt["spec"].get("overrides") or {}).items()))
             or "none"),
            ("data", escape(str(ckpt["data"].get("name")))), ("step", f"{progress.get('step'):,}"),
            ("epoch", escape(str(progress.get("epoch")))),
            ("finished", "yes" if progress.get("finished") else "no (the report is of the last checkpoint)"),
            ("weights", escape(weights))]
    head = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    recipe = yaml.safe_dump(ckpt["config"], sort_keys=False, default_flow_style=None, width=100)
    return (f"<table>{head}</table><details><summary><b>The operative recipe</b> <span class=\"note\">the "
            f"training configuration this run used (the spec's recipe with the command line's changes), from its "
            f"checkpoint; click to show</span></summary><pre class=\"source\">{escape(recipe)}</pre></details>")


def _log_rows(run: str) -> list:
    from zoo.training.runlog import read_log

    path = os.path.join(run, "log.csv")
    return read_log(path) if os.path.exists(path) else []


def _curves(run: str, tmp: str, step) -> str:
    from zoo.analysis.plots import plot_learning_curves

    rows = _log_rows(run)
    if not rows:
        return '<p class="note">This run has no log.csv.</p>'
    steps = [r["step"] for r in rows if r.get("phase") == "train"]
    span = f"{steps[0]}..{steps[-1]}" if steps else "none"
    phases = sorted({r.get("phase") for r in rows})
    png = plot_learning_curves(os.path.join(run, "log.csv"), os.path.join(tmp, "curves.png"))
    out = [png_figure(_read(png), "learning curves",
                      caption("Negative ELBO, KL and schedules as logged during training: each point is the "
                              "mean over the logging interval of the training batches (train) or a pass over the "
                              "validation split (valid).", steps=span, split="/".join(phases)))]
    svg = kl_over_time_svg(rows)
    if svg is not None:
        out.append(svg_figure(svg, caption("KL of every latent layer over training (the kl/<latent> columns of "
                                           "log.csv; training batches, nats per example).", steps=span,
                                           split="train")))
    return "\n".join(out)


def kl_over_time_svg(rows: list) -> Optional[str]:
    """An SVG line plot of each layer's KL against the step (log scale when layers differ by 100x or more)."""
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    train = [r for r in rows if r.get("phase") == "train"]
    columns = [c for c in (train[0].keys() if train else ()) if c.startswith("kl/")]
    if not columns:
        return None
    steps = [float(r["step"]) for r in train]
    fig = Figure(figsize=(8.5, 3.6))
    FigureCanvasSVG(fig)
    ax = fig.add_subplot(1, 1, 1)
    cmap = _colours(len(columns))
    finals = []
    for colour, column in zip(cmap, columns):
        values = [_float(r[column]) for r in train]
        finals.append(values[-1])
        ax.plot(steps, values, color=colour, label=column[3:], linewidth=1.3)
    positive = [v for v in finals if v > 0 and math.isfinite(v)]
    if positive and max(positive) / min(positive) >= 100:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("KL (nats per example)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=max(1, len(columns) // 8), loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg")
    return buffer.getvalue()


def _colours(n: int) -> list:
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    return [cmap(i / max(1, n - 1) * 0.9) for i in range(n)]


def _float(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _evaluation(r: dict, tmp: str, where: dict) -> str:
    from zoo.analysis.plots import plot_active_units, plot_kl_per_layer

    rows = [["importance-weighted NLL", f"{r['nll_nats']:.3f} &plusmn; {r['nll_nats_sem']:.3f}",
             f"{r['nll_bpd']:.4f}"],
            ["negative ELBO", f"{r['neg_elbo_nats']:.3f}", f"{r['neg_elbo_bpd']:.4f}"],
            ["reconstruction", f"{r['recon_nats']:.3f}", ""], ["KL", f"{r['kl_nats']:.3f}", ""]]
    stamp = caption("", **where)
    out = [f"<p>{r['examples']:,} images of the {escape(where['split'])} split, K = {r['importance_samples']} "
           f"importance samples, seed {r['seed']}, {escape(where['weights'])} weights, at step {where['step']:,} "
           f"{stamp}. NLL &plusmn; its standard error over the images.</p>",
           table(["", "nats per image", "bits/dim"], rows, numeric=(1, 2))]
    kl_png = plot_kl_per_layer(r["kl_per_layer_nats"], os.path.join(tmp, "kl.png"))
    figures = [png_figure(_read(kl_png), "KL per layer", caption("KL per layer.", **where))]
    if any(v is not None for v in r["active_units"].values()):
        au_png = plot_active_units(r["active_units"], r["latent_units"], os.path.join(tmp, "au.png"))
        figures.append(png_figure(_read(au_png), "active units",
                                  caption(f"Active units (Var_x E_q[z] > {r['au_threshold']}).", **where)))
    out.append(f'<div class="two">{"".join(figures)}</div>')
    return "\n".join(out)


def _load(mg, ckpt: dict, split: str, data_root):
    from zoo.config import TrainConfig
    from zoo.training.runs import load_split

    info = ckpt.get("data") or {}
    root = data_root if data_root is not None else info.get("root")
    return load_split(info["name"], split, root, mg, validation=TrainConfig.from_dict(ckpt["config"]).validation)


def _images(model, mg, ckpt, tmp: str, where: dict, n: int, seed: int, data_root) -> str:
    from zoo.config import SampleConfig
    from zoo.analysis.sampling import reconstruction_images, sample_images, save_grid

    data = _load(mg, ckpt, where["split"], data_root)
    cfg = SampleConfig(n=n, seed=seed, reconstructions=16, split=where["split"])
    small = data[0].shape[-1] < 28 if hasattr(data, "__getitem__") else False
    samples = save_grid(sample_images(model, cfg, data.encoding), os.path.join(tmp, "samples.png"))
    images, nrow = reconstruction_images(model, data, cfg)
    recon = save_grid(images, os.path.join(tmp, "recon.png"), nrow)
    return ('<div class="two">' +
            png_figure(_read(samples), "samples",
                       caption(f"{n} samples from the generative model (temperature 1, the likelihood's mean).",
                               step=where["step"], seed=seed, weights=where["weights"]), pixels=small) +
            png_figure(_read(recon), "reconstructions",
                       caption("Rows of images and their reconstructions (the likelihood's mean given a posterior "
                               "sample).", step=where["step"], split=where["split"], seed=seed,
                               weights=where["weights"]), pixels=small) + "</div>")


def _attention(model, mg, ckpt, tmp: str, where: dict, seed: int, data_root) -> str:
    from zoo.analysis.attention_maps import attention_maps, plot_depthwise
    from zoo.analysis.evaluate import eval_batches

    if not any(getattr(info, "role", "") == "attention" for info in mg.ops()):
        return '<p class="note">This model has no attention blocks.</p>'
    data = _load(mg, ckpt, where["split"], data_root)
    x = next(eval_batches(data, 8, seed=seed, limit=8)).to(next(model.parameters()).device)
    maps = attention_maps(model, x, spatial=False)
    try:
        png = plot_depthwise(maps, os.path.join(tmp, "attention.png"))
    except ValueError as err:
        return f'<p class="note">{escape(str(err))}</p>'
    return png_figure(_read(png), "depth-wise attention",
                      caption("Depth-wise attention: the mean weight each layer puts on each earlier layer.",
                              step=where["step"], split=where["split"], limit=x.shape[0], weights=where["weights"]))


def _read(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()
