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
    "dvp_mnist": {"C": 8, "HID": 8, "NB": 1, "N7": 1, "L": 2, "T": 3, "NRB": 1},
    "dvp_omniglot": {"C": 8, "HID": 8, "NB": 1, "N7": 1, "L": 2, "T": 3, "NRB": 1},
    "dvp_cifar": {"C": 8, "HID": 8, "NB": 1, "N4": 1, "N8": 2, "N16": 3, "L": 4, "T": 3, "NRB": 1},
    "dvp_nvae": {"L": 2, "C": 8, "T": 3},
    "vampprior_mnist": {"C": 8, "HID": 8, "NB": 1, "N7": 1, "L": 2, "K": 5},
    "sere_mlp": {"L": 4, "H": 16, "F": 4, "B": 4, "HX": 16},
    "sere_mlp_top": {"L": 4, "H": 16, "F": 4, "B": 4, "HX": 16},
    "sere_resnet": {"L": 4, "H": 16, "F": 4, "FE": 2, "E": 8, "B": 4, "C": 4},
    "sere_maf_cifar": {"W": 8, "L": 3, "D": 10, "bins": 4, "splines": 2, "F": 2, "E": 8, "HK": 8, "K": 8, "HQ": 8,
                       "HR": 8, "R": 4, "HP": 8, "HB": 4, "C0": 4, "HG": 8, "G": 4, "HM": 8},
    "sere_nvae": {"L": 3, "C": 8, "Z": 2, "B": 4},
    "attentive16": {"L": 4, "C": 8, "Z": 4, "K": 4, "NK": 4},
    "attentive15_omniglot": {"L": 3, "C": 4, "Z": 2, "K": 4, "NK": 2},
    "attentive15_mnist": {"L": 3, "C": 4, "Z": 2, "K": 4, "NK": 2},
    "attentive_ladder": {"L": 3},
}
