"""Run the notebooks top to bottom in a fresh kernel and save them with their outputs.

Usage: ``python notebooks/execute.py [NAME.ipynb ...]`` (all notebooks when none are given).
Run it with the environment's interpreter, the one the package is installed into.
"""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def execute(path: Path, timeout: int = 600) -> None:
    """Execute one notebook in place; a fixed kernel spec and no timestamps keep diffs quiet."""
    nb = nbformat.read(path, as_version=4)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    NotebookClient(nb, kernel_name="python3", timeout=timeout, record_timing=False,
                   resources={"metadata": {"path": str(HERE)}}).execute()
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nbformat.validate(nb)
    nbformat.write(nb, path)


def main(argv: list[str]) -> None:
    paths = [HERE / a for a in argv] if argv else sorted(HERE.glob("*.ipynb"))
    for path in paths:
        print(f"executing {path.name}", flush=True)
        execute(path)


if __name__ == "__main__":
    main(sys.argv[1:])
