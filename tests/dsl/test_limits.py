"""Hostile and oversized specs end in a located error within seconds (issue 16).

Each case here once ended in a traceback, a hang or an out-of-memory kill: non-UTF-8 bytes, a FIFO
or /dev/urandom as an import, a symbolic link to /etc/passwd, deep nesting, a --set of the wrong
kind, out-of-range block arguments, and `let L = 10**9`-style sizes.
"""
from __future__ import annotations

import os
import pathlib
import time

import pytest

from dsl import SpecError, SpecSyntaxError, load_spec
from dsl.limits import MAX_NODES, MAX_REPEATS, violation
from dsl.parser import MAX_DEPTH
from dsl.source import MAX_SPEC_BYTES
from zoo.registry import compile_spec

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
VAE = (ROOT / "specs" / "vae.hvae").read_text(encoding="utf-8")


def _error(path, overrides=None) -> SpecError:
    start = time.process_time()  # CPU time: the machine is shared
    with pytest.raises(SpecError) as info:
        compile_spec(str(path), overrides)
    assert time.process_time() - start < 10
    return info.value


def _write(tmp_path, name, text) -> pathlib.Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


# -- reading files -------------------------------------------------------------------------------

def test_non_utf8_bytes_are_located_at_the_first_bad_byte(tmp_path):
    path = _write(tmp_path, "latin1.hvae", b"let a = 1\nlet b = 2 # caf\xe9\n")
    err = _error(path)
    assert isinstance(err, SpecSyntaxError)
    d = err.first
    assert (d.span.line, d.span.column, d.code) == (2, 16, "encoding")
    assert "0xe9" in d.message and "UTF-8" in d.message


def test_a_byte_order_mark_is_skipped(tmp_path):
    path = _write(tmp_path, "bom.hvae", "\ufeff" + VAE)
    assert compile_spec(str(path)).name == "bom"


def test_an_import_of_a_fifo_is_refused_without_waiting(tmp_path):
    os.mkfifo(tmp_path / "pipe.hvae")
    path = _write(tmp_path, "main.hvae", 'import "pipe.hvae"\n')
    d = _error(path).first
    assert "FIFO, not a regular file" in d.message and (d.span.line, d.span.column) == (1, 1)


def test_an_import_linked_to_a_device_is_refused(tmp_path):
    os.symlink("/dev/urandom", tmp_path / "noise.hvae")
    path = _write(tmp_path, "main.hvae", 'import "noise.hvae"\n')
    d = _error(path).first
    assert "/dev/urandom" in d.message and d.span.line == 1


def test_a_spec_linked_to_a_foreign_file_is_refused_without_showing_it(tmp_path):
    os.symlink("/etc/passwd", tmp_path / "passwd.hvae")
    err = _error(tmp_path / "passwd.hvae")
    assert "not a .hvae file" in str(err) and "root:" not in str(err)


def test_an_import_through_a_link_may_not_leave_the_folder_it_names(tmp_path):
    outside = tmp_path / "outside"
    inside = tmp_path / "project" / "sub"
    outside.mkdir()
    inside.mkdir(parents=True)
    _write(outside, "base.hvae", VAE)
    os.symlink(outside / "base.hvae", inside / "base.hvae")
    d = _error(_write(inside, "main.hvae", 'import "base.hvae"\n')).first
    assert "outside the folder" in d.message and d.code == "bad-import"
    # `..` says how far up an import may go: a link inside that folder is followed
    _write(tmp_path / "project", "real.hvae", VAE)
    os.symlink(tmp_path / "project" / "real.hvae", tmp_path / "project" / "linked.hvae")
    ok = _write(inside, "up.hvae", 'import "../linked.hvae"\n')
    assert compile_spec(str(ok)) is not None


def test_a_file_larger_than_the_limit_is_not_read(tmp_path):
    path = _write(tmp_path, "huge.hvae", "let a = 1\n" * (MAX_SPEC_BYTES // 10 + 1))
    assert "a spec has at most" in str(_error(path))


def test_a_directory_named_like_a_spec_is_refused(tmp_path):
    (tmp_path / "dir.hvae").mkdir()
    path = _write(tmp_path, "main.hvae", 'import "dir.hvae"\n')
    assert "a directory, not a regular file" in _error(path).first.message


# -- nesting -------------------------------------------------------------------------------------

@pytest.mark.parametrize("expr", ["-" * 500 + "1", "not " * 300 + "true", "1" + "+1" * 300, "2" + "**1" * 300,
                                  "[" * 300 + "]" * 300, "mlp(" * 300 + "x" + ")" * 300])
def test_deep_nesting_is_a_located_error_not_a_recursion_error(tmp_path, expr):
    d = _error(_write(tmp_path, "deep.hvae", f"let a = {expr}\n")).first
    assert d.code == "too-deep" and d.span.line == 1 and d.span.column > 8
    assert len(str(d)) < 1000  # the excerpt shows a window of the long line


def test_nesting_within_the_limit_compiles(tmp_path):
    depth = MAX_DEPTH - 10
    text = VAE + f"let a = 1{'+1' * depth}\nlet b = {'[' * depth}{']' * depth}\n"
    mg = compile_spec(str(_write(tmp_path, "ok.hvae", text)))
    assert mg.spec.constants["a"] == depth + 1


def test_two_thousand_parentheses_parse(tmp_path):
    text = VAE.replace("mlp(z,", "mlp(" + "(" * 2000 + "z" + ")" * 2000 + ",")
    assert compile_spec(str(_write(tmp_path, "parens.hvae", text))) is not None


# -- constants and arguments ---------------------------------------------------------------------

def test_a_set_of_the_wrong_kind_is_one_error_at_the_constant():
    err = _error(ROOT / "specs" / "nvae16.hvae", {"L": "abc"})
    assert len(err.diagnostics) == 1
    d = err.first
    assert d.message == "--set L=abc: 'abc' is not a valid integer for L"
    assert (d.span.line, d.span.column) == (14, 9)


@pytest.mark.parametrize("spec,overrides,where,message", [
    ("vae", {"H": 0}, (18, 36), "mlp(): 'hidden' must be a positive integer, got 0"),
    ("dvp_mnist", {"DROP": 5}, (47, 111), "diffusion(): 'dropout' must be a probability in [0, 1], got 5.0"),
    ("dvp_mnist", {"NRB": 10 ** 9}, (47, 96), f"diffusion(): 'res_blocks' repeats a module at most {MAX_REPEATS:,} "
                                              f"times, got 1,000,000,000"),
    ("vae", {"W": 10 ** 5}, (14, 14), "x has shape [1, 100000, 100000]: 10,000,000,000 elements per example"),
])
def test_out_of_range_values_are_located_at_the_value(spec, overrides, where, message):
    d = _error(ROOT / "specs" / f"{spec}.hvae", overrides).first
    assert d.message.startswith(message)
    assert (d.span.line, d.span.column) == where


def test_value_rules():
    assert violation("dropout", "float", 0.5) is None
    assert "probability" in violation("p", "float", -0.1)
    assert "positive" in violation("filters", "ints", (32, 0, 32))
    assert "at most" in violation("out", "int", 1 << 30)
    assert violation("seed", "int", 1 << 40) is None


# -- sizes ---------------------------------------------------------------------------------------

def test_a_billion_layers_is_a_located_error(tmp_path):
    text = VAE + "let Q = 10**9\nlatent w[1..Q] : [4] ~ normal\n"
    d = _error(_write(tmp_path, "big.hvae", text)).first
    assert "at most" in d.message and d.span.line == 21


def test_too_many_variables_is_one_error_at_the_largest_array(tmp_path):
    n = MAX_NODES // 2 + 1
    text = VAE + f"latent a[1..{n}] : [1] ~ normal\nlatent b[1..{n}] : [1] ~ normal\n"
    err = _error(_write(tmp_path, "many.hvae", text))
    assert len(err.diagnostics) == 1 and err.first.code == "spec-too-large"


def test_nvae16_with_2000_layers_ends_in_a_located_error_quickly():
    err = _error(ROOT / "specs" / "nvae16.hvae", {"L": 2000})  # within 10 CPU seconds (about 4)
    assert err.first.code == "spec-too-large" and err.first.span.line > 0
