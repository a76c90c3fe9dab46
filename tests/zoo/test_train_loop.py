"""The training loop: NaN/Inf skipping and its stop bound, clipping, EMA, bf16, data init, CLI errors."""
from __future__ import annotations

import math

import pytest
import torch

import zoo.training.train as train_module
from tests.zoo.train_utils import TINY_MODEL, checkpoint_state, run_cli, tiny_train_args
from zoo.config import TrainConfig
from zoo.training.ema import EMA
from zoo.registry import create_model
from zoo.training.runlog import read_log


def _poison(monkeypatch, bad_calls):
    """Make the objective NaN on the given (0-based) calls."""
    real = train_module.compute_objective
    calls = {"n": 0}

    def poisoned(*args, **kwargs):
        obj = real(*args, **kwargs)
        if calls["n"] in bad_calls:
            obj.loss = obj.loss * float("nan")
        calls["n"] += 1
        return obj

    monkeypatch.setattr(train_module, "compute_objective", poisoned)
    return calls


def test_nan_steps_are_skipped_and_counted(tmp_path, monkeypatch):
    _poison(monkeypatch, {3, 4, 9})
    out = tmp_path / "run"
    assert run_cli(tiny_train_args(out, steps=15, sets=["log_every=1"])) == 0
    ckpt = checkpoint_state(out)
    assert ckpt["progress"]["skipped_total"] == 3 and ckpt["progress"]["skipped_consecutive"] == 0
    assert all(torch.isfinite(t).all() for t in ckpt["model"].values())
    rows = [r for r in read_log(str(out / "log.csv")) if r["phase"] == "train"]
    assert [int(r["skipped"]) for r in rows][2:6] == [0, 1, 2, 2]
    assert math.isnan(float(rows[3]["loss"])) and math.isfinite(float(rows[5]["loss"]))


def test_consecutive_skips_stop_the_run_with_a_message(tmp_path, monkeypatch, capsys):
    _poison(monkeypatch, set(range(2, 1000)))
    out = tmp_path / "run"
    assert run_cli(tiny_train_args(out, steps=50, sets=["max_skips=4"])) == 2
    err = capsys.readouterr().err
    assert "4 consecutive steps were skipped (max_skips = 4)" in err and "non-finite loss" in err
    assert "zoo train --resume" in err
    ckpt = checkpoint_state(out)
    assert ckpt["progress"]["step"] == 6 and ckpt["progress"]["skipped_consecutive"] == 4
    assert not ckpt["progress"]["finished"]


def test_gradient_norm_above_grad_skip_is_skipped(tmp_path, capsys):
    out = tmp_path / "run"
    assert run_cli(tiny_train_args(out, steps=50, sets=["grad_skip=1e-9", "max_skips=3"])) == 2
    assert "above grad_skip = 1e-09" in capsys.readouterr().err
    ckpt = checkpoint_state(out)
    torch.manual_seed(TrainConfig.from_dict(ckpt["config"]).seed)
    initial = create_model("vae", W=8, H=16, D=4).state_dict()
    assert all(torch.equal(initial[k], ckpt["model"][k]) for k in initial), "no update was applied"


def test_nan_gradients_with_a_finite_loss_are_skipped():
    torch.manual_seed(0)
    model = create_model("vae", W=8, H=16, D=4)
    cfg = TrainConfig(steps=1, grad_clip=1e-3)
    optimizer = train_module.build_optimizer(model, cfg.optimizer)
    params = list(model.parameters())
    x = torch.bernoulli(torch.full((10, 1, 8, 8), 0.4))
    before = [p.detach().clone() for p in params]
    handle = params[0].register_hook(lambda g: g * float("inf"))
    _, norm, reason = train_module.train_step(model, optimizer, params, x, cfg, 1e-3, 1.0, torch.autocast("cpu", enabled=False))
    handle.remove()
    assert reason.startswith("non-finite gradient norm") and not math.isfinite(norm)
    assert all(torch.equal(a, b) for a, b in zip(before, params))
    obj, norm, reason = train_module.train_step(model, optimizer, params, x, cfg, 1e-3, 1.0,
                                           torch.autocast("cpu", enabled=False))
    assert reason is None and norm > 1e-3
    clipped = torch.sqrt(sum((p.grad ** 2).sum() for p in params if p.grad is not None))
    assert clipped.item() <= 1e-3 * 1.0001, "gradients are clipped to grad_clip before the update"


def test_ema_is_the_exponential_average_of_the_weights():
    model = torch.nn.Linear(2, 1)
    ema = EMA(model, 0.9)
    start = model.weight.detach().clone()
    with torch.no_grad():
        model.weight.add_(1.0)
    ema.update(model)
    assert torch.allclose(ema.shadow["weight"], 0.9 * start + 0.1 * model.weight)
    with ema.applied(model):
        assert torch.allclose(model.weight, ema.shadow["weight"])
    assert torch.allclose(model.weight, start + 1.0), "the raw weights come back"


def test_bf16_autocast_trains(tmp_path):
    out = tmp_path / "run"
    assert run_cli(tiny_train_args(out, steps=4, sets=["dtype=bf16", "log_every=2"])) == 0
    rows = read_log(str(out / "log.csv"))
    assert all(math.isfinite(float(r["loss"])) for r in rows)


def test_data_dependent_init_runs_once_before_the_first_step(tmp_path, monkeypatch):
    seen = []
    real = type(create_model("vae", W=8)).initialize_from_data

    def spy(self, batches):
        seen.append(sum(1 for _ in batches))
        return real(self, [])

    monkeypatch.setattr(type(create_model("vae", W=8)), "initialize_from_data", spy)
    out = tmp_path / "run"
    assert run_cli(tiny_train_args(out, steps=3, sets=["init_batches=2"])) == 0
    assert seen == [2]
    assert run_cli(["train", "--resume", str(out), "--steps", "5", "--no-progress"]) == 0
    assert seen == [2], "a resumed run keeps its initialisation"


def test_validation_rows_use_the_held_out_images(tmp_path):
    out = tmp_path / "run"
    assert run_cli(tiny_train_args(out, steps=30, sets=["validation=100", "eval_every_epochs=1"])) == 0
    rows = read_log(str(out / "log.csv"))
    valid = [r for r in rows if r["phase"] == "valid"]
    assert [int(r["step"]) for r in valid] == [28, 30], "after epoch 1 (1400 / 50 steps) and at the end"
    assert all(float(r["nelbo"]) > 0 for r in valid)


@pytest.mark.parametrize("argv, message", [
    (["train", "vae", "--data", "digits", "--steps", "2", "--out", "{tmp}/a"],
     "has images of shape [1, 8, 8] but the spec observes [1, 28, 28]"),
    (["train", "vae", "--data", "digits", "--steps", "2", "--out", "{tmp}/a"], "try --set W=8"),
    (["train", "vae", "--data", "cifar10", "--steps", "2", "--out", "{tmp}/a"], "scores binary (binarized) or binary data"),
    (["train", "vae", "--data", "mnits", "--set", "W=8", "--steps", "2", "--out", "{tmp}/a"], "mnist"),
    (["train", "vae", "--set", "W=8", "--steps", "2"], "give --out RUN_DIR"),
    (["train", "vae", "--data-root", "{tmp}/no-data", "--steps", "2", "--out", "{tmp}/a"],
     "`--data digits` trains on the embedded 8x8 digits"),
    (["train", "--steps", "2"], "give a SPEC to train"),
    (["train", "--resume", "{tmp}/nothing", "--set", "W=8"], "drop --set"),
    (["train", "--resume", "{tmp}"], "checkpoint not found"),
    (["train", "vaee", "--out", "{tmp}/a"], "no model named 'vaee'"),
    (["train", *TINY_MODEL, "--steps", "2", "--out", "{tmp}/a", "--recipe", "{tmp}/none.yaml"], "recipe file not found"),
    (["train", *TINY_MODEL, "--steps", "0", "--out", "{tmp}/a"], "--steps must be positive"),
    (["train", *TINY_MODEL, "--steps", "2", "--out", "{tmp}/a", "--recipe-set", "batch_size=5000"],
     "fewer than one global batch"),
])
def test_user_mistakes_are_clear_errors(tmp_path, capsys, argv, message):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert run_cli(argv) == 2
    assert message in capsys.readouterr().err


def test_an_existing_run_is_not_overwritten(tmp_path, capsys):
    out = tmp_path / "run"
    assert run_cli(tiny_train_args(out, steps=2)) == 0
    assert run_cli(tiny_train_args(out, steps=2)) == 2
    assert f"continue it with `zoo train --resume {out}`" in capsys.readouterr().err
    assert run_cli(["train", "--resume", str(out), "--no-progress"]) == 2
    assert "has finished (2 steps)" in capsys.readouterr().err
