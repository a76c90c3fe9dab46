"""Every spec tokenizes without error tokens, with the Pygments lexer and the TextMate grammar."""
from __future__ import annotations

import json
import shutil
import subprocess
import tomllib
from importlib import import_module
from pathlib import Path

import pytest
from pygments.token import Error

from zoo.pygments_lexer import HvaeLexer

ROOT = Path(__file__).resolve().parents[2]
SPECS = sorted((ROOT / "specs").glob("*.hvae"))
ALL = SPECS + sorted((ROOT / "tests" / "fixtures").rglob("*.hvae"))
VSCODE = ROOT / "editors" / "vscode"
BAD = 'let a = 1 $ 2\nmodel "x" @\n'


def pygments_errors(text: str) -> list:
    return [value for token, value in HvaeLexer().get_tokens(text) if token in Error]


def test_pygments_tokenizes_every_spec_without_errors():
    for path in ALL:
        assert pygments_errors(path.read_text()) == [], path


def test_pygments_flags_what_is_not_the_language():
    assert pygments_errors(BAD) == ["$", "@"]


def test_pygments_lexer_is_registered_as_an_entry_point():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    target = meta["project"]["entry-points"]["pygments.lexers"]["hvae"]
    module, name = target.split(":")
    assert getattr(import_module(module), name) is HvaeLexer and HvaeLexer.filenames == ["*.hvae"]


def test_vscode_extension_declares_the_language_and_grammar():
    package = json.loads((VSCODE / "package.json").read_text())
    (grammar,) = package["contributes"]["grammars"]
    assert (VSCODE / grammar["path"]).exists() and grammar["scopeName"] == "source.hvae"
    assert package["contributes"]["languages"][0]["extensions"] == [".hvae"]
    json.loads((VSCODE / "language-configuration.json").read_text())


def textmate_invalid(paths) -> dict:
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    if not (VSCODE / "node_modules" / "vscode-textmate").exists():
        pytest.skip("run `npm install --prefix editors/vscode` (scripts/install.sh does) for the TextMate engine")
    out = subprocess.run(["node", str(VSCODE / "test" / "tokenize.js"), *map(str, paths)], capture_output=True,
                         text=True, timeout=120, check=True)
    return json.loads(out.stdout)


def test_textmate_grammar_tokenizes_every_spec_without_invalid_tokens():
    found = textmate_invalid(ALL)
    assert set(found) == {str(p) for p in ALL}
    assert {path: bad for path, bad in found.items() if bad} == {}


def test_textmate_grammar_flags_what_is_not_the_language(tmp_path):
    path = tmp_path / "bad.hvae"
    path.write_text(BAD)
    assert textmate_invalid([path])[str(path)] == [[1, 11, "$"], [2, 11, "@"]]
