"""The training optimizers (Adam, Adamax, AdamW), without the import of torch's compiler.

``torch.optim.Optimizer`` wraps ``add_param_group``, ``zero_grad``, ``state_dict`` and
``load_state_dict`` in ``torch._disable_dynamo``, which imports ``torch._dynamo`` on the first
call, and its ``step`` wrapper imports it on every call to mark graph breaks. That import costs
about 2 s of CPU time (as much as ``import torch``; docs/performance.md, "Start-up"), and an eager
run pays it before its first step although nothing is compiled. Both wrappers only matter while
dynamo traces the optimizer itself, which zoo never does: ``zoo train --compile`` compiles the
objective (:func:`zoo.training.train.compiled_objective`), and the update runs eagerly after it.

The classes here are torch's own optimizers with those four methods and ``step`` taken from under
the wrappers (``functools.wraps`` keeps each original as ``__wrapped__``), and ``step`` run with
gradient recording off (unless ``differentiable=True``), as its wrapper does outside tracing.
Step pre- and post-hooks, lr schedulers and the profiler label still apply: torch wraps ``step``
with them on the class at construction. The update arithmetic, the state-dict format and
``isinstance(opt, torch.optim.Adam)`` are torch's; tests/zoo/test_optim.py checks that their steps
equal torch's bit for bit, that hooks and schedulers work, and that they leave ``torch._dynamo``
unimported.
"""
from __future__ import annotations

import inspect

import torch
from torch.optim import Optimizer

__all__ = ["OPTIMIZERS", "Adam", "Adamax", "AdamW"]


def _unwrapped(fn):
    """``fn`` from under its decorators (``torch._disable_dynamo``, the graph-break and profiler hooks)."""
    return inspect.unwrap(fn)


class _EagerOnly:
    """Mixin over a ``torch.optim`` class: its methods without the dynamo wrappers (module docstring)."""

    add_param_group = _unwrapped(Optimizer.add_param_group)
    zero_grad = _unwrapped(Optimizer.zero_grad)
    state_dict = _unwrapped(Optimizer.state_dict)
    load_state_dict = _unwrapped(Optimizer.load_state_dict)

    def step(self, closure=None):
        """torch's update, with gradients recorded only for ``differentiable=True``, as torch's step wrapper does."""
        base = next(c for c in type(self).__mro__ if c.__module__.startswith("torch.optim"))
        with torch.set_grad_enabled(self.defaults["differentiable"]):
            return _unwrapped(base.step)(self, closure)


class Adam(_EagerOnly, torch.optim.Adam):
    """``torch.optim.Adam`` that does not import ``torch._dynamo``."""


class Adamax(_EagerOnly, torch.optim.Adamax):
    """``torch.optim.Adamax`` that does not import ``torch._dynamo``."""


class AdamW(_EagerOnly, torch.optim.AdamW):
    """``torch.optim.AdamW`` that does not import ``torch._dynamo``."""


#: The recipe's ``optimizer.name`` -> class.
OPTIMIZERS = {"adam": Adam, "adamax": Adamax, "adamw": AdamW}
