"""Serve the built site on 127.0.0.1: ``python -m apps.site.serve [FOLDER]``.

The standard library's file server, with the types a site with WebAssembly needs, on a free port
unless one is given. ``--prefix /autograd/`` serves it under a sub-path, as a project page is;
``--isolate`` sends the cross-origin isolation headers (COOP/COEP), so the lab can stop Python
with an interrupt instead of restarting its worker.
"""
from __future__ import annotations

import argparse
import functools
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

TYPES = {".wasm": "application/wasm", ".mjs": "text/javascript", ".js": "text/javascript",
         ".json": "application/json", ".whl": "application/zip", ".zip": "application/zip",
         ".ipynb": "application/x-ipynb+json", ".css": "text/css", ".html": "text/html"}


class SiteHandler(SimpleHTTPRequestHandler):
    """Files under ``prefix`` only; quiet unless asked."""

    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, **TYPES}
    prefix = "/"
    isolate = False
    verbose = False

    def send_head(self):
        if not self.path.startswith(self.prefix):
            self.send_error(404, "outside the site")
            return None
        self.path = "/" + self.path[len(self.prefix):]
        return super().send_head()

    def end_headers(self) -> None:
        if self.isolate:
            self.send_header("Cross-Origin-Opener-Policy", "same-origin")
            self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, format, *args) -> None:  # noqa: A002 (the base class's name)
        if self.verbose:
            super().log_message(format, *args)


def make_server(folder: Path, port: int = 0, prefix: str = "/", isolate: bool = False,
                verbose: bool = False) -> ThreadingHTTPServer:
    """A server for ``folder`` on 127.0.0.1 (port 0: a free one); call ``serve_forever``."""
    prefix = "/" + prefix.strip("/") + "/" if prefix.strip("/") else "/"
    handler = type("Handler", (SiteHandler,), {"prefix": prefix, "isolate": isolate,
                                               "verbose": verbose})
    server = ThreadingHTTPServer(("127.0.0.1", port),
                                 functools.partial(handler, directory=str(folder)))
    server.daemon_threads = True
    server.url = f"http://127.0.0.1:{server.server_address[1]}{prefix}"
    return server


def serve_in_thread(folder: Path, **options) -> ThreadingHTTPServer:
    """``make_server`` running in a daemon thread (for tests and benchmarks)."""
    server = make_server(folder, **options)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m apps.site.serve",
                                     description="Serve the built site on 127.0.0.1.")
    parser.add_argument("folder", nargs="?", default="build/site")
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    parser.add_argument("--prefix", default="/", help="serve under this sub-path")
    parser.add_argument("--isolate", action="store_true",
                        help="send COOP/COEP headers (cross-origin isolation)")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    folder = Path(args.folder)
    if not (folder / "index.html").exists():
        print(f"site: {folder} has no index.html: run `make site` first", file=sys.stderr)
        return 1
    server = make_server(folder, args.port, args.prefix, args.isolate, args.verbose)
    print(f"site: serving {folder} at {server.url} (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
