"""Diagrams of a compiled spec as DOT text: the graphical model, and the architecture.

:func:`to_dot` is a pure function from a :class:`compiler.graph.ModelGraph` to the text of a
Graphviz ``digraph``; it needs neither the ``dot`` binary nor the ``graphviz`` package, and its
output is stable (tests compare it with golden files). Turning it into SVG, PNG or PDF is the job
of ``zoo render``.

* ``view="pgm"`` -- the probabilistic graphical model as the papers draw it: random variables as
  circles (observed ones shaded, pseudo-inputs doubled), deterministic PGM features as diamonds
  (shared bijective layers, computed in both passes, filled), generative edges solid black,
  inference edges dashed blue, layers ranked by their index (``z[1]`` on top, the data at the
  bottom). Given a factorization report, unfaithful factors are red (acknowledged ones orange)
  and the edges of their witness paths are drawn thick in the same colour.
* ``view="architecture"`` -- the dataflow of the compiled module: see :mod:`compiler.render_arch`.
"""
from __future__ import annotations

import re
from typing import Optional

from .dot import STYLE, attrs, elided, escape, header, html_name, natural, quote, relation_label
from .plates import collapse, find_plate, index_of, mapped_inverse, parse_layers, select_layers

__all__ = ["to_dot", "quote", "html_name", "STYLE", "LAYOUTS", "parse_layers"]  # parse_layers: from plates

LAYOUTS = ("overlay", "side-by-side")

_escape, _natural = escape, natural  # the names the views used before the helpers moved to compiler.dot


def to_dot(mg, view: str = "pgm", report=None, *, legend: bool = True, unroll: bool = False,
           layers: Optional[tuple] = None, layout: str = "overlay", ids: bool = False) -> str:
    """DOT text of a model's graphical model or architecture.

    Args:
        mg: a :class:`compiler.graph.ModelGraph`.
        view: "pgm" or "architecture".
        report: a :class:`compiler.dsep.FactorizationReport` to draw violations and witnesses
            (pgm view); None draws none.
        legend: add a legend of the node and edge styles.
        unroll: draw every layer, not the repeated ones once inside a plate (:mod:`compiler.plates`).
        layers: (first, last): draw only the layers with these indices (and the unindexed
            variables); the others are marked as elided. Implies `unroll`.
        layout: pgm view: "overlay" (p and q in one drawing) or "side-by-side" (two panels, the
            nodes in the same places).
        ids: tag every drawn element of a violation's witness with the SVG class ``w<k>`` (k its
            position in ``report.violations``), for the model card's hover highlighting.

    Returns:
        The text of one ``digraph``.

    Raises:
        ValueError: an unknown view or layout, or a layer range that selects no layer.

    Example:
        >>> from zoo.registry import compile_spec
        >>> text = to_dot(compile_spec("vae"))
        >>> text.splitlines()[0], '"z" -> "x"' in text
        ('digraph "vae" {', True)
    """
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout '{layout}': choose one of {', '.join(LAYOUTS)}")
    if view == "pgm":
        return _pgm(mg, report, legend, unroll=unroll or layers is not None, layers=layers, layout=layout, ids=ids)
    if view == "architecture":
        from .render_arch import architecture_dot

        if layout != "overlay":
            raise ValueError("--layout side-by-side draws the two graphical models; the architecture is one dataflow")
        return architecture_dot(mg, legend=legend, unroll=unroll or layers is not None, layers=layers)
    raise ValueError(f"unknown view '{view}': choose 'pgm' or 'architecture'")


def _pgm(mg, report, legend: bool, *, unroll: bool, layers, layout: str, ids: bool) -> str:
    from .dsep_problem import problem_from_graph

    problem = problem_from_graph(mg, summaries=False)  # the PGM as the spec states it
    graph, det = problem.graph, problem.deterministic
    inference = [(p, v) for v in problem.order for p in problem.parents[v]]
    colour, hot, tags = _violations(report, graph)
    if not ids:
        tags = {}
    gen = set(graph.edges)
    inf = set(inference) | {(a, b) for a, b in gen if b in det}  # deterministic nodes are computed in q too
    skip = {e for e in _transitive(gen) | (_transitive(inf) - gen) if _skips(*e) and not set(e) & problem.observed}
    key = {e: ("p" if e in gen else "") + ("q" if e in inf else "") for e in gen | inf}
    nodes = sorted(graph.nodes, key=natural)
    mapped = {n: n for n in nodes}
    left_out: set = set()
    if layers is not None:
        nodes, key, left_out, mapped = select_layers(nodes, key, layers)
    plate = None
    if not unroll:
        plate = find_plate(nodes, key, lambda n: getattr(getattr(mg.info(n), "origin", None), "binder", None))
    folded = collapse(nodes, key, plate)
    members = {d: [o for m in ms for o in (mapped_inverse(mapped, m))] for d, ms in folded.nodes.items()}
    originals = {e: [(a, b) for m in ms for a in mapped_inverse(mapped, m[0]) for b in mapped_inverse(mapped, m[1])
                     if (a, b) in gen or (a, b) in inf]
                 for e, (_, ms) in folded.edges.items()}
    lines: list = []
    header(mg.name, lines)
    drawn: set = set()
    panels = [("", None)] if layout == "overlay" else [("p/", "p"), ("q/", "q")]
    for prefix, model in panels:
        if model is not None:
            title = "generative model p" if model == "p" else "inference model q"
            lines.append(f"  subgraph {quote('cluster_' + model)} {{")
            lines.append(f'  graph [label=<<B>{title}</B>>, labeljust=l, style=rounded, color="#bbbbbb"];')
        _pgm_nodes(lines, mg, folded, members, det, colour, tags, left_out, prefix, drawn)
        _pgm_ranks(lines, folded, problem, prefix)
        _pgm_edges(lines, mg, folded, originals, gen, inf, det, hot, skip, problem, tags, prefix, model, drawn)
        if model is not None:
            lines.append("  }")
    if layout != "overlay":  # the panels side by side, each node beside its twin
        for d in folded.nodes:
            if index_of(d) is None or folded.folded(d):
                lines.append(f"  {{ rank=same; {quote('p/' + d)} {quote('q/' + d)} }}")
                break
    if legend:
        _pgm_legend(lines, drawn)
    lines.append("}")
    return "\n".join(lines) + "\n"


def _worst(colours: list) -> Optional[str]:
    if STYLE["violation"] in colours:
        return STYLE["violation"]
    return colours[0] if colours else None


def _pgm_nodes(lines, mg, folded, members, det, colour, tags, left_out, prefix, drawn) -> None:
    plate = folded.plate
    inside = [d for d in folded.nodes if folded.folded(d)]
    for d in folded.nodes:
        if d in inside:
            continue
        lines.append("  " + _pgm_node(mg, d, members[d], det, colour, tags, d in left_out, prefix, drawn))
    if inside:
        lines.append(f"  subgraph {quote('cluster_' + prefix + 'plate')} {{")
        lines.append(f'    graph [label={relation_label(plate.label)}, labeljust=r, labelloc=b, style=rounded, '
                     f'color="{STYLE["plate"]}", fontcolor="{STYLE["plate"]}", fontsize=11, margin=10];')
        for d in inside:
            lines.append("    " + _pgm_node(mg, d, members[d], det, colour, tags, False, prefix, drawn))
        lines.append("  }")
        drawn.add("plate")


def _pgm_node(mg, d, originals, det, colour, tags, left_out, prefix, drawn) -> str:
    first = originals[0]
    info = mg.info(first)
    label = html_name(d)
    tip = d if len(originals) == 1 else f"{d}: {len(originals)} layers ({originals[0]} .. {originals[-1]})"
    kw = {"label": label, "tooltip": tip}
    if left_out:
        drawn.add("elided")
        return elided(d, f"{d}: layers not drawn (--layers)", prefix)
    if first in det:
        shared = mg.models_of(first) >= {"p", "q"}
        kw.update(shape="diamond", width="0.45", height="0.45", fixedsize="true",
                  style="filled" if shared else None, fillcolor=STYLE["shared_fill"] if shared else None,
                  tooltip=f"{tip}: deterministic ({'shared by p and q' if shared else 'one model'})")
        drawn.add("det")
    else:
        kind = info.kind
        kw.update(shape="doublecircle" if kind == "pseudo" else "circle", width="0.5", fixedsize="true")
        if kind == "observed":
            kw.update(style="filled", fillcolor=STYLE["observed"])
        if kind == "pseudo":
            drawn.add("pseudo")
    c = _worst([colour[o] for o in originals if o in colour])
    if c:
        kw.update(color=c, penwidth="2.2", fontcolor=c)
        drawn.add(c)
    classes = sorted({t for o in originals for t in tags.get(o, ())})
    if classes:
        kw["class_"] = " ".join(classes)
    return f"{quote(prefix + d)}{attrs(**kw)};"


def _layer(folded, d: str) -> Optional[int]:
    """The rank key of a drawn node: its index, the plate's first index for a representative."""
    if folded.folded(d):
        return folded.runs[d][1][0]
    ix = index_of(d)
    if ix is None:
        return None
    m = re.match(r"(\d+)", d[d.index("[") + 1:])
    return int(m.group(1)) if m else None


def _pgm_ranks(lines, folded, problem, prefix) -> None:
    """The layers of one index side by side, the data at the bottom."""
    by_index: dict = {}
    for d in folded.nodes:
        i = _layer(folded, d)
        if i is not None:
            by_index.setdefault((folded.folded(d), i), []).append(d)
    for k in sorted(by_index):
        if len(by_index[k]) > 1:
            lines.append("  { rank=same; " + " ".join(quote(prefix + n) for n in by_index[k]) + " }")
    if problem.observed:
        lines.append("  { rank=max; " + " ".join(quote(prefix + n) for n in sorted(problem.observed, key=natural)
                                                 if n in folded.nodes) + " }")


def _pgm_edges(lines, mg, folded, originals, gen, inf, det, hot, skip, problem, tags, prefix, model, drawn) -> None:
    for (a, b, _k), (label, _ms) in sorted(folded.edges.items(), key=lambda e: (natural(e[0][0]), natural(e[0][1]))):
        orig = originals[(a, b, _k)]
        in_p, in_q = any(e in gen for e in orig), any(e in inf for e in orig)
        shared = in_p and any(e[1] in det and mg.models_of(e[1]) >= {"p", "q"} for e in orig)
        if in_p:
            kw = {"color": f"{STYLE['generative']}:{STYLE['inference']}" if in_q else STYLE["generative"]}
            if shared:
                kw.update(color=STYLE["shared"], penwidth="1.4")
        else:
            kw = {"style": "dashed", "color": STYLE["inference"], "constraint": "false"}
        if model == "p" and in_q and in_p:
            kw["color"] = STYLE["shared"] if shared else STYLE["generative"]
        elif model == "q" and in_p:
            kw["color"] = STYLE["shared"] if shared else STYLE["inference"]
            if in_q:
                kw["style"] = "dashed"
        heat = _worst([hot[e] for e in orig if e in hot])
        if heat and model != "q":
            kw.update(color=heat, penwidth="2.6")
        elif orig and all(e in skip for e in orig):  # a skip connection a longer path also makes: light
            kw.update(color=_light(kw["color"]), penwidth="0.6", constraint="false", arrowsize="0.5")
        elif any(n in problem.observed for e in orig for n in e):  # ranks the data below the layers
            kw["weight"] = "0"
        elif _layer(folded, a) is not None and _layer(folded, b) is not None:
            kw.setdefault("weight", "3")
        if a == b:  # a pattern between layers of the plate: a loop, named as the spec states it
            kw.pop("weight", None)
            kw.pop("constraint", None)
        if label:
            # between two layers of the plate (rank=same) a label would widen the gap and collide with
            # the loop's: an external label sits beside the edge instead
            inside = a != b and folded.folded(a) and folded.folded(b)
            kw["xlabel" if inside else "label"] = relation_label(label)
            drawn.add("pattern" if a == b else "some")
        kw["tooltip"] = {(True, True): "p and q", (True, False): "p", (False, True): "q"}[(in_p, in_q)] + (
            f" ({len(orig)} edges)" if len(orig) > 1 else "")
        invisible = (model == "p" and not in_p) or (model == "q" and not in_q)
        if invisible:  # the other panel's edge: laid out the same, not drawn
            kw = {k: v for k, v in kw.items() if k in ("constraint", "weight")}
            kw["style"] = "invis"
        else:
            base = {(True, True): "p and q", (True, False): "p", (False, True): "q"}[(in_p, in_q)]
            if model is not None:
                base = model  # a panel draws its own model's style
            if heat and model != "q":
                drawn.add(base)
            else:
                drawn.add("skip" if orig and all(e in skip for e in orig) else "shared" if shared else base)
        classes = sorted({t for e in orig for t in tags.get(e, ())})
        if classes and not invisible and model != "q":
            kw["class_"] = " ".join(classes)
        lines.append(f"  {quote(prefix + a)} -> {quote(prefix + b)}{attrs(**kw)};")
    for o in sorted(problem.observed, key=natural):  # hang the data under the deepest layer it touches
        near = [d for (a, b, _k) in folded.edges for d in (a, b) if o in (a, b) and d != o
                and _layer(folded, d) is not None]
        if near:
            deepest = max(near, key=lambda n: (_layer(folded, n) if not folded.folded(n) else folded.runs[n][1][1],
                                               natural(n)))
            lines.append(f"  {quote(prefix + deepest)} -> {quote(prefix + o)}{attrs(style='invis', weight='8')};")


def _transitive(edges: set) -> set:
    """The edges (a, b) of a DAG for which another directed path leads from a to b."""
    children: dict = {}
    for a, b in edges:
        children.setdefault(a, set()).add(b)
    reach: dict = {}

    def descendants(n):
        if n not in reach:
            reach[n] = set()
            out = set()
            for c in children.get(n, ()):
                out.add(c)
                out |= descendants(c)
            reach[n] = out
        return reach[n]

    out = set()
    for a, kids in children.items():
        for b in kids:
            if any(b in descendants(c) for c in kids if c != b):
                out.add((a, b))
    return out


def _skips(a: str, b: str) -> bool:
    """An edge that jumps over layers, or joins a layer to an unindexed variable (x, u)."""
    i, j = _index(a), _index(b)
    return i is None or j is None or abs(i - j) > 1


def _light(colour: str) -> str:
    """The same colour(s), mostly transparent."""
    return ":".join(c + "59" for c in colour.split(":"))


def _index(name: str) -> Optional[int]:
    m = re.fullmatch(r"[A-Za-z_]\w*\[(\d+)\]", name)
    return int(m.group(1)) if m else None


def _violations(report, graph):
    """Node colours of violated latents, the generative edges of their witness paths, and tags.

    Returns:
        (colour, hot, tags): {node: colour}, {edge: colour}, {node or edge: {"w<k>"}} where k is
        the violation's position in ``report.violations + report.resting``.
    """
    colour, hot, tags = {}, {}, {}
    if report is None:
        return colour, hot, tags
    found = tuple(report.violations) + tuple(report.resting)  # a factor resting on sufficiency is drawn too
    order = sorted(range(len(found)), key=lambda k: not found[k].acknowledged)
    for k in order:  # unacknowledged drawn last, on top
        v = found[k]
        c = STYLE["acknowledged"] if v.acknowledged else STYLE["violation"]
        colour[v.latent] = c
        tags.setdefault(v.latent, set()).add(f"w{k}")
        for a, b in zip(v.witness, v.witness[1:]):
            edge = (a, b) if graph.has_edge(a, b) else (b, a)
            hot[edge] = c
            tags.setdefault(edge, set()).add(f"w{k}")
            for n in edge:
                tags.setdefault(n, set()).add(f"w{k}")
    return colour, hot, tags


def _pgm_legend(lines: list, drawn: set) -> None:
    line = "&#8212;&#8212;&#8212;"
    rows = [("p", line, STYLE["generative"], "generative edge (p)"),
            ("q", "- - - -", STYLE["inference"], "inference edge (q)"),
            ("p and q", f'&#8212;</FONT><FONT COLOR="{STYLE["inference"]}">&#8212;&#8212;', STYLE["generative"],
             "edge of both p and q"),
            ("skip", line, "#22222288", "skip connection (a longer path joins the same nodes)"),
            ("det", "&#9670;", STYLE["shared"], "deterministic node; filled: computed by p and q"),
            ("pseudo", "&#9678;", STYLE["generative"], "pseudo-input: a random variable that summarises x"),
            ("shared", line, STYLE["shared"], "shared layer: an edge computed by both p and q"),
            ("plate", "&#9645;", STYLE["plate"], "plate: the layers it names, drawn once"),
            ("pattern", "&#8635;", STYLE["generative"],
             "edge pattern between the plate's layers, as the spec states it"),
            ("some", line, STYLE["generative"], "edge that holds only for the layers named on it"),
            ("elided", "&#9645;", STYLE["plate"], "layers left out (--layers)"),
            (STYLE["violation"], line, STYLE["violation"], "unfaithful factor and an active path"),
            (STYLE["acknowledged"], line, STYLE["acknowledged"], "departure acknowledged by an assumption")]
    cells = "".join(f'<TR><TD><FONT COLOR="{c}">{sym}</FONT></TD><TD ALIGN="LEFT">{text}</TD></TR>'
                    for key, sym, c, text in rows if key in drawn)
    lines.append(f'  legend [shape=plaintext, fontsize=10, label=<<TABLE BORDER="0" CELLBORDER="0" '
                 f'CELLSPACING="1">{cells}</TABLE>>];')
