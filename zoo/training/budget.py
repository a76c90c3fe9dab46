"""The size of a model before it exists: parameters and activation memory, checked against a budget.

`lower` allocates every weight at once, so a constant typed one digit too long (``let H = 2000000``)
or ``--set L=2000`` would otherwise end in "you tried to allocate 16000000000000 bytes" or in the
kernel killing the process. :func:`estimate` builds each computation's module on PyTorch's `meta`
device, which records shapes and allocates nothing, and counts its parameters exactly, per spec
statement; it adds the activations the shape table implies (every variable and feature, one
float32 per element per example). :func:`check_budget` refuses a model above the parameter budget
(default :data:`DEFAULT_MAX_PARAMETERS`, raised with ``--max-parameters``) or whose weights (with
gradients and Adam's moments when training) and activations for one batch do not fit in the memory
available now, with an error located at the statement that holds the most parameters.

What is bounded before this point, by the front end: spec files (:mod:`dsl.source`), nesting depth
(:mod:`dsl.parser`), integers, lists and index ranges (:mod:`dsl.expressions`), the number of
elaborated variables and features and the size of each argument (:mod:`dsl.limits`), so that the
meta build itself is quick.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

from dsl.ast import Span
from dsl.errors import Diagnostic, SpecSemanticError

__all__ = ["DEFAULT_MAX_PARAMETERS", "Estimate", "estimate", "check_budget", "available_memory", "lower_checked"]

# 10^10 parameters: 40 GB of float32 weights, several times the largest model of the papers the zoo
# reproduces (NVAE on CelebA-HQ 256 has about 10^9 parameters with its decoders).
DEFAULT_MAX_PARAMETERS = 10 ** 10

_FLOAT_BYTES = 4
# bytes per parameter while training: the weight, its gradient and Adam's two moments
_TRAINING_BYTES_PER_PARAMETER = 4 * _FLOAT_BYTES


@dataclass
class Estimate:
    """What a model will hold, before it is built.

    Attributes:
        parameters: the exact number of trainable parameters `lower` will allocate.
        by_statement: parameters per spec statement: span -> (its first line's text key, count).
        activations: float32 elements of all variables and features for ONE example (a lower bound
            on what a forward pass keeps: blocks hold more inside).
    """

    parameters: int = 0
    by_statement: dict = field(default_factory=dict)
    activations: int = 0

    def largest(self) -> tuple[Optional[Span], int]:
        """The statement holding the most parameters, and how many."""
        if not self.by_statement:
            return None, 0
        span = max(self.by_statement, key=self.by_statement.get)
        return span, self.by_statement[span]

    def bytes_needed(self, *, batch_size: int = 1, training: bool = False) -> int:
        """Weights (with gradients and Adam state when training) plus one batch of activations
        (twice over when training: the forward pass keeps them for the backward pass)."""
        per_parameter = _TRAINING_BYTES_PER_PARAMETER if training else _FLOAT_BYTES
        return self.parameters * per_parameter + self.activations * batch_size * _FLOAT_BYTES * (2 if training else 1)


def estimate(mg) -> Estimate:
    """Count the parameters of every module of a compiled spec without allocating them."""
    import torch

    from compiler.nodes import VarInfo
    from zoo.runtime.lower import build_op
    from zoo.runtime.model import HierarchicalVAE

    out = Estimate()
    ops = {}
    with torch.device("meta"):
        for node in mg.graph.nodes:  # what `zoo.runtime.lower.lower` does, one node at a time
            info = mg.info(node)
            if info.shape is not None:
                out.activations += math.prod(info.shape)
            if isinstance(info, VarInfo) or info.kind == "slice":
                continue
            span = info.origin.span if info.origin is not None else info.span
            try:
                ops[node] = build_op(mg, info)
            except RuntimeError as err:  # "Storage size calculation overflowed": sizes past 2^63 bytes
                if "overflow" not in str(err).lower():
                    raise
                raise SpecSemanticError([Diagnostic(
                    f"{node} would need more than 2^63 bytes: its sizes overflow PyTorch's size counters", span,
                    code="model-too-large").with_source(mg.spec.sources)]) from None
            n = sum(p.numel() for p in ops[node].parameters() if p.requires_grad)
            out.by_statement[span] = out.by_statement.get(span, 0) + n
        model = HierarchicalVAE(mg, ops)  # parameters outside the ops, e.g. learnable pseudo-inputs
    out.parameters = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return out


def available_memory(device: Optional[str] = None) -> Optional[int]:
    """Bytes that can be allocated now: free GPU memory for a CUDA device, else the kernel's
    MemAvailable (None where it cannot be read)."""
    if device is not None and str(device).startswith("cuda"):
        import torch

        if torch.cuda.is_available():
            free, _ = torch.cuda.mem_get_info(torch.device(device))
            return int(free)
        return None
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _count(n: int) -> str:
    """`20,172,200,884 (20.2 billion)`."""
    for word, scale in (("trillion", 1e12), ("billion", 1e9), ("million", 1e6)):
        if n >= scale:
            return f"{n:,} ({n / scale:.3g} {word})"
    return f"{n:,}"


def _bytes(n: float) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n:.0f} B"


def check_budget(mg, *, max_parameters: Optional[int] = None, batch_size: int = 1, training: bool = False,
                 device: Optional[str] = None, memory: Optional[int] = -1) -> Estimate:
    """Refuse a model too large to build; return its estimate otherwise.

    Args:
        mg: a compiled spec.
        max_parameters: the parameter budget (default :data:`DEFAULT_MAX_PARAMETERS`).
        batch_size: examples per batch, for the activation memory.
        training: count gradients and Adam's moments too.
        device: where the model will live (its free memory is the memory budget).
        memory: bytes available; -1 (default) reads them from `device`, None skips the memory check.

    Raises:
        SpecSemanticError: above a budget; located at the statement with the most parameters,
            naming its size, the model's and the budget.
    """
    budget = DEFAULT_MAX_PARAMETERS if max_parameters is None else max_parameters
    est = estimate(mg)
    span, biggest = est.largest()
    where = f"this statement's modules hold {_count(biggest)} of them" if span is not None else ""
    if est.parameters > budget:
        raise SpecSemanticError([Diagnostic(
            f"the model would have {_count(est.parameters)} parameters, above the budget of {_count(budget)}; "
            f"{where}", span,
            hint="make the model smaller, or raise the budget with --max-parameters N",
            code="model-too-large").with_source(mg.spec.sources)])
    if memory == -1:
        memory = available_memory(device)
    need = est.bytes_needed(batch_size=batch_size, training=training)
    if memory is not None and need > memory:
        what = "training" if training else "holding"
        raise SpecSemanticError([Diagnostic(
            f"{what} the model needs at least {_bytes(need)} of memory ({_count(est.parameters)} parameters"
            f"{' with gradients and optimizer state' if training else ''}, and {_count(est.activations)} activations "
            f"per example x batch {batch_size}), but only {_bytes(memory)} are available now; {where}", span,
            hint="make the model or the batch smaller", code="model-too-large").with_source(mg.spec.sources)])
    return est


def lower_checked(mg, *, max_parameters: Optional[int] = None, batch_size: int = 1, training: bool = False,
                  device: Optional[str] = None):
    """:func:`zoo.runtime.lower.lower`, after :func:`check_budget` has found the model small enough."""
    from zoo.runtime.lower import lower

    check_budget(mg, max_parameters=max_parameters, batch_size=batch_size, training=training, device=device)
    return lower(mg)
