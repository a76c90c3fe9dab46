"""A catalogue of common syntax mistakes and the plain-English message each one deserves.

The parser matches a failing parse against these examples with lark's `match_examples`
(the same technique lark uses for its own grammar errors). Each label is a message; each
example is a minimal spec that makes that mistake.
"""
from __future__ import annotations

__all__ = ["SYNTAX_ERRORS", "TOKEN_NAMES"]

SYNTAX_ERRORS: dict[str, list[str]] = {
    "a latent, observed or pseudo-input variable needs ':' and a shape after its name, "
    "e.g. `latent z : [32]`": [
        "latent z [32]",
        "latent z[1..4] [10]",
        "observed x ~ bernoulli",
        "pseudo u [1, 7, 7]",
    ],
    "a feature needs '=' and an expression after its name, e.g. `feature h = mlp(x)`": [
        "feature h mlp(x)",
        "feature h[l in 1..3] mlp(x)",
    ],
    "a factor needs '=' followed by the network that computes its parameters, "
    "e.g. `prior z = normal(loc = 0, scale = 1)`": [
        "prior z normal(loc = 0, scale = 1)",
        "posterior z[1] mlp(x)",
        "likelihood x mlp(z)",
    ],
    # After a parent, a missing ',' and a missing '=' fail in the same parser state with the
    # same token, so one message covers both.
    "parents follow a '|', separated by commas; then come '=' and the network that computes the "
    "factor's parameters, e.g. `posterior z[2] | x, z[1] = mlp(x)`": [
        "prior z | x mlp(x)",
        "posterior z[2] | x, z[1] mlp(x)",
        "likelihood x | z mlp(z)",
        "posterior z | x z = mlp(x)",
        "prior z[2] | z[1] x = mlp(z[1])",
    ],
    "`let` needs a name, '=' and a value, e.g. `let L = 16`": [
        "let L 16",
        "let = 16",
    ],
    "an index range is written `lo..hi` and an index variable is bound with `l in lo..hi`, "
    "e.g. `z[l in 2..L]`": [
        "latent z[1:4] : [10]",
        "prior z[l in 2:5] | z[l-1] = mlp(z[l-1])",
        "prior z[for l in 2..5] | z[l-1] = mlp(z[l-1])",
    ],
    "unbalanced brackets: every '(' needs a ')' and every '[' a ']'": [
        # a bracket still open at the next statement or the end of the file is reported where
        # it opened (dsl/parser.py, `_unclosed_diagnostic`), not by this catalogue
        "feature h = mlp(x, hidden = [10, 10)",
    ],
    "a statement must start with one of: model, paper, dataset, import, let, observed, latent, "
    "pseudo, feature, prior, posterior, likelihood, assume": [
        "z = 3",
        "const L = 3",
        "h = mlp(x)",
    ],
    "two expressions follow each other without an operator or comma between them": [
        "feature h = mlp(x hidden = [10])",
        "feature h = mlp(x, hidden = [10] out = 4)",
        "feature h = mlp(x, k = 3 out = 4)",
        "let L = 3 4",
        "let L = a b",
    ],
    "strings are written in double quotes on one line, e.g. `model \"a VAE\"`": [
        "model a VAE",
        "paper Kingma 2014",
    ],
    "an assumption reads `assume A independent of B [given C] [\"reason\"]`": [
        "assume u independent z given x",
        "assume u of z given x",
    ],
}

# Plain-English names for the grammar's pattern terminals. Terminals that are literal strings
# (keywords and punctuation) are shown as the string itself.
TOKEN_NAMES: dict[str, str] = {
    "NAME": "a name",
    "NUMBER": "a number",
    "STRING": "a string in double quotes",
    "RELATION": "a comparison such as '<' or '>='",
    "COMPARE": "'==' or '!='",
    "MUL_OP": "'*', '/', '//' or '%'",
    "$END": "the end of the file",
}
