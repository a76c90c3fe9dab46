"""A readable, plain-data dump of a ModelGraph (`zoo build --emit graph.yaml`)."""
from __future__ import annotations

from typing import Any

from .graph import FunctionRef, ModelGraph, OpInfo, VarInfo

__all__ = ["graph_to_dict"]


def _plain(value: Any) -> Any:
    if isinstance(value, FunctionRef):
        return {"function": value.factor}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    return str(value)


def graph_to_dict(mg: ModelGraph) -> dict:
    """Nodes, edges and plans as lists and dicts of strings and numbers (YAML/JSON-ready)."""
    nodes = []
    for n in mg.graph.nodes:
        info = mg.info(n)
        entry: dict[str, Any] = {"id": n, "models": sorted(mg.models_of(n))}
        if isinstance(info, VarInfo):
            entry.update(kind=info.kind, shape=list(info.shape), family=info.family)
        else:
            assert isinstance(info, OpInfo)
            entry.update(kind=info.kind, op=info.op, shape=list(info.shape) if info.shape else None,
                         inputs={k: _plain(v) for k, v in info.inputs},
                         params={k: _plain(v) for k, v in info.params})
            if info.target:
                entry["target"] = info.target
            if info.factor_kind:
                entry["factor"] = info.factor_kind
        if mg.graph.nodes[n].get("pgm_feature"):
            entry["pgm_feature"] = True
        entry["source"] = str(info.span)
        nodes.append(entry)
    edges = []
    for a, b, d in mg.graph.edges(data=True):
        edges.append({"from": a, "to": b, "data": d["data"], "pgm": sorted(d["pgm"]), "models": sorted(d["models"])})
    return {
        "model": mg.name, "description": mg.description,
        "overrides": {k: _plain(v) for k, v in mg.spec.overrides.items()}, "paper": mg.paper, "dataset": mg.dataset,
        "constants": {k: _plain(v) for k, v in mg.spec.constants.items()},
        "nodes": nodes, "edges": edges,
        "generative_edges": [list(e) for e in mg.generative.edges()],
        "inference_edges": [list(e) for e in mg.inference.edges()],
        "latent_order": list(mg.latent_order),
        "infer_plan": list(mg.infer_plan), "generate_plan": list(mg.generate_plan),
    }
