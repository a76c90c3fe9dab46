"""`ToAst`: the pure translation of lark's parse tree into :mod:`dsl.ast` dataclasses.

It converts tokens and reshapes trees and nothing else: no name resolution and no semantic
errors, so a `VisitError` from here is always a bug in this module, never a user mistake.
"""
from __future__ import annotations

from lark import Token, Transformer, v_args

from . import ast

__all__ = ["ToAst"]


@v_args(meta=True)
class ToAst(Transformer):
    """Build AST nodes; `path` is recorded in every span."""

    def __init__(self, path: str):
        super().__init__()
        self.path = path

    def _span(self, meta) -> ast.Span:
        if getattr(meta, "empty", True):
            return ast.Span(self.path, 0, 0, 0, 0)
        return ast.Span(self.path, meta.line, meta.column, meta.end_line, meta.end_column)

    def _tok_span(self, tok: Token) -> ast.Span:
        return ast.Span(self.path, tok.line, tok.column, tok.end_line, tok.end_column)

    # -- file ----------------------------------------------------------------------------------
    def start(self, meta, children):
        return tuple(children)

    def model_decl(self, meta, c):
        return ast.ModelDecl(self._span(meta), _unquote(c[0]))

    def paper_decl(self, meta, c):
        return ast.PaperDecl(self._span(meta), _unquote(c[0]))

    def dataset_decl(self, meta, c):
        return ast.DatasetDecl(self._span(meta), str(c[0]))

    def import_decl(self, meta, c):
        return ast.ImportDecl(self._span(meta), _unquote(c[0]), tuple(c[1] or ()))

    def bindings(self, meta, c):
        return tuple(c)

    def binding(self, meta, c):
        return ast.Binding(self._span(meta), str(c[0]), c[1])

    def let_decl(self, meta, c):
        return ast.LetDecl(self._span(meta), str(c[0]), c[1])

    def variable_kind(self, meta, c):
        return str(c[0])

    def factor_kind(self, meta, c):
        return str(c[0])

    def variable_decl(self, meta, c):
        kind, target, shape, family = c
        return ast.VariableDecl(self._span(meta), kind, target, shape, family)

    def feature_decl(self, meta, c):
        target, value, groups = c
        return ast.FeatureDecl(self._span(meta), target, value, tuple(groups or ()))

    def groups(self, meta, c):
        return tuple(c)

    def group(self, meta, c):
        return ast.Group(self._span(meta), str(c[0]), c[1])

    def factor_decl(self, meta, c):
        kind, target, parents, value = c
        return ast.FactorDecl(self._span(meta), kind, target,
                              tuple(parents) if parents is not None else None, value)

    def assume_decl(self, meta, c):
        left, right, given, reason = c
        return ast.AssumeDecl(self._span(meta), tuple(left), tuple(right), tuple(given or ()),
                              _unquote(reason) if reason is not None else None)

    def assume_sufficient(self, meta, c):
        features, reason = c
        return ast.AssumeDecl(self._span(meta), tuple(features), (), (),
                              _unquote(reason) if reason is not None else None, sufficient=True)

    # -- targets and references ------------------------------------------------------------------
    def target(self, meta, c):
        return ast.Target(self._span(meta), str(c[0]), c[1])

    def ref_list(self, meta, c):
        return tuple(c)

    def ref(self, meta, c):
        name, index, group = c
        return ast.Ref(self._span(meta), str(name), index, str(group) if group is not None else None)

    def index_at(self, meta, c):
        return ast.IndexAt(self._span(meta), c[0])

    def index_span(self, meta, c):
        return ast.IndexSpan(self._span(meta), c[0], c[2])

    def index_binder(self, meta, c):
        return ast.IndexBinder(self._span(meta), str(c[0]), c[1], c[3])

    def index_relation(self, meta, c):
        return ast.IndexRelation(self._span(meta), str(c[0]), c[1])

    # -- expressions ----------------------------------------------------------------------------
    def cond_expr(self, meta, c):
        body, test, orelse = c
        return ast.Conditional(self._span(meta), test, body, orelse)

    def or_expr(self, meta, c):
        return ast.BoolOp(self._span(meta), "or", c[0], c[1])

    def and_expr(self, meta, c):
        return ast.BoolOp(self._span(meta), "and", c[0], c[1])

    def not_expr(self, meta, c):
        return ast.UnaryOp(self._span(meta), "not", c[0])

    def compare_expr(self, meta, c):
        return ast.Compare(self._span(meta), str(c[1]), c[0], c[2])

    def binary_expr(self, meta, c):
        return ast.BinaryOp(self._span(meta), str(c[1]), c[0], c[2])

    def neg_expr(self, meta, c):
        return ast.UnaryOp(self._span(meta), "-", c[1])

    def pow_expr(self, meta, c):
        return ast.BinaryOp(self._span(meta), "**", c[0], c[2])

    def number(self, meta, c):
        text = str(c[0])
        value = float(text) if any(ch in text for ch in ".eE") else int(text)
        return ast.Number(self._span(meta), value)

    def string(self, meta, c):
        return ast.String(self._span(meta), _unquote(c[0]))

    def true(self, meta, c):
        return ast.Bool(self._span(meta), True)

    def false(self, meta, c):
        return ast.Bool(self._span(meta), False)

    def call(self, meta, c):
        name, args = c
        positional, keywords = [], []
        for arg in args or ():
            (keywords if isinstance(arg, ast.Keyword) else positional).append(arg)
        return ast.Call(self._span(meta), str(name), tuple(positional), tuple(keywords))

    def args(self, meta, c):
        return tuple(c)

    def keyword_arg(self, meta, c):
        return ast.Keyword(self._span(meta), str(c[0]), c[1])

    def list_expr(self, meta, c):
        return ast.ListExpr(self._span(meta), tuple(x for x in c if x is not None))

    def factor_ref(self, meta, c):
        return ast.FactorRef(self._span(meta), c[0], c[1])


def _unquote(token) -> str:
    return str(token)[1:-1]
