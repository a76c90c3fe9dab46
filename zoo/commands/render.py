"""Draw a spec's graphical model or architecture.

`--view pgm` draws the probabilistic graphical model as the papers do (random variables as
circles, observed ones shaded, deterministic nodes as diamonds, generative edges solid, inference
edges dashed) with the factorization check's violations in red and their witness paths
highlighted; `--view architecture` draws the dataflow of the compiled module (bottom-up and
top-down paths, posteriors, priors, likelihood head). Repeated layers are drawn once, inside a
plate (`l = 2..L`) or as one box with a multiplicity; `--unroll` draws every layer and
`--layers 1..4` a subset. The DOT text is always produced; SVG, PNG and PDF need Graphviz's `dot`
program. Without it the .dot file is still written, with a note on how to install Graphviz (exit
status 1). The format comes from `--format` or the suffix of `-o`; a suffix that names another
format than `--format` is refused.

Examples:
    zoo render nvae16 --view architecture -o nvae16.svg
    zoo render dlgm --view pgm --format png
    zoo render attentive16 --layout side-by-side --layers 1..4
    zoo render specs/ladder.hvae --format dot -o - | dot -Tpdf > ladder.pdf
"""
from __future__ import annotations

import argparse
import os
import sys

from .common import add_spec_arguments, overrides_from

__all__ = ["add_arguments", "run", "INSTALL_HINT"]

FORMATS = ("svg", "png", "pdf", "dot")
SUFFIXES = {"svg": "svg", "png": "png", "pdf": "pdf", "dot": "dot", "gv": "dot"}
IMAGE_SUFFIXES = ("jpg", "jpeg", "gif", "bmp", "tif", "tiff", "webp", "eps", "ps", "html", "txt", "json")

INSTALL_HINT = ("Graphviz's `dot` program is needed for {fmt} output; the DOT text was written to {path}.\n"
                "Install Graphviz and run `zoo render` again, or convert the file yourself "
                "(`dot -T{fmt} {path} -o out.{fmt}`):\n"
                "  Debian/Ubuntu: sudo apt-get install graphviz\n"
                "  macOS:         brew install graphviz\n"
                "  conda:         conda install -c conda-forge graphviz\n"
                "  Windows:       winget install graphviz   (or https://graphviz.org/download/)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_spec_arguments(parser)
    parser.add_argument("--view", choices=("pgm", "architecture"), default="pgm",
                        help="the graphical model (default) or the module's dataflow")
    parser.add_argument("--format", choices=FORMATS, default=None,
                        help="output format (default: from the -o suffix, else svg)")
    parser.add_argument("-o", "--output", metavar="FILE",
                        help="where to write (default: MODEL_VIEW.FORMAT in the current directory; '-' for stdout, "
                             "DOT only)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object: the files written, or the spec's diagnostics on an error")
    parser.add_argument("--unroll", action="store_true",
                        help="draw every layer (default: repeated layers once, in a plate or as one box)")
    parser.add_argument("--layers", metavar="FIRST..LAST",
                        help="draw only these layers (e.g. 1..4); the others are marked as elided")
    parser.add_argument("--layout", choices=("overlay", "side-by-side"), default="overlay",
                        help="pgm view: p and q in one drawing (default) or as two panels, nodes in the same places")
    parser.add_argument("--no-legend", action="store_true", help="leave out the legend")
    parser.add_argument("--no-check", action="store_true",
                        help="pgm view: do not run the factorization check (no violations drawn)")


def run(args: argparse.Namespace) -> int:
    from compiler.plates import parse_layers
    from compiler.render import to_dot
    from zoo.errors import ZooError
    from zoo.registry import compile_spec

    fmt = output_format(args.format, args.output)
    if args.output == "-" and fmt != "dot":
        raise ZooError("only DOT text can go to stdout: use --format dot with -o -")
    layers = None
    if args.layers is not None:
        try:
            layers = parse_layers(args.layers)
        except ValueError as err:
            raise ZooError(str(err)) from err
    mg = compile_spec(args.spec, overrides_from(args))
    report = None
    if args.view == "pgm" and not args.no_check:
        from compiler.dsep import check_posterior_factorization

        report = check_posterior_factorization(mg, inverse=False)
    try:
        text = to_dot(mg, args.view, report, legend=not args.no_legend, unroll=args.unroll, layers=layers,
                      layout=args.layout)
    except ValueError as err:  # a layer range that selects nothing
        raise ZooError(str(err)) from err
    if args.output == "-":
        sys.stdout.write(text)
        return 0
    path = args.output or f"{mg.name}_{args.view}.{fmt}"
    if fmt == "dot":
        _write(path, text.encode("utf-8"))
        _wrote(args, mg, path)
        return 0
    from compiler.layout import LayoutError, NoGraphviz, layout

    try:
        data = layout(text, fmt)
    except LayoutError as err:  # our DOT text is always valid; report, do not crash
        raise ZooError(f"Graphviz failed to lay out the diagram: {err}") from err
    except NoGraphviz:
        dot_path = os.path.splitext(path)[0] + ".dot"
        _write(dot_path, text.encode("utf-8"))
        print(INSTALL_HINT.format(fmt=fmt, path=dot_path), file=sys.stderr)
        return 1
    _write(path, data)
    _wrote(args, mg, path)
    return 0


def _wrote(args, mg, path: str) -> None:
    if args.json:
        from .json_output import dumps

        print(dumps({"command": "render", "model": mg.name, "status": "ok", "outputs": [path],
                     "diagnostics": [w.to_dict() for w in mg.warnings]}))
    else:
        print(f"wrote {path}")


def output_format(requested, path) -> str:
    """The format to write: `requested` (--format), else the suffix of `path`, else SVG.

    Raises:
        ZooError: the suffix names a format `zoo render` cannot write (`foo.jpg`), or another format
            than `requested` (`--format png -o bar.svg`): the file would hold bytes its name belies.
    """
    from zoo.errors import ZooError

    if path == "-":
        return requested or "dot"
    ext = os.path.splitext(path or "")[1].lstrip(".").lower()
    implied = SUFFIXES.get(ext)
    if ext and implied is None and (ext in IMAGE_SUFFIXES or requested is None):
        raise ZooError(f"cannot write {path}: '.{ext}' is not a format zoo render writes; use a file ending in "
                       f"{', '.join('.' + f for f in FORMATS)}")
    if requested and implied and implied != requested:
        raise ZooError(f"--format {requested} does not match the suffix of {path} ('.{ext}' means {implied}): "
                       f"drop --format, or name the file *.{requested}")
    return requested or implied or "svg"


def _write(path: str, data: bytes) -> None:
    from zoo.errors import ZooError

    directory = os.path.dirname(path)
    try:
        if directory:
            os.makedirs(directory, exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(data)
    except OSError as err:
        raise ZooError(f"cannot write {path}: {err.strerror}") from err
