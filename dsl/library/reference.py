"""Render the library's signatures as the Markdown reference `docs/library.md`.

The reference is generated from the signatures so it cannot drift from the code; a test checks
that the committed file equals the output. Regenerate with::

    python -m dsl.library.reference > docs/library.md
"""
from __future__ import annotations

import sys

from . import registry
from .signature import REQUIRED, Param, Signature

__all__ = ["render_markdown"]


def _default(p: Param) -> str:
    if p.default is REQUIRED:
        return "required"
    if p.default is None:
        return "—"
    if isinstance(p.default, bool):
        return "true" if p.default else "false"
    if isinstance(p.default, tuple):
        return "[" + ", ".join(str(x) for x in p.default) + "]"
    return f"`{p.default}`"


def _kind(p: Param) -> str:
    if p.kind == "choice":
        return "one of " + ", ".join(f"`{c}`" for c in p.choices)
    if p.kind == "option":
        return "one of " + ", ".join(f"`{c}`" + (f"({', '.join(['…'] * n)})" if n else "")
                                     for c, n in dict(p.choices).items())
    words = {"feature": "feature", "features": "list of features", "dist": "distribution",
             "factor": "factor (as a function)", "int": "integer", "float": "number", "bool": "true/false",
             "str": "string", "ints": "list of integers", "floats": "list of numbers",
             "number_or_feature": "number or feature"}
    kind = words[p.kind]
    return f"{kind} (variadic)" if p.variadic else kind


def _section(title: str, sigs: dict[str, Signature], intro: str) -> list[str]:
    lines = [f"## {title}", "", intro, ""]
    for name in sorted(sigs):
        sig = sigs[name]
        if getattr(sig, "role", None) == "activation":
            continue
        args = ", ".join(p.name for p in sig.params)
        lines += [f"### `{name}({args})`", "", sig.doc, ""]
        if getattr(sig, "invertible", ()):
            which = ", ".join(f"`{a}`" for a in sig.invertible)
            given = "from the output alone, part by part" if sig.separable else "given its other arguments"
            lines += [f"Invertible in {which} {given}: the factorization check reads the argument through the "
                      f"output (docs/factorization.md, section 2).", ""]
        if getattr(sig, "out_param", None):
            lines += [f"The width `{sig.out_param}` may be left out when the block computes a distribution's "
                      f"parameters directly; the checker fills it in.", ""]
        if sig.params:
            lines += ["| argument | kind | default | meaning |", "|---|---|---|---|"]
            for p in sig.params:
                lines.append(f"| `{p.name}` | {_kind(p)} | {_default(p)} | {p.doc} |")
            lines.append("")
        lines.append(f"*Declared in `{sig.module}`.*")
        lines.append("")
    return lines


def render_markdown() -> str:
    """The whole reference as Markdown text."""
    blocks = registry.blocks()
    activations = sorted(n for n, s in blocks.items() if s.role == "activation")
    lines = [
        "# Block library reference",
        "",
        "Generated from the signatures in `dsl/library/` by `python -m dsl.library.reference`; do not "
        "edit by hand. See [language.md](language.md) for how blocks, families and combinators are used.",
        "",
        "Activations usable as blocks (`elu(c[l])`) and as `act = ...` choices: "
        + ", ".join(f"`{a}`" for a in activations) + ". Strictly monotone ones are invertible, which the "
        "factorization check uses: " + ", ".join(f"`{a}`" for a in activations if blocks[a].invertible) + ".",
        "",
    ]
    lines += _section("Blocks", blocks, "Deterministic computations: features in, one feature out.")
    lines += _section("Distribution families", registry.families(),
                      "The value of a `prior`, `posterior` or `likelihood` statement.")
    lines += _section("Combinators", registry.combinators(), "Distributions built from other distributions.")
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    sys.stdout.write(render_markdown())
