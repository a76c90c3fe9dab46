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

__all__ = ["to_dot", "quote", "html_name", "STYLE"]

STYLE = {
    "font": "Helvetica",
    "generative": "#222222",
    "inference": "#1f5fbf",
    "shared": "#7b3294",
    "violation": "#d62728",
    "acknowledged": "#ff7f0e",
    "observed": "#c8c8c8",
    "shared_fill": "#e7d4f5",
    "attention": "#e6550d",
}

GREEK = {"eps": "&epsilon;", "epsilon": "&epsilon;", "alpha": "&alpha;", "beta": "&beta;", "gamma": "&gamma;",
         "delta": "&delta;", "mu": "&mu;", "sigma": "&sigma;", "theta": "&theta;", "phi": "&phi;",
         "lambda": "&lambda;", "nu": "&nu;", "tau": "&tau;", "omega": "&omega;"}


def to_dot(mg, view: str = "pgm", report=None, *, legend: bool = True) -> str:
    """DOT text of a model's graphical model or architecture.

    Args:
        mg: a :class:`compiler.graph.ModelGraph`.
        view: "pgm" or "architecture".
        report: a :class:`compiler.dsep.FactorizationReport` to draw violations and witnesses
            (pgm view); None draws none.
        legend: add a legend of the node and edge styles.

    Returns:
        The text of one ``digraph``.

    Raises:
        ValueError: an unknown view.

    Example:
        >>> from zoo.registry import compile_spec
        >>> text = to_dot(compile_spec("vae"))
        >>> text.splitlines()[0], '"z" -> "x"' in text
        ('digraph "vae" {', True)
    """
    if view == "pgm":
        return _pgm(mg, report, legend)
    if view == "architecture":
        from .render_arch import architecture_dot

        return architecture_dot(mg, legend=legend)
    raise ValueError(f"unknown view '{view}': choose 'pgm' or 'architecture'")


def quote(name: str) -> str:
    """A DOT identifier: always double-quoted, with quotes and backslashes escaped."""
    return '"' + str(name).replace("\\", "\\\\").replace('"', '\\"') + '"'


def attrs(**kw) -> str:
    """` [a="1", b=<...>]` (values starting with '<' are HTML labels; None values are left out)."""
    items = []
    for k, v in kw.items():
        if v is None:
            continue
        v = str(v)
        items.append(f"{k}={v}" if v.startswith("<") and v.endswith(">") else f"{k}={quote(v)}")
    return f" [{', '.join(items)}]" if items else ""


def html_name(name: str) -> str:
    """`z[3]` -> <I>z</I><SUB>3</SUB>, `eps[2]` -> &epsilon;<SUB>2</SUB>, `out` -> out (an HTML label).

    One-letter names are set in italics, as mathematical variables; longer names upright.
    """
    m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)(?:\[(\d+)\])?(?:\.(\w+))?", name)
    if not m:
        return "<" + _escape(name) + ">"
    base, index, group = m.groups()
    head = GREEK.get(base, f"<I>{_escape(base)}</I>" if len(base) == 1 else _escape(base))
    sub = f"<SUB>{index}</SUB>" if index is not None else ""
    tail = f".{_escape(group)}" if group else ""
    return f"<{head}{sub}{tail}>"


def _escape(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def header(name: str, lines: list, *, rankdir: str = "TB") -> None:
    lines.append(f"digraph {quote(name)} {{")
    lines.append(f'  graph [rankdir={rankdir}, newrank=true, nodesep=0.35, ranksep=0.45, '
                 f'fontname="{STYLE["font"]}", fontsize=12];')
    lines.append(f'  node [fontname="{STYLE["font"]}", fontsize=12];')
    lines.append(f'  edge [fontname="{STYLE["font"]}", fontsize=10, arrowsize=0.7];')


def _natural(name: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def _pgm(mg, report, legend: bool) -> str:
    from .dsep_problem import problem_from_graph

    problem = problem_from_graph(mg, summaries=False)  # the PGM as the spec states it
    graph, det = problem.graph, problem.deterministic
    inference = [(p, v) for v in problem.order for p in problem.parents[v]]
    colour, hot = _violations(report, graph)
    lines: list = []
    header(mg.name, lines)
    nodes = sorted(graph.nodes, key=_natural)
    pseudo = any(n not in det and mg.info(n).kind == "pseudo" for n in nodes)
    for n in nodes:
        info = mg.info(n)
        kw = {"label": html_name(n), "tooltip": n}
        if n in det:
            shared = mg.models_of(n) >= {"p", "q"}
            kw.update(shape="diamond", width="0.45", height="0.45", fixedsize="true",
                      style="filled" if shared else None, fillcolor=STYLE["shared_fill"] if shared else None,
                      tooltip=f"{n}: deterministic ({'shared by p and q' if shared else 'one model'})")
        else:
            kind = info.kind
            kw.update(shape="doublecircle" if kind == "pseudo" else "circle", width="0.5", fixedsize="true")
            if kind == "observed":
                kw.update(style="filled", fillcolor=STYLE["observed"])
        if n in colour:
            kw.update(color=colour[n], penwidth="2.2", fontcolor=colour[n])
        lines.append(f"  {quote(n)}{attrs(**kw)};")
    # ranks: the layers of one index side by side, the data at the bottom
    by_index: dict = {}
    for n in nodes:
        idx = _index(n)
        if idx is not None:
            by_index.setdefault(idx, []).append(n)
    for idx in sorted(by_index):
        if len(by_index[idx]) > 1:
            lines.append("  { rank=same; " + " ".join(quote(n) for n in by_index[idx]) + " }")
    if problem.observed:
        lines.append("  { rank=max; " + " ".join(quote(n) for n in sorted(problem.observed, key=_natural)) + " }")
    gen = set(graph.edges)
    inf = set(inference) | {(a, b) for a, b in gen if b in det}  # deterministic nodes are computed in q too
    drawn = ({"det"} if det else set()) | ({"pseudo"} if pseudo else set())  # the styles in use, for the legend
    drawn |= set(colour.values())
    skip = {e for e in _transitive(gen) | (_transitive(inf) - gen) if _skips(*e) and not set(e) & problem.observed}
    for a, b in sorted(gen | inf, key=lambda e: (_natural(e[0]), _natural(e[1]))):
        both = (a, b) in gen and (a, b) in inf
        shared = (a, b) in gen and b in det and mg.models_of(b) >= {"p", "q"}  # into a layer p and q compute
        if (a, b) in gen:
            kw = {"color": f"{STYLE['generative']}:{STYLE['inference']}" if both else STYLE["generative"]}
            if shared:
                kw.update(color=STYLE["shared"], penwidth="1.4")
        else:
            kw = {"style": "dashed", "color": STYLE["inference"], "constraint": "false"}
        if (a, b) in hot:
            kw.update(color=hot[(a, b)], penwidth="2.6")
        elif (a, b) in skip:  # a skip connection that a longer path also makes: light, so the chain stands out
            kw.update(color=_light(kw["color"]), penwidth="0.6", constraint="false", arrowsize="0.5")
        elif set((a, b)) & problem.observed:  # ranks the data below the layers but leaves them in line
            kw["weight"] = "0"
        else:
            kw.setdefault("weight", "3" if _index(a) is not None and _index(b) is not None else None)
        kw["tooltip"] = {(True, True): "p and q", (True, False): "p", (False, True): "q"}[
            ((a, b) in gen, (a, b) in inf)]
        if (a, b) in hot:
            drawn.add(kw["tooltip"])
        else:
            drawn.add("skip" if (a, b) in skip else "shared" if shared else kw["tooltip"])
        lines.append(f"  {quote(a)} -> {quote(b)}{attrs(**kw)};")
    for o in sorted(problem.observed, key=_natural):  # hang the data under the deepest layer it touches
        near = [n for n in set(graph.pred[o]) | set(graph.succ[o]) if _index(n) is not None]
        if near:
            deepest = max(near, key=lambda n: (_index(n), _natural(n)))
            lines.append(f"  {quote(deepest)} -> {quote(o)}{attrs(style='invis', weight='8')};")
    if legend:
        _pgm_legend(lines, drawn)
    lines.append("}")
    return "\n".join(lines) + "\n"


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
    """Node colours of violated latents, and the generative edges of their witness paths."""
    colour, hot = {}, {}
    if report is None:
        return colour, hot
    for v in sorted(report.violations + report.resting, key=lambda v: not v.acknowledged):  # unacknowledged drawn last, on top
        c = STYLE["acknowledged"] if v.acknowledged else STYLE["violation"]
        colour[v.latent] = c
        for a, b in zip(v.witness, v.witness[1:]):
            edge = (a, b) if graph.has_edge(a, b) else (b, a)
            hot[edge] = c
    return colour, hot


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
            (STYLE["violation"], line, STYLE["violation"], "unfaithful factor and an active path"),
            (STYLE["acknowledged"], line, STYLE["acknowledged"], "departure acknowledged by an assumption")]
    cells = "".join(f'<TR><TD><FONT COLOR="{c}">{sym}</FONT></TD><TD ALIGN="LEFT">{text}</TD></TR>'
                    for key, sym, c, text in rows if key in drawn)
    lines.append(f'  legend [shape=plaintext, fontsize=10, label=<<TABLE BORDER="0" CELLBORDER="0" '
                 f'CELLSPACING="1">{cells}</TABLE>>];')
