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
from autograd.views.explorer import explorer_data

from .runner import Runner, described, dumps, parse
from .session import CommandError, Session

log = logging.getLogger("nn.playground")
# A page has no C compiler: replaying the compiled graph in Python is the plan, not a fallback.
warnings.filterwarnings("ignore", category=NativeFallbackWarning)


class Worker:
    """One run for one page; ``layout`` lays out DOT as graphviz ``plain`` text (in the page,
    viz-js; by default the ``dot`` program)."""

    def __init__(self, layout: Callable[[str], str] | None = None,
                 session: Session | None = None) -> None:
        self.runner = Runner(session or Session())
        self.layout = layout

    def start(self) -> list[str]:
        """The whole picture, for the page's first look."""
        return self._guarded(lambda: [dumps(self.runner.session.state())])

    def receive(self, text: str) -> list[str]:
        """One command from the page, as JSON text."""
        def answer() -> list[str]:
            try:
                msg = parse(text)
                if isinstance(msg, dict) and msg.get("cmd") == "graph":
                    return [dumps(self.graph(msg.get("point")))]
                sent, private = self.runner.command(msg)
            except CommandError as e:
                return [dumps({"type": "error", "message": str(e)})]
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

    def graph(self, pid) -> dict:
        """One example's forward and backward graph, as the explorer page's data."""
        session = self.runner.session
        point = session.point(pid)
        try:
            loss, _ = session.example_graph(point)
        except (ArithmeticError, ValueError) as e:  # weights gone to NaN
            raise CommandError(f"cannot build the graph of example #{point.id} ({e}); "
                               "press reset") from None
        return {"type": "graph", "point": point.id,
                "title": f"Example #{point.id}: its loss, forward and backward",
                "payload": explorer_data(loss, layout=self.layout)}

    @staticmethod
    def _guarded(make: Callable[[], list[str]]) -> list[str]:
        try:
            return make()
        except Exception as e:  # a bug must not stop the worker; the page shows it
            log.exception("the playground failed")
            return [dumps({"type": "error", "message": f"internal error: {described(e)}"})]
