"""zoo report: the model card and the run report as HTML text (the browser tests are in
test_report_browser.py): self-contained, every section present, violations tagged on the diagram,
every figure stamped with where its numbers come from, and the command's errors."""
from __future__ import annotations

import re
import shutil

import pytest

from compiler.dsep import check_posterior_factorization
from tests.zoo.report_fixtures import FIXTURES, digits_run, pages  # noqa: F401 (fixtures)
from zoo.cli import main
from zoo.registry import compile_spec
from zoo.report.highlight import highlight

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")


def _external(text: str) -> list:
    """Every src/href that would leave the page (anything but data: URLs and in-page anchors)."""
    return [u for u in re.findall(r'(?:src|href)="([^"]*)"', text) if not u.startswith(("data:", "#"))]


@needs_dot
def test_model_card_is_self_contained_and_complete(pages):
    text = pages["attentive16"].read_text()
    assert not _external(text) and "<script src" not in text and "@import" not in text
    for sid in ("overview", "pgm", "factorization", "architecture", "parameters", "source"):
        assert f'<section id="{sid}">' in text
    assert text.count("<svg") == 2  # the PGM and the architecture, inline
    assert "<?xml" not in text and "<!DOCTYPE svg" not in text
    assert "118,974,710" in text  # parameters as built, counted on the meta device
    assert "118.966M" in text  # the paper's count, quoted from the spec's header
    report = check_posterior_factorization(compile_spec("attentive16"), inverse=False)
    expected = "exact" if report.exact else "ack" if report.faithful else "bad"
    assert report.faithful  # the zoo's models pass the check (attentive16 under acknowledged assumptions)
    assert f'class="verdict {expected}"' in text


@needs_dot
def test_every_violation_is_tagged_on_the_diagram(pages):
    mg = compile_spec(str(FIXTURES / "sere.hvae"), {"all_z": True})
    report = check_posterior_factorization(mg, inverse=False)
    text = pages["sere"].read_text()
    found = report.violations + report.resting  # the renderer's numbering
    assert found
    for k, v in enumerate(found):
        assert f'data-witness="w{k}"' in text
        tagged = re.findall(rf'<g id="[^"]+" class="(?:node|edge)[^"]*\bw{k}\b', text)
        assert len(tagged) >= len(v.witness)  # its nodes and at least the edges between them
    assert 'class="verdict bad"' in text


def test_highlight_keeps_every_character():
    source = 'latent z[l in 2..L] : [8] ~ normal()  # a "comment" <b>\nlet W = 8'
    out = highlight(source)
    plain = re.sub(r"<[^>]+>", "", out).replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"')
    assert plain.replace("&amp;", "&") == source.replace("\n", "")
    assert '<span class="k">latent</span>' in out and '<span class="d">z</span>' in out
    assert '<span class="c">' in out and "<b>" not in out.replace("<span", "")


@needs_dot
def test_run_report_states_where_every_figure_comes_from(pages, digits_run):
    text = pages["run"].read_text()
    assert not _external(text)
    for sid in ("run", "curves", "evaluation", "samples", "attention", "pgm", "source"):
        assert f'<section id="{sid}">' in text
    figures = re.findall(r"<figcaption>(.*?)</figcaption>", text, re.S)
    stamped = [f for f in figures if "step" in f]
    images = len(re.findall(r'<img class="figure[^"]*"', text)) + text.count('<figure><svg')
    assert images >= 5 and len(stamped) >= images  # every figure, plus the diagrams' captions
    evaluation = text[text.index('<section id="evaluation">'):text.index('<section id="samples">')]
    assert "split test" in evaluation and "K 5" in evaluation and "limit 40" in evaluation and "step 20" in evaluation
    assert "This model has no attention blocks" in text
    assert "The operative recipe" in text and "steps: 20" in text
    assert "kl/&lt;latent&gt;" in text  # the KL-over-time figure is drawn from log.csv's columns


def test_report_refuses_other_suffixes_and_run_overrides(tmp_path, capsys, digits_run):
    assert main(["report", "vae", "-o", str(tmp_path / "card.png")]) == 2
    assert "zoo report writes HTML" in capsys.readouterr().err
    assert main(["report", str(digits_run), "--set", "W=4", "-o", str(tmp_path / "r.html")]) == 2
    assert "a run's spec is fixed" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_report_of_an_unknown_spec_is_a_clear_error(tmp_path, capsys):
    assert main(["report", "no_such_model", "-o", str(tmp_path / "x.html")]) == 2
    assert "no model named 'no_such_model'" in capsys.readouterr().err


@pytest.mark.slow
@needs_dot
def test_run_report_of_an_attentive_model_draws_its_attention_maps(tmp_path, shared_data):
    """A 3-step attentive ladder on MNIST (about 30 s): the report draws the depth-wise attention."""
    run = tmp_path / "run"
    assert main(["train", "attentive_ladder", "--set", "D=16", "--set", "K=4", "--data", "mnist", "--data-root",
                 str(shared_data), "--steps", "3", "--out", str(run), "--no-progress"]) == 0
    out = tmp_path / "r.html"
    assert main(["report", str(run), "-k", "2", "--limit", "16", "--samples", "4", "--data-root", str(shared_data),
                 "-o", str(out)]) == 0
    attention = out.read_text().split('<section id="attention">')[1].split("</section>")[0]
    assert "data:image/png;base64," in attention and "Depth-wise attention" in attention
    assert "step 3" in attention and "split test" in attention
