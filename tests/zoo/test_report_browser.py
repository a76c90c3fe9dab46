"""zoo report in a real headless browser: Debian's chromium driven by Playwright.

The pages load with no console error and no request leaving the page, the diagrams and figures
are drawn and not empty, the zoom buttons resize a diagram, hovering a violation lights up its
path on the diagram (and leaving it puts it out), and a screenshot is written for a person to
look at. ``UPDATE_SCREENSHOTS=1`` also writes the model cards' screenshots under docs/images/
(the README's; the run report's there is of a 200-step run, see docs/diagrams.md).
Skipped, saying what is missing, where chromium or Playwright is not installed.
"""
from __future__ import annotations

import os
import pathlib
import shutil

import pytest

from tests.zoo.report_fixtures import ROOT, digits_run, pages  # noqa: F401 (fixtures)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None

pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (scripts/install.sh: apt-get install chromium)"),
    pytest.mark.skipif(sync_playwright is None, reason="playwright is not installed (pip install -e '.[test]')"),
    pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed"),
]

DOCS = ROOT / "docs" / "images"


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


def _open(browser, path: pathlib.Path, height: int = 900):
    page = browser.new_page(viewport={"width": 1280, "height": height})
    problems = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning")
            else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))

    def route(r):
        if r.request.url.startswith(("file:", "data:")):
            r.continue_()
        else:
            problems.append(f"request left the page: {r.request.url}")
            r.abort()

    page.route("**/*", route)
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, problems


def _shot(page, tmp_path, name: str, docs: bool = True, **kwargs) -> pathlib.Path:
    out = tmp_path / f"{name}.png"
    page.screenshot(path=str(out), **kwargs)
    assert out.stat().st_size > 10_000  # a picture, not a blank page
    if docs and os.environ.get("UPDATE_SCREENSHOTS"):
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copy(out, DOCS / out.name)
    return out


def _drawn(page, selector: str) -> dict:
    return page.eval_on_selector(selector, "e => { const r = e.getBoundingClientRect(); "
                                           "return {w: r.width, h: r.height, n: e.querySelectorAll('g.node').length}; }")


def test_model_card_loads_draws_and_zooms(browser, pages, tmp_path):
    page, problems = _open(browser, pages["attentive16"])
    for sid in ("#pgm-figure-svg", "#arch-figure-svg"):
        box = _drawn(page, sid)
        assert box["w"] > 100 and box["h"] > 100 and box["n"] >= 3
    _shot(page, tmp_path, "card_attentive16")
    before = _drawn(page, "#arch-figure-svg")["w"]
    page.click("#arch-figure button[data-zoom='out']")
    assert _drawn(page, "#arch-figure-svg")["w"] == pytest.approx(0.8 * before, rel=0.02)
    page.click("#arch-figure button[data-zoom='in']")
    page.click("#arch-figure button[data-zoom='in']")
    assert _drawn(page, "#arch-figure-svg")["w"] > before
    page.click("#arch-figure button[data-zoom='fit']")
    assert _drawn(page, "#arch-figure-svg")["w"] == pytest.approx(before, rel=0.01)
    assert page.locator("pre.source .k").count() > 20  # the spec source, highlighted
    page.close()
    assert not problems, problems


def test_hovering_a_violation_lights_up_its_path(browser, pages, tmp_path):
    page, problems = _open(browser, pages["sere"], height=1500)
    items = page.locator("ul.violations li[data-witness]")
    assert items.count() >= 1
    tag = items.first.get_attribute("data-witness")
    tagged = page.locator(f"#pgm-figure-svg .{tag}")
    assert tagged.count() >= 3 and page.locator("#pgm-figure-svg .hl").count() == 0
    page.locator("#pgm").scroll_into_view_if_needed()
    items.first.hover()
    lit = page.locator("#pgm-figure-svg .hl")
    assert lit.count() == tagged.count()
    assert page.locator("#pgm-figure-svg g.edge.hl").count() >= 1  # an edge of the path, not only nodes
    assert "hovering" in page.get_attribute("#pgm-figure-svg", "class")
    width = page.eval_on_selector(f"#pgm-figure-svg g.edge.{tag} path", "e => getComputedStyle(e).strokeWidth")
    assert float(width.rstrip("px")) >= 4
    _shot(page, tmp_path, "card_violation_hover")
    page.mouse.move(0, 0)
    assert page.locator("#pgm-figure-svg .hl").count() == 0
    page.close()
    assert not problems, problems


def test_run_report_loads_with_every_figure(browser, pages, tmp_path):
    page, problems = _open(browser, pages["run"])
    sizes = page.eval_on_selector_all("img.figure", "es => es.map(e => [e.naturalWidth, e.naturalHeight])")
    assert len(sizes) >= 5 and all(w > 20 and h > 20 for w, h in sizes)
    curves = page.eval_on_selector("#curves figure svg", "e => e.querySelectorAll('path').length")
    assert curves > 5  # the KL-over-time plot, inline SVG
    _shot(page, tmp_path, "report_digits_20_steps", docs=False, full_page=True)  # docs/: a longer run
    page.close()
    assert not problems, problems
