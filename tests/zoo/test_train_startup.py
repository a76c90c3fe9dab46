"""What an eager `zoo train` loads (issue 15): not torch's compiler (torch._dynamo, and the sympy
it pulls in; ~2 s before the first step, zoo.training.optim) and not matplotlib (the end-of-run figure is
drawn by a detached process), while the figure still appears in the run folder."""
from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]

PROBE = """
import contextlib, io, json, sys
from tests.zoo.train_utils import tiny_train_args
from zoo.cli import main
with contextlib.redirect_stderr(io.StringIO()) as err:
    status = main(tiny_train_args(OUT, steps=6))
heavy = ("torch._dynamo", "torch._inductor", "sympy", "matplotlib")
print(json.dumps({"status": status, "loaded": [m for m in heavy if m in sys.modules], "err": err.getvalue()}))
"""


def test_an_eager_run_loads_neither_the_compiler_nor_matplotlib_and_the_curves_appear(tmp_path):
    out = tmp_path / "run"
    probe = subprocess.run([sys.executable, "-c", f"OUT = {str(out)!r}\n{PROBE}"], cwd=ROOT, capture_output=True,
                           text=True, check=True)
    report = json.loads(probe.stdout.strip().splitlines()[-1])
    assert report["status"] == 0 and "first step done" in report["err"], report["err"]
    assert report["loaded"] == [], report["loaded"]
    png = out / "learning_curves.png"
    deadline = time.monotonic() + 120
    while not png.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert png.read_bytes()[:4] == b"\x89PNG"
