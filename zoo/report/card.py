"""The model card: what a spec is, drawn and checked, on one page.

Sections: an overview (the spec's header: model, paper, data; layers and parameters; the
factorization verdict), the graphical model (plates folded, zoomable), the factorization check
(each violation or acknowledged departure, whose active path lights up on the diagram while the
pointer is on it; the assumptions), the architecture, the parameters per component (as
``zoo build`` counts them, on PyTorch's meta device so that nothing is allocated), and the spec
source, highlighted, with its imports. The verdict is the one :mod:`compiler.dsep` returns,
read through its report's ``to_dict``.
"""
from __future__ import annotations

import os

from .highlight import highlight
from .page import escape, page, table, zoomable

__all__ = ["model_card", "card_sections", "verdict_badge"]


def model_card(spec: str, overrides=None) -> str:
    """The HTML page of the model card of `spec` (a zoo model name or a `.hvae` file)."""
    from zoo.registry import compile_spec

    mg = compile_spec(spec, overrides)
    title, subtitle, sections = card_sections(mg, spec, overrides)
    return page(title, subtitle, sections)


def card_sections(mg, spec: str, overrides=None, *, model=None):
    """(title, subtitle html, sections) of the card of `mg`; `model` counts parameters if given."""
    from compiler.dsep import check_posterior_factorization
    from compiler.layout import svg

    report = check_posterior_factorization(mg, inverse=False)
    verdict = report.to_dict()
    summary = _summary(mg, spec, overrides, model)
    pgm_svg = svg(mg, "pgm", report=report, ids=True)
    arch_svg = svg(mg, "architecture")
    title = f"{mg.name}: model card"
    subtitle = escape(mg.description or mg.name)
    sections = [
        ("overview", "Overview", _overview(mg, summary, verdict)),
        ("pgm", "Graphical model", zoomable(pgm_svg, "pgm-figure", _pgm_caption(mg, verdict), kind="pgm")),
        ("factorization", "Factorization", _factorization(verdict)),
        ("architecture", "Architecture", zoomable(arch_svg, "arch-figure", _arch_caption(mg))),
        ("parameters", "Parameters", _parameters(summary)),
        ("source", "Spec source", _source(mg)),
    ]
    return title, subtitle, sections


def verdict_badge(verdict: dict) -> str:
    """The verdict in a few words, from the check's JSON fields (docs/factorization.md)."""
    if verdict["respects_exact_factorization"]:
        return '<span class="verdict exact">faithful</span>'
    departures = [v for v in verdict["violations"] if v["acknowledged"]]
    resting = [v for v in verdict.get("resting_on_sufficiency", ()) if v["acknowledged"]]
    if verdict["passes_check"]:
        parts = ([_count(len(departures), "acknowledged departure")] if departures else []) + \
                ([_count(len(resting), "factor") + " resting on acknowledged sufficiency"] if resting else [])
        return f'<span class="verdict ack">faithful up to {" and ".join(parts)}</span>'
    open_ = [v for v in _departures(verdict) if not v["acknowledged"]]
    return f'<span class="verdict bad">not certified: {_count(len(open_), "unacknowledged departure")}</span>'


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' * (n != 1)}"


def _departures(verdict: dict) -> list:
    """The violations, then the factors faithful only under a sufficiency assumption (the renderer's order)."""
    return list(verdict["violations"]) + list(verdict.get("resting_on_sufficiency", ()))


def _summary(mg, spec, overrides, model):
    """``zoo build``'s summary (parameters per component), from a model on the meta device if none is given."""
    import torch

    from zoo.commands.build import summarize
    from zoo.registry import create_model

    if model is None:
        with torch.device("meta"):  # counts without allocating (attentive16 has 119M parameters)
            model = create_model(spec, **(overrides or {}))
    return summarize(mg, model)


def _overview(mg, summary, verdict) -> str:
    pseudo = summary["pseudo_inputs"]
    rows = [("model", escape(mg.name)), ("description", escape(mg.description or "")),
            ("paper", escape(mg.paper or "(none stated)")), ("data", escape(mg.dataset or "(none stated)")),
            ("latent layers", str(summary["latent_layers"]) + (
                f" + pseudo-input {', '.join(map(escape, pseudo))}" if pseudo else "")),
            ("parameters", f"{summary['parameters']:,} (as built; the spec header below gives the paper's count "
                           f"where it has one)"),
            ("factorization", verdict_badge(verdict))]
    if mg.spec.overrides:
        rows.insert(1, ("overrides", escape(", ".join(f"{k}={v}" for k, v in mg.spec.overrides.items()))))
    head = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    header = _header_comment(mg)
    return f"<table>{head}</table>" + (
        f'<h3>From the spec\'s header</h3><pre class="source">{highlight(header, "H")}</pre>' if header else "")


def _header_comment(mg) -> str:
    """The comment block at the top of the main spec file (where specs cite the paper and its counts)."""
    source = next(iter(mg.spec.sources.values()), "")
    lines = []
    for line in source.splitlines():
        if line.startswith("#"):
            lines.append(line)
        elif lines:
            break
    return "\n".join(lines)


def _pgm_caption(mg, verdict: dict) -> str:
    text = ("The generative model p (solid) and the inference model q (dashed blue) over the random "
            "variables; repeated layers are drawn once inside a plate, and an edge pattern between layers is "
            "one labelled edge (<code>zoo render " + escape(mg.name) + " --unroll</code> draws every layer).")
    if _departures(verdict):
        text += " Point at a violation under Factorization to light up its active path."
    return text


def _arch_caption(mg) -> str:
    return ("The dataflow of the compiled module, one box per statement element; the repeated cells of a "
            "plate are one box with their multiplicity (&times;n). Blue: inference pass only; black: "
            "generative only; purple: both; orange hexagons: blocks with attention.")


def _factorization(verdict: dict) -> str:
    parts = [f"<p>{verdict_badge(verdict)} &nbsp;<span class=\"note\">the posterior factorization check of "
             f"<code>zoo check</code> (docs/factorization.md)</span></p>"]
    violations = _departures(verdict)
    if not violations:
        parts.append("<p>Every posterior factor conditions on what the exact posterior's factorization needs: "
                     "nothing to highlight.</p>")
    else:
        items = []
        for k, v in enumerate(violations):
            cls = "ack" if v["acknowledged"] else ""
            kind = "acknowledged departure" if v["acknowledged"] else "violation"
            if v.get("sufficiency"):
                kind += f" unless {', '.join(map(escape, v['sufficiency']))} is sufficient"
            line = v.get("line")
            where = escape(os.path.basename(str(v.get("location", ""))))
            link = f' <a href="#S0-{line}">{where}</a>' if line else ""
            body = [f"<b>{escape(v['latent'])}</b> &mdash; {kind}{link}: <code>{escape(v.get('statement', ''))}</code>",
                    f"leaves out {escape(', '.join(v['missing']))}; "
                    f"active path <code>{escape(v['witness_text'])}</code>"]
            if v.get("suggested_parents"):
                body.append(f"faithful if it also conditions on {escape(', '.join(v['suggested_parents']))}")
            if v["acknowledged"] and v.get("acknowledged_by"):
                body.append(f"acknowledged by the assumption at {escape(', '.join(map(str, v['acknowledged_by'])))}")
            items.append(f'<li class="{cls}" data-witness="w{k}">' + "<br>".join(body) + "</li>")
        parts.append(f'<ul class="violations">{"".join(items)}</ul>')
    if verdict.get("assumptions"):
        rows = [[f"<code>{escape(a['statement'])}</code>", escape(a.get("reason") or ""),
                 escape(", ".join(a.get("acknowledges") or [])) or "(nothing: not needed)"]
                for a in verdict["assumptions"]]
        parts.append("<h3>Assumptions</h3>" + table(["statement", "reason", "acknowledges"], rows))
    return "\n".join(parts)


def _parameters(summary) -> str:
    comps = summary.get("components") or []
    rows = [[f"<code>{escape(c['component'])}</code>", escape(c["model"]), f"{c['parameters']:,}"] for c in comps]
    rows.append(["<b>total</b>", "", f"<b>{summary['parameters']:,}</b>"])
    return table(["component", "model", "parameters"], rows, numeric=(2,))


def _source(mg) -> str:
    out = []
    for k, (path, text) in enumerate(mg.spec.sources.items()):
        name = escape(os.path.basename(path))
        out.append(f"<h3>{name}</h3><pre class=\"source\">{highlight(text, f'S{k}-')}</pre>")
    return "\n".join(out)


