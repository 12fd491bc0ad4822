"""The playground's cadence, with no transport: commands in, messages out, training in slices.

The server (tornado, a WebSocket per tab) and the static site (a Web Worker in the page) both run
a session through a ``Runner``: they hand it each command, call ``tick()`` as soon as ``wait()``
says, and deliver what the two return. So how long a slice trains, how often a frame goes out,
how the speed control paces the steps and what a failure turns into are written once, here.

``tick()`` trains for about SLICE seconds (or, at a paced speed, only the steps that are due) and
then sends a frame if one is due: at most one per FRAME_INTERVAL, and only when there is
something new to show. Where a frame is slow (the heat maps take 0.1 s and more in a browser's
Python) frames come less often, so that they take at most a third of the time. Between ticks
the transport handles commands, so a pause is answered within about one slice.
"""
from __future__ import annotations

import json
import logging
import math
import time
from typing import Any, Callable

from .session import Session
from .settings import CommandError

FRAME_INTERVAL = 0.25  # seconds between frames while training: heat maps at 4 per second
FRAME_SHARE = 1 / 3  # the most of the time that frames may take
SLICE = 0.02  # seconds of training between looks at the transport

Message = tuple[dict, bool]
"""A message for every tab, and whether a tab still taking the last frame may skip it."""

log = logging.getLogger("nn.playground")


def described(e: BaseException) -> str:
    """An exception in a few words, for a message on the page."""
    return f"{type(e).__name__}: {str(e)[:200]}"


def dumps(message: dict) -> str:
    """A message as JSON text; the session makes non-finite numbers strings first."""
    return json.dumps(message, allow_nan=False, separators=(",", ":"))


def parse(text: str | bytes) -> Any:
    """JSON from a tab or a client; anything that is not (or nests too deeply) is refused."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as e:  # JSONDecodeError and UnicodeDecodeError included
        raise CommandError(f"not valid JSON: {str(e)[:100]}") from None


class Runner:
    """Runs a ``Session`` in time; ``clock`` gives seconds (a test passes its own)."""

    def __init__(self, session: Session,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.session = session
        self.clock = clock
        self._last_frame = -math.inf  # when the last frame (or state) was ready
        self._frame_cost = 0.0  # how long the last frame took to make
        self._shown = None  # the step count the last frame showed
        self._owed = False  # a paused run changed (a point added): a frame is owed
        self._due = -math.inf  # when the next step of a paced run is due

    # -- commands ------------------------------------------------------------------------------

    def command(self, msg) -> tuple[list[Message], dict | None]:
        """Apply one command: the messages for every tab, and the reply for the sender (if
        any). A bad command raises CommandError and changes nothing."""
        s = self.session
        reply = s.command(msg)
        # A faster pace takes effect now, not after the step the slower one had planned.
        interval = self._interval()
        self._due = min(self._due, self.clock() + interval) if interval else -math.inf
        if reply.broadcast == "state":
            out = [(self._framed(s.state), False)]
        elif reply.broadcast == "frame":
            out = [(self._framed(s.frame), False)]
        elif reply.broadcast is not None:
            out = [(reply.broadcast, False)]
            self._owed = not s.running  # while training, the next frame brings the numbers
        else:
            out = []
        return out, reply.private

    def receive(self, text: str | bytes) -> tuple[list[Message], dict | None]:
        """A command as JSON text from a tab, as ``command`` takes it, except that a refusal or a
        bug comes back as an error message for the sender instead of raising."""
        try:
            return self.command(parse(text))
        except CommandError as e:
            return [], {"type": "error", "message": str(e)}
        except Exception as e:  # a bug must not stop the transport; say so and go on
            log.exception("command failed")
            return [], {"type": "error", "message": f"internal error: {described(e)}"}

    # -- time ----------------------------------------------------------------------------------

    def tick(self) -> list[Message]:
        """Train what is due, then a frame if one is due; never raises."""
        s = self.session
        if not s.running:
            if self._owed and self.clock() - self._last_frame >= self._gap():
                return self._paused_frame()
            return []
        try:
            self._train()
            if not s.running:  # it stopped itself (diverged, no points): say so now
                return self._frame(droppable=False)
            if s.steps != self._shown and self.clock() - self._last_frame >= self._gap():
                # Only frames of a run still going may be skipped: the next one follows soon.
                return self._frame(droppable=True)
            return []
        except Exception as e:  # a bug: pause the run and say so, on every tab
            log.exception("training failed")
            return self._failed(e)

    def wait(self) -> float | None:
        """Seconds until ``tick`` has something to do (0: at once), or None: not until the
        next command."""
        s, now = self.session, self.clock()
        if s.running:
            if not self._interval():
                return 0.0
            due = self._due
            if s.steps != self._shown:
                due = min(due, self._last_frame + self._gap())
            return max(0.0, due - now)
        if self._owed:
            return max(0.0, self._last_frame + self._gap() - now)
        return None

    def _gap(self) -> float:
        """Seconds from one frame being ready to the start of the next."""
        return max(FRAME_INTERVAL, self._frame_cost * (1 / FRAME_SHARE - 1))

    def _interval(self) -> float:
        """Seconds between paced steps; 0 at full speed."""
        speed = self.session.settings.speed
        return 1.0 / speed if speed else 0.0

    def _train(self) -> None:
        """Steps for about SLICE seconds; at a paced speed only those that are due."""
        s, clock = self.session, self.clock
        interval = self._interval()
        start = clock()
        while s.running and (now := clock()) - start < SLICE:
            if interval:
                if now < self._due:
                    return
                # A run that fell behind (a slow frame) catches up by one slice at most.
                self._due = max(self._due, now - SLICE) + interval
            try:
                s.step()
            except CommandError as e:  # no training points left
                s.message = str(e)
                s.running = False

    # -- frames --------------------------------------------------------------------------------

    def _framed(self, make: Callable[[], dict], start: float | None = None) -> dict:
        """``make()``'s message, noted as the last frame; ``start``: when making it began."""
        start = self.clock() if start is None else start
        message = make()
        # From the moment it is ready to go, so that no tab is sent two within FRAME_INTERVAL.
        self._last_frame = self.clock()
        self._frame_cost = self._last_frame - start
        self._shown, self._owed = self.session.steps, False
        return message

    def _frame(self, droppable: bool) -> list[Message]:
        s, start = self.session, self.clock()
        s.refresh()
        return [(self._framed(s.frame, start), droppable)]

    def _paused_frame(self) -> list[Message]:
        """The numbers after points came or went while paused: one frame for a burst of them."""
        try:
            return self._frame(droppable=False)
        except Exception as e:  # a bug: no tab asked, so every tab is told
            log.exception("a paused frame failed")
            self._owed = False
            return [({"type": "error", "message": "the numbers could not be updated: "
                                                  f"internal error ({described(e)})"}, False)]

    def _failed(self, e: Exception) -> list[Message]:
        """Pause the run with a message every tab shows; play starts it again."""
        s = self.session
        s.halt(f"Training paused at step {s.steps} by an internal error ({described(e)}); "
               "press play to go on.")
        try:
            return self._frame(droppable=False)  # a frame also turns the play button around
        except Exception:  # the frame is broken too: the message alone, then
            log.exception("the frame after a training failure failed")
            return [({"type": "error", "message": s.message}, False)]
