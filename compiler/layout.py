"""Graphviz layout of DOT text, and the inline display of diagrams in notebooks.

:func:`layout` runs Graphviz's ``dot`` (through the ``graphviz`` package) on the DOT text that
:func:`compiler.render.to_dot` writes; ``zoo render``, ``zoo report`` and the notebook display
share it. :func:`repr_mimebundle` is what :class:`compiler.graph.ModelGraph` and the compiled
:class:`zoo.runtime.model.HierarchicalVAE` return from ``_repr_mimebundle_``, so that Jupyter shows a
model's graphical model inline, as Pyro's ``render_model`` and PyMC's ``model_to_graphviz`` do.
"""
from __future__ import annotations

from typing import Optional

__all__ = ["layout", "NoGraphviz", "svg", "repr_mimebundle"]


class NoGraphviz(Exception):
    """Graphviz's `dot` program, or the `graphviz` Python package, is not installed."""


class LayoutError(Exception):
    """Graphviz failed on the DOT text (its stderr is the message)."""


def layout(text: str, fmt: str) -> bytes:
    """Lay out DOT `text` as `fmt` ("svg", "png", "pdf").

    Raises:
        NoGraphviz: `dot` or the `graphviz` package is missing.
        LayoutError: `dot` failed.
    """
    try:
        import graphviz
    except ImportError as err:
        raise NoGraphviz() from err
    try:
        return graphviz.Source(text).pipe(format=fmt, engine="dot")
    except graphviz.ExecutableNotFound as err:
        raise NoGraphviz() from err
    except graphviz.CalledProcessError as err:
        raise LayoutError(err.stderr.decode(errors="replace")) from err


def svg(mg, view: str = "pgm", *, check: bool = True, report=None, **options) -> Optional[str]:
    """The SVG text of a diagram of `mg`, or None without Graphviz.

    Args:
        mg: a :class:`compiler.graph.ModelGraph`.
        view: "pgm" or "architecture".
        check: draw the factorization check's violations (pgm view).
        report: the check's report, if the caller has it (else it is computed when `check`).
        **options: passed to :func:`compiler.render.to_dot` (unroll, layers, layout, ids, legend).
    """
    from .render import to_dot

    if report is None and check and view == "pgm":
        from .dsep import check_posterior_factorization

        report = check_posterior_factorization(mg, inverse=False)
    try:
        return layout(to_dot(mg, view, report, **options), "svg").decode("utf-8")
    except NoGraphviz:
        return None


def repr_mimebundle(mg, include=None, exclude=None) -> dict:
    """Jupyter's rich display of a model: its graphical model as SVG, and a line of text."""
    text = f"<{mg.name}: {len(mg.latent_order)} latent variables; draw with zoo render {mg.name}>"
    bundle = {"text/plain": text}
    image = svg(mg)
    if image is not None:
        bundle["image/svg+xml"] = image
    if include:
        bundle = {k: v for k, v in bundle.items() if k in include}
    if exclude:
        bundle = {k: v for k, v in bundle.items() if k not in exclude}
    return bundle
