"""One-way layering: the language and the IR never import torch (STYLE.md 6.1), so `zoo check`,
`zoo build --no-lower` and the diagrams work without a GPU stack.

The stages run, in order, in one fresh interpreter (this test process has torch loaded already),
which reports after each stage which heavy packages it has imported.
"""
from __future__ import annotations

import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent

STAGES = {
    "dsl": "import dsl, dsl.format, dsl.check, dsl.depends, dsl.library",
    "compiler": "import compiler.graph, compiler.plan, compiler.validate, compiler.serialize",
    "registry": "import zoo.registry",
    # the whole compile path, run on every spec: parse, check, build the graph, validate
    "compile": "from zoo.registry import compile_spec, list_models\n"
               "for m in list_models():\n"
               "    compile_spec(m.name)",
}
PROBE = """
import json, sys
report = {}
for name, code in STAGES.items():
    exec(code, {})
    report[name] = sorted(m for m in ("torch", "networkx", "lark") if m in sys.modules)
print(json.dumps(report))
"""


def test_the_language_and_the_ir_do_not_import_torch():
    code = f"STAGES = {STAGES!r}\n{PROBE}"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    report = json.loads(out.stdout)
    assert report["dsl"] == ["lark"]  # lark only: no networkx, no torch
    for stage in ("compiler", "registry", "compile"):
        assert report[stage] == ["lark", "networkx"], (stage, report[stage])
