"""Limits on what a spec may ask for, checked at elaboration with the location of the offending value.

A mistyped constant (`let L = 10**9`, `res_blocks = 1000000000`, `dropout = 5`) must end in a located
error within a second, not in a hang, a traceback from PyTorch, or the kernel killing the process.
The limits here are far above every published model and below what would take the compiler more
than a few seconds or a machine's memory:

- :data:`MAX_NODES` variables and features after expanding index ranges, and :data:`MAX_READS`
  references after expanding `z[<l]`-style ranges (which grow with the square of the layer count);
- every integer argument of a block at most :data:`MAX_SIZE` (a width, a channel count, a shape
  element), repetition counts at most :data:`MAX_REPEATS`, and the value ranges that
  :data:`CONSTRAINTS` names per argument (sizes positive, probabilities in [0, 1]...).

The parameter and memory budget of the model itself is checked later, from the shape table and
before allocating anything (`zoo.training.budget`).
"""
from __future__ import annotations

from typing import Any, Optional

__all__ = ["MAX_NODES", "MAX_READS", "MAX_ELEMENTS", "MAX_SIZE", "MAX_REPEATS", "CONSTRAINTS", "violation"]

# Variables and features after expanding index ranges (nvae16 has 12 per layer: L <= 800).
MAX_NODES = 10_000
# References after expanding ranges: `z[<l]` over L layers reads L^2/2 nodes (nvae16 at L = 300: 50,000).
MAX_READS = 200_000
# Elements of one variable, per example: 2^31 (an image of 3 x 26,754 x 26,754).
MAX_ELEMENTS = 1 << 31
# The largest integer argument: 2^24 = 16,777,216 (a width or a shape element).
MAX_SIZE = 1 << 24
# The most repetitions of a module inside one block (residual blocks, flows, spline layers...).
MAX_REPEATS = 1_000
# The most steps of an iterative sampler.
MAX_STEPS = 100_000

_POSITIVE = ("a positive integer", lambda v: v >= 1)
_NON_NEGATIVE = ("a non-negative integer", lambda v: v >= 0)
_PROBABILITY = ("a probability in [0, 1]", lambda v: 0.0 <= v <= 1.0)
_UNIT_OPEN = ("a number in [0, 1)", lambda v: 0.0 <= v < 1.0)

# argument name -> (what it must be, test on each value); applies to the blocks' int and float
# arguments of that name (for "ints" to each element).
CONSTRAINTS: dict[str, tuple[str, Any]] = {
    **{name: _POSITIVE for name in ("out", "hidden", "channels", "components", "keys", "bins", "blocks",
                                    "res_blocks", "flows", "splines", "nodes", "groups", "size", "k", "factor",
                                    "steps", "filters", "bits", "shape_")},
    **{name: _NON_NEGATIVE for name in ("nonlocal_keys", "n", "mask", "start", "stop")},
    "dropout": _PROBABILITY,
    "p": _PROBABILITY,
    "alpha": _UNIT_OPEN,
}

_REPEATS = ("blocks", "res_blocks", "flows", "splines", "nodes")


def violation(param: str, kind: str, value: Any) -> Optional[str]:
    """What is wrong with the constant `value` of argument `param` (of kind int, ints, float), or None."""
    values = value if isinstance(value, tuple) else (value,)
    if param == "seed":
        return None
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            continue
        rule = CONSTRAINTS.get(param)
        if rule is not None and not rule[1](v):
            return f"must be {rule[0]}, got {v!r}"
        if param in _REPEATS and v > MAX_REPEATS:
            return f"repeats a module at most {MAX_REPEATS:,} times, got {v:,}"
        if kind in ("int", "ints") and abs(v) > MAX_SIZE:
            return f"must be at most {MAX_SIZE:,} in size, got {v:,}"
        if param == "steps" and v > MAX_STEPS:
            return f"must be at most {MAX_STEPS:,}, got {v:,}"
    if param == "shape_" and isinstance(value, tuple) and not value:
        return "must be a non-empty list of positive integers"
    return None
