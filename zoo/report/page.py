"""The HTML frame of a report: one self-contained page, its stylesheet and its script.

Everything is inline: diagrams as SVG (their Graphviz prolog removed, sized by CSS so that they
zoom), figures as SVG or base64 PNG, the stylesheet and a short script written for this project
(no third-party code, no network): ``+``/``-``/``fit`` buttons and ctrl+wheel zoom every diagram
inside a scrolling viewport, and hovering an item that carries ``data-witness="w<k>"`` highlights
the SVG elements of class ``w<k>`` (a violation's active path, tagged by
:func:`compiler.render.to_dot` with ``ids=True``) and fades the rest of the diagram.
"""
from __future__ import annotations

import base64
import html
import re
from typing import Optional

__all__ = ["page", "section", "zoomable", "png_figure", "svg_figure", "table", "escape", "caption"]

escape = html.escape

CSS = """
:root { --ink: #222; --muted: #666; --line: #ddd; --accent: #1f5fbf; --bad: #d62728; --ack: #ff7f0e; }
* { box-sizing: border-box; }
body { font: 15px/1.45 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: var(--ink);
       margin: 0 auto; max-width: 1180px; padding: 24px 28px 64px; }
h1 { font-size: 26px; margin: 0 0 4px; } h2 { font-size: 19px; margin: 34px 0 10px; border-bottom: 1px solid var(--line);
     padding-bottom: 4px; } h3 { font-size: 15px; margin: 18px 0 6px; }
.sub { color: var(--muted); margin: 0 0 14px; }
nav a { margin-right: 14px; color: var(--accent); text-decoration: none; font-size: 14px; }
.verdict { display: inline-block; padding: 2px 10px; border-radius: 12px; font-weight: 600; font-size: 14px; }
.verdict.exact { background: #e3f3e3; color: #226622; } .verdict.ack { background: #fff0df; color: #a35200; }
.verdict.bad { background: #fde5e5; color: var(--bad); }
figure { margin: 12px 0 18px; } figcaption { color: var(--muted); font-size: 13px; margin-top: 4px; }
figure.zoom .viewport { border: 1px solid var(--line); border-radius: 6px; overflow: auto; max-height: 78vh;
                        background: #fff; }
figure.zoom svg { display: block; max-width: 100%; height: auto; margin: 0 auto; }
figure.zoom .controls { float: right; } figure.zoom .controls button { font: 13px monospace; width: 30px;
                        margin-left: 3px; cursor: pointer; background: #f6f6f6; border: 1px solid #ccc; border-radius: 4px; }
img.figure { max-width: 100%; border: 1px solid var(--line); border-radius: 4px; image-rendering: auto; }
img.pixels { image-rendering: pixelated; }
.two { display: grid; grid-template-columns: 1fr 1fr; gap: 18px; } @media (max-width: 900px) { .two { grid-template-columns: 1fr; } }
pre.source { background: #fafafa; border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; overflow: auto;
             font: 12.5px/1.5 Menlo, Consolas, monospace; max-height: 70vh; }
pre.source .line { display: block; } pre.source .line:target { background: #fff3b0; }
.c { color: #7a7a7a; font-style: italic; } .s { color: #a31515; } .n { color: #098658; } .k { color: #0000c0; font-weight: 600; }
.d { color: #7b3294; font-weight: 600; } .i { color: #795e26; }
table { border-collapse: collapse; font-size: 13.5px; margin: 8px 0; } th, td { padding: 3px 10px; border-bottom: 1px solid #eee;
        text-align: left; } td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
ul.violations { padding-left: 0; list-style: none; } ul.violations li { padding: 6px 10px; margin: 4px 0; border-left: 4px solid var(--bad);
        background: #fdf5f5; cursor: default; } ul.violations li.ack { border-color: var(--ack); background: #fff8ef; }
ul.violations li.active { outline: 2px solid var(--bad); } ul.violations code { font-size: 12.5px; }
svg .hl path, svg .hl polygon, svg .hl ellipse { stroke-width: 4.5px; }
svg.hovering g.edge:not(.hl), svg.hovering g.node:not(.hl) { opacity: 0.25; }
.note { color: var(--muted); font-size: 13px; } details { margin: 12px 0; } summary { cursor: pointer; }
"""

SCRIPT = """
(function () {
  document.querySelectorAll('figure.zoom').forEach(function (fig) {
    var svg = fig.querySelector('svg'), base = parseFloat(svg.getAttribute('data-width')) || 800;
    function zoom(factor) {  // from the size shown now (a wide diagram starts shrunk to fit)
      var width = Math.min(8 * base, Math.max(80, svg.getBoundingClientRect().width * factor));
      svg.style.maxWidth = 'none';
      svg.style.width = width + 'px';
    }
    function fit() { svg.style.maxWidth = '100%'; svg.style.width = base + 'px'; }
    fig.querySelectorAll('button[data-zoom]').forEach(function (b) {
      b.addEventListener('click', function () {
        var z = b.getAttribute('data-zoom');
        if (z === 'fit') { fit(); } else { zoom(z === 'in' ? 1.25 : 0.8); }
      });
    });
    fig.querySelector('.viewport').addEventListener('wheel', function (e) {
      if (!e.ctrlKey) { return; }
      e.preventDefault();
      zoom(e.deltaY < 0 ? 1.1 : 1 / 1.1);
    }, { passive: false });
  });
  document.querySelectorAll('[data-witness]').forEach(function (item) {
    var tag = item.getAttribute('data-witness');
    function mark(on) {
      item.classList.toggle('active', on);
      document.querySelectorAll('svg .' + tag).forEach(function (e) { e.classList.toggle('hl', on); });
      document.querySelectorAll('figure.pgm svg').forEach(function (s) { s.classList.toggle('hovering', on); });
    }
    item.addEventListener('mouseenter', function () { mark(true); });
    item.addEventListener('mouseleave', function () { mark(false); });
  });
})();
"""


def page(title: str, subtitle: str, sections: list) -> str:
    """The whole page: a header, a table of contents, and `sections` ((id, title, html) each)."""
    nav = " ".join(f'<a href="#{sid}">{escape(t)}</a>' for sid, t, _ in sections)
    body = "\n".join(section(sid, t, h) for sid, t, h in sections)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="hvae-zoo zoo report">
<link rel="icon" href="data:,">
<title>{escape(title)}</title>
<style>{CSS}</style>
</head>
<body>
<header>
<h1>{escape(title)}</h1>
<p class="sub">{subtitle}</p>
<nav>{nav}</nav>
</header>
{body}
<script>{SCRIPT}</script>
</body>
</html>
"""


def section(sid: str, title: str, body: str) -> str:
    return f'<section id="{sid}">\n<h2>{escape(title)}</h2>\n{body}\n</section>'


_PROLOG = re.compile(r"^.*?(?=<svg\b)", re.S)


def _inline_svg(svg: str, sid: Optional[str] = None) -> str:
    """An SVG document as an element to inline: no XML prolog or DOCTYPE, sized by CSS."""
    svg = _PROLOG.sub("", svg, count=1)
    svg = re.sub(r'<svg\b([^>]*?)\swidth="[^"]*"', r"<svg\1", svg, count=1)
    svg = re.sub(r'<svg\b([^>]*?)\sheight="[^"]*"', r"<svg\1", svg, count=1)
    box = re.search(r'<svg\b[^>]*\sviewBox="([-\d.]+) ([-\d.]+) ([\d.]+) ([\d.]+)"', svg)
    if box:  # its natural size: Graphviz's points at 96 px to the inch
        width = float(box.group(3)) * 96 / 72
        svg = svg.replace("<svg", f'<svg data-width="{width:.0f}" style="width: {width:.0f}px"', 1)
    if sid:
        svg = svg.replace("<svg", f'<svg id="{sid}"', 1)
    svg = re.sub(r"<!--.*?-->", "", svg, flags=re.S)  # Graphviz's generator comments
    return svg.strip()


def zoomable(svg: Optional[str], sid: str, caption_html: str, *, kind: str = "") -> str:
    """A diagram in a zoomable viewport, or a note when Graphviz could not draw it."""
    if svg is None:
        return (f'<p class="note">Graphviz\'s <code>dot</code> is not installed, so the diagram is not drawn '
                f'(<code>zoo render</code> writes its DOT text).</p>')
    controls = ('<span class="controls"><button data-zoom="in" title="zoom in">+</button>'
                '<button data-zoom="out" title="zoom out">&minus;</button>'
                '<button data-zoom="fit" title="fit">&#8596;</button></span>')
    return (f'<figure class="zoom {kind}" id="{sid}">{controls}<figcaption>{caption_html}</figcaption>'
            f'<div class="viewport">{_inline_svg(svg, sid + "-svg")}</div></figure>')


def png_figure(png: bytes, alt: str, caption_html: str, *, pixels: bool = False) -> str:
    """A PNG figure as a base64 data URL."""
    data = base64.b64encode(png).decode("ascii")
    cls = "figure pixels" if pixels else "figure"
    return (f'<figure><img class="{cls}" alt="{escape(alt)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{caption_html}</figcaption></figure>")


def svg_figure(svg: str, caption_html: str) -> str:
    """A figure drawn as SVG (a matplotlib figure), inline."""
    return f"<figure>{_inline_svg(svg)}<figcaption>{caption_html}</figcaption></figure>"


def caption(text: str, **provenance) -> str:
    """A caption that states where a figure's numbers come from: `step 200 · split test · K 50`."""
    stamp = " &middot; ".join(f"{escape(k.replace('_', ' '))} {escape(str(v))}" for k, v in provenance.items()
                              if v is not None)
    return f"{escape(text)}" + (f' <span class="stamp">({stamp})</span>' if stamp else "")


def table(header: list, rows: list, numeric: tuple = ()) -> str:
    """An HTML table; columns whose index is in `numeric` are right-aligned."""
    def cell(tag, i, v):
        cls = ' class="num"' if i in numeric else ""
        return f"<{tag}{cls}>{v}</{tag}>"

    head = "".join(cell("th", i, escape(str(h))) for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(cell("td", i, v) for i, v in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
