"""The site ships each library with its licence: the full texts in licenses/, one line per
library in LICENSES.txt naming its version, folder and licence."""
from __future__ import annotations

import json

from support import ROOT


def test_every_shipped_library_has_its_licence_text(site):
    listing = (site / "LICENSES.txt").read_text(encoding="utf-8")
    lock = json.loads((ROOT / "package-lock.json").read_text(encoding="utf-8"))["packages"]
    for name, folder in (("pyodide", "pyodide/"), ("@viz-js/viz", "viz/"),
                         ("codemirror", "codemirror/")):
        meta = lock[f"node_modules/{name}"]
        line = f"{name} {meta['version']} in {folder}: licence {meta['license']}"
        assert line in listing, line
        text = (site / "licenses" / f"{meta['license']}.txt").read_text(encoding="utf-8")
        assert len(text) > 800
    mpl = (site / "licenses" / "MPL-2.0.txt").read_text(encoding="utf-8")
    assert mpl.startswith("Mozilla Public License Version 2.0")
    assert "Permission is hereby granted" in (site / "codemirror" / "LICENSE").read_text()
    assert "Copyright (c) Michael Daines" in (site / "viz" / "viz.js").read_text()[:400]
