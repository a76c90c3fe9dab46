"""The signature catalogue: declarations remember their module, names are unique, lookups suggest."""
from __future__ import annotations

import subprocess
import sys

import pytest

from dsl import library as lib
from dsl.library.registry import block


def test_declarations_record_the_declaring_module():
    assert lib.lookup("mlp", "block").module == "dsl.library.core"
    assert lib.lookup("normal", "family").module == "dsl.library.core"
    assert lib.lookup("residual", "combinator").module == "dsl.library.core"


def test_a_name_cannot_be_declared_twice():
    with pytest.raises(ValueError, match="'mlp' is declared twice"):
        block("mlp", shape=lambda a: (1,), doc="a second mlp")


def test_unknown_names_suggest_close_matches():
    with pytest.raises(lib.UnknownNameError) as info:
        lib.lookup("mpl", "block")
    assert "mlp" in info.value.hint


def test_declaring_the_library_does_not_walk_the_stack_sources():
    # inspect.stack() reads the source file of every frame; with torch loaded that made
    # `import dsl` take seconds (and the test suite tens of seconds)
    code = ("import inspect, sys\n"
            "calls = []\n"
            "orig = inspect.stack\n"
            "inspect.stack = lambda *a, **k: calls.append(1) or orig(*a, **k)\n"
            "import dsl\n"
            "assert not calls, len(calls)\n")
    subprocess.run([sys.executable, "-c", code], check=True)
