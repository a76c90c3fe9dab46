"""The architecture view: the dataflow of the compiled module, one box per statement element.

Every computation of the IR belongs to an *owner*: the named feature, factor or variable whose
statement created it (``c[3]/x/x`` and ``c[3]/x`` belong to ``c[3]``; ``d[2].key`` to ``d[2]``;
``posterior(z[3])/delta/params`` to ``posterior(z[3])``). The view draws one node per owner,
labelled with its name and the chain of blocks inside it (``nvae_cell ∘ conv ∘ concat``), and one
edge per pair of owners that values flow between, coloured by the pass that computes the target:
blue for the inference pass only, black for the generative pass only, purple for both.

Owners are grouped into clusters that mirror how papers draw hierarchical VAEs: the bottom-up
(inference-only) path, the top-down path shared by both passes, the likelihood head (what only
the decoder computes), and the pseudo-input block; priors, posteriors and latents sit between
them. The bottom-up path is drawn rising from the data (its edges are laid out reversed), so a
deep ladder reads as two columns: the encoder going up on one side and the decoder coming down on
the other; the data sits at the bottom. Blocks whose role is attention are hexagons and the connections into them are orange;
shared bijectors are doubly outlined.
"""
from __future__ import annotations

import re

from .dot import STYLE, attrs, elided, header, html_name, quote, relation_label
from .plates import collapse, find_plate, mapped_inverse, select_layers
from .dot import escape as _escape, natural as _natural

__all__ = ["architecture_dot", "owner_of"]

CLUSTERS = (
    ("bottom_up", "bottom-up path (inference only)", STYLE["inference"]),
    ("top_down", "top-down path (shared by p and q)", STYLE["shared"]),
    ("generative", "generative only", STYLE["generative"]),
    ("head", "likelihood head", STYLE["generative"]),
    ("pseudo", "pseudo-input block", STYLE["shared"]),
)


def owner_of(node: str) -> str:
    """The statement element a node belongs to: `c[3]/x/x` -> `c[3]`, `d[2].key` -> `d[2]`."""
    base = node.split("/", 1)[0]
    if "(" not in base and "." in base:
        base = base.split(".", 1)[0]
    return base


def architecture_dot(mg, *, legend: bool = True, unroll: bool = False, layers=None) -> str:
    """DOT text of the dataflow of `mg`, one node per owner (see the module docstring).

    Args:
        mg: a :class:`compiler.graph.ModelGraph`.
        legend: add a legend of the edge colours.
        unroll: one box per layer's owner; otherwise the owners of a plate's layers
            (:mod:`compiler.plates`) are one box each, with their multiplicity.
        layers: (first, last): only the owners of these layers (and the unindexed ones); the rest
            of each array is one dashed box.
    """
    from .nodes import VarInfo

    g = mg.graph
    members: dict = {}
    for n in g.nodes:
        members.setdefault(owner_of(n), []).append(n)
    kind = {o: _kind(mg, o, ns, VarInfo) for o, ns in members.items()}
    models = {o: frozenset().union(*(mg.models_of(n) for n in ns)) for o, ns in members.items()}
    cluster = _clusters(mg, members, kind, models)
    flows: dict = {}
    for a, b, d in g.edges(data=True):
        if not d["data"]:
            continue
        oa, ob = owner_of(a), owner_of(b)
        if oa != ob:
            e = flows.setdefault((oa, ob), {"models": set(), "attention": False})
            e["models"] |= set(d["models"])
            e["attention"] = e["attention"] or getattr(mg.info(b), "role", "") == "attention"
    keys = {ab: ("".join(sorted(e["models"])), e["attention"]) for ab, e in flows.items()}
    order = sorted(members, key=_natural)
    mapped, left_out, plate = {o: o for o in order}, set(), None
    if layers is not None:
        order, keys, left_out, mapped = select_layers(order, keys, layers, "block")
    elif not unroll:
        plate = find_plate(order, keys, lambda o: _binder(mg, o, members), per_array=True)
    folded = collapse(order, keys, plate)
    boxes = {d: [o for m in ms for o in mapped_inverse(mapped, m)] for d, ms in folded.nodes.items()}
    lines: list = []
    header(f"{mg.name} architecture", lines)
    lines.append('  graph [ranksep=0.3, nodesep=0.25, compound=true];')
    lines.append('  node [fontsize=11, margin="0.08,0.03"];')
    used = {"elided"} if left_out else set()

    def box(d: str) -> str:
        first = boxes[d][0]
        if d in left_out:
            return elided(d, f"{d}: not drawn (--layers)")
        span = folded.runs[d][1] if folded.folded(d) else None
        if span:
            used.add("many")
        return _node(mg, d, [n for o in boxes[d] for n in members[o]], kind[first], span, plate)

    done = set()
    for key, title, colour in CLUSTERS:
        owners = [d for d in folded.nodes if d not in left_out and cluster.get(boxes[d][0]) == key]
        if not owners:
            continue
        lines.append(f"  subgraph cluster_{key} {{")
        lines.append(f"    graph{attrs(label=title, color=colour, fontcolor=colour, style='rounded,dashed')};")
        for d in owners:
            lines.append("    " + box(d))
            done.add(d)
        lines.append("  }")
    for d in folded.nodes:
        if d not in done:
            lines.append("  " + box(d))
    rising = {d for d in folded.nodes if cluster.get(boxes[d][0]) == "bottom_up"}
    ordered = sorted(folded.edges.items(), key=lambda item: (_natural(item[0][0]), _natural(item[0][1])))
    for (a, b, (m, attention)), (label, _) in ordered:
        m = frozenset(m)
        colour = STYLE["attention"] if attention else {
            frozenset({"q"}): STYLE["inference"], frozenset({"p"}): STYLE["generative"]}.get(m, STYLE["shared"])
        used.add(colour)
        kw = {"color": colour, "tooltip": "+".join(sorted(m)) or "-"}
        if attention:
            kw["penwidth"] = "0.7"
        ka, kb = kind[boxes[a][0]], kind[boxes[b][0]]
        if ka in ("prior", "posterior") and kb in ("latent", "pseudo"):
            kw["penwidth"] = "1.6"  # sampling
        if label:
            kw["label"] = relation_label(label)
            kw["fontcolor"] = colour
        if a == b:
            lines.append(f"  {quote(a)} -> {quote(b)}{attrs(**kw)};")
        elif ka == "observed" or (a in rising and b in rising):  # the encoder rises from the data
            lines.append(f"  {quote(b)} -> {quote(a)}{attrs(dir='back', **kw)};")
        else:
            lines.append(f"  {quote(a)} -> {quote(b)}{attrs(**kw)};")
    if legend:
        _legend(lines, used, plate)
    lines.append("}")
    return "\n".join(lines) + "\n"


def _binder(mg, owner: str, members: dict):
    """The index variable of the statement an owner comes from, if it binds one."""
    info = mg.info(owner) if owner in mg.graph else mg.info(members[owner][0])
    origin = getattr(info, "origin", None)
    return getattr(origin, "binder", None)


def _kind(mg, owner: str, nodes: list, VarInfo) -> str:
    info = mg.info(owner) if owner in mg.graph else mg.info(nodes[0])
    if isinstance(info, VarInfo):
        return info.kind
    if info.kind == "factor":
        return info.factor_kind
    return info.role or "feature"


def _clusters(mg, members: dict, kind: dict, models: dict) -> dict:
    """Which cluster each owner is drawn in (latents, priors and posteriors in none)."""
    pseudo = {o for o, k in kind.items() if k == "pseudo"}
    out = {}
    for o, k in kind.items():
        target = re.match(r"\w+\((.*)\)$", o)
        if k == "pseudo" or (target and target.group(1) in pseudo):
            out[o] = "pseudo"
        elif k == "likelihood":
            out[o] = "head"
        elif k in ("observed", "latent", "prior", "posterior"):
            continue
        elif models[o] == frozenset({"q"}):
            out[o] = "bottom_up"
        elif models[o] == frozenset({"p", "q"}):
            out[o] = "top_down"
        elif models[o] == frozenset({"p"}):
            out[o] = "head" if _feeds_only_likelihood(mg, members[o]) else "generative"
    return out


def _feeds_only_likelihood(mg, nodes: list) -> bool:
    """A generative-only feature whose values reach no prior: part of the decoder's head."""
    seen, stack = set(nodes), list(nodes)
    while stack:
        n = stack.pop()
        for m in mg.graph.successors(n):
            if m in seen or not mg.graph.edges[n, m]["data"]:
                continue
            if owner_of(m).startswith("prior("):
                return False
            seen.add(m)
            if "(" not in owner_of(m) or owner_of(m).startswith("likelihood("):
                stack.append(m)
    return True


def _ops(mg, nodes: list) -> str:
    """The blocks inside an owner, outermost first: `nvae_cell ∘ conv ∘ concat`."""
    ops = []
    for n in sorted(nodes, key=lambda n: (n.count("/"), _natural(n))):
        info = mg.info(n)
        op = getattr(info, "op", None)
        if op and op not in ("slice", "identity") and op not in ops:
            ops.append(op)
    if len(ops) > 4:
        ops = ops[:3] + ["&#8230;"]
    return " &#8728; ".join(_escape(o) if o != "&#8230;" else o for o in ops)


def _node(mg, owner: str, nodes: list, kind: str, span=None, plate=None) -> str:
    name = html_name(owner)[1:-1] if "(" not in owner else _factor_name(owner)
    ops = _ops(mg, nodes)
    if any(getattr(mg.info(n), "role", "") == "attention" for n in nodes):
        kind = "attention"  # a block with attention inside is drawn as one
    many = span[1] - span[0] + 1 if span else 1
    if span:
        ops = (ops + "<BR/>" if ops else "") + f"&#215;{many} (<I>{plate.binder}</I> = {span[0]}..{span[1]})"
    label = f"<{name}<BR/><FONT POINT-SIZE=\"9\" COLOR=\"#555555\">{ops}</FONT>>" if ops else f"<{name}>"
    kw = {"label": label, "tooltip": owner if many == 1 else f"{owner}: {many} layers"}
    if kind in ("observed", "latent", "pseudo"):
        kw.update(shape="doublecircle" if kind == "pseudo" else "circle", label=f"<{name}>", width="0.45",
                  fixedsize="true")
        if kind == "observed":
            kw.update(style="filled", fillcolor=STYLE["observed"])
    elif kind in ("prior", "posterior", "likelihood"):
        colour = STYLE["inference"] if kind == "posterior" else STYLE["generative"]
        kw.update(shape="box", style="rounded", color=colour, fontcolor=colour)
    elif kind == "attention":
        kw.update(shape="hexagon", color=STYLE["attention"], penwidth="1.4")
    elif kind == "bijector":
        kw.update(shape="box", peripheries="2", color=STYLE["shared"])
    elif kind == "constant":
        kw.update(shape="box", style="dashed")
    else:
        kw.update(shape="box")
    return f"  {quote(owner)}{attrs(**kw)};"


def _factor_name(owner: str) -> str:
    """`posterior(z[3])` -> q(<I>z</I><SUB>3</SUB>), `prior(z[3])` -> p(...), `likelihood(x)` -> p(x | ...)."""
    m = re.fullmatch(r"(\w+)\((.*)\)", owner)
    kind, target = m.groups()
    inner = html_name(target)[1:-1]
    return {"posterior": f"q({inner})", "prior": f"p({inner})", "likelihood": f"p({inner} | &#183;)"}.get(
        kind, _escape(owner))


def _legend(lines: list, used: set, plate=None) -> None:
    line = "&#8212;&#8212;&#8212;"
    rows = [(STYLE["inference"], line, "computed in the inference pass only"),
            (STYLE["generative"], line, "computed in the generative pass only"),
            (STYLE["shared"], line, "computed in both passes (shared)"),
            (STYLE["attention"], line, "into an attention block (orange hexagon)")]
    rows = [r for r in rows if r[0] in used]
    if "many" in used:
        rows.append((STYLE["plate"], "&#215;n", "one box for n layers; an edge label names the layers it "
                     "reads, or the layers it holds for"))
    if "elided" in used:
        rows.append((STYLE["plate"], "&#9645;", "layers left out (--layers)"))
    cells = "".join(f'<TR><TD><FONT COLOR="{c}">{sym}</FONT></TD><TD ALIGN="LEFT">{t}</TD></TR>'
                    for c, sym, t in rows)
    lines.append(f'  legend [shape=plaintext, fontsize=10, label=<<TABLE BORDER="0" CELLBORDER="0" '
                 f'CELLSPACING="1">{cells}</TABLE>>];')
