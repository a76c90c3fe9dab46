"""The generated library reference is current, and the docs name only blocks that exist."""
from __future__ import annotations

import pathlib
import re

from dsl.library import all_names
from dsl.library.reference import render_markdown

DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs"


def test_library_reference_is_generated_from_the_code():
    committed = (DOCS / "library.md").read_text(encoding="utf-8")
    assert committed == render_markdown(), "regenerate: python -m dsl.library.reference > docs/library.md"


def test_language_reference_calls_only_known_names():
    text = (DOCS / "language.md").read_text(encoding="utf-8")
    code = "\n".join(re.findall(r"```\n(.*?)```", text, flags=re.S))
    called = set(re.findall(r"\b([a-z_][a-z0-9_]*)\(", code))
    known = set(all_names()) | {"prior", "posterior", "likelihood", "NAME"}
    assert called <= known, f"docs/language.md calls unknown names: {sorted(called - known)}"
