"""What the language server knows about one document: diagnostics, hover, definitions, completion,
formatting and repairs, computed by the same passes as `zoo check` (no second parser).

Positions here are 0-based (line, character), as LSP counts; spans are 1-based (dsl.ast.Span).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Optional

from dsl import ast
from dsl.errors import Diagnostic, SpecError

__all__ = ["Analysis", "analyse", "word_at"]

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
DECLARATIONS = (ast.VariableDecl, ast.FeatureDecl, ast.LetDecl)
KEYWORDS = ("model", "paper", "dataset", "import", "let", "observed", "latent", "pseudo", "feature", "prior",
            "posterior", "likelihood", "assume", "independent", "sufficient", "of", "given", "split", "with", "in", "if", "else")


@dataclass
class Analysis:
    """The result of checking one text. `spec` is the spliced AST (imports included) when it parsed."""

    path: str
    text: str
    diagnostics: list = field(default_factory=list)
    spec: Optional[ast.Spec] = None
    mg: object = None
    report: object = None

    def declarations(self) -> dict:
        """name -> the statement that declares it (first one wins), across imports."""
        out: dict = {}
        for s in self.spec.statements if self.spec else ():
            if isinstance(s, DECLARATIONS):
                out.setdefault(s.name if isinstance(s, ast.LetDecl) else s.target.name, s)
        return out

    def definition(self, line: int, character: int) -> Optional[ast.Span]:
        word = word_at(self.text, line, character)
        decl = self.declarations().get(word) if word else None
        return decl.span if decl is not None else None

    def hover(self, line: int, character: int) -> Optional[str]:
        from dsl.format import format_statement

        word = word_at(self.text, line, character)
        decl = self.declarations().get(word) if word else None
        if decl is None:
            return _library_doc(word) if word else None
        kind = "constant" if isinstance(decl, ast.LetDecl) else (
            "feature" if isinstance(decl, ast.FeatureDecl) else decl.kind)
        lines = [f"**{word}**: {kind}", "```hvae", format_statement(decl).split("\n")[0], "```"]
        if self.mg is not None:
            elements = [v for v in self.mg.variables() if v.array == word]
            if elements:
                indices = [v.index for v in elements if v.index is not None]
                shapes = sorted({tuple(v.shape) for v in elements})
                lines.append(f"shape: {' / '.join(str(list(s)) for s in shapes)}" +
                             (f"; elements {min(indices)}..{max(indices)} ({len(indices)})" if indices else ""))
        for s in self.spec.statements:
            if isinstance(s, ast.FactorDecl) and s.target.name == word:
                parents = ", ".join(_ref_text(p) for p in s.parents) if s.parents else "-"
                lines.append(f"{s.kind} {_ref_text(s.target)} | {parents}")
        return "\n".join(lines)

    def completions(self) -> list[tuple[str, str]]:
        """(label, kind) for keywords, library names and the spec's names."""
        from dsl import library as lib

        out = [(k, "keyword") for k in KEYWORDS]
        out += [(n, "block") for n in sorted(lib.blocks())] + [(n, "family") for n in sorted(lib.families())]
        out += [(n, "combinator") for n in sorted(lib.combinators())]
        out += [(n, "variable") for n in self.declarations()]
        return out

    def arguments(self, function: str) -> list[str]:
        from dsl import library as lib

        for table in (lib.blocks(), lib.families(), lib.combinators(), lib.options()):
            if function in table:
                return list(table[function].param_names)
        return []

    def formatted(self) -> Optional[str]:
        from dsl.layout import format_source

        try:
            return format_source(self.text, path=self.path)
        except SpecError:
            return None

    def repairs(self):
        """The statement rewrites of :func:`compiler.repair.repair_spec` for this text."""
        from compiler.dsep import check_posterior_factorization
        from compiler.repair import repair_spec
        from zoo.registry import compile_spec

        if self.report is None or self.report.faithful:
            return ()

        def check(text):
            return check_posterior_factorization(compile_spec(self.path, None, text=text), inverse=False)

        return repair_spec(self.text, self.path, check, report=self.report).repairs


def analyse(path: str, text: str) -> Analysis:
    """Parse, check, build the graph and check the factorization of `text` (the file at `path`)."""
    import dsl
    from compiler.dsep import check_posterior_factorization
    from compiler.repair import posterior_factors, violation_diagnostics
    from zoo.registry import compile_loaded

    path = _display(path)
    result = Analysis(path, text)
    try:
        result.spec = dsl.load_spec(path, text=text)
        result.mg = compile_loaded(result.spec, validate=False)
        result.report = check_posterior_factorization(result.mg, inverse=False)
        violations = violation_diagnostics(result.report, posterior_factors(result.mg))
        found = list(result.mg.warnings) + violations + list(result.report.warnings)
    except SpecError as err:
        found = list(err.diagnostics)
    mine = os.path.abspath(path)
    result.diagnostics = [d if d.span is None or os.path.abspath(d.span.path) == mine else _at_import(d, path, text)
                          for d in found]
    return result


def _at_import(d: Diagnostic, path: str, text: str) -> Diagnostic:
    """A diagnostic about an imported file, moved to the `import` statement that brings it in
    (the editor shows only this document), with the original place as a related location."""
    from dataclasses import replace

    from dsl import parse_spec
    from dsl.errors import Related

    imports = [s for s in parse_spec(text, path=path).statements if isinstance(s, ast.ImportDecl)]
    if not imports:
        return replace(d, span=None, message=f"{d.span}: {d.message}")
    target = os.path.abspath(d.span.path)
    here = os.path.dirname(os.path.abspath(path))
    chosen = next((s for s in imports if os.path.normpath(os.path.join(here, s.path)) == target), imports[0])
    return replace(d, span=chosen.span, message=f"in {d.span}: {d.message}", line_text=None,
                   related=(Related(d.message, d.span),) + tuple(d.related))


def _display(path: str) -> str:
    rel = os.path.relpath(path)
    return rel if not rel.startswith("..") else path


def word_at(text: str, line: int, character: int) -> Optional[str]:
    lines = text.split("\n")
    if not 0 <= line < len(lines):
        return None
    for m in _WORD.finditer(lines[line]):
        if m.start() <= character <= m.end():
            return m.group(0)
    return None


def _ref_text(r) -> str:
    from dsl.format import _index

    return r.name if r.index is None else f"{r.name}[{_index(r.index)}]"


def _library_doc(word: str) -> Optional[str]:
    from dsl import library as lib

    for kind, table in (("block", lib.blocks()), ("family", lib.families()), ("combinator", lib.combinators()),
                        ("option", lib.options())):
        if word in table:
            sig = table[word]
            return f"**{word}** ({kind})({', '.join(sig.param_names)})\n\n{sig.doc}"
    return None
