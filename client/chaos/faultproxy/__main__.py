"""``python -m client.chaos.faultproxy --listen 127.0.0.1:8474``: a Toxiproxy-compatible server.

Prints ``faultproxy ready <url>`` on stdout once the API accepts requests (the
only stdout output; logs go to stderr), and exits cleanly on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from pathlib import Path

from client.chaos.faultproxy.process import READY_PREFIX
from client.chaos.faultproxy.server import DEFAULT_API_LISTEN, FaultProxyServer
from client.chaos.faultproxy.toxics import ApiError


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m client.chaos.faultproxy",
        description="TCP fault proxy implementing Toxiproxy's HTTP API (v2).",
    )
    parser.add_argument(
        "--listen",
        default=DEFAULT_API_LISTEN,
        help="HTTP API address host:port (default %(default)s; port 0 picks a free port)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of every random draw")
    parser.add_argument("--config", type=Path, help="JSON list of proxies to create at startup (as /populate)")
    parser.add_argument(
        "--allow-remote-listen",
        action="store_true",
        help="let proxies listen on non-loopback addresses (default: loopback only)",
    )
    parser.add_argument("--log-level", default="WARNING", help="logging level (default WARNING)")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> int:
    server = FaultProxyServer(args.listen, seed=args.seed, allow_remote_listen=args.allow_remote_listen)
    await server.start()
    try:
        if args.config is not None:
            status, reply = await server.registry.populate(json.loads(args.config.read_text()))
            if status >= 300:
                print(f"populate from {args.config} failed: {reply}", file=sys.stderr)
                return 1
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        print(f"{READY_PREFIX}{server.url}", flush=True)
        await stop.wait()
        return 0
    except ApiError as error:
        print(f"fault proxy: {error.message}", file=sys.stderr)
        return 1
    finally:
        await server.stop()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return asyncio.run(serve(args))


if __name__ == "__main__":
    sys.exit(main())
