"""Exponential moving average of a model's weights, used for evaluation and sampling.

After every optimizer step, ``avg <- decay * avg + (1 - decay) * param`` for every floating
parameter; buffers (batch-norm statistics) are copied as they are, so the averaged model is
evaluated with the statistics the training model has. Integer buffers are copied too.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from torch import nn

__all__ = ["EMA"]


class EMA:
    """The averaged copy of a model's state.

    Args:
        model: the (unwrapped) model whose weights to average.
        decay: the weight of the old average, e.g. 0.999.
    """

    def __init__(self, model: nn.Module, decay: float):
        self.decay = float(decay)
        self.shadow = {name: t.detach().clone() for name, t in model.state_dict().items()}
        self._params = {name for name, _ in model.named_parameters()}

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        for name, value in model.state_dict().items():
            avg = self.shadow[name]
            if name in self._params and value.is_floating_point():
                avg.lerp_(value.detach(), 1.0 - self.decay)  # avg + (1 - decay) (value - avg)
            else:
                avg.copy_(value)

    def state_dict(self) -> dict:
        return {"decay": self.decay, "shadow": dict(self.shadow)}

    def load_state_dict(self, state: dict) -> None:
        missing = set(self.shadow) ^ set(state["shadow"])
        if missing:
            raise KeyError(f"EMA state does not match the model: {sorted(missing)[:5]}")
        for name, value in state["shadow"].items():
            self.shadow[name].copy_(value)
        self.decay = float(state["decay"])

    @contextlib.contextmanager
    def applied(self, model: nn.Module) -> Iterator[nn.Module]:
        """Temporarily load the averaged weights into ``model`` (restored on exit)."""
        saved = {name: t.detach().clone() for name, t in model.state_dict().items()}
        model.load_state_dict(self.shadow)
        try:
            yield model
        finally:
            model.load_state_dict(saved)
