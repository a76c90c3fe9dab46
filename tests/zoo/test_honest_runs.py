"""A first real run must not mislead (issue 14, items 1-4): warnings when the run ends before its
recipe's warm-ups, --schedule-to-steps, the cheap eval hint and the time estimate, plain progress
lines off a terminal, and log.csv's wall_s."""
from __future__ import annotations

import io

import pytest

from tests.zoo.train_utils import run_cli, tiny_train_args
from zoo.config import TrainConfig
from zoo.training.progress import Progress, format_duration
from zoo.training.recipes import resolve_train_config
from zoo.registry import spec_path
from zoo.training.runlog import read_log
from zoo.training.schedules import schedule_values, schedule_warnings


def _recipe(name: str, **edits) -> TrainConfig:
    from zoo.training.recipes import recipe_path_for

    cfg, _ = resolve_train_config(recipe_path=recipe_path_for(spec_path(name)), steps=edits.pop("steps", None))
    return cfg.replace(**edits) if edits else cfg


def test_a_short_ladder_run_is_warned_about_its_kl_warmup():
    # the case: `zoo train ladder --data mnist --steps 300` (234 steps per epoch, warm-up 200 epochs)
    cfg = _recipe("ladder", steps=300)
    (warning,) = schedule_warnings(cfg, 234, 300)
    assert "before the KL warm-up" in warning and "200 epochs (46,800 steps)" in warning
    assert "beta = 0.005" in warning and "--schedule-to-steps" in warning
    assert schedule_warnings(_recipe("ladder"), 234, 2000 * 234) == []


def test_learning_rate_warmup_and_staircase_cut_short_are_warned_about():
    cfg = _recipe("vae", steps=100, lr_schedule={"name": "staircase", "warmup_epochs": 2.0})
    warnings = schedule_warnings(cfg, 100, 100)
    assert any("learning-rate warm-up" in w and "2 epochs" in w for w in warnings)
    assert any("staircase learning-rate schedule" in w and "3282 epochs" in w for w in warnings)


def test_schedule_to_steps_compresses_the_recipe_into_the_run():
    cfg = _recipe("ladder", steps=300, schedule_epochs=2000.0)
    assert schedule_warnings(cfg, 234, 300) == []
    betas = [schedule_values(cfg, s, 234, 300)[1] for s in range(300)]
    # 200 of 2000 epochs of warm-up = the first 30 of 300 steps, in whole recipe epochs
    assert betas[0] == 0.0 and betas[15] == pytest.approx(0.5) and betas[29] == pytest.approx(0.965)
    assert all(b == 1.0 for b in betas[30:])
    assert betas == sorted(betas)


def test_staircase_compressed_ends_at_its_last_stage():
    cfg = _recipe("vae", steps=328, schedule_epochs=3280.0)
    lrs = [schedule_values(cfg, s, 1000, 328)[0] for s in (0, 327)]
    assert lrs[0] == pytest.approx(1e-3) and lrs[1] == pytest.approx(1e-4)


def test_training_cli_warns_at_start_and_end_and_eval_repeats_it(tmp_path, capsys):
    out = tmp_path / "run"
    argv = tiny_train_args(out, steps=10, sets=["kl_warmup.name=linear", "kl_warmup.epochs=50"])
    assert run_cli(argv) == 0
    err = capsys.readouterr().err
    assert "warning: the run ends before the KL warm-up" in err
    assert "KL warm-up unfinished: the last step trained with beta = 0" in err
    assert f"zoo eval {out} -k 100 --limit 1000" in err and "the published protocol (K = 5,000" in err
    assert run_cli(["eval", str(out), "-k", "2", "--limit", "60", "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert "warning: trained with KL weight beta = 0" in captured.out
    assert "estimated time:" in captured.err and "for 60 images at K = 2" in captured.err
    assert "\r" not in captured.err
    rows = read_log(out / "log.csv")
    walls = [float(r["wall_s"]) for r in rows]
    assert walls == sorted(walls) and 0 < walls[-1] < 600, walls  # seconds since the start, not time.time()


def test_schedule_to_steps_on_the_command_line(tmp_path, capsys):
    out = tmp_path / "run"
    argv = tiny_train_args(out, steps=20, sets=["kl_warmup.name=linear", "kl_warmup.epochs=1640"],
                           extra=["--schedule-to-steps"])
    assert run_cli(argv) == 0
    err = capsys.readouterr().err
    assert "schedules: the recipe's 3280 epochs compressed into 20 steps" in err and "warning" not in err
    betas = [float(r["beta"]) for r in read_log(out / "log.csv") if r["phase"] == "train"]
    assert betas[0] < 1 and betas[-1] == 1.0


def test_resume_refuses_schedule_to_steps(tmp_path, capsys):
    assert run_cli(["train", "--resume", str(tmp_path), "--schedule-to-steps"]) == 2
    assert "drop --schedule-to-steps" in capsys.readouterr().err


def test_progress_off_a_terminal_prints_plain_lines():
    stream = io.StringIO()  # not a terminal: no tqdm, no carriage returns
    bar = Progress(100, desc="eval K=5", unit="img", every_s=0.0, file=stream)
    for _ in range(4):
        bar.update(25)
    bar.set_postfix(loss="1.5")
    bar.close()
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert lines[0].startswith("eval K=5: 25/100 img (25%)") and "img/s" in lines[0] and "ETA" in lines[0]
    assert lines[-1].startswith("eval K=5: 100/100 img (100%)") and lines[-1].endswith("; loss 1.5")
    quiet = io.StringIO()
    slow = Progress(100, desc="train", unit="step", every_s=3600.0, file=quiet)
    slow.update(50)
    assert quiet.getvalue() == ""  # at most one line per every_s


@pytest.mark.parametrize("seconds,text", [(7.44, "7.4s"), (125, "2m05s"), (3725, "1h02m"), (float("nan"), "?")])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def test_eval_time_estimate_suggests_the_cheap_command():
    from zoo.analysis.evaluate import time_estimate

    text = time_estimate(30.0, 100, 10_000, 5000)
    assert text.startswith("estimated time: 50m00s for 10,000 images at K = 5,000")
    assert "-k 100 --limit 1000" in text
    assert "-k 100" not in time_estimate(1.0, 100, 1000, 100)


