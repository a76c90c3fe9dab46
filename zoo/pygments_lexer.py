"""A Pygments lexer for `.hvae` specs, so docs (Sphinx, MkDocs), notebooks and `pygmentize`
highlight them. Registered as the `hvae` lexer through the `pygments.lexers` entry point in
pyproject.toml; the token rules follow dsl/hvae.lark (and editors/vscode's TextMate grammar).

Example:
    >>> from pygments import highlight
    >>> from pygments.formatters import NullFormatter
    >>> highlight("let L = 5  # layers", HvaeLexer(), NullFormatter())
    'let L = 5  # layers\\n'
"""
from __future__ import annotations

from pygments.lexer import RegexLexer, bygroups, words
from pygments.token import Comment, Keyword, Name, Number, Operator, Punctuation, String, Whitespace

__all__ = ["HvaeLexer", "STATEMENT_KEYWORDS", "KIND_KEYWORDS", "WORD_OPERATORS"]

#: Words that start a statement (the grammar's statement rules).
STATEMENT_KEYWORDS = ("model", "paper", "dataset", "import", "let", "feature", "assume")
#: Variable and factor kinds: they start statements and name factors in `prior(z[l])`.
KIND_KEYWORDS = ("observed", "latent", "pseudo", "prior", "posterior", "likelihood")
#: Words inside statements and expressions.
WORD_OPERATORS = ("with", "split", "independent", "sufficient", "of", "given", "in", "if", "else", "and", "or", "not")


class HvaeLexer(RegexLexer):
    """Tokens of the hvae-zoo spec language."""

    name = "hvae"
    aliases = ["hvae"]
    filenames = ["*.hvae"]
    mimetypes = ["text/x-hvae"]
    url = "https://github.com/hvae-zoo/hvae-zoo"

    tokens = {
        "root": [
            (r"[ \t\r\n]+", Whitespace),
            (r"#[^\n]*", Comment.Single),
            (r'"[^"\n]*"', String.Double),
            (words(STATEMENT_KEYWORDS + KIND_KEYWORDS, suffix=r"\b"), Keyword.Declaration),
            (words(WORD_OPERATORS, suffix=r"\b"), Operator.Word),
            (words(("true", "false"), suffix=r"\b"), Keyword.Constant),
            (r"\d+(\.\d+)?([eE][+-]?\d+)?", Number),
            (r"([A-Za-z_][A-Za-z0-9_]*)(\s*)(\()", bygroups(Name.Function, Whitespace, Punctuation)),
            (r"[A-Za-z_][A-Za-z0-9_]*", Name),
            (r"\.\.|\*\*|//|<=|>=|==|!=|[-+*/%<>=~|]", Operator),
            (r"[\[\](),:.]", Punctuation),
        ],
    }


