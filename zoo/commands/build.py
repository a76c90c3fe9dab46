"""Parse, check and compile a spec to PyTorch, and print what was built.

The summary lists the random variables, the parameters of every component (a statement's
array: `e`, `c`, `prior(z)`, ...) with the model it belongs to (inference, generative or
shared), the total, the factorization verdict and the spec's warnings. `--json` prints one
object instead (warnings as diagnostic objects; on an error, a document of diagnostics:
docs/diagnostics.schema.json); `--emit FILE.yaml|FILE.json` also writes the full IR.
"""
from __future__ import annotations

import argparse
import json
import re
from collections import OrderedDict

from .common import add_budget_argument, add_spec_arguments, overrides_from

__all__ = ["add_arguments", "run", "summarize"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_spec_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--emit", metavar="FILE", help="write the IR to FILE (.yaml, .yml or .json)")
    parser.add_argument("--no-lower", action="store_true", help="stop after building the graph (no PyTorch)")
    add_budget_argument(parser)


def component_of(node: str) -> str:
    """`prior(z[3])/params` -> `prior(z)`, `e[4]/x` -> `e`, `d[2].key` -> `d`."""
    owner = node.split("/", 1)[0]
    owner = owner.split(".", 1)[0] if "(" not in owner else owner
    return re.sub(r"\[\d+\]", "", owner)


def _role(models: frozenset) -> str:
    return {frozenset({"q"}): "inference", frozenset({"p"}): "generative",
            frozenset({"p", "q"}): "shared"}.get(frozenset(models), "unused")


def _latent_groups(mg):
    """Runs of consecutive elements of an array with one shape: [(label, shape, count)]."""
    groups = []
    for v in mg.variables("latent", "pseudo"):
        label = v.array if v.index is None else None
        if groups and label is None and groups[-1][0] == v.array and groups[-1][1] == v.shape \
                and groups[-1][3] == v.kind and groups[-1][4][-1] + 1 == v.index:
            groups[-1][4].append(v.index)
            continue
        groups.append([v.array, v.shape, v.family, v.kind, [v.index] if v.index is not None else [None]])
    out = []
    for array, shape, family, kind, idx in groups:
        label = array if idx == [None] else (f"{array}[{idx[0]}]" if len(idx) == 1 else f"{array}[{idx[0]}..{idx[-1]}]")
        out.append((label, list(shape), family, kind, len(idx)))
    return out


def summarize(mg, model=None) -> dict:
    """The build summary as a dict (what --json prints)."""
    import math

    latents = mg.variables("latent", "pseudo")
    summary = OrderedDict(
        model=mg.name, description=mg.description, overrides=dict(mg.spec.overrides), paper=mg.paper,
        dataset=mg.dataset,
        latent_layers=len([v for v in latents if v.kind == "latent"]),
        latent_dims=[math.prod(v.shape) for v in latents if v.kind == "latent"],
        pseudo_inputs=[v.name for v in latents if v.kind == "pseudo"],
        variables=[{"name": label, "kind": kind, "shape": shape, "family": fam, "count": count}
                   for label, shape, fam, kind, count in _latent_groups(mg)] +
                  [{"name": v.name, "kind": v.kind, "shape": list(v.shape), "family": v.family, "count": 1}
                   for v in mg.observed],
        inference_order=list(mg.latent_order),
        constants={k: v for k, v in mg.spec.constants.items()},
        warnings=[w.to_dict() for w in mg.warnings],
    )
    if model is not None:
        comps: dict[str, dict] = OrderedDict()
        for node, module in model.ops.items():
            n = sum(p.numel() for p in module.parameters(recurse=True) if p.requires_grad)
            key = component_of(node)
            entry = comps.setdefault(key, {"component": key, "models": set(), "parameters": 0})
            entry["models"] |= set(mg.models_of(node))
            entry["parameters"] += n
        summary["components"] = [{"component": c["component"], "model": _role(c["models"]),
                                  "parameters": c["parameters"]} for c in comps.values()]
        summary["parameters"] = model.num_parameters()
    verdict = _factorization(mg)
    if verdict is not None:
        summary["factorization"] = verdict
    return summary


def _factorization(mg):
    from compiler import dsep

    return dsep.check_posterior_factorization(mg, inverse=False).to_dict()


EMIT_SUFFIXES = (".yaml", ".yml", ".json")


def _check_emit_path(path: str) -> None:
    """Refuse a bad --emit target before any work is done."""
    import os

    from zoo.errors import ZooError

    if not path.endswith(EMIT_SUFFIXES):
        raise ZooError(f"--emit writes .yaml, .yml or .json files, not '{path}'")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ZooError(f"--emit {path}: the folder {folder} does not exist")


def _emit(mg, path: str) -> None:
    from compiler.serialize import graph_to_dict

    data = graph_to_dict(mg)
    if path.endswith(".json"):
        text = json.dumps(data, indent=2)
    else:
        import yaml

        text = yaml.safe_dump(data, sort_keys=False, width=120)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def run(args: argparse.Namespace) -> int:
    from zoo.registry import compile_spec

    if args.emit:
        _check_emit_path(args.emit)
    mg = compile_spec(args.spec, overrides_from(args))
    model = None
    if not args.no_lower:
        from zoo.training.budget import lower_checked

        model = lower_checked(mg, max_parameters=args.max_parameters)
    if args.emit:
        _emit(mg, args.emit)
    summary = summarize(mg, model)
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
        return 0
    print(_format(summary, [str(w) for w in mg.warnings]))
    return 0


def _format(s: dict, warnings: list) -> str:
    from dsl.describe import titled

    lines = [titled(s["model"], s.get("overrides"), s["description"])]
    if s["paper"]:
        lines.append(f"  paper: {s['paper']}")
    if s["dataset"]:
        lines.append(f"  dataset: {s['dataset']}")
    lines.append("")
    lines.append(f"{s['latent_layers']} latent layers, {sum(s['latent_dims']):,} latent dimensions")
    for v in s["variables"]:
        fam = f" ~ {v['family']}" if v["family"] else ""
        lines.append(f"  {v['kind']:<9}{v['name']:<14}{str(v['shape']):<16}{fam}")
    lines.append(f"  inference order: {_short(s['inference_order'])}")
    if "components" in s:
        lines.append("")
        width = max([len(c["component"]) for c in s["components"]] + [9])
        lines.append(f"  {'component':<{width}}  {'model':<10}  {'parameters':>12}")
        for c in s["components"]:
            lines.append(f"  {c['component']:<{width}}  {c['model']:<10}  {c['parameters']:>12,}")
        lines.append(f"  {'total':<{width}}  {'':<10}  {s['parameters']:>12,}")
    if "factorization" in s:
        lines.append("")
        lines.append(_format_verdict(s["factorization"]))
    if warnings:
        lines.append("")
        lines.append(f"{len(warnings)} warning(s):")
        lines.extend(warnings)
    return "\n".join(lines)


def _format_verdict(v) -> str:
    """One line per verdict, plus the first unacknowledged departure (`zoo check` prints them all)."""
    violations = v.get("violations", [])
    resting = v.get("resting_on_sufficiency", [])  # factors faithful only if a generative summary is sufficient
    open_ = [x for x in violations + resting if not x.get("acknowledged")]
    if v["respects_exact_factorization"]:
        return "factorization: faithful (the posterior respects the exact posterior's factorization)"
    if v["passes_check"]:
        extra = f" and {len(v.get('sufficiency_assumptions', []))} sufficiency assumption(s)" if resting else ""
        return (f"factorization: faithful up to {len(violations)} departure(s){extra} acknowledged by assumptions "
                f"(see `zoo check`)")
    first = open_[0]
    if first.get("sufficiency"):
        return (f"factorization: NOT certified, faithful only if {', '.join(first['sufficiency'])} is sufficient "
                f"(see `zoo check`); first: {first['location']}: q({first['latent']}) reads "
                f"{', '.join(first['missing'])} only through it; active path {first['witness_text']}")
    return (f"factorization: NOT faithful, {len(open_)} unacknowledged violation(s) (see `zoo check`); first:\n"
            f"  {first['location']}: q({first['latent']}) leaves out {', '.join(first['missing'])}; "
            f"active path {first['witness_text']}; add {', '.join(first['suggested_parents'])}")


def _short(names, limit=8):
    names = list(names)
    return ", ".join(names) if len(names) <= limit else ", ".join(names[:4]) + ", ..., " + ", ".join(names[-2:])
