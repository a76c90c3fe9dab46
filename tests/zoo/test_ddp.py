"""Data-parallel training: two processes on CPU with the gloo backend.

The two ranks run the ``zoo train`` command as torchrun would start it (RANK, WORLD_SIZE,
MASTER_ADDR, MASTER_PORT in the environment). What they must compute is written out in this test:
each optimizer step uses the average of the two ranks' gradients, rank r's gradient being that of
the mean loss over its half of the global batch (the global batch, its binarization and the rank's
noise being those the trainer documents). The result is compared with that reference computed in
one process, and with a single-process run where they should agree (the data each step sees).
"""
from __future__ import annotations

import multiprocessing
import os
import socket
import sys

import pytest
import torch

from tests.zoo.train_utils import TINY_SETS, checkpoint_state, run_cli, tiny_train_args
from zoo.training.runlog import read_log

pytestmark = pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(),
                                reason="needs the fork start method")

STEPS, BATCH = 12, 25
SETTINGS = ["optimizer.lr=3.0e-3", "grad_clip=2.0", "log_every=3", f"batch_size={BATCH}"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank(rank: int, world: int, port: int, argv) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    torch.set_num_threads(1)
    sys.exit(run_cli(argv))


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory):
    import matplotlib.pyplot  # noqa: F401  (imported once, inherited by the forked ranks)
    import torch._dynamo  # noqa: F401

    out = tmp_path_factory.mktemp("ddp") / "run"
    argv = tiny_train_args(out, steps=STEPS, sets=SETTINGS, extra=["--device", "cpu"])
    ctx = multiprocessing.get_context("fork")
    port = _free_port()
    procs = [ctx.Process(target=_rank, args=(r, 2, port, argv), daemon=True) for r in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(240)
    assert [p.exitcode for p in procs] == [0, 0]
    return out


def _reference(world: int):
    """The updates of a `world`-process run, computed in one process by summing the ranks' halves."""
    from zoo.runtime.lower import lower
    from zoo.config import TrainConfig
    from zoo.data import load_dataset, make_loader
    from zoo.training.distributed import step_seed
    from zoo.runtime.objectives import compute_objective
    from zoo.training.recipes import recipe_path_for, resolve_train_config
    from zoo.registry import compile_spec, spec_path
    from zoo.training.schedules import kl_beta, learning_rate
    from zoo.training.train import build_optimizer, model_input

    cfg, _ = resolve_train_config(recipe_path=recipe_path_for(spec_path("vae")), recipe_sets=TINY_SETS + SETTINGS,
                                  steps=STEPS)
    assert isinstance(cfg, TrainConfig)
    torch.manual_seed(cfg.seed)
    model = lower(compile_spec("vae", {"W": 8, "H": 16, "D": 4}))
    data = load_dataset("digits", "train")
    optimizer = build_optimizer(model, cfg.optimizer)
    loader = make_loader(data, BATCH * world, shuffle=True, seed=cfg.seed, drop_last=True)
    spe = len(loader)
    loader.set_epoch(0)
    for step, (index, batch) in enumerate(loader.indexed()):
        if step == STEPS:
            break
        x = model_input(batch, data.encoding, seed=cfg.seed, epoch=0, index=index)
        lr = learning_rate(cfg.lr_schedule, cfg.optimizer.lr, step / spe, STEPS / spe)
        for group in optimizer.param_groups:
            group["lr"] = lr
        optimizer.zero_grad()
        for rank in range(world):
            torch.default_generator.manual_seed(step_seed(cfg.seed, step, rank))
            obj = compute_objective(model, x[rank * BATCH:(rank + 1) * BATCH], beta=kl_beta(cfg.kl_warmup, 0))
            (obj.loss / world).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
    return model.state_dict()


def test_two_gloo_processes_average_their_gradients(ddp_run):
    ckpt = checkpoint_state(ddp_run)
    assert ckpt["progress"]["step"] == STEPS and ckpt["progress"]["finished"]
    expected = _reference(world=2)
    for name, value in expected.items():
        assert torch.allclose(ckpt["model"][name], value, rtol=1e-6, atol=1e-8), \
            f"{name}: max |diff| {(ckpt['model'][name] - value).abs().max().item():.3g}"


def test_only_rank_0_writes_logs_and_checkpoints(ddp_run):
    rows = read_log(str(ddp_run / "log.csv"))
    steps = [int(r["step"]) for r in rows if r["phase"] == "train"]
    assert steps == list(range(3, STEPS + 1, 3)), "one row per logged step, not one per rank"
    assert sorted(p.name for p in ddp_run.iterdir() if p.suffix in (".pt", ".tmp")) == ["checkpoint.pt"]
    assert "world_size: 2" in (ddp_run / "config.yaml").read_text()


def test_two_processes_see_the_global_batches_of_one_process(ddp_run, tmp_path):
    """Where they should agree: with twice the batch, one process steps through the same images
    (same number of steps per epoch, same binarized pixels); its weights differ only through the
    posterior noise, so they end close to the two-process weights but not equal."""
    single = tmp_path / "single"
    sets = [s for s in SETTINGS if not s.startswith("batch_size")] + [f"batch_size={2 * BATCH}"]
    assert run_cli(tiny_train_args(single, steps=STEPS, sets=sets)) == 0
    one, two = checkpoint_state(single), checkpoint_state(ddp_run)
    assert one["scheduler"]["steps_per_epoch"] == two["scheduler"]["steps_per_epoch"] == 1500 // (2 * BATCH)
    assert one["progress"] == two["progress"]
    diffs = [(one["model"][k] - two["model"][k]).abs().max().item() for k in one["model"]]
    assert 0 < max(diffs) < 0.05


@pytest.mark.slow
def test_torchrun_starts_the_zoo_command(tmp_path):
    """The documented launch: `torchrun --standalone --nproc_per_node 2 -m zoo.cli train ...`."""
    import pathlib
    import subprocess

    root = pathlib.Path(__file__).resolve().parents[2]
    out = tmp_path / "run"
    argv = tiny_train_args(out, steps=STEPS, sets=SETTINGS, extra=["--device", "cpu"])
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "zoo.cli", *argv]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(root))
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ckpt = checkpoint_state(out)
    expected = _reference(world=2)
    for name, value in expected.items():
        assert torch.allclose(ckpt["model"][name], value, rtol=1e-5, atol=1e-7), name


def _children(pid: int) -> list[int]:
    """Processes whose parent is `pid` (read from /proc, Linux)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry))
    return out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads worker processes from /proc")
def test_when_a_rank_is_killed_the_other_exits_and_the_run_resumes_to_the_end(tmp_path):
    """Rank loss (issue 16): SIGKILL one of two torchrun workers; the other exits within seconds
    (not at gloo's 30-minute timeout), and `--resume` finishes the run from the last checkpoint."""
    import pathlib
    import signal
    import subprocess
    import time

    root = pathlib.Path(__file__).resolve().parents[2]
    out = tmp_path / "run"
    steps = 400
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(root))
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "zoo.cli"]
    argv = tiny_train_args(out, steps=steps, sets=SETTINGS + ["checkpoint_every=10"], extra=["--device", "cpu"])
    agent = subprocess.Popen(launch + argv, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True)
    try:
        deadline = time.monotonic() + 300
        while not (out / "checkpoint.pt").exists() and time.monotonic() < deadline and agent.poll() is None:
            time.sleep(0.2)
        assert (out / "checkpoint.pt").exists(), "no checkpoint was written"
        workers = _children(agent.pid)
        assert len(workers) == 2, workers
        os.kill(workers[1], signal.SIGKILL)
        killed = time.monotonic()
        while _alive(workers[0]) and time.monotonic() - killed < 30:
            time.sleep(0.05)
        survivor_seconds = time.monotonic() - killed
        agent.wait(timeout=60)
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait()
    assert survivor_seconds < 5, survivor_seconds  # about a second on an idle machine
    assert agent.returncode != 0
    assert checkpoint_state(out)["progress"]["step"] < steps

    resume = launch + ["train", "--resume", str(out), "--no-progress", "--device", "cpu"]
    proc = subprocess.run(resume, cwd=root, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    progress = checkpoint_state(out)["progress"]
    assert progress["step"] == steps and progress["finished"] is True
