"""Reading spec files safely: regular `.hvae` files only, bounded in size, decoded as UTF-8.

A spec is text a researcher wrote, but the path to it, or an import inside it, may lead anywhere:
a FIFO that never ends, `/dev/urandom`, a symbolic link to `/etc/passwd`, a file of binary junk.
:func:`read_spec_file` is the one place that opens a spec file, and it refuses, with a located
error and before reading a byte of anything that is not a spec:

- a path whose target (after resolving symbolic links) does not end in ``.hvae``, so that no error
  message ever shows a line of a file that is not a spec;
- anything but a regular file (a directory, a FIFO, a device), checked on the opened descriptor;
- a file larger than :data:`MAX_SPEC_BYTES`;
- bytes that are not UTF-8, reported at the line and column of the first bad byte.

:func:`import_target` resolves an ``import "rel/path.hvae"`` against the importing file and keeps
links from leading out of the directory tree that the path names: the import's ``..`` components
say how far up it may go, and after resolving symbolic links the file must still lie inside that
directory.
"""
from __future__ import annotations

import os
import stat
from typing import Optional

from .ast import Span
from .errors import Diagnostic, SpecSemanticError, SpecSyntaxError

__all__ = ["MAX_SPEC_BYTES", "read_spec_file", "import_target"]

# The largest spec file read, in bytes: 64 KiB, eight times the zoo's largest spec (7.7 KB). Lark
# parses about 10,000 tokens a second on a busy machine, and a dense file has a token every 2
# bytes, so this bound keeps any file within a few seconds (1 MB took 30 to 110 s).
MAX_SPEC_BYTES = 1 << 16


def _refuse(message: str, span: Optional[Span], code: str, hint: Optional[str] = None, sources=None):
    diag = Diagnostic(message, span, hint=hint, code=code)
    raise SpecSemanticError([diag.with_source(sources or {})])


def read_spec_file(path: str, *, importer: Optional[Span] = None, sources=None) -> str:
    """The text of a spec file, or a :class:`SpecError` saying why it cannot be read.

    Args:
        path: the file, as messages should show it.
        importer: the span of the ``import`` statement that names it (None for the spec itself);
            errors about the file are located there.
        sources: the texts read so far, so that an error at `importer` shows its line.

    Raises:
        SpecSemanticError: the file is missing, not a regular ``.hvae`` file, or too large
            (located at `importer`).
        SpecSyntaxError: the file is not UTF-8 (located at the first bad byte in the file).
    """
    real = os.path.realpath(path)
    if not real.endswith(".hvae"):
        _refuse(f"cannot read spec file '{path}': it is a link to '{real}', which is not a .hvae file"
                if real != os.path.abspath(path) else
                f"cannot read spec file '{path}': spec files end in .hvae", importer, "not-a-spec", sources=sources)
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; the descriptor is checked below
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as err:
        _refuse(f"cannot read spec file '{path}': {err.strerror or err}", importer, "missing-file", sources=sources)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            what = ("a directory" if stat.S_ISDIR(info.st_mode) else "a FIFO" if stat.S_ISFIFO(info.st_mode)
                    else "a device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode) else "a socket")
            _refuse(f"cannot read spec file '{path}': it is {what}, not a regular file", importer, "not-a-spec",
                    sources=sources)
        if info.st_size > MAX_SPEC_BYTES:
            _refuse(f"cannot read spec file '{path}': it has {info.st_size:,} bytes; a spec has at most "
                    f"{MAX_SPEC_BYTES:,}", importer, "spec-too-large", sources=sources)
        chunks, size = [], 0
        while size <= MAX_SPEC_BYTES:  # the file may grow after fstat
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        data = b"".join(chunks)
    finally:
        os.close(fd)
    if len(data) > MAX_SPEC_BYTES:
        _refuse(f"cannot read spec file '{path}': it has more than {MAX_SPEC_BYTES:,} bytes", importer,
                "spec-too-large", sources=sources)
    return _decode(data, path)


def _decode(data: bytes, path: str) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        line_start = data.rfind(b"\n", 0, err.start) + 1
        prefix = data[line_start:err.start].decode("utf-8", errors="replace")
        column = len(prefix) + 1
        line_end = data.find(b"\n", err.start)
        line_text = data[line_start:line_end if line_end >= 0 else len(data)].decode("utf-8", errors="replace")
        span = Span(path, line, column, line, column + 1)
        raise SpecSyntaxError([Diagnostic(
            f"the file is not UTF-8 text: byte 0x{data[err.start]:02x} cannot be decoded", span,
            hint="save the spec as UTF-8", code="encoding", line_text=line_text)]) from None
    return text[1:] if text.startswith("\ufeff") else text


def import_target(importer_path: str, relative: str, span: Span, sources) -> str:
    """The file an ``import "relative"`` in `importer_path` names, as messages should show it.

    Raises:
        SpecSemanticError: after resolving symbolic links, the file lies outside the directory
            that the import's path names (the importing file's directory, or the one its leading
            ``..`` components lead to).
    """
    base = os.path.dirname(importer_path)
    target = os.path.normpath(os.path.join(base, relative))
    parts = os.path.normpath(relative).split(os.sep)
    ups = 0
    while ups < len(parts) and parts[ups] == os.pardir:
        ups += 1
    tree = os.path.normpath(os.path.join(base, *([os.pardir] * ups))) if ups else (base or ".")
    real_tree, real_target = os.path.realpath(tree), os.path.realpath(target)
    if os.path.commonpath([real_tree, real_target]) != real_tree:
        _refuse(f"cannot import \"{relative}\": it resolves to '{real_target}', outside the folder "
                f"'{tree or '.'}' that the import names (a symbolic link may not lead out of it)", span,
                "bad-import", hint="copy the file into the spec's folder, or import it by its real relative path",
                sources=sources)
    return target
