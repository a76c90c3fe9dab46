"""Shared fixtures of the report tests: a tiny trained digits run, and pages written once."""
from __future__ import annotations

import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "specs"


@pytest.fixture(scope="session")
def digits_run(tmp_path_factory) -> pathlib.Path:
    """`zoo train vae --set W=8 --data digits` for 20 steps (a few seconds on a CPU)."""
    from zoo.cli import main

    out = tmp_path_factory.mktemp("report") / "run"
    assert main(["train", "vae", "--set", "W=8", "--data", "digits", "--steps", "20", "--out", str(out),
                 "--no-progress"]) == 0
    return out


@pytest.fixture(scope="session")
def pages(tmp_path_factory, digits_run) -> dict:
    """{name: path} of a model card with violations, attentive16's card, and the digits run's report."""
    from zoo.cli import main

    folder = tmp_path_factory.mktemp("pages")
    paths = {"sere": folder / "sere.html", "attentive16": folder / "attentive16.html",
             "run": folder / "run.html"}
    assert main(["report", str(FIXTURES / "sere.hvae"), "--set", "all_z=true", "-o", str(paths["sere"])]) == 0
    assert main(["report", "attentive16", "-o", str(paths["attentive16"])]) == 0
    assert main(["report", str(digits_run), "-k", "5", "--limit", "40", "--samples", "16",
                 "-o", str(paths["run"])]) == 0
    return paths
