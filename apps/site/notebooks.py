"""The notebooks as pages of the site (filled in below)."""
from __future__ import annotations

from pathlib import Path


def render_notebooks(src: Path, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    return []
