"""hvae-zoo: hierarchical VAEs described in `.hvae` specs, compiled to PyTorch.

The package root imports nothing heavy; `zoo.registry.create_model` is the entry point:

    >>> from zoo.registry import create_model      # doctest: +SKIP
    >>> model = create_model("ladder", L=3)          # doctest: +SKIP
"""
__version__ = "0.1.0"
