"""The playground in the static site: the same ``Session`` and ``Runner`` as the server, driven
by a Web Worker's script (``static/playground-worker.js``) instead of tornado.

The worker hands each message from the page to ``receive`` and calls ``tick`` whenever ``wait``
says, with a turn of its event loop in between so that the page's next command (pause!) comes in
promptly. Every method returns the JSON texts to post to the page: the same messages the server
sends over its WebSocket, so the page script is one for both transports. Nothing here raises: a
failure becomes an error message and the worker keeps answering.
"""
from __future__ import annotations

import logging
import warnings
from typing import Callable

from autograd import NativeFallbackWarning
from autograd.views.explorer import LayoutSource

from .graphs import Loader
from .runner import Runner, described, dumps
from .session import Session

log = logging.getLogger("nn.playground")
# A page has no C compiler: replaying the compiled graph in Python is the plan, not a fallback.
warnings.filterwarnings("ignore", category=NativeFallbackWarning)


class Worker:
    """One run for one page; ``layout`` lays out an example's graph for the explorer (in the
    page, Graphviz compiled to WebAssembly; by default the ``dot`` program); ``javascript``
    compiles a graph's JavaScript replay (the worker's ``loadReplay``; None: Python only)."""

    def __init__(self, layout: LayoutSource | None = None, session: Session | None = None,
                 javascript: Loader | None = None) -> None:
        session = session or Session(javascript=javascript)  # a given session keeps its replay
        session.layout = layout
        self.runner = Runner(session)

    def start(self) -> list[str]:
        """The whole picture, for the page's first look."""
        return self._guarded(lambda: [dumps(self.runner.session.state())])

    def receive(self, text: str) -> list[str]:
        """One command from the page, as JSON text."""
        def answer() -> list[str]:
            sent, private = self.runner.receive(text)
            return [dumps(m) for m, _ in sent] + ([dumps(private)] if private else [])
        return self._guarded(answer)

    def tick(self) -> list[str]:
        """Train what is due and a frame if one is due."""
        return self._guarded(lambda: [dumps(m) for m, _ in self.runner.tick()])

    def wait(self) -> float | None:
        """Seconds until ``tick`` has work (0: at once); None: not until the next command."""
        try:
            return self.runner.wait()
        except Exception:  # a bug: wait for the page's next command rather than spin
            log.exception("wait failed")
            return None

    @staticmethod
    def _guarded(make: Callable[[], list[str]]) -> list[str]:
        try:
            return make()
        except Exception as e:  # a bug must not stop the worker; the page shows it
            log.exception("the playground failed")
            return [dumps({"type": "error", "message": f"internal error: {described(e)}"})]
