"""Exact resume: a run stopped by SIGTERM, resumed, killed with SIGKILL (kill -9) mid-run and
resumed again ends at exactly the weights, EMA and optimizer state of an uninterrupted run.

The interrupted runs are child processes (forked, so they start in a second instead of
re-importing torch) running the ``zoo train`` command; they are signalled while training, as a
user or a cluster scheduler would.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import time

import pytest
import torch

from tests.zoo.train_utils import assert_same_tensors, checkpoint_state, run_cli, tiny_train_args
from zoo.training.runlog import read_log

pytestmark = pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(),
                                reason="needs the fork start method")

STEPS = 300
#: Every feature whose state must survive an interruption: EMA, clipping, warm-ups crossing epoch
#: boundaries, a cosine schedule, validation passes (which must not disturb the random streams).
SETTINGS = ["ema=0.99", "grad_clip=5.0", "kl_warmup.name=linear", "kl_warmup.epochs=3", "kl_warmup.start=0.2",
            "lr_schedule.name=cosine", "lr_schedule.warmup_epochs=1", "lr_schedule.min_lr=1.0e-4",
            "optimizer.lr=3.0e-3", "validation=100", "eval_every_epochs=2", "checkpoint_every=25", "log_every=1"]


@pytest.fixture(autouse=True, scope="module")
def _warm_imports():
    """Import what a run imports lazily (the optimizer's torch._dynamo, matplotlib) once, so the
    forked children inherit it instead of each spending seconds on it."""
    import matplotlib.pyplot  # noqa: F401
    import torch._dynamo  # noqa: F401


def _child(argv):
    torch.set_num_threads(1)
    sys.exit(run_cli(argv))


def _start(argv) -> multiprocessing.Process:
    proc = multiprocessing.get_context("fork").Process(target=_child, args=(argv,), daemon=True)
    proc.start()
    return proc


def _last_step(run_dir) -> int:
    path = os.path.join(str(run_dir), "log.csv")
    if not os.path.exists(path):
        return -1
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    for line in reversed(lines[1:]):
        head = line.split(",", 1)[0]
        if head.isdigit():
            return int(head)
    return -1


def _wait_for_step(proc, run_dir, target: int, timeout: float = 300.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        step = _last_step(run_dir)
        if step >= target:
            return step
        if not proc.is_alive():
            pytest.fail(f"the training process ended (exit code {proc.exitcode}) before step {target}")
        time.sleep(0.002)
    proc.kill()
    pytest.fail(f"no step {target} within {timeout} s")


def _train_losses(run_dir) -> list[tuple[int, str]]:
    return [(int(r["step"]), r["loss"]) for r in read_log(os.path.join(str(run_dir), "log.csv"))
            if r["phase"] == "train"]


def test_sigterm_then_kill_9_then_resume_ends_at_the_uninterrupted_weights(tmp_path):
    interrupted, reference = tmp_path / "interrupted", tmp_path / "reference"
    argv = tiny_train_args(interrupted, steps=STEPS, sets=SETTINGS)

    # 1. SIGTERM while training: the step finishes, a checkpoint is written, the exit status is 128 + 15
    proc = _start(argv)
    _wait_for_step(proc, interrupted, 40)
    os.kill(proc.pid, signal.SIGTERM)
    proc.join(60)
    assert proc.exitcode == 128 + signal.SIGTERM
    stopped_at = checkpoint_state(interrupted)["progress"]["step"]
    assert 40 <= stopped_at < STEPS and not checkpoint_state(interrupted)["progress"]["finished"]

    # 2. resume, then kill -9 between two periodic checkpoints: the steps since the last one are lost
    proc = _start(["train", "--resume", str(interrupted), "--no-progress"])
    next_checkpoint = (stopped_at // 25 + 1) * 25
    killed_after = _wait_for_step(proc, interrupted, next_checkpoint + 12)
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(60)
    assert proc.exitcode == -signal.SIGKILL
    saved = checkpoint_state(interrupted)["progress"]["step"]
    assert stopped_at < saved < killed_after < STEPS, "killed mid-run, after a periodic checkpoint"

    # 3. resume to the end (in this process), and run the same command uninterrupted
    assert run_cli(["train", "--resume", str(interrupted), "--no-progress"]) == 0
    assert run_cli(tiny_train_args(reference, steps=STEPS, sets=SETTINGS)) == 0

    got, want = checkpoint_state(interrupted), checkpoint_state(reference)
    assert got["progress"] == want["progress"] and got["progress"]["step"] == STEPS
    assert_same_tensors(got["model"], want["model"], "weights")
    assert_same_tensors(got["ema"]["shadow"], want["ema"]["shadow"], "EMA weights")
    for a, b in zip(got["optimizer"]["state"].values(), want["optimizer"]["state"].values()):
        assert_same_tensors(a, b, "Adam moments")
    # the log of the interrupted run reads like the uninterrupted one (redone steps are not duplicated)
    assert _train_losses(interrupted) == _train_losses(reference)
    valid = [(r["step"], r["nelbo"]) for r in read_log(str(reference / "log.csv")) if r["phase"] == "valid"]
    assert valid and valid == [(r["step"], r["nelbo"]) for r in read_log(str(interrupted / "log.csv"))
                               if r["phase"] == "valid"]


def test_resuming_with_a_longer_schedule_continues_the_run(tmp_path, capsys):
    out = tmp_path / "run"
    assert run_cli(tiny_train_args(out, steps=10)) == 0
    assert run_cli(["train", "--resume", str(out), "--steps", "16", "--no-progress"]) == 0
    assert "resuming with changed settings (steps)" in capsys.readouterr().err
    ckpt = checkpoint_state(out)
    assert ckpt["progress"]["step"] == 16 and ckpt["config"]["steps"] == 16
    assert "steps: 16" in (out / "config.yaml").read_text()
    assert run_cli(["train", "--resume", str(out), "--steps", "12", "--no-progress"]) == 2
    assert "the run is at step 16, past the 12 steps asked for" in capsys.readouterr().err
    assert run_cli(["train", "--resume", str(out), "--steps", "20", "--recipe-set", "batch_size=30",
                    "--no-progress"]) == 2
    assert "needs the same data set, validation split, batch size and process count" in capsys.readouterr().err
