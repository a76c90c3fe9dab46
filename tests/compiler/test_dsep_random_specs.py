"""Random specs against a fine-grained oracle (hypothesis).

Small random specs with shared generative features -- identity aliases, `affine_rank1` and `add`
(invertible) and `linear` (not) -- that priors, posteriors and the likelihood read, are compiled
through the normal pipeline and checked. The oracle never looks at the check's graph: it takes the
IR's whole dataflow, makes *every* computation of the generative model a deterministic node (with
one inverse rule per invertible argument of each block), finds what each posterior reads by its own
trace back to the first generative node, and decides each factor with the enumerating closure of
tests/compiler/dsep_oracle.py and networkx's d-separation. The departures, their missing sets and
whether each rests on sufficiency must agree."""
from __future__ import annotations

import networkx as nx
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import dsl
from compiler.dsep import check_posterior_factorization
from compiler.graph import VarInfo, build_graph
from dsl import library as lib

from . import dsep_oracle as oracle


@st.composite
def specs(draw):
    n = draw(st.integers(2, 4))
    latents = [f"z{i}" for i in range(1, n + 1)]
    lines = ["observed x : [3] ~ bernoulli"] + [f"latent {z} : [2] ~ normal" for z in latents]
    features: list = []  # (name, the latents before which it can be read)
    for j in range(draw(st.integers(1, 3))):
        k = draw(st.integers(1, n - 1))  # the feature reads z1..zk, so the factors of z[k+1..] can read it
        pool = latents[:k] + [f for f, kk in features if kk <= k]
        kind = draw(st.sampled_from(["alias", "affine", "affine_cond", "add", "linear"]))
        a = draw(st.sampled_from(pool))
        b = draw(st.sampled_from(pool))
        value = {"alias": a, "affine": f"affine_rank1({a}, hidden = [2])",
                 "affine_cond": f"affine_rank1({a}, cond = {b}, hidden = [2])" if a != b else a,
                 "add": f"add({a}, {b})" if a != b else a, "linear": f"linear(concat({a}, {b}), out = 2)"}[kind]
        lines.append(f"feature f{j} = {value}")
        features.append((f"f{j}", k))

    def readable(i):  # what the factors of z_{i+1} may read: earlier latents and features of them
        return latents[:i] + [f for f, k in features if k <= i]

    shared = []  # features some prior reads: the posteriors prefer them (generative summaries)
    for i, z in enumerate(latents):
        feats = [f for f in readable(i) if f.startswith("f")]
        ppool = feats if feats and draw(st.booleans()) else readable(i)
        reads = sorted(set(draw(st.lists(st.sampled_from(ppool), max_size=2)))) if i else []
        shared += [r for r in reads if r.startswith("f")]
        lines.append(f"prior {z} | {', '.join(reads)} = linear(concat({', '.join(reads)}))" if reads else
                     f"prior {z} = normal(loc = 0, scale = 1)")
        summaries = [f for f in shared if f in readable(i)]
        pool = summaries if summaries and draw(st.booleans()) else readable(i)
        reads = sorted(set(draw(st.lists(st.sampled_from(pool), min_size=int(pool is summaries), max_size=2)))) \
            if i else []
        lines.append(f"posterior {z} | {', '.join(reads + ['x'])} = linear(concat({', '.join(reads + ['x'])}))")
    # the decoder reads every latent (so each reaches the data) or, half the time, also features
    reads = sorted(set(latents) | set(draw(st.lists(st.sampled_from(readable(n)), max_size=2))))
    lines.append(f"likelihood x | {', '.join(reads)} = linear(concat({', '.join(reads)}))")
    return "\n".join(lines) + "\n"


def fine_oracle(mg):
    """{latent: (missing, rests on sufficiency)} for the departing factors, from the IR's dataflow."""
    g = mg.graph
    data = [(a, b) for a, b, d in g.edges(data=True) if d["data"]]
    variables = {n for n, d in g.nodes(data=True) if isinstance(d["info"], VarInfo)}
    observed = {v.name for v in mg.observed}
    gen = nx.DiGraph()
    gen.add_nodes_from(variables)
    for a, b in data:  # a node computed in p, or a variable sampled from a generative factor
        info = g.nodes[b]["info"]
        if isinstance(info, VarInfo):
            if g.nodes[a]["info"].factor_kind != "posterior":
                gen.add_edge(a, b)
        elif "p" in g.nodes[b]["models"] and getattr(info, "factor_kind", None) != "posterior":
            gen.add_edge(a, b)
    det = {n for n in gen if n not in variables}
    inverses = {}
    for d in det:
        info = g.nodes[d]["info"]
        if info.kind != "feature":
            continue
        marks = ("x",) if info.op == "identity" else lib.lookup(info.op, "block").invertible
        args = dict(info.inputs)
        rules = [(args[m], frozenset(v for k, v in args.items() if k != m)) for m in marks if m in args]
        if rules:
            inverses[d] = tuple(rules)

    def reads_latent(n):
        return any(a in variables and a not in observed for a in nx.ancestors(gen, n) | {n})

    out = {}
    order = list(mg.latent_order)
    for i, v in enumerate(order):
        parents, stack, seen = set(), [f"posterior({v})"], set()
        while stack:  # back from the posterior through the inference network's own nodes
            n = stack.pop()
            for a in g.predecessors(n):
                if a in seen or not g.edges[a, n]["data"]:
                    continue
                seen.add(a)
                if a in variables or (a in gen and "p" in g.nodes[a]["models"] and reads_latent(a)):
                    parents.add(a)
                else:
                    stack.append(a)
        summaries = {p for p in parents if p in det}
        problem = type("P", (), {})()
        problem.graph, problem.deterministic, problem.observed = gen, det, observed
        problem.order, problem.parents, problem.inverses = order, {v: parents}, inverses
        missing = oracle.missing(problem, v)
        if missing:
            rules = dict(inverses)
            for s in summaries:
                rules[s] = tuple(rules.get(s, ())) + tuple((r, frozenset()) for r in _random_sources(gen, s, det, observed))
            problem.inverses = rules
            out[v] = (missing, not oracle.missing(problem, v))
    return out


def _random_sources(gen, s, det, observed):
    out, stack, seen = set(), [s], {s}
    while stack:
        n = stack.pop()
        for p in gen.pred[n]:
            if p in seen:
                continue
            seen.add(p)
            if p in det:
                stack.append(p)
            elif p not in observed:
                out.add(p)
    return out


@given(specs())
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_random_specs_agree_with_the_fine_grained_oracle(text):
    try:
        mg = build_graph(*dsl.checked(dsl.parse_spec(text, path="random.hvae"))[:2])
    except dsl.SpecError:
        assume(False)
        return
    report = check_posterior_factorization(mg, inverse=False)
    got = {d.latent: (list(d.missing), bool(d.sufficiency)) for d in report.violations + report.resting}
    assert got == fine_oracle(mg), text
