"""Watch a network learn: a live training page in the browser, driven by this engine.

``python -m nn.playground`` serves it and opens a browser; ``nn.playground.show()`` in Jupyter
starts the same server in the background and shows the page inline.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .session import Session
from .settings import CommandError, Settings

if TYPE_CHECKING:
    from .server import Background, Playground, serve

__all__ = ["show", "stop", "serve", "Playground", "Background", "Session", "Settings",
           "CommandError"]

_background: Background | None = None


def __getattr__(name: str):
    # The server needs tornado; the session and the worker's driver (in the static site, where
    # there is no tornado) import without it.
    if name in ("Background", "Playground", "serve"):
        from . import server
        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def show(width: str | int = "100%", height: int = 760, *, host: str = "127.0.0.1",
         port: int = 0):
    """Start the playground server in the background (once) and show its page in an IFrame."""
    global _background
    if _background is None or not _background.alive:
        from .server import Background
        _background = Background(host, port).start()
    from IPython.display import IFrame
    return IFrame(_background.url, width=width, height=height)


def stop() -> None:
    """Stop the background server that ``show()`` started, if any."""
    global _background
    if _background is not None:
        _background.stop()
        _background = None
