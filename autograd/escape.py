"""User text (labels, op names, symbols) made safe for every place it is shown.

Labels are data: any string may arrive, including markup, quotes, backslashes, control characters,
lone surrogates or a megabyte of text. ``shown`` turns it into something printable of bounded
length; the other functions escape that for one destination each.
"""
from __future__ import annotations

import html
import re
import unicodedata

MAX_SHOWN = 80
"""Longest text drawn for one label; longer ones are cut with an ellipsis."""


def shown(text: object, limit: int = MAX_SHOWN) -> str:
    """Printable text of at most ``limit`` characters: control characters and lone surrogates
    become visible escapes (``\\x1b``, ``\\ud800``), a longer text ends in "…"."""
    s = text if isinstance(text, str) else str(text)
    if len(s) > limit:
        s = s[:limit - 1] + "…"
    if s.isprintable():
        return s
    out = []
    for ch in s:
        if ch.isprintable() or ch == " ":
            out.append(ch)
        elif 0xD800 <= ord(ch) <= 0xDFFF or unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co",
                                                                          "Cn", "Zl", "Zp"):
            out.append(ch.encode("unicode_escape", "backslashreplace").decode("ascii")
                       if ord(ch) < 0x10000 else f"\\U{ord(ch):08x}")
        else:
            out.append(ch)
    return "".join(out)


def html_text(text: object, limit: int = MAX_SHOWN) -> str:
    """For HTML and SVG text and attribute values, and graphviz's HTML-like labels."""
    # "]" as a character reference: graphviz's HTML-label lexer rejects a text made of "]" only.
    return html.escape(shown(text, limit), quote=True).replace("]", "&#93;")


def dot_string(text: object, limit: int = MAX_SHOWN) -> str:
    """For a quoted DOT string (a plain ``label="..."``): backslashes and quotes escaped, so
    graphviz reads them as the characters themselves."""
    return shown(text, limit).replace("\\", "\\\\").replace('"', '\\"')


# Names sit mid-sentence, so only the characters that open inline markup, HTML or TeX matter.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|~<>$&])")


def markdown_text(text: object, limit: int = MAX_SHOWN) -> str:
    """For Markdown prose: every character Markdown or HTML would read as syntax is escaped."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", shown(text, limit))


_TEX = {"\\": r"\backslash{}", "{": r"\{", "}": r"\}", "_": r"\_", "#": r"\#", "$": r"\$",
        "%": r"\%", "&": r"\&", "^": r"\hat{}", "~": r"\sim{}", "<": r"\lt{}", ">": r"\gt{}"}


def tex_text(text: object, limit: int = MAX_SHOWN) -> str:
    """For text inside TeX math (``\\mathrm{...}``): TeX's special characters written as
    commands, and no ``<`` or ``>`` left for an HTML sanitizer to read as a tag."""
    return "".join(_TEX.get(ch, ch) for ch in shown(text, limit))
