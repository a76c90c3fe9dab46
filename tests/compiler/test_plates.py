"""Plates and folded diagrams: the index structure found in the expanded graph, relations named
as the spec states them, every zoo spec drawn in every view and layout within the size targets,
golden DOT files of the folded forms, and the `zoo render` options that choose among them.

Regenerate the golden files after an intended change with
``UPDATE_GOLDEN=1 python -m pytest tests/compiler/test_plates.py`` and review the diff.
"""
from __future__ import annotations

import os
import pathlib
import shutil

import pytest

from compiler.dsep import check_posterior_factorization
from compiler.plates import _relations, collapse, find_plate, index_of, parse_layers, relation_text
from compiler.render import to_dot
from tests.compiler.test_render import statements
from zoo.cli import main
from zoo.registry import compile_spec, list_models

GOLDEN = pathlib.Path(__file__).resolve().parent / "golden"
MODELS = [m.name for m in list_models()]


def test_index_of_reads_the_first_index():
    assert index_of("z[7]") == ("z[]", 7)
    assert index_of("prior(z[12])") == ("prior(z[])", 12)
    assert index_of("x") is None and index_of("z[l]") is None


def test_relations_name_source_sets_relative_to_the_target():
    universe = list(range(1, 9))
    assert _relations({4}, 5, universe) >= {"l-1"}
    assert "<l" in _relations({1, 2, 3, 4}, 5, universe)
    assert ">=l" in _relations({5, 6, 7, 8}, 5, universe) and ">l" in _relations({6, 7, 8}, 5, universe)
    assert "<l-1" in _relations({1, 2, 3}, 5, universe)
    assert "l-1..l" in _relations({4, 5}, 5, universe)
    assert _relations({1, 5, 7}, 5, universe) == {(1, 5, 7)}  # irregular: only itself
    assert relation_text("z[]", "<l", "k") == "z[<k]"


def _pgm_edges(mg):
    from compiler.dsep_problem import problem_from_graph

    problem = problem_from_graph(mg, summaries=False)  # the PGM as drawn
    return problem, {e: "p" for e in problem.graph.edges}


def test_a_dense_hierarchy_is_one_plate_with_one_labelled_edge():
    mg = compile_spec("attentive16")
    problem, edges = _pgm_edges(mg)
    plate = find_plate(problem.graph.nodes, edges)
    assert (plate.low, plate.high, plate.arrays) == (2, 16, ("z[]",))  # z[1] has no parent layer
    assert plate.relations[("z[]", "z[]", "p", (2, 16))] == "<l"
    folded = collapse(sorted(problem.graph.nodes), edges, plate)
    assert set(folded.nodes) == {"x", "z[1]", "z[l]"} and len(folded.nodes["z[l]"]) == 15
    label, members = folded.edges[("z[l]", "z[l]", "p")]
    assert label == "z[<l]" and len(members) == 15 * 14 // 2  # every edge among z[2..16], drawn once


def test_edges_that_hold_for_some_layers_say_which():
    mg = compile_spec("sere_mlp")
    problem, edges = _pgm_edges(mg)
    plate = find_plate(problem.graph.nodes, edges)
    assert plate.arrays == ("eps[]", "z[]") and (plate.low, plate.high) == (2, 10)
    folded = collapse(sorted(problem.graph.nodes), edges, plate)
    assert folded.edges[("z[1]", "z[l]", "p")][0] == "l = 2"  # z[l] = f(eps[l]; z[l-1]) reads z[1] at l = 2 only
    assert folded.edges[("z[l]", "z[l]", "p")][0] == "z[l-1]"
    assert folded.edges[("eps[l]", "z[l]", "p")][0] is None  # same index: no label


def test_short_hierarchies_stay_unrolled():
    mg = compile_spec("ladder")  # four layers read better drawn out
    problem, edges = _pgm_edges(mg)
    assert find_plate(problem.graph.nodes, edges) is None
    assert to_dot(mg, "pgm") == to_dot(mg, "pgm", unroll=True)


def test_the_plate_is_a_cluster_labelled_with_the_statement_binder():
    dot = to_dot(compile_spec("nvae16"), "pgm")
    assert 'subgraph "cluster_plate"' in dot and "<I>l</I> = 2..16" in dot
    nodes, edges = statements(dot)
    assert set(nodes) == {"x", "z[1]", "z[l]"}
    (loop,) = edges[("z[l]", "z[l]")]
    assert "&lt;<I>l</I>" in loop  # labelled z_{<l}


def test_violations_fold_onto_the_plate():
    mg = compile_spec("dlgm")  # acknowledged departures at every layer below the top
    report = check_posterior_factorization(mg, inverse=False)
    nodes, edges = statements(to_dot(mg, "pgm", report))
    assert "#ff7f0e" in nodes["z[l]"]


@pytest.mark.parametrize("name", MODELS)
def test_every_spec_draws_in_every_view_and_layout_within_the_size_targets(name):
    mg = compile_spec(name)
    report = check_posterior_factorization(mg, inverse=False)
    pgm = to_dot(mg, "pgm", report)
    nodes, _ = statements(pgm)
    assert 0 < len(nodes) <= 40
    arch, _ = statements(to_dot(mg, "architecture"))
    assert 0 < len(arch) <= 60
    layered = any(index_of(v) for v in mg.latent_order)
    for options in ({"unroll": True}, {"layers": (1, 2)}, {"layout": "side-by-side"},
                    {"layout": "side-by-side", "layers": (2, 3)}):
        if "layers" in options and not layered:
            with pytest.raises(ValueError, match="no indexed layers"):
                to_dot(mg, "pgm", report, **options)
            continue
        text = to_dot(mg, "pgm", report, **options)
        assert text.startswith("digraph") and text.rstrip().endswith("}")
    for options in ({"unroll": True}, {"layers": (1, 2)} if layered else {}):
        assert statements(to_dot(mg, "architecture", **options))[0]


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
@pytest.mark.parametrize("name", ["attentive16", "dvp_mnist", "sere_mlp", "vampprior_mnist"])
def test_graphviz_lays_out_every_form(name):
    from compiler.layout import layout

    mg = compile_spec(name)
    for view, options in (("pgm", {}), ("pgm", {"layout": "side-by-side"}), ("pgm", {"layers": (1, 3)}),
                          ("architecture", {}), ("architecture", {"layers": (2, 3)})):
        assert b"<svg" in layout(to_dot(mg, view, **options), "svg")


def test_side_by_side_draws_each_node_in_both_panels():
    dot = to_dot(compile_spec("dvp_mnist"), "pgm", layout="side-by-side")
    nodes, edges = statements(dot)
    plain = {n.split("/", 1)[1] for n in nodes}
    assert {f"p/{n}" for n in plain} | {f"q/{n}" for n in plain} == set(nodes)
    # each panel holds every edge (the other model's invisible), so both are laid out alike
    assert {(a[2:], b[2:]) for a, b in edges if a.startswith("p/")} == {(a[2:], b[2:]) for a, b in edges
                                                                        if a.startswith("q/")}
    (q_only,) = edges[("p/x", "p/u")]
    assert 'style="invis"' in q_only
    (shown,) = edges[("q/x", "q/u")]
    assert "invis" not in shown and "dashed" in shown


def test_layers_draw_a_subset_and_mark_the_rest():
    nodes, edges = statements(to_dot(compile_spec("attentive16"), "pgm", layers=(1, 4)))
    assert {"z[1]", "z[4]", "z[5..16]", "x"} <= set(nodes) and "z[9]" not in nodes
    assert "dashed" in nodes["z[5..16]"]
    assert ("z[4]", "z[5..16]") in edges
    with pytest.raises(ValueError, match="selects no layer: the indices are 1..16"):
        to_dot(compile_spec("attentive16"), "pgm", layers=(20, 30))
    with pytest.raises(ValueError, match="no indexed layers"):
        to_dot(compile_spec("vae"), "pgm", layers=(1, 2))
    assert parse_layers("1..4") == (1, 4) and parse_layers("3") == (3, 3)
    with pytest.raises(ValueError, match="FIRST..LAST"):
        parse_layers("1-4")


def test_architecture_boxes_carry_their_multiplicity():
    nodes, edges = statements(to_dot(compile_spec("nvae16"), "architecture"))
    assert "&#215;14 (<I>l</I> = 2..15)" in nodes["c[l]"]  # c[1] and c[16] differ from the layers between
    assert len(nodes) < len(statements(to_dot(compile_spec("nvae16"), "architecture", unroll=True))[0]) / 4
    # a multi-scale decoder: one box per resolution, each named by its layers
    multi, _ = statements(to_dot(compile_spec("dvp_cifar"), "architecture"))
    assert {"p[l=1..4]", "p[l=5..10]", "p[l=11..18]", "p[l=19..27]", "p[28]"} <= set(multi)
    assert "&#215;8 (<I>l</I> = 11..18)" in multi["p[l=11..18]"] and not any(n.startswith("p[1") for n in multi)
    att, _ = statements(to_dot(compile_spec("attentive16"), "architecture"))
    assert 'shape="hexagon"' in att["p[l]"] and 'shape="hexagon"' not in att["c[l]"]


# -- golden files of the folded forms ------------------------------------------------------------

def _with_report(name, **options):
    mg = compile_spec(name)
    return to_dot(mg, "pgm", check_posterior_factorization(mg, inverse=False), **options)


CASES = {
    "attentive16_pgm": lambda: _with_report("attentive16"),
    "sere_mlp_pgm": lambda: _with_report("sere_mlp"),
    "dvp_mnist_side_by_side": lambda: _with_report("dvp_mnist", layout="side-by-side"),
    "nvae16_layers_pgm": lambda: _with_report("nvae16", layers=(1, 3)),
    "nvae16_architecture": lambda: to_dot(compile_spec("nvae16"), "architecture"),
    "dvp_mnist_architecture": lambda: to_dot(compile_spec("dvp_mnist"), "architecture"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_folded_dot(case):
    text = CASES[case]()
    path = GOLDEN / f"{case}.dot"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text)
    assert path.exists(), f"missing golden file {path}; run with UPDATE_GOLDEN=1"
    assert text == path.read_text(), f"{case}: DOT output changed; review and regenerate with UPDATE_GOLDEN=1"


# -- zoo render ----------------------------------------------------------------------------------

def test_zoo_render_refuses_a_suffix_that_belies_the_format(tmp_path, capsys):
    assert main(["render", "vae", "-o", str(tmp_path / "foo.jpg")]) == 2
    assert "'.jpg' is not a format zoo render writes" in capsys.readouterr().err
    assert main(["render", "vae", "--format", "png", "-o", str(tmp_path / "bar.svg")]) == 2
    assert "--format png does not match" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())
    assert main(["render", "vae", "--format", "dot", "-o", str(tmp_path / "vae.gv")]) == 0


def test_zoo_render_layers_and_unroll(tmp_path, capsys):
    out = tmp_path / "a.dot"
    assert main(["render", "attentive16", "--layers", "1..3", "--layout", "side-by-side", "-o", str(out)]) == 0
    assert '"q/z[4..16]"' in out.read_text()
    assert main(["render", "nvae8", "--unroll", "-o", str(out)]) == 0
    assert '"z[8]"' in out.read_text()
    assert main(["render", "vae", "--layers", "x", "-o", str(out)]) == 2
    assert "--layers expects" in capsys.readouterr().err
    assert main(["render", "vae", "--view", "architecture", "--layout", "side-by-side", "-o", str(out)]) == 2
    assert "the architecture is one dataflow" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_notebooks_show_the_diagram_inline():
    mg = compile_spec("ladder")
    bundle = mg._repr_mimebundle_()
    assert bundle["image/svg+xml"].lstrip().startswith("<?xml") and "ladder" in bundle["text/plain"]
    assert mg._repr_svg_() == bundle["image/svg+xml"]
    assert set(mg._repr_mimebundle_(include={"text/plain"})) == {"text/plain"}
    from zoo.registry import create_model

    model = create_model("vae")
    bundle = model._repr_mimebundle_()
    assert bundle["image/svg+xml"] == compile_spec("vae")._repr_svg_() and bundle["text/plain"] == repr(model)


def test_diagrams_import_no_torch_and_the_views_do_not_import_each_other():
    import subprocess
    import sys

    code = ("import sys\n"
            "import compiler.render_arch\n"
            "assert 'compiler.render' not in sys.modules, 'render_arch imports render'\n"
            "from compiler.render import to_dot\n"
            "from zoo.registry import compile_spec\n"
            "mg = compile_spec('attentive16')\n"
            "to_dot(mg, 'pgm'); to_dot(mg, 'architecture'); to_dot(mg, 'pgm', layout='side-by-side')\n"
            "print('torch' in sys.modules)\n")
    root = pathlib.Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
