"""Learning curves and eval plots say what they show (issue 14, item 6, and issue 13's eval plots):
KL per layer over time, validation passes distinct from training means, the warm-up marked; eval
plots stamped with step, split and K, and not overwritten by another evaluation."""
from __future__ import annotations

import csv

import matplotlib
import pytest

matplotlib.use("Agg", force=True)
import matplotlib.pyplot as plt  # noqa: E402

from zoo.analysis import plots  # noqa: E402


def _log(path, *, warmup_steps: int, total: int = 100, valid_every: int = 50):
    columns = ["step", "epoch", "phase", "lr", "beta", "loss", "nelbo", "kl", "kl/z[1]", "kl/z[2]", "wall_s"]
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for step in range(10, total + 1, 10):
            beta = min(1.0, step / warmup_steps) if warmup_steps else 1.0
            writer.writerow(dict(step=step, epoch=0, phase="train", lr=1e-3, beta=beta, loss=100 - step / 10,
                                 nelbo=100 - step / 10, kl=5.0, **{"kl/z[1]": 0.01, "kl/z[2]": 4.99}, wall_s=step))
            if step % valid_every == 0:
                writer.writerow(dict(step=step, epoch=0, phase="valid", nelbo=98 - step / 10, kl=5.1,
                                     **{"kl/z[1]": 0.02, "kl/z[2]": 5.08}))
    return path


@pytest.fixture
def captured(monkeypatch):
    """The figure each plot function saves, kept open for inspection."""
    figures = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: figures.append(fig) or path)
    yield figures
    for fig in figures:
        plt.close(fig)


def test_learning_curves_show_kl_per_layer_validation_markers_and_the_warmup(tmp_path, captured):
    plots.plot_learning_curves(str(_log(tmp_path / "log.csv", warmup_steps=40)), str(tmp_path / "lc.png"), ema=True)
    (fig,) = captured
    nelbo, kl, per_layer, schedules = fig.axes[:4]
    labels = [line.get_label() for line in nelbo.lines]
    assert "train -ELBO (window mean)" in labels and "validation (EMA weights) -ELBO" in labels
    valid = next(line for line in nelbo.lines if line.get_label().startswith("validation"))
    assert valid.get_linestyle() == "None" and list(valid.get_xdata()) == [50.0, 100.0]  # markers only
    assert [line.get_label() for line in per_layer.lines if not line.get_label().startswith("_")] == ["z[1]", "z[2]"]
    assert per_layer.get_yscale() == "log"  # 0.01 vs 4.99 nats
    ends = [line for line in schedules.lines if list(line.get_xdata()) == [40.0, 40.0]]
    assert ends, "the end of the KL warm-up is marked at step 40"
    assert any("warm-up ends" in t.get_text() for t in schedules.texts)


def test_an_unfinished_warmup_is_said_in_the_title(tmp_path, captured):
    plots.plot_learning_curves(str(_log(tmp_path / "log.csv", warmup_steps=1000)), str(tmp_path / "lc.png"))
    assert "KL warm-up unfinished (beta = 0.1 at the end)" in captured[0].axes[3].get_title()


def test_no_warmup_no_annotation(tmp_path, captured):
    plots.plot_learning_curves(str(_log(tmp_path / "log.csv", warmup_steps=0)), str(tmp_path / "lc.png"))
    assert not captured[0].axes[3].texts and captured[0].axes[3].get_title() == "schedules"


def test_kl_bars_use_a_log_axis_only_across_orders_of_magnitude(tmp_path, captured):
    plots.plot_kl_per_layer({"z[1]": 0.01, "z[2]": 50.0}, str(tmp_path / "a.png"), title="stamp")
    plots.plot_kl_per_layer({"z[1]": 3.0, "z[2]": 50.0}, str(tmp_path / "b.png"))
    assert captured[0].axes[0].get_yscale() == "log" and captured[0].axes[0].get_title() == "stamp"
    assert captured[1].axes[0].get_yscale() == "linear"


def test_eval_plots_are_stamped_and_named_by_what_they_measured(tmp_path, capsys, captured):
    from zoo.commands.eval import _plots, plot_names

    result = {"checkpoint": str(tmp_path / "checkpoint.pt"), "model": "ladder", "overrides": {"L": 3}, "step": 300,
              "split": "test", "examples": 1000, "importance_samples": 100, "weights": "ema",
              "kl_per_layer_nats": {"z[1]": 0.5, "z[2]": 2.0}, "active_units": {"z[1]": 1, "z[2]": 3},
              "latent_units": {"z[1]": 4, "z[2]": 8}}
    kl_png, au_png = plot_names(result)
    assert kl_png.endswith("kl_per_layer_test_step300_k100_n1000.png")
    assert au_png.endswith("active_units_test_step300_k100_n1000.png")
    assert plot_names(dict(result, step=600))[0] != kl_png  # another step: another file
    _plots(result)
    title = captured[0].axes[0].get_title()
    assert "ladder (--set L=3), step 300, test (1,000 images), K = 100, ema weights" in title
    assert "plots:" in capsys.readouterr().err
    (tmp_path / kl_png).write_bytes(b"x")
    _plots(result)
    assert f"note: overwriting {kl_png}" in capsys.readouterr().err


# -- writing: atomic, and the end-of-run figure in a detached process ------------------------------

def test_a_failed_drawing_leaves_neither_a_partial_png_nor_a_temporary_file(tmp_path, monkeypatch):
    target = tmp_path / "lc.png"
    target.write_bytes(b"the previous figure")

    def fail_midway(self, fname, **kwargs):
        fname.write(b"\x89PNG half")
        raise KeyboardInterrupt

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", fail_midway)
    with pytest.raises(KeyboardInterrupt):
        plots.plot_learning_curves(str(_log(tmp_path / "log.csv", warmup_steps=40)), str(target))
    assert target.read_bytes() == b"the previous figure"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lc.png", "log.csv"]


def test_the_detached_drawing_writes_the_png_or_says_why_not(tmp_path, capfd):
    log = _log(tmp_path / "log.csv", warmup_steps=40)
    child = plots.draw_learning_curves_detached(str(log), str(tmp_path / "lc.png"), ema=True)
    assert child.wait(timeout=120) == 0
    assert (tmp_path / "lc.png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lc.png", "log.csv"]
    capfd.readouterr()
    child = plots.draw_learning_curves_detached(str(tmp_path / "missing.csv"), str(tmp_path / "x.png"))
    assert child.wait(timeout=120) == 1
    assert "could not be drawn" in capfd.readouterr().err and not (tmp_path / "x.png").exists()
