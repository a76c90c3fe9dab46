"""Small overrides of every zoo model, for tests that run it (timm's `MAX_FWD_SIZE`, per spec).

`SMALL[model] = {constant: value}` is passed as ``--set`` overrides so that a forward and backward
pass on CPU takes a fraction of a second; the spec itself stays the published model. Every model in
`specs/` needs an entry (an empty dict if it is already small): `tests/zoo/test_models.py` fails
for a model without one. Keep the structure (at least two or three layers, every kind of cell)
and shrink only widths and depth.
"""
from __future__ import annotations

SMALL: dict[str, dict[str, object]] = {
    "vae": {"D": 4, "H": 16},
    "ladder": {"L": 3},
    "dlgm": {"L": 3, "D": 4, "H": 32, "E": 8},
    "nvae8": {"L": 2, "C": 8, "Z": 4},
    "nvae16": {"L": 2, "C": 8, "Z": 4},
}
