"""Static HTML reports: a model card for a spec, and a run report for a trained run.

``zoo report SPEC -o card.html`` writes :func:`model_card`; ``zoo report RUN -o report.html``
writes :func:`run_report`, the card of the run's spec followed by what the run measured. Each
page is one self-contained file: inline SVG diagrams, figures as inline SVG or base64 PNG, a
small inline stylesheet and script (written for this project, no third-party code), and no
network access. Modules: :mod:`.page` (the HTML frame, zoomable figures), :mod:`.highlight`
(spec source), :mod:`.card` (the model card's sections), :mod:`.run` (the run's sections).
"""
from __future__ import annotations

__all__ = ["model_card", "run_report"]


def model_card(spec: str, overrides=None) -> str:
    """The HTML text of the model card of a zoo model or `.hvae` file (see :mod:`zoo.report.card`)."""
    from .card import model_card as build

    return build(spec, overrides)


def run_report(run: str, **options) -> str:
    """The HTML text of the report of a run folder (see :mod:`zoo.report.run`)."""
    from .run import run_report as build

    return build(run, **options)
