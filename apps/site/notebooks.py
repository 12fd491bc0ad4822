"""The notebooks as pages of the site: nbconvert's HTML of each, with its saved outputs.

Outputs that only work next to a running kernel become a line with a link instead: the
explorer (an iframe page with its script inside, which the site's policy forbids; the lab shows
the same explorer) and the live playground (a page on the kernel's own local server; the site has
its own). Widget views keep their saved text, with no widget script.
"""
from __future__ import annotations

import copy
import html
import re
from pathlib import Path

from .pages import nav, set_csp

PLAYGROUND = ('<p class="standin">Here the notebook shows the live playground, served by the '
              'running kernel. On this site it is <a href="../playground.html">the playground '
              'page</a>.</p>')
EXPLORER = ('<iframe class="explorer" src="../explorer.html#data=notebooks/{name}" '
            'title="the explorer on this graph"></iframe>\n<p class="standin">The explorer on '
            'this graph, as the notebook shows it: <a href="../explorer.html#data=notebooks/'
            '{name}">open it in its own page</a>.</p>')
DATA = re.compile(r'<script type="application/json" id="data">(.*?)</script>', re.S)
WIDGET = "application/vnd.jupyter.widget-view+json"


def render_notebooks(src: Path, out: Path) -> list[Path]:
    """Each ``src/*.ipynb`` as ``out/NAME.html`` next to a copy of the notebook, and
    ``out/index.html`` listing them; returns the pages written."""
    import nbformat
    from nbconvert import HTMLExporter

    out.mkdir(parents=True, exist_ok=True)
    exporter = HTMLExporter(template_name="basic")
    exporter.exclude_input_prompt = exporter.exclude_output_prompt = True
    pages, listing = [], []
    for path in sorted(src.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        title = _title(nb, path.stem)
        body, _ = exporter.from_notebook_node(_for_the_site(nb, out, path.stem))
        (out / path.name).write_bytes(path.read_bytes())
        page = out / f"{path.stem}.html"
        page.write_text(_page(title, body, path.name), encoding="utf-8")
        pages.append(page)
        listing.append((page.name, path.name, title, _summary(nb)))
    (out / "index.html").write_text(_index(listing), encoding="utf-8")
    (out / "notebook.css").write_text(_styles(), encoding="utf-8")
    return pages


def _for_the_site(nb, out: Path, stem: str):
    """The notebook as the site shows it: an explorer output's graph data goes to a file of
    its own that the site's explorer page reads (the saved page has its script inline, which
    the site's policy refuses), the live playground becomes a link, widgets keep their text."""
    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)  # nbconvert would load the widget manager from a CDN
    graphs = 0
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            data.pop(WIDGET, None)
            markup = "".join(data.get("text/html", "")).lstrip()
            if not markup.startswith("<iframe"):
                continue
            found = DATA.search(html.unescape(markup)) if "srcdoc=" in markup else None
            if found:
                graphs += 1
                name = f"{stem}-graph{graphs}.json"
                (out / name).write_text(found[1], encoding="utf-8")
                output["data"] = {"text/html": EXPLORER.format(name=name)}
            else:
                output["data"] = {"text/html": PLAYGROUND}
    return nb


def _title(nb, fallback: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            m = re.search(r"^#\s+(.+)$", cell.source, re.M)
            if m:
                return m[1].strip()
    return fallback


def _summary(nb) -> str:
    """The first paragraph after the title, as plain text, shortened."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            paras = [p.strip() for p in re.split(r"\n\s*\n", cell.source) if p.strip()]
            rest = [p for p in paras if not p.startswith("#")]
            if rest:
                text = re.sub(r"[*_`]|\[([^\]]*)\]\([^)]*\)", r"\1", " ".join(rest[0].split()))
                return text if len(text) < 220 else text[:219] + "…"
    return ""


HEAD = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="../explorer.css">
<link rel="stylesheet" href="../site.css">
<link rel="stylesheet" href="notebook.css">
</head>
<body class="notebook">
{nav}
<main>
"""


def _page(title: str, body: str, ipynb: str) -> str:
    link = (f'<p class="download">Saved outputs, as run by the test suite. '
            f'<a href="{html.escape(ipynb)}" download>Download {html.escape(ipynb)}</a> '
            f'to run it in Jupyter.</p>')
    head = HEAD.format(title=html.escape(title), nav=nav("notebooks", up="../"))
    return set_csp(head + link + body + "\n</main>\n</body></html>\n")


def _index(listing: list[tuple[str, str, str, str]]) -> str:
    items = "\n".join(
        f'<li><a href="{html.escape(page)}">{html.escape(title)}</a> '
        f'(<a href="{html.escape(ipynb)}" download>.ipynb</a>)<br>'
        f'<span class="what">{html.escape(summary)}</span></li>'
        for page, ipynb, title, summary in listing)
    head = HEAD.format(title="Notebooks", nav=nav("notebooks", up="../"))
    return set_csp(head + "<h1>Notebooks</h1>\n<p>Each notebook with the outputs it saved when "
                   "the test suite last ran it. Download one to run it yourself in Jupyter "
                   "(<code>pip install -e '.[notebooks]'</code> in a checkout).</p>\n"
                   f'<ol class="notebook-list">\n{items}\n</ol>\n</main>\n</body></html>\n')


def _styles() -> str:
    """Code highlighting for both themes and the cells' layout."""
    from pygments.formatters import HtmlFormatter

    light = HtmlFormatter(style="default").get_style_defs(".highlight")
    dark = HtmlFormatter(style="monokai").get_style_defs(".highlight")
    return "\n".join([
        "/* Written by the site's build: nbconvert's basic markup, pygments' colours. */",
        ".notebook main .cell { margin: 0.9em 0; min-width: 0; }",
        ".notebook main .input_area, .notebook main .output_area { min-width: 0; "
        "overflow-x: auto; }",
        ".anchor-link { visibility: hidden; text-decoration: none; margin-left: 0.2em; }",
        ":is(h1, h2, h3, h4):hover .anchor-link { visibility: visible; }",
        ".notebook main { overflow-wrap: break-word; }",
        ".notebook main img, .notebook main svg { max-width: 100%; height: auto; }",
        ".output_png img, .output_svg svg, .output_svg img { background: #fff; }",
        ".highlight { background: var(--panel) !important; border-radius: 6px; }",
        ".notebook pre { margin: 0; padding: 0.5em 0.8em; overflow-x: auto; font-size: 14px; }",
        ".output_area { margin-top: 0.3em; }",
        ".output_area table { display: block; overflow-x: auto; }",
        "iframe.explorer { width: 100%; height: 560px; border: 1px solid var(--line); "
        "border-radius: 6px; }",
        ".standin { padding: 0.3em 0.6em; border-left: 6px solid var(--sky); "
        "background: var(--panel); }",
        "a { color: var(--blue); }",
        light,
        "@media (prefers-color-scheme: dark) {",
        dark.replace("\n", "\n  "),
        "}",
    ])


__all__ = ["render_notebooks"]
