"""The static site, built once per session and served on 127.0.0.1 under a sub-path."""
from __future__ import annotations

import socketserver
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "/autograd/"


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    """The built site's folder (``make test`` runs ``npm ci`` first)."""
    if sys.platform == "emscripten":
        pytest.skip("building the site starts processes (pip, nbconvert)")
    if not (ROOT / "node_modules" / "pyodide" / "pyodide.asm.wasm").exists():
        pytest.skip("node_modules is missing: `npm ci --ignore-scripts` (make test runs it)")
    from apps.site.build import build
    return build(tmp_path_factory.mktemp("site") / "site")


@pytest.fixture(scope="session")
def server(site):
    """The site's server: ``server.url`` ends in the sub-path's "/", ``server.served`` lists
    the paths asked for."""
    from apps.site.serve import serve_in_thread
    server = serve_in_thread(site, prefix=PREFIX)
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def served(server) -> str:
    return server.url


class Refusals(socketserver.ThreadingTCPServer):
    """An HTTP proxy that refuses everything and writes down what was asked for.

    Chromium sends every request but loopback ones to its proxy, from the page and its workers
    alike, so ``asked`` counts every attempt to reach another origin."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Refuse)
        self.asked: list[str] = []
        self.lock = threading.Lock()


class _Refuse(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        line = self.rfile.readline(8192).decode("latin-1").strip()
        with self.server.lock:
            self.server.asked.append(line)
        self.wfile.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n"
                         b"Connection: close\r\n\r\n")


@pytest.fixture(scope="session")
def refusals():
    proxy = Refusals()
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    yield proxy
    proxy.shutdown()
    proxy.server_close()
