"""How big the default diagrams of every zoo model are: drawn nodes, boxes, and pixels.

The targets (docs/diagrams.md, "Size"): the default graphical model of every model has at most
~40 drawn nodes and renders to at most ~2,000 px on its long side; the default architecture view
has at most ~60 boxes. For each model this prints the drawn nodes of the PGM (plates folded, the
legend not counted), the nodes of the unrolled PGM for comparison, the boxes of the architecture
view folded and unrolled, and, where Graphviz's `dot` is installed, the pixel size of the PNG
`zoo render` writes (Graphviz's 96 dpi).

Usage:
    python bench/diagram_sizes.py [--no-pixels] [--markdown]
"""
from __future__ import annotations

import argparse
import pathlib
import re
import shutil
import struct
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from compiler.render import to_dot  # noqa: E402
from zoo.registry import compile_spec, list_models  # noqa: E402

TARGETS = {"pgm_nodes": 40, "pgm_px": 2000, "arch_boxes": 60}

_NODE = re.compile(r'^\s*"[^"]+" \[')


def drawn_nodes(dot: str) -> int:
    """Nodes of a DOT text (node statements with attributes; the legend is not a quoted id)."""
    return sum(1 for line in dot.splitlines() if _NODE.match(line) and "->" not in line)


def png_size(dot: str) -> tuple:
    """(width, height) in pixels of the PNG Graphviz makes of `dot`."""
    png = subprocess.run(["dot", "-Tpng"], input=dot.encode(), capture_output=True, check=True).stdout
    return struct.unpack(">II", png[16:24])


def measure(name: str, pixels: bool) -> dict:
    from compiler.dsep import check_posterior_factorization

    mg = compile_spec(name)
    report = check_posterior_factorization(mg, inverse=False)
    pgm = to_dot(mg, "pgm", report)
    row = {"model": name, "pgm_nodes": drawn_nodes(pgm), "pgm_unrolled": drawn_nodes(to_dot(mg, "pgm", unroll=True)),
           "arch_boxes": drawn_nodes(to_dot(mg, "architecture")),
           "arch_unrolled": drawn_nodes(to_dot(mg, "architecture", unroll=True))}
    if pixels:
        row["pgm_px"] = png_size(pgm)
        row["arch_px"] = png_size(to_dot(mg, "architecture"))
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-pixels", action="store_true", help="skip the PNG sizes (no Graphviz needed)")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table (for docs/diagrams.md)")
    args = parser.parse_args(argv)
    pixels = not args.no_pixels and shutil.which("dot") is not None
    rows = [measure(m.name, pixels) for m in list_models()]
    cols = ["model", "pgm_nodes", "pgm_unrolled"] + (["pgm_px"] if pixels else []) + ["arch_boxes", "arch_unrolled"] + (
        ["arch_px"] if pixels else [])
    fmt = {"pgm_px": lambda v: f"{v[0]} x {v[1]}", "arch_px": lambda v: f"{v[0]} x {v[1]}"}
    cells = [[fmt.get(c, str)(r[c]) for c in cols] for r in rows]
    if args.markdown:
        print("| " + " | ".join(cols) + " |")
        print("|" + "---|" * len(cols))
        for c in cells:
            print("| " + " | ".join(c) + " |")
    else:
        widths = [max(len(c), *(len(x[i]) for x in cells)) for i, c in enumerate(cols)]
        print("  ".join(c.ljust(w) for c, w in zip(cols, widths)))
        for c in cells:
            print("  ".join(x.ljust(w) for x, w in zip(c, widths)))
    over = [r["model"] for r in rows if r["pgm_nodes"] > TARGETS["pgm_nodes"] or r["arch_boxes"] > TARGETS["arch_boxes"]
            or (pixels and max(r["pgm_px"]) > TARGETS["pgm_px"])]
    print(f"\nover target: {', '.join(over) if over else 'none'}"
          f" (PGM <= {TARGETS['pgm_nodes']} nodes and <= {TARGETS['pgm_px']} px; architecture <= "
          f"{TARGETS['arch_boxes']} boxes)")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
