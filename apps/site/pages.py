"""What every page of the site shares: its Content-Security-Policy."""
from __future__ import annotations

import re

CSP = ("default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; "
       "style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; "
       "base-uri 'self'; form-action 'none'")
"""Scripts and workers from the site itself only, plus WebAssembly compilation. Styles may be
inline: the rendered notebooks carry theirs in the page."""

META = f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'


PAGES = (("index.html", "lab", "Lab"), ("playground.html", "playground", "Playground"),
         ("exercises.html", "exercises", "Exercises"),
         ("notebooks/index.html", "notebooks", "Notebooks"))


def nav(here: str, up: str = "") -> str:
    """The site's links, as on every page; ``up`` leads from a sub-folder to the root."""
    current = ' aria-current="page"'
    links = [f'<a href="{up}{href}"{current if key == here else ""}>{text}</a>'
             for href, key, text in PAGES]
    return f'<nav class="site-nav" aria-label="site">{" ".join(links)}</nav>'


def set_csp(page: str) -> str:
    """``page`` with the site's policy as its first ``<meta>`` (replacing any it had)."""
    page = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>\s*', "", page)
    out, n = re.subn(r"(<head[^>]*>\s*(?:<meta charset[^>]*>\s*)?)", lambda m: m[1] + META + "\n",
                     page, count=1)
    if not n:
        raise ValueError("a page without <head>")
    return out


def explorer_page(template: str, *, title: str, nav_html: str, scripts: list[str],
                  panel: str = "") -> str:
    """The explorer's own page template made a page of the site: its styles and script as files,
    no data inside (the page's own script supplies it), the site's policy, links and ``panel``
    (markup put above the explorer's toolbar)."""
    tags = "\n".join(f'<script src="{src}"></script>' for src in ["explorer.js", *scripts])
    parts = {
        "<title>{{TITLE}}</title>": f'<title>{title}</title>\n<link rel="icon" href="data:,">',
        "<style>{{CSS}}</style>": '<link rel="stylesheet" href="explorer.css">\n'
                                  '<link rel="stylesheet" href="site.css">',
        "<body>": '<body class="site-explorer">',
        '<header id="bar">': f'{nav_html}\n{panel}<header id="bar">',
        '<script type="application/json" id="data">{{DATA}}</script>\n': "",
        "<script>{{JS}}</script>": tags,
    }
    for old, new in parts.items():
        if old not in template:
            raise ValueError(f"the explorer's page.html no longer has {old!r}")
        template = template.replace(old, new, 1)
    return set_csp(template)
