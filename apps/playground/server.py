"""The playground's web server (tornado): the page, a WebSocket for live frames and commands,
a small JSON API, and each example's graph.

One asyncio loop does everything: it ticks the session's ``Runner`` (training in slices of about
20 ms, a frame of numbers, weights, gradients and heat maps at most four times a second, paced by
the speed control), sends what it returns to every open tab, and handles requests in between.
With no threads of its own the run has one owner, every tab sees the same state, and stopping the
loop stops everything.
"""
from __future__ import annotations

import asyncio
import logging
import threading
from importlib import resources
from typing import Any

import tornado.httpserver
import tornado.netutil
import tornado.web
import tornado.websocket

import autograd

from .runner import Runner, dumps, parse
from .session import CommandError, Session

HOPS = 4  # loop turns between slices: a message takes a few (read it, wake its handler, ...)
MAX_MESSAGE = 64 * 1024  # a WebSocket message; commands are a few hundred bytes
MAX_BODY = 1024 * 1024  # an HTTP request body; larger ones are cut off by tornado
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
log = logging.getLogger("nn.playground")

CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'")


def static_text(name: str) -> bytes:
    return resources.files(__package__).joinpath("static", name).read_bytes()


class Playground:
    """A session served on ``host:port`` (port 0: a free one), started and stopped in a loop."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0,
                 session: Session | None = None) -> None:
        self.host, self.port = host, port
        self.session = session or Session()
        self.runner = Runner(self.session)
        self.sockets: set[Socket] = set()
        self._server: tornado.httpserver.HTTPServer | None = None
        self._trainer: asyncio.Task | None = None
        self._wake = asyncio.Event()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def application(self) -> tornado.web.Application:
        args = {"playground": self}
        return tornado.web.Application([
            (r"/", PageHandler, {**args, "name": "index.html"}),
            (r"/(playground\.js|playground\.css)", StaticHandler, args),
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
        self._trainer = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop training, close every tab's connection and release the port."""
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
        sent, private = self.runner.command(message)
        self.deliver(sent)
        self._wake.set()  # the runner may have something to do now (play, a frame owed)
        return private

    def receive(self, text: str | bytes) -> dict | None:
        """A tab's message: what changed goes to every tab; returns the reply (or the error) for
        the sender."""
        sent, private = self.runner.receive(text)
        self.deliver(sent)
        self._wake.set()
        return private

    def deliver(self, messages: list) -> None:
        """Send each (message, droppable) to every tab; a droppable frame is skipped by a tab
        still taking the last one."""
        for message, droppable in messages:
            text = dumps(message)
            for sock in list(self.sockets):
                sock.send(text, droppable=droppable)

    async def _run(self) -> None:
        """Tick the runner whenever it asks, forever: this task is started once, so it must
        outlive any failure, or play would answer with a run that never steps."""
        while True:
            try:
                self.deliver(self.runner.tick())
                delay = self.runner.wait()
            except Exception:  # a bug outside training (the runner reports those itself)
                log.exception("the playground's loop failed")
                delay = None
            if delay == 0:
                for _ in range(HOPS):  # let requests and messages through
                    await asyncio.sleep(0)
                continue
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), delay)
            except asyncio.TimeoutError:
                pass


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
        reply = self.playground.receive(text)
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
