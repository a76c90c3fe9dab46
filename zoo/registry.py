"""The model catalogue: every `specs/<name>.hvae` file is the model `<name>`.

Every model is built through the same path -- parse, check, build the graph, validate, lower --
so every spec in the zoo gets the same checks.
"""
from __future__ import annotations

import contextlib
import fnmatch
import gc
import os
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any, Mapping, Optional

import dsl
from dsl.describe import interpolate, literal_constants

from .errors import ZooError

if TYPE_CHECKING:  # networkx is imported by compile_spec, not by `zoo list`
    from compiler.graph import ModelGraph

__all__ = ["ModelEntry", "list_models", "spec_path", "compile_spec", "compile_loaded", "create_model", "gc_paused",
           "SPEC_SUFFIX"]

SPEC_SUFFIX = ".hvae"


@dataclass(frozen=True)
class ModelEntry:
    name: str
    description: str
    paper: str
    dataset: str
    path: str


def _spec_dir() -> str:
    return str(resources.files("specs"))


def list_models(pattern: str = "*") -> list[ModelEntry]:
    """The zoo's models whose names match a glob pattern, sorted by name.

    Example:
        >>> [m.name for m in list_models("nvae*")]
        ['nvae16', 'nvae8']
    """
    out = []
    root = _spec_dir()
    for fname in sorted(os.listdir(root)):
        if not fname.endswith(SPEC_SUFFIX) or is_fragment(fname):
            continue
        name = fname[: -len(SPEC_SUFFIX)]
        if not fnmatch.fnmatch(name, pattern):
            continue
        path = os.path.join(root, fname)
        spec = dsl.load_spec(path)
        header = {type(s).__name__: s for s in spec.statements}
        out.append(ModelEntry(
            name,
            interpolate(header["ModelDecl"].description, literal_constants(spec.statements))
            if "ModelDecl" in header else "",
            header["PaperDecl"].text if "PaperDecl" in header else "",
            header["DatasetDecl"].name if "DatasetDecl" in header else "",
            path))
    return out


def is_fragment(path: str) -> bool:
    """A `.hvae` file whose name starts with '_' is a fragment for `import`, not a model of its own."""
    return os.path.basename(path).startswith("_")


def spec_files(directory: str) -> list[str]:
    """The model specs of a directory, sorted, without fragments (what `zoo check DIR` checks)."""
    return [os.path.join(directory, f) for f in sorted(os.listdir(directory))
            if f.endswith(SPEC_SUFFIX) and not is_fragment(f)]


def spec_path(name_or_path: str) -> str:
    """A spec file path from a model name (``ladder``) or a path (``specs/ladder.hvae``).

    Raises:
        ZooError: neither an existing file nor a model of the zoo (with close matches).
    """
    if os.path.exists(name_or_path):
        return name_or_path
    if name_or_path.endswith(SPEC_SUFFIX) or os.sep in name_or_path:
        raise ZooError(f"spec file not found: {name_or_path}")
    path = os.path.join(_spec_dir(), name_or_path + SPEC_SUFFIX)
    if os.path.exists(path):
        return path
    from dsl.library import suggest

    names = [m.name for m in list_models()]
    hint = suggest(name_or_path, names)
    raise ZooError(f"no model named '{name_or_path}' in the zoo" + (f"; {hint}" if hint else "") +
                   f" (models: {', '.join(names)})")


def compile_spec(name_or_path: str, overrides: Optional[Mapping[str, Any]] = None, *,
                 text: Optional[str] = None) -> ModelGraph:
    """Parse, check and build the IR of a spec.

    Args:
        name_or_path: a zoo model name or a `.hvae` file.
        overrides: constant values (``{"L": 8}``), as ``--set L=8`` does.
        text: the spec file's text in place of what is on disk (a repaired spec, an editor buffer).

    Raises:
        ZooError: the spec cannot be found, or it is an invalid fragment (`_name.hvae`, made to be
            imported), which the message says.
        SpecError: the spec is invalid (every error is listed).
    """
    path = spec_path(name_or_path)
    try:
        with gc_paused():
            return _compile(path, overrides, text)
    except dsl.SpecError as err:
        if not is_fragment(path):
            raise
        raise ZooError(f"{err}\nnote: {path} is a fragment (its name starts with '_'): other specs import it; "
                       f"use those instead (`zoo check DIR` skips fragments)") from err


@contextlib.contextmanager
def gc_paused():
    """Pause Python's cyclic garbage collector for a block (re-entrant; restores the caller's setting).

    Compiling a deep spec allocates a few hundred thousand small objects (AST nodes, values, graph
    attribute dicts) that nearly all stay alive until the IR is built, so the collector finds
    almost no garbage while each of its collections of the older generations re-scans all of
    them: a third to a half of the front end's time at L = 256. Garbage is freed by reference
    counting as usual, and cycles by the first collection after the pause; a spec of 256
    NVAE-like layers peaks 8 MB higher.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _compile(path: str, overrides: Optional[Mapping[str, Any]], text: Optional[str] = None) -> ModelGraph:
    return compile_loaded(dsl.load_spec(path, text=text), overrides)


def compile_loaded(spec: dsl.Spec, overrides: Optional[Mapping[str, Any]] = None, *,
                   validate: bool = True) -> ModelGraph:
    """Check and build the IR of an already loaded spec (what :func:`compile_spec` does after reading).

    `validate=False` skips :func:`compiler.validate.validate_graph`, which re-checks on the IR what
    the spec checker already guarantees for graphs built from specs; the language server, which
    re-checks on every edit, leaves it out.

    Raises:
        SpecError: the spec is invalid.
    """
    from compiler.graph import build_graph

    concrete, shapes, warnings = dsl.checked(spec, overrides)
    mg = build_graph(concrete, shapes, warnings)
    if not validate:
        return mg
    from compiler.validate import validate_graph

    problems = [d for d in validate_graph(mg) if d.is_error]
    if problems:
        raise dsl.SpecSemanticError(problems)
    return mg


def create_model(name_or_path: str, **overrides: Any):
    """Build the PyTorch module of a zoo model, timm-style.

    Args:
        name_or_path: a model name from :func:`list_models` or a spec path.
        **overrides: spec constants to change, e.g. ``create_model("attentive16", L=8)``.

    Returns:
        A :class:`zoo.runtime.model.HierarchicalVAE`.

    Raises:
        ZooError, SpecError: as :func:`compile_spec`; or the model is above the budget of
            :func:`zoo.training.budget.check_budget` (checked before any weight is allocated).

    Example:
        >>> model = create_model("vae")
        >>> model.num_parameters() > 0
        True
    """
    from .training.budget import lower_checked

    return lower_checked(compile_spec(name_or_path, overrides))
