"""The `.hvae` language server (`zoo lsp`): :mod:`zoo.lsp.analysis` computes, :mod:`zoo.lsp.server` speaks LSP.

Neither imports torch: the server reuses the parser, the elaborator, the checker and the
d-separation code, as `zoo check` does.
"""
