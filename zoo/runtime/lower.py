"""Lowering: a :class:`ModelGraph` becomes a :class:`zoo.runtime.model.HierarchicalVAE`.

One pass over the graph builds each computation's module from one dispatch table (block name,
family name or combinator name -> the registered `nn.Module` class) and stores it under its node
id, so that ``state_dict`` keys read like the spec: ``ops.h[3].blocks.0...``,
``ops.prior(z[2])/params.net.0.weight``.
"""
from __future__ import annotations

from typing import Any

from torch import nn

from compiler.graph import FunctionRef, ModelGraph, OpInfo, VarInfo

__all__ = ["lower", "build_op", "Alias"]


class Alias(nn.Identity):
    """`feature a = b` (or a conditional choosing a node): the value of another node. The runtime
    passes tensor arguments by name, which `nn.Identity.forward(input)` would not accept."""

    def forward(self, x):
        return x


def build_op(mg: ModelGraph, info: OpInfo) -> nn.Module:
    """The module of one computation node."""
    from zoo.nn import registry  # imports every block implementation

    def shape_of(inp):
        if isinstance(inp, tuple):
            return [shape_of(x) for x in inp]
        return mg.info(inp).shape

    in_shapes = {name: shape_of(inp) for name, inp in info.inputs}
    params: dict[str, Any] = {k: v for k, v in info.params if not isinstance(v, FunctionRef)}
    functions = {k: v for k, v in info.params if isinstance(v, FunctionRef)}
    if info.kind == "feature":
        if info.op == "identity":
            return Alias()
        cls = registry.block_class(info.op)
        kwargs = dict(in_shapes=in_shapes, out_shape=info.shape, **params)
        for name, ref in functions.items():
            kwargs[name] = ref.factor  # e.g. pseudo_inverse(u, of = posterior(u)); bound by bind_model
        return cls(**kwargs)
    if info.kind in ("factor", "dist"):
        target = mg.info(info.target).shape
        try:
            cls = registry.family_class(info.op)
        except registry.UnknownBlockError:
            cls = registry.combinator_class(info.op)
        kwargs = dict(in_shapes=in_shapes, target_shape=target, **params)
        for name, ref in functions.items():
            kwargs[name] = ref.factor  # the runtime binds the factor's subgraph (see HierarchicalVAE)
        return cls(**kwargs)
    raise ValueError(f"node {info.name} of kind {info.kind} has no module")


def lower(mg: ModelGraph):
    """Build the PyTorch module of a compiled spec.

    Args:
        mg: from :func:`compiler.graph.build_graph`.

    Returns:
        A :class:`zoo.runtime.model.HierarchicalVAE`: a plain `nn.Module` whose `forward(x)` returns the
        ELBO terms, with `sample`, `log_likelihood` and `reconstruct`.

    Raises:
        zoo.nn.registry.UnknownBlockError: a block with a signature but no implementation.

    Example:
        >>> from zoo.registry import compile_spec
        >>> model = lower(compile_spec("vae"))
        >>> sorted(model.ops)[:2]
        ['likelihood(x)', 'likelihood(x)/params']
    """
    from zoo.runtime.model import HierarchicalVAE

    ops = {}
    for node in mg.graph.nodes:
        info = mg.info(node)
        if isinstance(info, VarInfo) or info.kind == "slice":
            continue
        ops[node] = build_op(mg, info)
    return HierarchicalVAE(mg, ops)
