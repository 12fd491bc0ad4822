"""The playground's web server (tornado): the page, a WebSocket for live frames and commands,
a small JSON API, and each example's graph.

One asyncio loop does everything: it trains in slices of about 20 ms, sends a frame (numbers,
weights, gradients, heat maps) to every open tab four times a second, and handles requests in
between. With no threads of its own the run has one owner, every tab sees the same state, and
stopping the loop stops everything.
"""
from __future__ import annotations

import asyncio
import json
import logging
import math
import threading
import time
from importlib import resources
from typing import Any

import tornado.httpserver
import tornado.netutil
import tornado.web
import tornado.websocket

import autograd

from .session import CommandError, Session

FRAME_INTERVAL = 0.25  # seconds between frames while training: heat maps at 4 per second
SLICE = 0.02  # seconds of training between looks at the network
HOPS = 4  # loop turns between slices: a message takes a few (read it, wake its handler, ...)
MAX_MESSAGE = 64 * 1024  # a WebSocket message; commands are a few hundred bytes
MAX_BODY = 1024 * 1024  # an HTTP request body; larger ones are cut off by tornado
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
log = logging.getLogger("nn.playground")

CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'")


def static_text(name: str) -> bytes:
    return resources.files(__package__).joinpath("static", name).read_bytes()


def dumps(message: dict) -> str:
    return json.dumps(message, allow_nan=False, separators=(",", ":"))


def parse(text: str | bytes) -> Any:
    """JSON from a tab or a client; anything that is not (or nests too deeply) is refused."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as e:  # JSONDecodeError and UnicodeDecodeError included
        raise CommandError(f"not valid JSON: {str(e)[:100]}") from None


class Playground:
    """A session served on ``host:port`` (port 0: a free one), started and stopped in a loop."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0,
                 session: Session | None = None) -> None:
        self.host, self.port = host, port
        self.session = session or Session()
        self.sockets: set[Socket] = set()
        self._server: tornado.httpserver.HTTPServer | None = None
        self._trainer: asyncio.Task | None = None
        self._wake = asyncio.Event()
        self._last_frame = -math.inf  # when the last frame had gone out (time.perf_counter)
        self._frame_timer: asyncio.TimerHandle | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def application(self) -> tornado.web.Application:
        args = {"playground": self}
        return tornado.web.Application([
            (r"/", PageHandler, {**args, "name": "index.html"}),
            (r"/static/(playground\.js|playground\.css)", StaticHandler, args),
            (r"/ws", Socket, args),
            (r"/api/state", StateHandler, args),
            (r"/api/command", CommandHandler, args),
            (r"/graph/(-?\d+)", GraphHandler, args),
        ], websocket_max_message_size=MAX_MESSAGE, default_handler_class=NotFound,
            default_handler_args=args)

    async def start(self) -> None:
        """Bind, listen and start training in the background of the running loop."""
        sockets = tornado.netutil.bind_sockets(self.port, self.host)
        self.port = sockets[0].getsockname()[1]
        self._server = tornado.httpserver.HTTPServer(self.application(),
                                                     max_body_size=MAX_BODY)
        self._server.add_sockets(sockets)
        self._trainer = asyncio.create_task(self._train())

    async def stop(self) -> None:
        """Stop training, close every tab's connection and release the port."""
        if self._frame_timer is not None:
            self._frame_timer.cancel()
            self._frame_timer = None
        if self._trainer is not None:
            self._trainer.cancel()
            try:
                await self._trainer
            except asyncio.CancelledError:
                pass
        for sock in list(self.sockets):
            sock.close()
        if self._server is not None:
            self._server.stop()
            await self._server.close_all_connections()
            self._server = None

    # -- commands and broadcasting -------------------------------------------------------------

    def apply(self, message: Any) -> dict | None:
        """Run one command; tell every tab what changed; return the private reply, if any."""
        reply = self.session.command(message)
        if self.session.running:
            self._wake.set()
        if reply.broadcast == "state":
            self.broadcast(self.session.state())
            self._last_frame = time.perf_counter()  # a state holds a frame
        elif reply.broadcast == "frame":
            self._send_frame()
        elif reply.broadcast is not None:
            self.broadcast(reply.broadcast)
            self._frame_soon()
        return reply.private

    def broadcast(self, message: dict, droppable: bool = False) -> None:
        """Send to every tab; a ``droppable`` frame is skipped by a tab still taking the last."""
        text = dumps(message)
        for sock in list(self.sockets):
            sock.send(text, droppable=droppable)

    def _send_frame(self, droppable: bool = False) -> None:
        self.broadcast(self.session.frame(), droppable=droppable)
        self._last_frame = time.perf_counter()

    def _frame_soon(self) -> None:
        """A frame with fresh numbers after a small change: while training the next frame
        brings them; while paused one frame follows, at most one per FRAME_INTERVAL, so a
        burst of changes costs one evaluation, not one each."""
        if self.session.running or self._frame_timer is not None:
            return
        delay = max(0.0, self._last_frame + FRAME_INTERVAL - time.perf_counter())
        self._frame_timer = asyncio.get_running_loop().call_later(delay, self._paused_frame)

    def _paused_frame(self) -> None:
        self._frame_timer = None
        if self.session.running:  # training sends frames anyway
            return
        try:
            self.session.refresh()
            self._send_frame()
        except Exception as e:  # a bug: no tab asked, so every tab is told
            log.exception("a paused frame failed")
            self.broadcast({"type": "error", "message": "the numbers could not be updated: "
                                                        f"internal error ({_described(e)})"})

    async def _train(self) -> None:
        """Train while the session runs, forever: this task is started once, so it must outlive
        any failure, or play would answer with a run that never steps."""
        last = 0.0
        while True:
            if not self.session.running:
                self._wake.clear()
                await self._wake.wait()
                last = 0.0
                continue
            try:
                last = self._slice(last)
            except Exception as e:  # a bug: pause the run and say so
                log.exception("training failed")
                self._training_failed(e)
            for _ in range(HOPS):  # let requests and messages through
                await asyncio.sleep(0)

    def _slice(self, last: float) -> float:
        """Steps for about SLICE seconds, then a frame if one is due (``last``: when the last
        one started); returns when the last frame started."""
        s = self.session
        start = time.perf_counter()
        while s.running and time.perf_counter() - start < SLICE:
            self._step()
        now = time.perf_counter()
        if s.running and now - last < FRAME_INTERVAL:
            return last
        s.refresh()
        # Only frames of a run still going may be skipped: the next one follows soon.
        self._send_frame(droppable=s.running)
        return now  # frames start every FRAME_INTERVAL, whatever one costs

    def _step(self) -> None:
        try:
            self.session.step()
        except CommandError as e:
            self.session.message = str(e)
            self.session.running = False

    def _training_failed(self, e: Exception) -> None:
        """Pause the run with a message every tab shows; play starts it again."""
        s = self.session
        s.halt(f"Training paused at step {s.steps} by an internal error ({_described(e)}); "
               "press play to go on.")
        try:
            self._send_frame()  # a frame also turns the tabs' play and pause buttons around
        except Exception:  # the frame is broken too: the message alone, then
            log.exception("the frame after a training failure failed")
            self.broadcast({"type": "error", "message": s.message})


def _described(e: Exception) -> str:
    return f"{type(e).__name__}: {str(e)[:200]}"


class Refused(tornado.web.HTTPError):
    """An HTTP error whose message reaches the client whole, in the JSON body: tornado turns a
    reason phrase holding "<" or a character outside Latin-1 (the "−" or "…" of many of our
    messages) into "Unknown"."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(status_code)
        self.message = message


class Base(tornado.web.RequestHandler):
    def initialize(self, playground: Playground, **_: Any) -> None:
        self.playground = playground

    def prepare(self) -> None:
        # A page on another site could point a name at 127.0.0.1 (DNS rebinding); while bound to
        # loopback only a loopback Host header is served.
        host = self.request.host_name
        if self.playground.host in LOOPBACK and host not in LOOPBACK:
            raise tornado.web.HTTPError(403, reason="Host must be a loopback address")

    def set_default_headers(self) -> None:
        self.set_header("Content-Security-Policy", CSP)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Cache-Control", "no-store")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        error = kwargs.get("exc_info", (None, None, None))[1]
        message = error.message if isinstance(error, Refused) else self._reason
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(dumps({"type": "error", "message": message}))


class NotFound(Base):
    def prepare(self) -> None:
        raise tornado.web.HTTPError(404, reason=f"no such page: {self.request.path[:80]}")


class PageHandler(Base):
    def initialize(self, playground: Playground, name: str = "index.html") -> None:
        super().initialize(playground)
        self.name = name

    def get(self) -> None:
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.write(static_text(self.name))


class StaticHandler(Base):
    def get(self, name: str) -> None:
        kind = "text/javascript" if name.endswith(".js") else "text/css"
        self.set_header("Content-Type", f"{kind}; charset=utf-8")
        self.write(static_text(name))


class StateHandler(Base):
    def get(self) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.write(dumps(self.playground.session.state()))


class CommandHandler(Base):
    def post(self) -> None:
        # JSON only: a plain cross-site form post cannot send this content type.
        if self.request.headers.get("Content-Type", "").split(";")[0] != "application/json":
            raise tornado.web.HTTPError(415, reason="send the command as application/json")
        try:
            reply = self.playground.apply(parse(self.request.body))
        except CommandError as e:
            raise Refused(400, str(e)) from None
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.write(dumps(reply or {"type": "ok"}))


class GraphHandler(Base):
    async def get(self, pid: str) -> None:
        session = self.playground.session
        try:
            loss, _ = session.example_graph(session.point(int(pid)))
        except (ArithmeticError, ValueError) as e:  # no such point, or weights gone to NaN
            raise Refused(404, str(e)) from None
        # Layout runs graphviz for a second or so: off the loop, so training goes on.
        kind, body = await asyncio.get_running_loop().run_in_executor(None, render_graph, loss)
        self.set_header("Content-Type", kind)
        self.write(body)


def render_graph(loss: autograd.Value) -> tuple[str, bytes]:
    """The explorer page of one example's forward and backward graph."""
    return "text/html; charset=utf-8", autograd.explore(loss).html.encode("utf-8")


class Socket(tornado.websocket.WebSocketHandler):
    """One open tab: receives commands, is sent states and frames (a slow tab skips frames)."""

    def initialize(self, playground: Playground, **_: Any) -> None:
        self.playground = playground
        self._pending = None

    def prepare(self) -> None:
        Base.prepare(self)  # the same Host check as every page

    def open(self) -> None:
        self.playground.sockets.add(self)
        self.send(dumps(self.playground.session.state()))

    def on_close(self) -> None:
        self.playground.sockets.discard(self)

    def on_message(self, text: str | bytes) -> None:
        try:
            reply = self.playground.apply(parse(text))
        except CommandError as e:
            reply = {"type": "error", "message": str(e)}
        except Exception as e:  # a bug must not take the server down; say so and go on
            log.exception("command failed")
            reply = {"type": "error", "message": f"internal error: {_described(e)}"}
        if reply is not None:
            self.send(dumps(reply))

    def send(self, text: str, droppable: bool = False) -> None:
        if droppable and self._pending is not None and not self._pending.done():
            return  # this tab has not taken the last frame yet; the next one will do
        try:
            self._pending = self.write_message(text)
        except tornado.websocket.WebSocketClosedError:
            self.playground.sockets.discard(self)


async def serve(host: str = "127.0.0.1", port: int = 0, *, ready=None) -> None:
    """Serve until cancelled; ``ready(playground)`` is called once it listens."""
    playground = Playground(host, port)
    await playground.start()
    try:
        if ready is not None:
            ready(playground)
        await asyncio.Event().wait()
    finally:
        await playground.stop()


class Background:
    """The same server on its own thread and loop, for notebooks: ``start()``, ``stop()``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host, self.port = host, port
        self.playground: Playground | None = None
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="nn.playground", daemon=True)

    @property
    def url(self) -> str:
        return self.playground.url

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def start(self, timeout: float = 30.0) -> Background:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("the playground server did not start")
        if self._error is not None:
            raise self._error
        return self

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._task = asyncio.current_task()
            await serve(self.host, self.port, ready=self._started)

        try:
            asyncio.run(main())
        except asyncio.CancelledError:
            pass
        except BaseException as e:  # noqa: BLE001 - reported to start(), which is waiting
            self._error = e
            self._ready.set()

    def _started(self, playground: Playground) -> None:
        self.playground = playground
        self._ready.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Cancel the server's loop and wait for its thread to end."""
        if self._loop is not None and self._task is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(timeout)
