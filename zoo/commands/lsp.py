"""Run the `.hvae` language server on stdin/stdout (for VS Code, Neovim, Helix, Emacs, ...).

It publishes the diagnostics of `zoo check` as you type (errors, warnings and factorization
violations, with the same codes and hints), and answers hover, go to definition (also across
`import`), completion, document formatting (`zoo fmt`'s formatter) and a quick fix that rewrites an
unfaithful posterior statement (`zoo check --fix`'s repair). See README.md for editor set-up.

Example:
    zoo lsp
"""
from __future__ import annotations

import argparse

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stdio", action="store_true", help="talk over stdin/stdout (the default; editors pass it)")


def run(args: argparse.Namespace) -> int:
    from zoo.errors import ZooError

    try:
        from zoo.lsp.server import build_server
    except ImportError as err:  # pygls is a dependency, but a partial install may lack it
        raise ZooError(f"zoo lsp needs pygls and lsprotocol: pip install pygls ({err})") from None
    build_server().start_io()
    return 0
