"""Helpers shared by the training tests: a tiny model on the embedded digits, run through the CLI."""
from __future__ import annotations

import os
from typing import Sequence

import torch

#: The VAE spec shrunk to the 8x8 digits: 64 -> 16 -> 4 latents -> 16 -> 64.
TINY_MODEL = ["vae", "--data", "digits", "--set", "W=8", "--set", "H=16", "--set", "D=4"]


#: Recipe edits of every tiny run, applied over specs/vae.yaml (the recipe `zoo train vae` reads).
TINY_SETS = ["batch_size=50", "lr_schedule.name=constant", "checkpoint_every=1000", "log_every=5"]


def tiny_train_args(out, *, steps: int = 20, sets: Sequence[str] = (), extra: Sequence[str] = ()) -> list[str]:
    """``zoo train`` arguments for a fast run of the tiny model (batch 50, constant lr, no validation)."""
    argv = ["train", *TINY_MODEL, "--steps", str(steps), "--out", str(out), "--no-progress"]
    for item in [*TINY_SETS, *sets]:
        argv += ["--recipe-set", item]
    return argv + list(extra)


def run_cli(argv: Sequence[str]) -> int:
    from zoo.cli import main

    return main(list(argv))


def checkpoint_state(run_dir) -> dict:
    from zoo.training.checkpoint import load_checkpoint

    return load_checkpoint(os.path.join(str(run_dir), "checkpoint.pt"))


def assert_same_tensors(a: dict, b: dict, what: str = "state") -> None:
    assert a.keys() == b.keys(), f"{what}: different keys"
    for key in a:
        assert torch.equal(a[key], b[key]), f"{what}: '{key}' differs (max |diff| = " \
            f"{(a[key].double() - b[key].double()).abs().max().item():.3g})"
