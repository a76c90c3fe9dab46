"""Hypothesis strategies for random `.hvae` ASTs: every tree the parser could have produced.

The generated trees respect what the grammar can express and nothing more: numbers are
non-negative literals (a minus sign is a :class:`UnaryOp`), strings hold no quote or newline,
names are not reserved words, a factor's parent list is absent or non-empty, and so on. Any
operator nesting is allowed; the formatter must add the parentheses it needs.
"""
from __future__ import annotations

from hypothesis import strategies as st

from dsl import ast

RESERVED = frozenset(
    "model paper dataset import with let observed latent pseudo feature split prior posterior likelihood "
    "assume independent of given in if else and or not true false".split())

SPAN = ast.Span("<random>", 1, 1, 1, 1)

_FIRST = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"
names = st.builds(lambda a, b: a + b, st.sampled_from(_FIRST),
                  st.text(_FIRST + "0123456789", max_size=5)).filter(lambda s: s not in RESERVED)
strings = st.text(st.characters(blacklist_characters='"\n\r', blacklist_categories=("Cs",)), max_size=12)
numbers = st.one_of(
    st.integers(min_value=0, max_value=10 ** 12),
    st.floats(min_value=0.0, allow_nan=False, allow_infinity=False),
).map(lambda v: ast.Number(SPAN, v))


def _refs(expr) -> st.SearchStrategy:
    indices = st.one_of(
        st.builds(ast.IndexAt, st.just(SPAN), expr),
        st.builds(ast.IndexSpan, st.just(SPAN), expr, expr),
        st.builds(ast.IndexBinder, st.just(SPAN), names, expr, expr),
        st.builds(ast.IndexRelation, st.just(SPAN), st.sampled_from(["<", "<=", ">", ">="]), expr),
    )
    return st.builds(ast.Ref, st.just(SPAN), names, st.none() | indices, st.none() | names)


def _extend(expr) -> st.SearchStrategy:
    small = st.lists(expr, max_size=3).map(tuple)
    return st.one_of(
        _refs(expr),
        st.builds(ast.Call, st.just(SPAN), names, small,
                  st.lists(st.builds(ast.Keyword, st.just(SPAN), names, expr), max_size=3).map(tuple)),
        st.builds(ast.ListExpr, st.just(SPAN), small),
        st.builds(ast.FactorRef, st.just(SPAN), st.sampled_from(ast.FACTOR_KINDS), _refs(expr)),
        st.builds(ast.BinaryOp, st.just(SPAN), st.sampled_from(["+", "-", "*", "/", "//", "%", "**"]), expr, expr),
        st.builds(ast.UnaryOp, st.just(SPAN), st.sampled_from(["-", "not"]), expr),
        st.builds(ast.Compare, st.just(SPAN), st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), expr, expr),
        st.builds(ast.BoolOp, st.just(SPAN), st.sampled_from(["and", "or"]), expr, expr),
        st.builds(ast.Conditional, st.just(SPAN), expr, expr, expr),
    )


leaves = st.one_of(
    numbers,
    strings.map(lambda s: ast.String(SPAN, s)),
    st.booleans().map(lambda b: ast.Bool(SPAN, b)),
    names.map(lambda n: ast.Ref(SPAN, n)),
)
exprs = st.recursive(leaves, _extend, max_leaves=12)
refs = _refs(exprs)
ref_lists = st.lists(refs, min_size=1, max_size=3).map(tuple)


def _targets():
    idx = st.one_of(
        st.builds(ast.IndexAt, st.just(SPAN), exprs),
        st.builds(ast.IndexSpan, st.just(SPAN), exprs, exprs),
        st.builds(ast.IndexBinder, st.just(SPAN), names, exprs, exprs),
        st.builds(ast.IndexRelation, st.just(SPAN), st.sampled_from(["<", "<=", ">", ">="]), exprs),
    )
    return st.builds(ast.Target, st.just(SPAN), names, st.none() | idx)


targets = _targets()

statements = st.one_of(
    st.builds(ast.ModelDecl, st.just(SPAN), strings),
    st.builds(ast.PaperDecl, st.just(SPAN), strings),
    st.builds(ast.DatasetDecl, st.just(SPAN), names),
    st.builds(ast.ImportDecl, st.just(SPAN), strings,
              st.lists(st.builds(ast.Binding, st.just(SPAN), names, exprs), max_size=3).map(tuple)),
    st.builds(ast.LetDecl, st.just(SPAN), names, exprs),
    st.builds(ast.VariableDecl, st.just(SPAN), st.sampled_from(ast.VARIABLE_KINDS), targets, exprs,
              st.none() | exprs),
    st.builds(ast.FeatureDecl, st.just(SPAN), targets, exprs,
              st.lists(st.builds(ast.Group, st.just(SPAN), names, exprs), max_size=3).map(tuple)),
    st.builds(ast.FactorDecl, st.just(SPAN), st.sampled_from(ast.FACTOR_KINDS), targets,
              st.none() | ref_lists, exprs),
    st.builds(ast.AssumeDecl, st.just(SPAN), ref_lists, ref_lists,
              st.lists(refs, max_size=2).map(tuple), st.none() | strings),
)

specs = st.lists(statements, max_size=4).map(lambda stmts: ast.Spec(tuple(stmts), "<random>"))
