"""Readers for what the views render (DOT parsed back, SVG texts), and hostile labels."""
from __future__ import annotations

import html
import re
import subprocess
import xml.etree.ElementTree as ET

from hypothesis import strategies as st


import autograd
from autograd import Value


def parse(source: str):
    """(value node id by label, lines of value nodes by id, edges as (tail, head, label, line))."""
    ids, lines, edges = {}, {}, []
    for line in source.splitlines():
        m = re.match(r"\s*(\S+) \[label=<<table.*?<td>(?:<b>(.*?)</b>|.*?<i>(.*?)</i>.*?)</td>",
                     line)
        if m:
            ids[m[2] or m[3]] = m[1]
            lines[m[1]] = line
            continue
        m = re.match(r"\s*(\S+) -> (\S+)(?: \[(?:label=<(.*)> )?(.*)\])?$", line)
        if m:
            edges.append((m[1], m[2], html.unescape(m[3] or ""), line))
    return ids, lines, edges


def edge(parsed, tail_label: str, head_label: str):
    """The one edge from the value labelled ``tail_label`` into the op of ``head_label``."""
    ids, _, edges = parsed
    found = [e for e in edges if e[0] == ids[tail_label] and e[1] == "op" + ids[head_label]]
    assert len(found) == 1, (tail_label, head_label, found)
    return found[0]


def svg_texts(svg: bytes) -> list[str]:
    """Every piece of text an SVG shows, in document order."""
    root = ET.fromstring(svg)
    return [t.text for t in root.iter("{http://www.w3.org/2000/svg}text") if t.text]


PIECES = ['<<table href="javascript:alert(4)"><tr><td>L1</td></tr></table>>', "<b>", "</td>",
          "<script>alert(1)</script>", "<!--", "-->", "]]>", "&amp;", "&", '"', "'", "\\",
          "\\N", "\\G", "\\l", "\\\"", "{", "}", "{0}", "{out}", "{{", "%s", "$x$", "_", "^",
          "\x00", "\x1b[31m", "\n", "\r", "\t", "\x7f", "\u2028", "\ud800", "\udfff", "\ufeff",
          ".", "..", "L1.N2.", "[", "]", ";", "->", "=", "javascript:", "\U0001F600"]


SVG_TAGS = {"svg", "g", "title", "text", "polygon", "polyline", "path", "ellipse"}


def labelled_graph(text: str):
    """A small graph with ``text`` as every label, an op name and symbol: (output, input)."""
    op = autograd.extend.primitive(text, lambda a: 2 * a, lambda a, out: (2.0,), symbol=text)
    x = Value(0.5, label=text)
    w = Value(-1.5, label=text + ".w")
    h = op(x * w)
    h.label = text + "." + text + ".h"
    y = (h + 1.0).tanh()
    y.label = text
    return y, x


def check_svg(svg: bytes) -> None:
    """Only plain SVG drawing elements, no link, handler or script URL anywhere."""
    root = ET.fromstring(svg)
    for el in root.iter():
        tag = el.tag.rsplit("}", 1)[-1]
        assert tag in SVG_TAGS, tag
        for name, value in el.attrib.items():
            assert "href" not in name and not name.rsplit("}", 1)[-1].startswith("on"), name
            assert "javascript" not in value.lower(), (name, value)


def render(source: str) -> bytes:
    """DOT source to SVG with the system's ``dot``, which must not complain."""
    out = subprocess.run(["dot", "-Tsvg"], input=source.encode("utf-8"), capture_output=True,
                         timeout=60)
    assert out.returncode == 0 and b"rror" not in out.stderr, out.stderr[:500]
    return out.stdout


labels = st.one_of(
    st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=4)), min_size=1,
             max_size=8).map("".join),
    st.sampled_from(PIECES).map(lambda p: p * 6000),  # far past any label limit
)
