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

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent

STAGES = {
    "dsl": "import dsl, dsl.format, dsl.check, dsl.depends, dsl.library",
    "registry": "import zoo.registry",
    "compiler": "import compiler.graph, compiler.plan, compiler.validate, compiler.serialize",
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
    assert report["registry"] == ["lark"]  # `zoo list` reads spec headers: no networkx either
    for stage in ("compiler", "compile"):
        assert report[stage] == ["lark", "networkx"], (stage, report[stage])


# -- the light commands never load torch ---------------------------------------------------------

#: Commands that must run without torch, with the arguments the test runs them with (`{tmp}` is a
#: scratch folder holding a copy of specs/vae.hvae). Adding a command is one line here; a command
#: whose module does not exist yet on this branch is skipped.
LIGHT_COMMANDS = {
    "list": ["list"],
    "check": ["check", "vae"],
    "render": ["render", "vae", "--format", "dot", "-o", "{tmp}/vae.dot"],
    "render-architecture": ["render", "vae", "--view", "architecture", "--format", "dot", "-o", "{tmp}/arch.dot"],
    "fmt": ["fmt", "{tmp}/vae.hvae"],
}
COMMAND_PROBE = """
import contextlib, io, json, sys
from zoo.cli import main
report = {}
for name, argv in COMMANDS.items():
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        status = main(argv)
    report[name] = {"status": status, "torch": "torch" in sys.modules, "output": out.getvalue()[-2000:]}
print(json.dumps(report))
"""


def test_list_check_render_and_fmt_do_not_import_torch(tmp_path):
    import shutil

    shutil.copy(ROOT / "specs" / "vae.hvae", tmp_path / "vae.hvae")
    commands = {name: [a.format(tmp=tmp_path) for a in argv] for name, argv in LIGHT_COMMANDS.items()
                if (ROOT / "zoo" / "commands" / f"{argv[0]}.py").exists()}
    assert {"list", "check", "render"} <= set(commands)
    code = f"COMMANDS = {commands!r}\n{COMMAND_PROBE}"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    report = json.loads(out.stdout)
    for name, result in report.items():
        # each command must have done its work (a failure before the work would import nothing)
        assert result["status"] == 0, (name, result["output"])
        assert not result["torch"], f"`zoo {' '.join(commands[name])}` imported torch"
    assert "vae" in report["list"]["output"] and "faithful" in report["check"]["output"]
    assert (tmp_path / "vae.dot").read_text().startswith("digraph")


# -- static: what each folder may import, and no import cycles -----------------------------------

def _module_imports() -> dict[str, set[str]]:
    """Every module of dsl/, compiler/ and zoo/ -> the modules it imports, at module level or inside
    functions (a local import is still a dependency), resolved to our modules or top-level names."""
    import ast as pyast

    files = {}
    for package in ("dsl", "compiler", "zoo"):
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    imports: dict[str, set[str]] = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found = set()
        for node in pyast.walk(pyast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, pyast.Import):
                found.update(a.name for a in node.names)
            elif isinstance(node, pyast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([node.module] if node.module else []))
                # `from pkg import mod` depends on pkg.mod; `from mod import name` on mod
                found.update(f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names)
        imports[name] = found - {name}
    return imports


def test_compiler_and_dsl_import_neither_torch_nor_zoo():
    for module, deps in _module_imports().items():
        if module.split(".")[0] in ("dsl", "compiler"):
            bad = sorted(d for d in deps if d.split(".")[0] in ("torch", "zoo"))
            assert not bad, f"{module} imports {bad}"


#: Import cycles that remain (none: the test fails on any).
KNOWN_CYCLES: set = set()


def test_no_import_cycles_between_modules():
    import networkx as nx

    imports = _module_imports()
    g = nx.DiGraph()
    for module, deps in imports.items():
        for dep in deps:
            # a package's __init__ re-exports its modules; importing the package from inside it
            # is not a cycle between modules
            if dep in imports and not module.startswith(dep + "."):
                g.add_edge(module, dep)
    cycles = {frozenset(c) for c in nx.strongly_connected_components(g) if len(c) > 1}
    assert cycles <= KNOWN_CYCLES, sorted(sorted(c) for c in cycles - KNOWN_CYCLES)


EXIT_PROBE = """
import atexit, contextlib, gc, io, json, sys
from zoo.cli import main
sys.argv = ["zoo"] + ARGV
with contextlib.redirect_stdout(io.StringIO()):
    status = main(None if AS_PROGRAM else ARGV)
atexit._run_exitfuncs()
print(json.dumps({"status": status, "gc_enabled_at_exit": gc.isenabled()}))
"""


@pytest.mark.parametrize("argv,as_program,collects", [
    (["check", "vae"], True, False),   # the program: no collection at exit
    (["check", "vae"], False, True),   # in-process callers keep their collector
    (["build", "vae", "--no-lower"], True, True),  # not a short command
])
def test_short_commands_skip_the_exit_collection_only_as_the_program(argv, as_program, collects):
    code = f"ARGV = {argv!r}\nAS_PROGRAM = {as_program!r}\n{EXIT_PROBE}"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report == {"status": 0, "gc_enabled_at_exit": collects}
