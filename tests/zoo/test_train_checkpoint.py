"""Checkpoints: self-describing round trip, atomic writes, refusal of corrupt or foreign files."""
from __future__ import annotations

import os
import pickle
import shutil

import pytest
import torch

from tests.zoo.train_utils import assert_same_tensors, run_cli, tiny_train_args
from zoo.training.checkpoint import load_checkpoint, rebuild_model, save_checkpoint, sha256_text
from zoo.errors import ZooError


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("ckpt") / "run"
    torch.set_num_threads(1)
    assert run_cli(tiny_train_args(out, steps=12, sets=["ema=0.9"])) == 0
    return out


def test_checkpoint_describes_the_whole_run(run_dir):
    ckpt = load_checkpoint(str(run_dir))  # a run folder is accepted as well as the file
    assert ckpt["format"] == "hvae-zoo-checkpoint" and ckpt["version"] == 1
    spec = ckpt["spec"]
    assert spec["name"] == "vae" and spec["overrides"] == {"W": 8, "H": 16, "D": 4}
    assert spec["sha256"] == sha256_text(spec["files"][spec["main"]])
    assert "let W = 28" in spec["files"][spec["main"]]
    assert ckpt["config"]["steps"] == 12 and ckpt["config"]["ema"] == 0.9
    assert ckpt["recipe"]["batch_size"] == 50 and ckpt["data"]["name"] == "digits"
    assert ckpt["progress"]["step"] == 12 and ckpt["progress"]["finished"] is True
    assert ckpt["optimizer"]["state"], "the optimizer's moments are saved"
    assert set(ckpt["rng"]) >= {"torch", "numpy", "python"}
    assert ckpt["scheduler"]["steps_per_epoch"] == 1500 // 50
    assert set(ckpt["ema"]["shadow"]) == set(ckpt["model"])
    # the run folder also holds the spec text and the operative config
    assert (run_dir / "spec" / "vae.hvae").read_text() == spec["files"]["vae.hvae"]
    assert "config:" in (run_dir / "config.yaml").read_text()


def test_the_model_is_rebuilt_from_the_stored_spec_text(run_dir, tmp_path):
    ckpt = load_checkpoint(str(run_dir))
    model, mg = rebuild_model(ckpt)
    assert tuple(mg.observed[0].shape) == (1, 8, 8)
    assert_same_tensors(model.state_dict(), ckpt["model"], "weights")
    ema_model, _ = rebuild_model(ckpt, weights="ema")
    assert not all(torch.equal(a, b) for a, b in zip(ema_model.state_dict().values(), model.state_dict().values()))


def test_a_spec_with_imports_survives_the_deletion_of_its_files(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "base.hvae").write_text(
        "let W = 28\nobserved x : [1, W, W] ~ bernoulli\nlatent z : [3] ~ normal\n"
        "prior z = normal(loc = 0, scale = 1)\nposterior z | x = mlp(x, hidden = [8])\n"
        "likelihood x | z = mlp(z, hidden = [8])\n")
    (tmp_path / "tiny.hvae").write_text('model "tiny"\nimport "lib/base.hvae" with (W = 8)\n')
    out = tmp_path / "run"
    argv = ["train", str(tmp_path / "tiny.hvae"), "--data", "digits", "--steps", "3", "--out", str(out),
            "--no-progress", "--recipe-set", "batch_size=100"]
    assert run_cli(argv) == 0
    shutil.rmtree(tmp_path / "lib")
    os.unlink(tmp_path / "tiny.hvae")
    model, mg = rebuild_model(load_checkpoint(str(out)))
    assert mg.name == "tiny" and model.num_parameters() > 0


def test_save_load_round_trip_of_plain_data(tmp_path):
    payload = {"spec": {"name": "m", "main": "m.hvae", "files": {"m.hvae": "text"},
                        "files_sha256": {"m.hvae": sha256_text("text")}},
               "config": {"a": [1, 2.5, None, "x"]}, "model": {"w": torch.arange(3.0)}, "progress": {"step": 1}}
    path = tmp_path / "c.pt"
    save_checkpoint(payload, str(path))
    back = load_checkpoint(str(path))
    assert back["config"] == payload["config"] and torch.equal(back["model"]["w"], payload["model"]["w"])
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"], "no temporary file is left behind"


def test_an_interrupted_write_leaves_the_previous_checkpoint(run_dir, tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    shutil.copy(run_dir / "checkpoint.pt", path)
    before = path.read_bytes()

    def dies_half_way(obj, handle, *args, **kwargs):
        handle.write(b"PK\x03\x04 half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", dies_half_way)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint({"model": {}}, str(path))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt"]


def test_corrupt_and_foreign_files_are_refused(run_dir, tmp_path):
    good = (run_dir / "checkpoint.pt").read_bytes()
    cases = {
        "truncated.pt": good[: len(good) // 2],
        "empty.pt": b"",
        "noise.pt": os.urandom(4096),
        "flipped.pt": good[:200] + bytes(b ^ 0xFF for b in good[200:4000]) + good[4000:],
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ZooError, match="corrupt, truncated or not a checkpoint|damaged|not an hvae-zoo"):
            load_checkpoint(str(tmp_path / name))
    torch.save({"weight": torch.zeros(2)}, tmp_path / "bare.pt")
    with pytest.raises(ZooError, match=r"not an hvae-zoo checkpoint \(it holds a bare state_dict\)"):
        load_checkpoint(str(tmp_path / "bare.pt"))
    with pytest.raises(ZooError, match="checkpoint not found"):
        load_checkpoint(str(tmp_path / "nothing.pt"))


class _Exploit:
    def __reduce__(self):
        return (os.system, ("touch EXPLOITED",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_a_file_that_would_run_code_is_refused_without_running_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with open("evil.pt", "wb") as handle:
        pickle.dump({"format": "hvae-zoo-checkpoint", "x": _Exploit()}, handle)
    torch.save({"format": "hvae-zoo-checkpoint", "x": _Exploit()}, "evil2.pt")
    for name in ("evil.pt", "evil2.pt"):
        with pytest.raises(ZooError, match="cannot read checkpoint"):
            load_checkpoint(name)
    assert not os.path.exists("EXPLOITED")


def test_tampered_spec_text_and_newer_versions_are_refused(run_dir, tmp_path):
    ckpt = load_checkpoint(str(run_dir))
    spec = dict(ckpt["spec"], files={"vae.hvae": ckpt["spec"]["files"]["vae.hvae"].replace("tanh", "relu")})
    save_checkpoint(dict(ckpt, spec=spec), str(tmp_path / "tampered.pt"))
    with pytest.raises(ZooError, match="does not match its sha256"):
        load_checkpoint(str(tmp_path / "tampered.pt"))
    newer = dict(ckpt)
    save_checkpoint(newer, str(tmp_path / "newer.pt"))
    data = torch.load(tmp_path / "newer.pt", weights_only=True)
    data["version"] = 99
    torch.save(data, tmp_path / "newer.pt")
    with pytest.raises(ZooError, match="format version 99"):
        load_checkpoint(str(tmp_path / "newer.pt"))


def test_weights_that_do_not_fit_the_spec_are_a_clear_error(run_dir):
    ckpt = load_checkpoint(str(run_dir))
    ckpt["spec"] = dict(ckpt["spec"], overrides={"W": 8, "H": 32, "D": 4})
    with pytest.raises(ZooError, match="do not fit the model"):
        rebuild_model(ckpt)
