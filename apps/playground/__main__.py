"""python -m nn.playground [--port N] [--host 127.0.0.1] [--no-browser]"""
from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import webbrowser

from .server import serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nn.playground",
                                     description="Watch a network learn, live in the browser.")
    parser.add_argument("--port", type=int, default=0,
                        help="port to listen on (default: a free one)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser")
    args = parser.parse_args(argv)

    def ready(playground) -> None:
        print(f"Playground running at {playground.url}  (Ctrl-C stops it)", flush=True)
        if not args.no_browser:
            webbrowser.open(playground.url)

    async def run() -> None:
        # SIGTERM stops it as cleanly as Ctrl-C does (asyncio turns SIGINT into a cancel itself).
        task = asyncio.current_task()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        await serve(args.host, args.port, ready=ready)

    # A shell script's background job starts with SIGINT ignored, and asyncio.run then leaves
    # it ignored; Ctrl-C (and `kill -INT`) is how this server is stopped, so it listens again.
    # asyncio.run turns the first SIGINT into a cancel of run() and a second into
    # KeyboardInterrupt.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        asyncio.run(run())
    except asyncio.CancelledError:
        print("Playground stopped.", flush=True)
    except KeyboardInterrupt:
        print("Playground stopped.", flush=True)
    except OSError as e:
        print(f"playground: cannot listen on {args.host}:{args.port}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
