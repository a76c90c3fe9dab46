"""How long the language server takes to re-check a spec after an edit, at 100 latent layers.

What `zoo lsp` runs on each (debounced) change is :func:`zoo.lsp.analysis.analyse`: parse with
imports, elaborate and check, build the graph, validate, and the factorization check (no lowering,
no torch). This script times it on generated 100-latent specs (the families of
bench/bench_compile.py, plus an unfaithful ladder whose check also finds 99 violations), as
medians of wall time and of process CPU time, and then end to end over a real stdio connection:
`didChange` to `publishDiagnostics`, minus the server's debounce pause. Target: under 200 ms.

Usage:
    python bench/bench_lsp.py [--layers 100] [--repeats 7] [--no-stdio]
"""
from __future__ import annotations

import argparse
import pathlib
import statistics
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.bench_compile import LADDER, NVAE  # noqa: E402

#: The ladder with a decoder that reads every layer: each q(z[l] | x, z[l-1]) leaves out z[<l-1].
UNFAITHFUL = LADDER.replace("likelihood x | z[L] = mlp(z[L],", "likelihood x | z = mlp(concat(z),")
FAMILIES = {"ladder": LADDER, "nvae": NVAE, "ladder-unfaithful": UNFAITHFUL}


def measure(text: str, path: str, repeats: int) -> tuple[float, float, int]:
    """Median wall and CPU seconds of one analysis, and the number of diagnostics it found."""
    from zoo.lsp.analysis import analyse

    walls, cpus, found = [], [], 0
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        found = len(analyse(path, text).diagnostics)
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus), found


def over_stdio(text: str, path: pathlib.Path, repeats: int) -> float:
    """Median seconds from didChange to publishDiagnostics, minus the debounce, over a real pipe."""
    from tests.tooling.lsp_client import LspClient
    from zoo.lsp.server import DEBOUNCE_S

    client = LspClient()
    try:
        client.request("initialize", {"processId": None, "rootUri": None, "capabilities": {}})
        client.notify("initialized", {})
        uri = "file://" + str(path.resolve())
        client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "hvae", "version": 1,
                                                                "text": text}})
        client.wait_notification("textDocument/publishDiagnostics", timeout=120)
        times = []
        for version in range(2, 2 + repeats):
            start = time.perf_counter()
            client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version},
                                                     "contentChanges": [{"text": text + " " * version}]})
            client.wait_notification("textDocument/publishDiagnostics", timeout=120,
                                     where=lambda p, v=version: p.get("version") == v)
            times.append(time.perf_counter() - start - DEBOUNCE_S)
        return statistics.median(times)
    finally:
        client.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layers", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--no-stdio", action="store_true", help="skip the end-to-end measurement")
    args = parser.parse_args(argv)
    print("| spec | L | diagnostics | analyse wall (ms) | analyse CPU (ms) |" +
          ("" if args.no_stdio else " didChange -> diagnostics (ms) |"))
    print("|---|---:|---:|---:|---:|" + ("" if args.no_stdio else "---:|"))
    with tempfile.TemporaryDirectory() as folder:
        for name, template in FAMILIES.items():
            text = template.format(L=args.layers)
            path = pathlib.Path(folder) / f"{name}.hvae"
            path.write_text(text)
            measure(text, str(path), 1)  # warm the imports and the parser
            wall, cpu, found = measure(text, str(path), args.repeats)
            row = f"| {name} | {args.layers} | {found} | {wall * 1e3:.0f} | {cpu * 1e3:.0f} |"
            if not args.no_stdio:
                row += f" {over_stdio(text, path, args.repeats) * 1e3:.0f} |"
            print(row, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
