"""Parsing `.hvae` text into a :class:`dsl.ast.Spec`, and loading spec files with their imports.

The lark parser is built once per process (LALR, positions propagated) and reused. Lark's
exceptions are caught here and only here, and become :class:`SpecSyntaxError` with a
plain-English message, the offending line and a caret.
"""
from __future__ import annotations

import functools
import hashlib
import os
from importlib import resources
from typing import Optional

from lark import Lark, Token, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.exceptions import VisitError

from . import ast
from .errors import Diagnostic, SpecSemanticError, SpecSyntaxError
from .source import import_target, read_spec_file
from .syntax_errors import SYNTAX_ERRORS, TOKEN_NAMES
from .transform import ToAst

__all__ = ["parse_spec", "load_spec", "get_parser"]


@functools.lru_cache(maxsize=None)
def get_parser() -> Lark:
    """The process-wide LALR parser for the grammar in `hvae.lark`.

    Building the LALR tables takes about 60 ms, a fifth of `zoo check`'s start-up, so lark keeps
    the analysed grammar in the user's cache folder (see :func:`_grammar_cache`) and later
    processes load it in about 6 ms. Lark checks the grammar, its options and its own version
    before it uses a cached file, and rebuilds the tables when the file is stale or unreadable.
    """
    grammar = resources.files("dsl").joinpath("hvae.lark").read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=True,
                cache=_grammar_cache(grammar) or False)


def _grammar_cache(grammar: str) -> Optional[str]:
    """The file that caches the analysed grammar, in a folder of the user's own (not the shared
    temporary folder, where another user could plant the pickle), named by the grammar's hash so
    checkouts with different grammars do not overwrite each other's cache; None where that folder
    cannot be made, and then the parser is built without a cache.
    """
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = os.path.join(base, "hvae-zoo")
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
    except OSError:
        return None
    digest = hashlib.sha256(grammar.encode("utf-8")).hexdigest()[:16]
    return os.path.join(folder, f"grammar-{digest}.lark")


def parse_spec(text: str, *, path: Optional[str] = None) -> ast.Spec:
    """Parse spec text into an AST.

    Args:
        text: the `.hvae` source.
        path: the file name used in spans and error messages (default ``"<string>"``).

    Returns:
        A :class:`dsl.ast.Spec` whose statements are in source order. Imports are *not*
        resolved; use :func:`load_spec` for files.

    Raises:
        SpecSyntaxError: the text is not a well-formed spec; the message names
            ``path:line:col``, shows the line with a caret and says what was expected.

    Example:
        >>> spec = parse_spec('let L = 4\\nlatent z[1..L] : [10]')
        >>> [type(s).__name__ for s in spec.statements]
        ['LetDecl', 'VariableDecl']
    """
    path = path or "<string>"
    parser = get_parser()
    try:
        tree = parser.parse(text)
    except UnexpectedInput as err:
        raise SpecSyntaxError([_syntax_diagnostic(err, text, path)]) from None
    _check_depth(tree, text, path)
    try:
        statements = ToAst(path).transform(tree)
    except VisitError as err:
        # the one conversion that can fail on valid syntax: Python refuses to read integers of
        # more than 4300 digits
        if getattr(err.obj, "data", None) != "number" or not isinstance(err.orig_exc, ValueError):
            raise
        token = err.obj.children[0]
        span = ast.Span(path, token.line, token.column, token.end_line, token.end_column)
        lines = text.splitlines()
        raise SpecSyntaxError([Diagnostic(f"a number with {len(token)} characters is too long to read", span,
                                          code="syntax", line_text=lines[token.line - 1])]) from None
    return ast.Spec(tuple(statements), path, ((path, text),))


def load_spec(path: str, *, text: Optional[str] = None) -> ast.Spec:
    """Read a spec file and splice in its imports, recursively.

    `text`, when given, is the file's content in place of what is on disk (an editor's unsaved
    buffer, a repaired spec being re-checked); its imports are still read from disk.

    An ``import "other.hvae" with (L = 8)`` statement is replaced by the statements of
    `other.hvae` (resolved relative to the importing file), with the named constants rebound.
    The imported file's header (`model`, `paper`, `dataset`) is kept only where the importing
    file does not give its own.

    Raises:
        SpecSyntaxError: a file does not parse.
        SpecSemanticError: an imported file is missing, an import cycle, or a binding names
            a constant the imported file does not define.
    """
    root = _display_path(path)
    sources: dict[str, str] = {} if text is None else {root: text}
    statements = _load(root, (), sources, None)
    return ast.Spec(_merge_headers(statements, root), path, tuple(sources.items()))


def _display_path(path: str) -> str:
    """The path as messages should show it: relative to the working directory when inside it."""
    path = os.path.normpath(path)
    rel = os.path.relpath(path) if os.path.isabs(path) else path
    return rel if not rel.startswith("..") else path


def _load(path: str, stack: tuple[str, ...], sources: dict[str, str],
          importer: Optional[ast.ImportDecl]) -> list[ast.Statement]:
    if path in stack:
        chain = " -> ".join(stack + (path,))
        raise SpecSemanticError([Diagnostic(f"import cycle: {chain}", importer.span if importer else None,
                                            code="import-cycle").with_source(sources)])
    if path in sources and not stack:  # the root's text given to load_spec (an editor's unsaved buffer)
        text = sources[path]
    else:
        text = read_spec_file(path, importer=importer.span if importer else None, sources=sources)
    sources[path] = text
    spec = parse_spec(text, path=path)
    out: list[ast.Statement] = []
    for stmt in spec.statements:
        if not isinstance(stmt, ast.ImportDecl):
            out.append(stmt)
            continue
        if os.path.isabs(stmt.path) or not stmt.path.endswith(".hvae"):
            # a spec reads no files but other specs, found relative to itself (DESIGN.md)
            raise SpecSemanticError([Diagnostic(
                f"cannot import \"{stmt.path}\": a spec imports other .hvae files, by a path relative to itself",
                stmt.span, hint='e.g. import "base.hvae" or import "../common/base.hvae"',
                code="bad-import").with_source(sources)])
        target = import_target(path, stmt.path, stmt.span, sources)
        imported = _load(target, stack + (path,), sources, stmt)
        out.extend(_rebind(imported, stmt, sources))
    return out


def _rebind(statements: list[ast.Statement], imp: ast.ImportDecl,
            sources: dict[str, str]) -> list[ast.Statement]:
    """Replace the imported `let`s named in `with (...)` by the importer's values."""
    defined = {s.name for s in statements if isinstance(s, ast.LetDecl)}
    errors = []
    for b in imp.bindings:
        if b.name not in defined:
            known = ", ".join(sorted(defined)) or "none"
            errors.append(Diagnostic(
                f"'{imp.path}' defines no constant '{b.name}' to rebind", b.span,
                hint=f"its constants are: {known}", code="bad-import-binding").with_source(sources))
    if errors:
        raise SpecSemanticError(errors)
    values = {b.name: b for b in imp.bindings}
    out = []
    for s in statements:
        if isinstance(s, ast.LetDecl) and s.name in values:
            out.append(ast.LetDecl(s.span, s.name, values[s.name].value))
        else:
            out.append(s)
    return out


def _merge_headers(statements: list[ast.Statement], root: str) -> tuple[ast.Statement, ...]:
    """Keep one header statement of each kind: the importing file's own (wherever it stands
    relative to its imports), else the last one imported."""
    header_types = (ast.ModelDecl, ast.PaperDecl, ast.DatasetDecl)
    keep = {}  # kind -> (from the importing file, position) of the best one so far
    for i, s in enumerate(statements):
        if isinstance(s, header_types):
            rank = (s.span.path == root, i)
            keep[type(s)] = max(keep.get(type(s), rank), rank)
    return tuple(s for i, s in enumerate(statements)
                 if not isinstance(s, header_types) or keep[type(s)][1] == i)


# -- nesting depth ------------------------------------------------------------------------------

# The deepest parse tree accepted. Lark's transformer and the elaborator recurse once or twice per
# level, so this bound keeps them far from Python's recursion limit; hand-written expressions
# are rarely deeper than 10 (the zoo's deepest statement is 13 levels, counting the statement).
MAX_DEPTH = 100


def _check_depth(tree, text: str, path: str) -> None:
    """Refuse a parse tree deeper than :data:`MAX_DEPTH`, located at the first node too deep.

    Walks the tree with an explicit stack: ``((((...))))`` x 2,000 or 500 unary minuses must give
    an error, not a `RecursionError`.
    """
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            meta = node.meta
            line, column = getattr(meta, "line", 1), getattr(meta, "column", 1)
            span = ast.Span(path, line, column, line, column + 1)
            lines = text.splitlines()
            raise SpecSyntaxError([Diagnostic(
                f"this expression is nested more than {MAX_DEPTH} levels deep (parentheses, operators, calls "
                f"or lists inside each other)", span, hint="split it into `let` constants or features",
                code="too-deep", line_text=lines[line - 1] if 0 < line <= len(lines) else "")])
        stack.extend((child, depth + 1) for child in node.children if hasattr(child, "children"))


# -- syntax error messages ----------------------------------------------------------------------

_OPENING = {"(": ")", "[": "]"}


def _unclosed_bracket(text: str, end: int) -> Optional[tuple[int, str]]:
    """(offset, bracket) of the innermost '(' or '[' before `end` that is never closed there, or None.

    Comments and strings are skipped the way the lexer skips them.
    """
    stack: list[tuple[int, str]] = []
    i = 0
    while i < end:
        ch = text[i]
        if ch == "#":
            nl = text.find("\n", i)
            i = end if nl < 0 else nl
            continue
        if ch == '"':
            close = text.find('"', i + 1)
            nl = text.find("\n", i + 1)
            if close >= 0 and (nl < 0 or close < nl):
                i = close + 1
                continue
        if ch in _OPENING:
            stack.append((i, ch))
        elif stack and ch == _OPENING[stack[-1][1]]:
            stack.pop()
        i += 1
    return stack[-1] if stack else None


def _unclosed_diagnostic(err: UnexpectedInput, text: str, path: str) -> Optional[Diagnostic]:
    """A bracket left open until a new statement (or the end of the file) is reported where it opened."""
    if isinstance(err, UnexpectedEOF):
        end = len(text)
    elif isinstance(err, UnexpectedToken) and (err.token.type == "$END" or err.token.type in _STATEMENT_KEYWORDS):
        end = len(text) if err.token.type == "$END" else err.token.start_pos
    else:
        return None
    opened = _unclosed_bracket(text, end)
    if opened is None:
        return None
    offset, bracket = opened
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    found = "the end of the file" if end == len(text) else f"'{err.token}' at {err.token.line}:{err.token.column}"
    return Diagnostic(f"this '{bracket}' is never closed", ast.Span(path, line, column, line, column + 1),
                      hint=f"add '{_OPENING[bracket]}' before {found}", code="syntax",
                      line_text=text.splitlines()[line - 1])


def _syntax_diagnostic(err: UnexpectedInput, text: str, path: str) -> Diagnostic:
    unclosed = _unclosed_diagnostic(err, text, path)
    if unclosed is not None:
        return unclosed
    line, column = getattr(err, "line", 1) or 1, getattr(err, "column", 1) or 1
    if isinstance(err, UnexpectedEOF) or (isinstance(err, UnexpectedToken) and err.token.type == "$END"):
        lines = text.splitlines() or [""]
        line, column = len(lines), len(lines[-1]) + 1
    width = 1
    if isinstance(err, UnexpectedToken) and err.token.type != "$END":
        width = max(1, len(str(err.token)))
    span = ast.Span(path, line, column, line, column + width)

    found = _describe_found(err, text)
    expected = _describe_expected(err)
    label = _match_catalogue(err, text) if isinstance(err, UnexpectedToken) else None
    message = label if label else f"unexpected {found}"
    hint = f"found {found}; expected {expected}" if label else f"expected {expected}"
    lines = text.splitlines()
    line_text = lines[line - 1] if 0 < line <= len(lines) else ""
    return Diagnostic(message, span, hint=hint, code="syntax", line_text=line_text)


def _describe_found(err: UnexpectedInput, text: str) -> str:
    if isinstance(err, UnexpectedCharacters):
        ch = text[err.pos_in_stream] if err.pos_in_stream < len(text) else ""
        return f"character {ch!r}"
    if isinstance(err, UnexpectedEOF):
        return "end of file"
    if isinstance(err, UnexpectedToken):
        tok: Token = err.token
        if tok.type == "$END":
            return "end of file"
        return f"'{tok}'"
    return "input"


def _terminal_names() -> dict[str, str]:
    names = dict(TOKEN_NAMES)
    for term in get_parser().terminals:
        if term.name not in names and term.pattern.type == "str":
            names[term.name] = f"'{term.pattern.value}'"
    return names


_STATEMENT_KEYWORDS = {"MODEL", "PAPER", "DATASET", "IMPORT", "LET", "OBSERVED", "LATENT", "PSEUDO",
                       "FEATURE", "PRIOR", "POSTERIOR", "LIKELIHOOD", "ASSUME"}


def _describe_expected(err: UnexpectedInput) -> str:
    expected = set(getattr(err, "accepts", None) or getattr(err, "expected", None)
                   or getattr(err, "allowed", None) or ())
    names = _terminal_names()
    words = sorted({names.get(t, t.lower()) for t in expected - _STATEMENT_KEYWORDS
                    if not t.startswith("__")})
    if expected & _STATEMENT_KEYWORDS and len(expected & _STATEMENT_KEYWORDS) > 3:
        words.append("a new statement")
    elif expected & _STATEMENT_KEYWORDS:
        words = sorted(set(words) | {names.get(t, t) for t in expected & _STATEMENT_KEYWORDS})
    if not words:
        return "something else"
    if len(words) > 10:
        return ", ".join(words[:10]) + ", ..."
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _match_catalogue(err: UnexpectedInput, text: str) -> Optional[str]:
    """The catalogue label whose example fails in the same parser state, if any.

    Lark's own `match_examples` compares parser states the same way; it is reimplemented here
    because it trips over contextual-lexer errors in lark 1.3. The key also holds the kind of
    statement being parsed, because LALR shares states between statements: `feature h mlp(x)`
    and `prior z mlp(x)` fail in the same state (after the target's name) and need different
    messages. Without an exact match, the closest example wins (see `tiers`).
    """
    if _starts_a_line(err, text):
        # A name at the start of a line where a new statement could begin is most likely a
        # statement without its keyword, not an expression continued from the line above.
        rest = text.splitlines()[err.line - 1][err.column - 1:]
        try:
            get_parser().parse(rest)
        except UnexpectedToken as at_start:
            if (at_start.line, at_start.column) == (1, 1):
                err = at_start
        except UnexpectedInput:
            pass
    key = _error_key(err)
    if key is None:
        return None
    state, kind, token = key
    # best first: same state, statement kind and token; same state and token; same state and
    # statement kind; same state
    tiers = (key, (state, token), (state, kind), state)
    best, best_tier = None, len(tiers)
    for label, examples in _catalogue_keys().items():
        for ex_state, ex_kind, ex_token in examples:
            candidates = ((ex_state, ex_kind, ex_token), (ex_state, ex_token), (ex_state, ex_kind), ex_state)
            for tier in range(best_tier):
                if candidates[tier] == tiers[tier]:
                    best, best_tier = label, tier
                    break
    return best


def _starts_a_line(err: UnexpectedInput, text: str) -> bool:
    """A name, first on its line, where the parser would also accept a new statement."""
    token = getattr(err, "token", None)
    if getattr(token, "type", None) != "NAME" or not _STATEMENT_KEYWORDS & set(getattr(err, "accepts", None) or ()):
        return False
    line = text.splitlines()[err.line - 1]
    return not line[: err.column - 1].strip()


_STATEMENT_CLASS = {"OBSERVED": "variable", "LATENT": "variable", "PSEUDO": "variable",
                    "PRIOR": "factor", "POSTERIOR": "factor", "LIKELIHOOD": "factor"}


def _statement_kind(value_stack) -> Optional[str]:
    """The kind of the statement the parser is inside ("factor", "variable", "let", ...), or None
    between statements. Completed statements are already reduced into the `start` list."""
    for item in reversed(value_stack or ()):
        if isinstance(item, Token):
            if item.type in _STATEMENT_KEYWORDS:
                return _STATEMENT_CLASS.get(item.type, item.type.lower())
        elif item.data in ("factor_kind", "variable_kind"):
            return "factor" if item.data == "factor_kind" else "variable"
        elif str(item.data).startswith("__start"):
            return None
    return None


def _error_key(err: UnexpectedInput):
    state = getattr(err, "state", None)
    stack = getattr(state, "state_stack", None)
    if not stack:
        return None
    token = getattr(err, "token", None)
    return stack[-1], _statement_kind(getattr(state, "value_stack", None)), getattr(token, "type", None)


@functools.lru_cache(maxsize=None)
def _catalogue_keys() -> dict[str, list]:
    keys: dict[str, list] = {}
    for label, examples in SYNTAX_ERRORS.items():
        for example in examples:
            try:
                get_parser().parse(example)
            except UnexpectedInput as err:
                key = _error_key(err)
                if key is not None:
                    keys.setdefault(label, []).append(key)
            else:
                raise AssertionError(f"syntax-error example parses: {example!r}")
    return keys
