"""The ModelGraph IR: the PGM edges of each spec (written out by hand), frozen graphs, valid plans,
and which model (inference q, generative p, or both) every computation belongs to."""
from __future__ import annotations

import re

import networkx as nx
import pytest

from compiler.graph import OpInfo, VarInfo
from compiler.validate import validate_graph
from zoo.registry import compile_spec, list_models, spec_path

MODELS = [m.name for m in list_models()]


def z(*ls):
    return [f"z[{l}]" for l in ls]


# name -> (overrides, generative PGM edges, inference PGM edges), from reading each spec.
EXPECTED = {
    # z -> x; q(z | x)
    "vae": ({}, {("z", "x")}, {("x", "z")}),
    # Ladder VAE, L = 3: a chain z[1] -> z[2] -> z[3] -> x. The top posterior reads the bottom-up
    # feature h[1] (from x); the others are precision-weighted with their prior, so they also
    # read the layer above: q(z[l] | x, z[l-1]).
    "ladder": ({"L": 3},
               {("z[1]", "z[2]"), ("z[2]", "z[3]"), ("z[3]", "x")},
               {("x", "z[1]"), ("x", "z[2]"), ("z[1]", "z[2]"), ("x", "z[3]"), ("z[2]", "z[3]")}),
    # DLGM, L = 3: a chain of priors and a likelihood reading every layer (concat(z));
    # independent posteriors q(z[l] | x).
    "dlgm": ({"L": 3},
             {("z[1]", "z[2]"), ("z[2]", "z[3]"), ("z[1]", "x"), ("z[2]", "x"), ("z[3]", "x")},
             {("x", "z[1]"), ("x", "z[2]"), ("x", "z[3]")}),
    # NVAE, L = 3: the context c[l] is computed from every earlier layer, so prior(z[l]) reads
    # z[<l]; the output cell reads c[L] and z[L], so x reads every layer. The posterior is
    # residual on the prior and adds the bottom-up feature e[l]: q(z[l] | x, z[<l]).
    "nvae8": ({"L": 3},
              {("z[1]", "z[2]"), ("z[1]", "z[3]"), ("z[2]", "z[3]"), ("z[1]", "x"), ("z[2]", "x"), ("z[3]", "x")},
              {("x", "z[1]"), ("x", "z[2]"), ("x", "z[3]"), ("z[1]", "z[2]"), ("z[1]", "z[3]"), ("z[2]", "z[3]")}),
}
EXPECTED["nvae16"] = EXPECTED["nvae8"]


def graph(name):
    return compile_spec(name, EXPECTED.get(name, ({},))[0])


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_pgm_edges(name):
    _, generative, inference = EXPECTED[name]
    mg = graph(name)
    assert set(mg.generative.edges()) == generative
    assert set(mg.inference.edges()) == inference
    variables = {v.name for v in mg.variables()}
    assert set(mg.generative.nodes) == set(mg.inference.nodes) == variables  # no PGM features here


@pytest.mark.parametrize("name", MODELS)
def test_graphs_are_frozen(name):
    mg = graph(name)
    assert nx.is_frozen(mg.graph)
    with pytest.raises(nx.NetworkXError):
        mg.graph.add_node("extra")
    with pytest.raises(nx.NetworkXError):
        mg.graph.remove_edge(*next(iter(mg.graph.edges)))
    for view in (mg.generative, mg.inference, mg.dataflow):
        with pytest.raises(nx.NetworkXError):
            view.add_edge("a", "b")


@pytest.mark.parametrize("name", MODELS)
def test_derived_graphs_are_the_subgraphs_of_the_ir(name):
    """The PGMs and the dataflow graph, built once as plain graphs, hold exactly what a filtered
    view of the IR shows: the PGM nodes, and the edges of each model or along which data flows."""
    mg = graph(name)
    g = mg.graph

    def pgm_node(n):
        return isinstance(g.nodes[n]["info"], VarInfo) or g.nodes[n].get("pgm_feature", False)

    for derived, model in ((mg.generative, "p"), (mg.inference, "q")):
        view = nx.subgraph_view(g, filter_node=pgm_node, filter_edge=lambda a, b: model in g.edges[a, b]["pgm"])
        assert list(derived.nodes) == list(view.nodes)
        assert list(derived.edges) == list(view.edges)
    view = nx.subgraph_view(g, filter_edge=lambda a, b: g.edges[a, b]["data"])
    assert list(mg.dataflow.edges(data=True)) == list(view.edges(data=True))
    assert mg.generative is mg.generative  # built once


@pytest.mark.parametrize("name", MODELS)
def test_the_ir_is_valid(name):
    mg = graph(name)
    assert validate_graph(mg) == []
    assert nx.is_directed_acyclic_graph(mg.generative)
    assert nx.is_directed_acyclic_graph(mg.inference)


def _assert_topological(plan, edges):
    where = {n: i for i, n in enumerate(plan)}
    assert len(where) == len(plan), "a node appears twice"
    for a, b in edges:
        assert where[a] < where[b], f"{a} must come before {b}"


@pytest.mark.parametrize("name", MODELS)
def test_inference_plan_is_a_topological_order(name):
    mg = graph(name)
    g = mg.graph
    assert sorted(mg.infer_plan) == sorted(g.nodes)  # everything is computed to score the sample
    # values flow along data edges, except from priors and the likelihood into their variables
    edges = [(a, b) for a, b, d in g.edges(data=True) if d["data"] and d["sample_model"] != "p"]
    _assert_topological(mg.infer_plan, edges)
    for latent in mg.latent_order:  # a latent is sampled from its posterior...
        assert (f"posterior({latent})", latent) in edges
    (x,) = [v.name for v in mg.observed]
    assert mg.infer_plan[0] == x  # ...and the data comes first
    assert list(mg.latent_order) == [n for n in mg.infer_plan if n in set(mg.latent_order)]


@pytest.mark.parametrize("name", MODELS)
def test_generation_plan_is_ancestral_sampling(name):
    mg = graph(name)
    g = mg.graph
    plan = set(mg.generate_plan)
    wanted = {n for n in g.nodes if "p" in mg.models_of(n) or isinstance(mg.info(n), VarInfo)}
    assert plan == wanted
    assert not any(n.startswith("posterior(") for n in plan)
    edges = [(a, b) for a, b, d in g.edges(data=True)
             if d["data"] and d["sample_model"] != "q" and a in plan and b in plan]
    _assert_topological(mg.generate_plan, edges)
    (x,) = [v.name for v in mg.observed]
    assert mg.generate_plan[-1] == x
    assert mg.generate_plan.index("z[1]" if "z[1]" in plan else "z") < mg.generate_plan.index(x)


def _models(mg, array):
    """models_of every element of a feature array and every anonymous node inside it."""
    return {n: mg.models_of(n) for n in mg.graph.nodes if re.match(rf"{array}\[\d+\](/|$)", n)}


def test_nvae_models_of_nodes_and_edges():
    mg = graph("nvae8")
    q, p, both = frozenset("q"), frozenset("p"), frozenset("pq")
    # bottom-up features serve the posterior only; contexts are shared; the output cell generates
    assert set(_models(mg, "e").values()) == {q} and len(_models(mg, "e")) == 4 + 1  # and the stem conv
    assert set(_models(mg, "c").values()) == {both} and len(_models(mg, "c")) == 3 + 2 * 2  # merge convs
    assert mg.models_of("out") == p and mg.models_of("likelihood(x)") == p
    # the residual posterior needs its prior, so priors below the top are computed in both passes
    assert mg.models_of("prior(z[1])") == p
    assert mg.models_of("prior(z[2])") == mg.models_of("prior(z[3])") == both
    for l in (1, 2, 3):
        assert mg.models_of(f"posterior(z[{l}])") == q
    edges = mg.graph.edges
    assert edges["e[1]", "posterior(z[1])/params/x/x"]["models"] == q
    assert edges["c[1]", "c[2]/x/x"]["models"] == both
    assert edges["c[3]", "out/x/x"]["models"] == p
    assert edges["posterior(z[2])", "z[2]"]["models"] == q
    assert edges["prior(z[2])", "z[2]"]["models"] == p
    assert edges["likelihood(x)", "x"]["models"] == p
    assert edges["prior(z[2])", "posterior(z[2])"]["models"] == q  # the residual reads the prior


def test_ladder_and_dlgm_models():
    ladder = graph("ladder")
    assert set(_models(ladder, "h").values()) == {frozenset("q")}
    assert ladder.models_of("prior(z[2])/params") == frozenset("pq")  # precision weighting reads it
    dlgm = graph("dlgm")
    assert set(_models(dlgm, "e").values()) == {frozenset("q")}
    assert dlgm.models_of("prior(z[2])") == frozenset("p")  # independent posteriors ignore priors


def test_pgm_edges_are_not_dataflow_edges():
    mg = graph("vae")
    assert mg.graph.edges["z", "x"]["pgm"] == frozenset("p") and not mg.graph.edges["z", "x"]["data"]
    assert not mg.dataflow.has_edge("z", "x")
    assert nx.has_path(mg.dataflow, "z", "x")  # through likelihood(x)/params and likelihood(x)


def test_node_records_are_typed():
    mg = graph("nvae8")
    x = mg.info("x")
    assert isinstance(x, VarInfo) and (x.kind, x.shape, x.family) == ("observed", (3, 32, 32),
                                                                        "discretized_logistic_mixture")
    cell = mg.info("e[2]")
    assert isinstance(cell, OpInfo) and (cell.kind, cell.op, cell.named) == ("feature", "nvae_cell", True)
    assert cell.inputs == (("x", "e[3]"),)
    assert cell.param("scales") == (0, 0)
    residual = mg.info("posterior(z[2])")
    assert (residual.kind, residual.op, residual.factor_kind, residual.target) == ("factor", "residual",
                                                                                   "posterior", "z[2]")
    assert dict(residual.inputs) == {"base": "prior(z[2])", "delta": "posterior(z[2])/delta"}
    assert mg.info("posterior(z[2])/delta").kind == "dist"
    lines = open(spec_path("nvae8"), encoding="utf-8").read().splitlines()
    assert (cell.span.line, cell.span.column) == (lines.index("feature e[l in 1..L] = nvae_cell(e[l+1])") + 1, 1)


@pytest.mark.parametrize("model,name", [("p", "generative"), ("q", "inference")])
def test_validate_graph_finds_a_cycle_in_either_pgm(model, name):
    """A graph built by other code is held to the rules: a PGM edge closing a cycle is reported."""
    import dataclasses

    mg = graph("ladder")
    g = nx.DiGraph(mg.graph)  # an unfrozen copy
    a, b = next((a, b) for a, b, m in g.edges(data="pgm") if model in m)
    g.add_edge(b, a, data=False, pgm=frozenset({model}), role="input", sample_model=None, models=frozenset())
    messages = [d.message for d in validate_graph(dataclasses.replace(mg, graph=g))]
    assert any(m.startswith(f"the {name} graph has a cycle: ") and a in m and b in m for m in messages), messages
