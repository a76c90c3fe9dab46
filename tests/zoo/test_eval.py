"""`zoo eval` (one JSON object with every number), active units, `zoo sample` and the plots."""
from __future__ import annotations

import json
import math
from types import SimpleNamespace

import matplotlib.image
import pytest
import torch
from torch import nn

from tests.zoo.train_utils import run_cli, tiny_train_args
from zoo.config import EvalConfig
from zoo.data import ImageData
from zoo.runtime.distributions import Normal
from zoo.analysis.evaluate import evaluate_model
from zoo.runtime.model import ELBOTerms

EVAL_FIELDS = {
    "model", "description", "spec_sha256", "overrides", "checkpoint", "step", "epoch", "finished", "beta", "weights",
    "data", "split", "seed", "batch_size", "examples", "dims", "encoding", "importance_samples", "nll", "nll_unit",
    "nll_nats", "nll_nats_sem",
    "nll_bpd", "neg_elbo_nats", "neg_elbo_bpd", "recon_nats", "kl_nats", "kl_per_layer_nats", "active_units",
    "active_units_total", "latent_units", "au_threshold", "seconds",
}

PSEUDO_SPEC = """model "tiny model with an image-shaped pseudo-input"
observed x : [1, 8, 8] ~ bernoulli
pseudo   u : [1, 4, 4] ~ normal
latent   z : [4] ~ normal

feature xt = upsample(u, factor = 2)
feature fx = flatten(x)
feature fu = flatten(u)
feature ft = flatten(xt)

prior u = normal(loc = 0, scale = 1)
posterior u | x = normal(loc = avgpool(x, k = 2), scale = 0.1)
prior z | u = mlp(u, hidden = [16])
posterior z | x, u = mlp(concat(fx, fu), hidden = [16])
likelihood x | z, u = mlp(concat(z, ft), hidden = [16])
"""


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("eval") / "run"
    torch.set_num_threads(1)
    assert run_cli(tiny_train_args(out, steps=40, sets=["ema=0.9", "validation=100"])) == 0
    return out


def test_eval_json_has_every_field(run_dir, capsys, tmp_path):
    out_json = tmp_path / "eval.json"
    argv = ["eval", str(run_dir), "-k", "20", "--limit", "120", "--batch-size", "50", "--json", "--no-progress",
            "--out", str(out_json), "--plots"]
    assert run_cli(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == EVAL_FIELDS
    assert json.loads(out_json.read_text()) == result
    assert result["examples"] == 120 and result["importance_samples"] == 20 and result["weights"] == "ema"
    assert result["dims"] == 64 and result["encoding"] == "binarize" and result["nll_unit"] == "nats"
    assert result["nll"] == result["nll_nats"]
    assert result["nll_bpd"] == pytest.approx(result["nll_nats"] / (64 * math.log(2)))
    # the importance-weighted bound is tighter in expectation; after 40 steps the gap is small, so
    # allow for the Monte-Carlo error of both estimates
    assert 0 < result["nll_nats"] < result["neg_elbo_nats"] + 3 * result["nll_nats_sem"]
    assert result["neg_elbo_nats"] == pytest.approx(result["recon_nats"] + result["kl_nats"])
    assert list(result["kl_per_layer_nats"]) == ["z"] and result["latent_units"] == {"z": 4}
    assert 0 <= result["active_units_total"] <= 4 and result["au_threshold"] == 0.01
    assert result["overrides"] == {"W": 8, "H": 16, "D": 4} and result["step"] == 40
    for name in ("kl_per_layer_test_step40_k20_n120.png", "active_units_test_step40_k20_n120.png"):
        assert (run_dir / name).stat().st_size > 1000


def test_eval_is_reproducible_and_readable(run_dir, capsys):
    argv = ["eval", str(run_dir / "checkpoint.pt"), "-k", "5", "--limit", "60", "--json", "--no-progress", "--no-ema"]
    assert run_cli(argv) == 0
    first = json.loads(capsys.readouterr().out)
    assert run_cli(argv) == 0
    second = json.loads(capsys.readouterr().out)
    assert first["weights"] == "model"
    assert {k: v for k, v in first.items() if k != "seconds"} == {k: v for k, v in second.items() if k != "seconds"}
    assert run_cli(["eval", str(run_dir), "-k", "2", "--limit", "20", "--split", "valid", "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "digits valid: 20 images, K = 2" in text and "active units" in text


class _KnownPosterior(nn.Module):
    """A stand-in model whose posterior means are known: z[1] unit 0 follows the image's mean
    brightness (varies across images), unit 1 is constant; z[2] barely moves."""

    latents = ("z[1]", "z[2]")
    graph = SimpleNamespace(observed=[SimpleNamespace(shape=(1, 2, 2))])

    def __init__(self):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, x, analytic_kl=True):
        b = x.shape[0]
        bright = x.reshape(b, -1).mean(1)
        loc1 = torch.stack([4.0 * bright, torch.full_like(bright, 0.3)], dim=1)
        loc2 = 0.01 * bright[:, None].expand(b, 3)
        zeros = torch.zeros(b)
        kl = {"z[1]": zeros + 1.0, "z[2]": zeros + 0.5}
        dists = {"posterior(z[1])": Normal(loc1, torch.ones_like(loc1)), "posterior(z[2])": Normal(loc2, torch.ones_like(loc2))}
        return ELBOTerms(-2.0 + zeros - 1.5, zeros - 2.0, kl, {}, {}, zeros - 3.0, {}, dists)

    def log_likelihood(self, x, importance_samples=1, *, chunk=None):
        return torch.full((x.shape[0],), -3.2)


def test_active_units_follow_burda_et_al():
    images = torch.randint(0, 2, (40, 1, 2, 2), dtype=torch.uint8) * 255
    data = ImageData("toy", "test", images, None, "binary")
    result = evaluate_model(_KnownPosterior(), data, EvalConfig(importance_samples=3, batch_size=7))
    assert result["active_units"] == {"z[1]": 1, "z[2]": 0}
    assert result["latent_units"] == {"z[1]": 2, "z[2]": 3} and result["active_units_total"] == 1
    assert result["kl_per_layer_nats"] == {"z[1]": pytest.approx(1.0), "z[2]": pytest.approx(0.5)}
    assert result["nll_nats"] == pytest.approx(3.2) and result["neg_elbo_nats"] == pytest.approx(3.5)


def test_eight_bit_data_reports_bits_per_dim():
    images = torch.randint(0, 256, (10, 1, 2, 2), dtype=torch.uint8)
    result = evaluate_model(_KnownPosterior(), ImageData("toy", "test", images, None, "8bit"), EvalConfig(importance_samples=2))
    assert result["nll_unit"] == "bits/dim" and result["nll"] == pytest.approx(3.2 / (4 * math.log(2)))


def test_sample_writes_samples_and_reconstructions(run_dir, tmp_path, capsys):
    out = tmp_path / "grid.png"
    assert run_cli(["sample", str(run_dir), "-n", "16", "--temperature", "0.8", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "16 samples at temperature 0.8 (ema weights)" in text
    grid = matplotlib.image.imread(out)
    assert grid.shape[0] == grid.shape[1] == 2 + 4 * (32 + 2)  # 4 x 4 tiles of 8x8 images upscaled to 32
    recon = matplotlib.image.imread(tmp_path / "grid_reconstructions.png")
    assert recon.shape[:2] == (2 + 8 * (32 + 2), 2 + 8 * (32 + 2))  # 32 images: 4 rows of originals + 4 of reconstructions
    assert not (tmp_path / "grid_pseudo.png").exists()


def test_pseudo_inputs_are_shown_beside_their_images(tmp_path, capsys):
    spec = tmp_path / "pseudo.hvae"
    spec.write_text(PSEUDO_SPEC)
    run = tmp_path / "run"
    assert run_cli(["train", str(spec), "--data", "digits", "--steps", "5", "--out", str(run), "--no-progress",
                    "--recipe-set", "batch_size=100"]) == 0
    out = tmp_path / "s.png"
    assert run_cli(["sample", str(run), "-n", "5", "-o", str(out), "--reconstructions", "0"]) == 0
    text = capsys.readouterr().out
    assert "columns: u (min-max scaled), xt (min-max scaled), generated x" in text
    grid = matplotlib.image.imread(tmp_path / "s_pseudo.png")
    assert grid.shape[:2] == (2 + 5 * 34, 2 + 3 * 34)  # 5 samples x (u, upsample(u), x)


def test_sample_rejects_a_non_png_output(run_dir, capsys):
    assert run_cli(["sample", str(run_dir), "-o", str(run_dir / "grid.jpg")]) == 2
    assert "-o must name a .png file" in capsys.readouterr().err


def test_learning_curves_are_written_at_the_end_of_training(run_dir):
    import time

    png = run_dir / "learning_curves.png"
    deadline = time.monotonic() + 120  # drawn by a detached process after `zoo train` returned
    while not png.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert png.stat().st_size > 5000
