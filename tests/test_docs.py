"""The docs stay true to the code: the generated library reference is current, the docs name only
blocks that exist, links resolve, and the README's spec and model table are the zoo's."""
from __future__ import annotations

import pathlib
import re

import pytest
import torch

from zoo.runtime.lower import lower
from dsl import parse_spec
from dsl.format import format_spec
from dsl.library import all_names
from dsl.library.reference import render_markdown
from zoo.registry import compile_spec, list_models

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def test_library_reference_is_generated_from_the_code():
    committed = (DOCS / "library.md").read_text(encoding="utf-8")
    assert committed == render_markdown(), "regenerate: python -m dsl.library.reference > docs/library.md"


def test_language_reference_calls_only_known_names():
    text = (DOCS / "language.md").read_text(encoding="utf-8")
    code = "\n".join(re.findall(r"```\n(.*?)```", text, flags=re.S))
    called = set(re.findall(r"\b([a-z_][a-z0-9_]*)\(", code))
    known = set(all_names()) | {"prior", "posterior", "likelihood", "NAME"}
    assert called <= known, f"docs/language.md calls unknown names: {sorted(called - known)}"


README = ROOT / "README.md"


def _markdown_files():
    return [README, *sorted(DOCS.rglob("*.md"))]


@pytest.mark.parametrize("path", _markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_point_at_files_that_exist(path):
    text = re.sub(r"```.*?```|`[^`\n]*`", "", path.read_text(encoding="utf-8"), flags=re.S)  # code is not links
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    missing = [t for t in targets if "://" not in t and not (path.parent / t).exists()]
    assert not missing, f"{path.relative_to(ROOT)} links to missing files: {missing}"


def test_readme_spec_is_the_zoo_ladder():
    text = README.read_text(encoding="utf-8")
    block = re.search(r"## A spec\n\n```\n(.*?)```", text, flags=re.S).group(1)
    ladder = (ROOT / "specs" / "ladder.hvae").read_text(encoding="utf-8")
    assert format_spec(parse_spec(block)) == format_spec(parse_spec(ladder))


def test_readme_model_table_matches_the_zoo():
    """Every zoo model is in the README's table, with the parameter count the code builds."""
    rows = {m.group(1): int(m.group(2).replace(",", ""))
            for m in re.finditer(r"^\| `([a-z0-9_]+)` \|[^|]*\|[^|]*\|[^|]*\| ([\d,]+)", README.read_text(encoding="utf-8"),
                                 flags=re.M)}
    models = [m.name for m in list_models()]
    assert sorted(rows) == sorted(models)
    for name in models:
        with torch.device("meta"):
            count = lower(compile_spec(name)).num_parameters()
        assert rows[name] == count, f"README says {name} has {rows[name]:,} parameters; it has {count:,}"
