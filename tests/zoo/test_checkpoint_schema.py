"""Malformed checkpoints: every wrong field is named, with whether the weights are still usable (issue 16).

Each case loads safely (`weights_only=True`) but once crashed deep inside training or evaluation
(`KeyError: 'name'`, `AttributeError: 'int' object has no attribute 'encode'`...). Now `zoo train
--resume` refuses each with exit code 2 and a message naming the field, and `zoo eval` still
evaluates the weights when only the optimizer, RNG or progress counters are damaged.
"""
from __future__ import annotations

import json
import shutil

import pytest
import torch

from tests.zoo.train_utils import run_cli, tiny_train_args
from zoo.training.checkpoint import save_checkpoint


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("schema") / "run"
    torch.set_num_threads(1)
    assert run_cli(tiny_train_args(out, steps=4, sets=["ema=0.9"])) == 0
    return out


def _set(path, value):
    def edit(ckpt):
        *parents, last = path.split(".")
        node = ckpt
        for key in parents:
            node = node[key]
        if value is _DELETE:
            del node[last]
        else:
            node[last] = value(node[last]) if callable(value) else value
    return edit


_DELETE = object()


def _first_state(ckpt):
    return next(iter(ckpt["optimizer"]["state"].values()))


def _wrong_moment_shape(ckpt):
    _first_state(ckpt)["exp_avg"] = torch.zeros(3, 3, 3)


def _missing_param(ckpt):
    ckpt["optimizer"]["param_groups"][0]["params"].pop()


# (name, edit, field named in the message, weights still usable: eval exits 0)
CASES = [
    ("missing data name", _set("data.name", _DELETE), "data.name", False),
    ("EMA without shadow", _set("ema.shadow", _DELETE), "ema.shadow", False),
    ("EMA shadow of the wrong shape", _set("ema.shadow", lambda s: {k: v[..., :1] if v.dim() else v
                                                                   for k, v in s.items()}), "ema.shadow", False),
    ("non-string file entry", _set("spec.files", lambda f: {**f, 3: 4}), "spec.files", False),
    ("non-string file text", _set("spec.files", lambda f: {k: 7 for k in f}), "spec.files", False),
    ("overrides as a string", _set("spec.overrides", "L=3"), "spec.overrides", False),
    ("model weights as a list", _set("model", lambda m: list(m.values())), "model", False),
    ("optimizer state of the wrong type", _set("optimizer", "adam"), "optimizer", True),
    ("optimizer moment of the wrong shape", _wrong_moment_shape, "exp_avg", True),
    ("optimizer for fewer parameters", _missing_param, "optimizer.param_groups", True),
    ("optimizer moment of the wrong type", lambda c: _first_state(c).update(exp_avg="zeros"), "exp_avg", True),
    ("progress step as a string", _set("progress.step", "12"), "progress.step", True),
    ("progress epoch negative", _set("progress.epoch", -1), "progress.epoch", True),
    ("finished as a number", _set("progress.finished", 2), "progress.finished", True),
    ("torch RNG state of the wrong size", _set("rng.torch", lambda t: t[:100]), "rng.torch", True),
    ("python RNG state of the wrong size", _set("rng.python.state", lambda s: s[:10]), "rng.python", True),
    ("numpy RNG without keys", _set("rng.numpy.keys", _DELETE), "rng.numpy", True),
    ("steps per epoch as a float", _set("scheduler.steps_per_epoch", 2.5), "scheduler.steps_per_epoch", True),
]


@pytest.mark.parametrize("name,edit,field,usable", CASES, ids=[c[0] for c in CASES])
def test_a_malformed_checkpoint_is_named_field_by_field(run_dir, tmp_path, capsys, name, edit, field, usable):
    bad = tmp_path / "run"
    shutil.copytree(run_dir, bad)
    ckpt = torch.load(bad / "checkpoint.pt", weights_only=True)
    edit(ckpt)
    save_checkpoint({k: v for k, v in ckpt.items() if k not in ("format", "version")}, str(bad / "checkpoint.pt"))

    assert run_cli(["train", "--resume", str(bad), "--steps", "6", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"{bad / 'checkpoint.pt'} is damaged" in err and field in err, err
    assert "Traceback" not in err
    if usable:
        assert "the weights are still usable" in err
        assert run_cli(["eval", str(bad), "--limit", "20", "-k", "2", "--json"]) == 0, capsys.readouterr().err
    else:
        assert "still usable" not in err or "--no-ema" in err or "zoo eval" in err
        code = run_cli(["eval", str(bad), "--limit", "20", "-k", "2", "--json"])
        out = capsys.readouterr()
        assert code == 2 and "Traceback" not in out.err + out.out
        doc = json.loads(out.out)  # with --json the error is a JSON document on stdout
        assert doc["status"] == "error" and any(field in d["message"] for d in doc["diagnostics"]), doc


def test_an_intact_checkpoint_resumes(run_dir, tmp_path):
    good = tmp_path / "run"
    shutil.copytree(run_dir, good)
    assert run_cli(["train", "--resume", str(good), "--steps", "6", "--no-progress"]) == 0
