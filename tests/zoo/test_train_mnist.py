"""End to end on real MNIST (../shared/data): `zoo train`, then `zoo eval`; the test NLL must improve.

The default suite trains a narrow VAE (784-64-64-16) for 150 steps and requires its
importance-weighted test NLL to fall by at least 250 nats from the untrained model's (about 545
nats: roughly 784 ln 2 for pixels predicted at 1/2). The slow test trains the full Burda et al.
VAE (784-200-200-50) for 1,500 steps (2.7 epochs) and requires a test NLL below 135 nats
(128.4 when this was written; Burda et al. report 86.76 after 3280 epochs).
"""
from __future__ import annotations

import json

import pytest
import torch

from tests.zoo.train_utils import run_cli
from zoo.config import EvalConfig
from zoo.analysis.evaluate import evaluate_model
from zoo.registry import create_model
from zoo.training.runs import load_split


def _train_and_eval(tmp_path, shared_data, capsys, *, overrides, steps, sets, k, limit):
    out = tmp_path / "run"
    argv = ["train", "vae", "--data", "mnist", "--data-root", str(shared_data), "--steps", str(steps), "--out", str(out),
            "--no-progress", "--recipe-set", "batch_size=100", "--recipe-set", "lr_schedule.name=constant",
            "--recipe-set", "log_every=50", "--recipe-set", "seed=7"]
    for item in overrides:
        argv += ["--set", item]
    for item in sets:
        argv += ["--recipe-set", item]
    assert run_cli(argv) == 0
    capsys.readouterr()
    assert run_cli(["eval", str(out), "-k", str(k), "--limit", str(limit), "--json", "--no-progress"]) == 0
    return out, json.loads(capsys.readouterr().out)


def _untrained_nll(shared_data, overrides, k, limit) -> float:
    constants = {name: int(value) for name, value in (item.split("=") for item in overrides)}
    torch.manual_seed(7)
    model = create_model("vae", **constants)
    data = load_split("mnist", "test", str(shared_data), model.graph)
    return evaluate_model(model, data, EvalConfig(importance_samples=k, limit=limit, batch_size=250))["nll_nats"]


def test_mnist_short_run_improves_the_test_nll(tmp_path, shared_data, capsys):
    overrides = ["H=64", "D=16"]
    before = _untrained_nll(shared_data, overrides, k=20, limit=500)
    out, result = _train_and_eval(tmp_path, shared_data, capsys, overrides=overrides, steps=150,
                                  sets=["optimizer.lr=3.0e-3"], k=20, limit=500)
    assert before > 500
    assert result["nll_nats"] < before - 250, f"test NLL {before:.1f} -> {result['nll_nats']:.1f} nats"
    assert result["data"] == "mnist" and result["split"] == "test" and result["examples"] == 500
    assert result["step"] == 150 and result["active_units_total"] > 0


@pytest.mark.slow
def test_mnist_burda_vae_reaches_a_reasonable_nll(tmp_path, shared_data, capsys):
    out, result = _train_and_eval(tmp_path, shared_data, capsys, overrides=[], steps=1500,
                                  sets=["validation=5000", "eval_every_epochs=1"], k=200, limit=2000)
    assert result["nll_nats"] < 135, result
    assert result["nll_nats"] <= result["neg_elbo_nats"] + 3 * result["nll_nats_sem"]
