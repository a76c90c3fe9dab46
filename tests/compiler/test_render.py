"""Diagrams: DOT structure (shapes, edge styles, highlighted witnesses), golden files, and SVG
output through `zoo render` where Graphviz is installed.

Regenerate the golden files after an intended change with
``UPDATE_GOLDEN=1 python -m pytest tests/compiler/test_render.py`` and review the diff.
"""
from __future__ import annotations

import dataclasses
import os
import pathlib
import re
import shutil

import pytest

from compiler.dsep import check_posterior_factorization
from compiler.render import STYLE, html_name, quote, to_dot
from compiler.render_arch import owner_of
from zoo.cli import main
from zoo.registry import compile_spec

HERE = pathlib.Path(__file__).resolve().parent
GOLDEN = HERE / "golden"
FIXTURES = HERE.parent / "fixtures" / "specs"


def fixture(name: str, **overrides):
    return compile_spec(str(FIXTURES / f"{name}.hvae"), overrides)


def statements(dot: str) -> dict:
    """{node id: attribute text} for node statements and {(a, b): [attribute text, ...]} for edges."""
    nodes, edges = {}, {}
    for line in dot.splitlines():
        m = re.match(r'\s*"([^"]+)" -> "([^"]+)"(?: \[(.*)\])?;$', line)
        if m:
            edges.setdefault((m.group(1), m.group(2)), []).append(m.group(3) or "")
            continue
        m = re.match(r'\s*"([^"]+)" \[(.*)\];$', line)
        if m:
            nodes[m.group(1)] = m.group(2)
    return nodes, edges


# -- golden files ------------------------------------------------------------------------------

CASES = {
    "skip_markov_pgm": lambda: _with_report(fixture("skip_markov")),
    "sere_pgm": lambda: _with_report(fixture("sere")),
    "dvp_pgm": lambda: _with_report(fixture("dvp")),
    "ladder_architecture": lambda: to_dot(compile_spec("ladder"), "architecture", unroll=True),
}


def _with_report(mg):
    return to_dot(mg, "pgm", check_posterior_factorization(mg, inverse=False))


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_dot(case):
    text = CASES[case]()
    path = GOLDEN / f"{case}.dot"
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"missing golden file {path}; run with UPDATE_GOLDEN=1"
    assert text == path.read_text(), f"{case}: DOT output changed; review and regenerate with UPDATE_GOLDEN=1"


# -- the pgm view --------------------------------------------------------------------------------

def test_pgm_shapes_and_edge_styles():
    nodes, edges = statements(to_dot(fixture("sere", all_z=False), "pgm"))
    assert 'shape="circle"' in nodes["eps[2]"] and "filled" not in nodes["eps[2]"]
    assert 'shape="circle"' in nodes["x"] and f'fillcolor="{STYLE["observed"]}"' in nodes["x"]
    assert 'shape="diamond"' in nodes["z[2]"]
    assert f'fillcolor="{STYLE["shared_fill"]}"' in nodes["z[2]"]  # the shared bijector, computed by p and q
    assert "filled" not in nodes["z[4]"]  # z[L] is computed by the generative model only
    (inference,) = edges[("x", "eps[3]")]
    assert 'style="dashed"' in inference and STYLE["inference"] in inference and 'constraint="false"' in inference
    (generative,) = edges[("eps[3]", "z[3]")]
    assert "dashed" not in generative and STYLE["shared"] in generative
    (both,) = edges[("z[2]", "eps[3]")]  # prior and posterior of eps[3] both read z[2]
    assert f'color="{STYLE["generative"]}:{STYLE["inference"]}"' in both
    assert "rank=same; \"eps[3]\" \"z[3]\"" in to_dot(fixture("sere"), "pgm")
    legend = next(line for line in to_dot(fixture("sere", all_z=False), "pgm").splitlines() if "legend [" in line)
    assert "shared layer" in legend and "pseudo-input" not in legend  # the purple edges are explained
    assert "pseudo-input" in to_dot(fixture("dvp"), "pgm")
    assert "shared layer" not in next(line for line in to_dot(compile_spec("ladder"), "pgm").splitlines()
                                      if "legend [" in line)


def test_pgm_highlights_violations_and_witness_paths():
    mg = fixture("sere", all_z=True)
    report = check_posterior_factorization(mg, inverse=False)
    nodes, edges = statements(to_dot(mg, "pgm", report))
    red = STYLE["violation"]
    assert f'color="{red}"' in nodes["eps[3]"] and f'color="{red}"' not in nodes["eps[2]"]
    witness = ["eps[3]", "z[3]", "x", "z[1]", "eps[1]"]
    for a, b in zip(witness, witness[1:]):
        edge = (a, b) if (a, b) in edges else (b, a)
        assert any(f'color="{red}"' in e and "penwidth" in e for e in edges[edge]), edge
    assert not any(red in e for e in edges[("z[2]", "z[3]")])
    assert "unfaithful factor and an active path" in to_dot(mg, "pgm", report)
    assert "unfaithful" not in to_dot(mg, "pgm")  # no report, nothing drawn red


def test_pgm_acknowledged_departures_are_orange():
    mg = compile_spec("dlgm")
    nodes, edges = statements(to_dot(mg, "pgm", check_posterior_factorization(mg, inverse=False), unroll=True))
    assert STYLE["acknowledged"] in nodes["z[5]"] and STYLE["acknowledged"] not in nodes["z[1]"]
    assert any(STYLE["acknowledged"] in e for e in edges[("z[4]", "z[5]")])


def test_pgm_draws_skip_connections_light_and_the_chain_dark():
    nodes, edges = statements(to_dot(compile_spec("nvae8"), "pgm", unroll=True))
    (chain,) = edges[("z[3]", "z[4]")]
    (skip,) = edges[("z[1]", "z[4]")]
    assert 'penwidth="0.6"' in skip and 'constraint="false"' in skip and "59" in skip
    assert 'penwidth="0.6"' not in chain and 'weight="3"' in chain


def test_names_are_quoted_and_typeset():
    assert quote('a"b') == '"a\\"b"'
    assert html_name("z[12]") == "<<I>z</I><SUB>12</SUB>>"
    assert html_name("eps[3]") == "<&epsilon;<SUB>3</SUB>>"
    assert html_name("out") == "<out>"
    with pytest.raises(ValueError, match="unknown view"):
        to_dot(compile_spec("vae"), "graph")


# -- the architecture view --------------------------------------------------------------------------

def test_architecture_collapses_sub_expressions_into_their_owner():
    assert owner_of("c[3]/x/x") == "c[3]"
    assert owner_of("d[2].key") == "d[2]"
    assert owner_of("posterior(z[3])/delta/params") == "posterior(z[3])"
    mg = compile_spec("nvae16")
    nodes, edges = statements(to_dot(mg, "architecture", unroll=True))
    assert not [n for n in nodes if "/" in n]
    assert "nvae_cell &#8728; conv &#8728; concat" in nodes["c[5]"]
    # 16 layers: e, c, prior, posterior and z per layer, the stem, x, the head and the legend
    assert len(nodes) < 100


def test_architecture_clusters_and_directions():
    dot = to_dot(compile_spec("nvae16"), "architecture", unroll=True)
    for title in ("bottom-up path (inference only)", "top-down path (shared by p and q)", "likelihood head"):
        assert title in dot
    nodes, edges = statements(dot)
    # the encoder rises from the data: laid out reversed
    assert any("dir=\"back\"" in e for e in edges[("e[3]", "e[4]")])
    assert any("dir=\"back\"" in e for e in edges[("e[17]", "x")])
    (td,) = edges[("c[3]", "c[4]")]
    assert STYLE["shared"] in td
    (sample,) = edges[("posterior(z[4])", "z[4]")]
    assert STYLE["inference"] in sample and "penwidth" in sample


def test_architecture_pseudo_input_block():
    dot = to_dot(fixture("dvp"), "architecture")
    block = dot[dot.index("subgraph cluster_pseudo"):]
    block = block[:block.index("  }")]
    assert '"u"' in block and '"posterior(u)"' in block and '"prior(u)"' in block
    assert 'shape="doublecircle"' in block


def test_architecture_marks_attention_blocks():
    mg = compile_spec("ladder")
    info = mg.graph.nodes["h[2]"]["info"]
    mg.graph.nodes["h[2]"]["info"] = dataclasses.replace(info, role="attention")
    nodes, edges = statements(to_dot(mg, "architecture", unroll=True))
    assert 'shape="hexagon"' in nodes["h[2]"] and STYLE["attention"] in nodes["h[2]"]
    assert any(STYLE["attention"] in e for e in edges[("h[2]", "h[3]")])
    assert "into an attention block" in to_dot(mg, "architecture", unroll=True)


# -- zoo render --------------------------------------------------------------------------------------

@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
@pytest.mark.parametrize("view", ["pgm", "architecture"])
def test_zoo_render_writes_svg(tmp_path, capsys, view):
    out = tmp_path / f"dlgm_{view}.svg"
    assert main(["render", "dlgm", "--view", view, "-o", str(out)]) == 0
    text = out.read_text()
    assert text.lstrip().startswith("<?xml") and "<svg" in text
    assert f"wrote {out}" in capsys.readouterr().out


def test_zoo_render_writes_dot_without_graphviz(tmp_path, capsys):
    out = tmp_path / "vae.dot"
    assert main(["render", "vae", "--format", "dot", "-o", str(out)]) == 0
    assert out.read_text().startswith('digraph "vae" {')


def test_zoo_render_without_graphviz_writes_dot_and_says_how_to_install(tmp_path, capsys, monkeypatch):
    import graphviz

    def missing(*args, **kwargs):
        raise graphviz.ExecutableNotFound(["dot"])

    monkeypatch.setattr(graphviz.Source, "pipe", missing)
    out = tmp_path / "ladder.png"
    assert main(["render", "ladder", "--view", "architecture", "-o", str(out)]) == 1
    assert not out.exists()
    assert (tmp_path / "ladder.dot").read_text().startswith('digraph "ladder architecture" {')
    err = capsys.readouterr().err
    assert "apt-get install graphviz" in err and "brew install graphviz" in err


def test_zoo_render_rejects_binary_output_to_stdout(capsys):
    assert main(["render", "vae", "--format", "png", "-o", "-"]) == 2
    assert "only DOT text can go to stdout" in capsys.readouterr().err
