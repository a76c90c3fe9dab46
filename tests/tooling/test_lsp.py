"""`zoo lsp` end to end, over a real stdio connection."""
from __future__ import annotations

from pathlib import Path

import pytest

from .lsp_client import ROOT, LspClient

pytest.importorskip("pygls")


def uri(path: Path) -> str:
    return "file://" + str(path.resolve())


@pytest.fixture(scope="module")
def client():
    c = LspClient()
    result = c.request("initialize", {"processId": None, "rootUri": uri(ROOT), "capabilities": {}})
    caps = result["capabilities"]
    assert caps["hoverProvider"] and caps["definitionProvider"] and caps["documentFormattingProvider"]
    c.notify("initialized", {})
    yield c
    c.close()


def open_doc(client, path: Path, text: str | None = None):
    text = path.read_text() if text is None else text
    client.notify("textDocument/didOpen", {"textDocument": {"uri": uri(path), "languageId": "hvae", "version": 1,
                                                            "text": text}})
    return client.wait_notification("textDocument/publishDiagnostics", where=lambda p: p["uri"] == uri(path))


def test_diagnostics_of_an_unfaithful_spec_and_its_quick_fix(client):
    path = ROOT / "tests/fixtures/specs/skip_markov.hvae"
    diags = open_doc(client, path)["diagnostics"]
    unfaithful = [d for d in diags if d["code"] == "unfaithful-posterior"]
    assert len(unfaithful) == 2 and unfaithful[0]["range"]["start"] == {"line": 9, "character": 0}
    actions = client.request("textDocument/codeAction", {
        "textDocument": {"uri": uri(path)}, "range": unfaithful[0]["range"],
        "context": {"diagnostics": unfaithful}})
    (action,) = actions
    (edit,) = action["edit"]["changes"][uri(path)]
    assert edit["newText"] == "posterior z[l in 2..L] | z[<l], x = linear(concat(z[<l], x))"
    assert edit["range"]["start"] == {"line": 9, "character": 0}
    client.notify("textDocument/didClose", {"textDocument": {"uri": uri(path)}})
    cleared = client.wait_notification("textDocument/publishDiagnostics", where=lambda p: p["uri"] == uri(path))
    assert cleared["diagnostics"] == []


def test_errors_as_you_type_are_debounced_and_located(client, tmp_path):
    path = tmp_path / "typing.hvae"
    good = (ROOT / "tests/fixtures/specs/chain_topdown.hvae").read_text()
    path.write_text(good)
    assert open_doc(client, path)["diagnostics"] == []
    broken = good.replace("linear(z[L])", "linear(z[L+3])")
    for version, text in enumerate([good + " ", broken], start=2):  # two quick edits: one check
        client.notify("textDocument/didChange", {"textDocument": {"uri": uri(path), "version": version},
                                                 "contentChanges": [{"text": text}]})
    params = client.wait_notification("textDocument/publishDiagnostics", where=lambda p: p["uri"] == uri(path))
    assert params["version"] == 3
    skipped = [m for m in client.notifications if m.get("method") == "textDocument/publishDiagnostics"
               and m["params"]["uri"] == uri(path)]
    assert skipped == [], "the first of two quick edits was checked: no debounce"
    (d,) = [d for d in params["diagnostics"] if d["severity"] == 1]
    line = broken.splitlines().index(next(l for l in broken.splitlines() if "z[L+3]" in l))
    assert d["range"]["start"]["line"] == line and "z" in d["message"]


def test_hover_definition_across_import_completion_and_formatting(client):
    # an unsaved buffer beside tests/fixtures/imports/base.hvae that reads its constant H
    child = ROOT / "tests/fixtures/imports/unsaved.hvae"
    text = 'import "base.hvae" with (L = 3)\nlet K = H * 2\n'
    open_doc(client, child, text)
    at = {"textDocument": {"uri": uri(child)}, "position": {"line": 1, "character": 8}}
    hover = client.request("textDocument/hover", at)
    assert hover["contents"]["value"].startswith("**H**: constant") and "let H = 16" in hover["contents"]["value"]
    location = client.request("textDocument/definition", at)
    assert location["uri"] == uri(ROOT / "tests/fixtures/imports/base.hvae")
    target = (ROOT / "tests/fixtures/imports/base.hvae").read_text().splitlines()
    assert target[location["range"]["start"]["line"]].startswith("let H = 16")
    hover = client.request("textDocument/hover", {"textDocument": {"uri": uri(child)},
                                                  "position": {"line": 0, "character": 1}})
    assert hover is None or "**" in hover["contents"]["value"]
    completion = client.request("textDocument/completion", {"textDocument": {"uri": uri(child)},
                                                            "position": {"line": 1, "character": 0}})
    labels = {i["label"] for i in completion["items"]}
    assert {"mlp", "normal", "posterior", "H", "z", "K"} <= labels
    inside = 'import "base.hvae" with (L = 3)\nfeature f = mlp(x, hid'
    client.notify("textDocument/didChange", {"textDocument": {"uri": uri(child), "version": 2},
                                             "contentChanges": [{"text": inside}]})
    completion = client.request("textDocument/completion", {"textDocument": {"uri": uri(child)},
                                                            "position": {"line": 1, "character": len("feature f = mlp(x, hid")}})
    arguments = [i["label"] for i in completion["items"] if i["detail"] == "argument"]
    assert arguments[:3] == ["x", "hidden", "out"] and "act" in arguments
    messy = ROOT / "tests/fixtures/specs/meanfield.hvae"
    open_doc(client, messy, messy.read_text().replace("let L = 3", "let L=3"))
    edits = client.request("textDocument/formatting", {"textDocument": {"uri": uri(messy)},
                                                       "options": {"tabSize": 4, "insertSpaces": True}})
    assert edits and "let L = 3\n" in edits[0]["newText"] and edits[0]["newText"] == messy.read_text()


def test_an_error_in_an_imported_file_is_shown_at_the_import(client, tmp_path):
    (tmp_path / "base.hvae").write_text("let H = 4\nlet H = 5\n")
    child = tmp_path / "child.hvae"
    params = open_doc(client, child, 'model "m"\nimport "base.hvae"\n')
    (d,) = [d for d in params["diagnostics"] if d["code"] == "duplicate-name"]
    assert d["range"]["start"] == {"line": 1, "character": 0} and "base.hvae:2:1" in d["message"]
    related = [(r["location"]["uri"], r["location"]["range"]["start"]["line"], r["message"])
               for r in d["relatedInformation"]]
    base = uri(tmp_path / "base.hvae")
    assert related[0][:2] == (base, 1) and related[1] == (base, 0, "first defined here")
