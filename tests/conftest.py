"""Shared test setup: deterministic seeds, one CPU thread per test process, paths to shared data."""
from __future__ import annotations

import os
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _deterministic():
    torch = sys.modules.get("torch")  # seed torch only for tests that use it; never import it here
    if torch is None:
        yield
        return
    torch.manual_seed(0)
    torch.set_num_threads(int(os.environ.get("ZOO_TEST_THREADS", "1")))
    yield


@pytest.fixture
def shared_data() -> pathlib.Path:
    if not SHARED_DATA.exists():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA
