"""Run one node in the foreground until SIGINT/SIGTERM, then shut down cleanly."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from node.config import NodeConfig
from node.logging_setup import configure_logging
from node.server import Node, StartupError

log = logging.getLogger("keystream.node")

EXIT_STARTUP_FAILED = 3


def _install_uvloop() -> None:
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


async def _serve(config: NodeConfig) -> int:
    from node.features import install_features

    node = Node(config)
    install_features(node)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await node.start()
    except StartupError as exc:
        log.error("cannot start: %s", exc)
        await node.stop()
        return EXIT_STARTUP_FAILED
    await stop.wait()
    await node.stop()
    return 0


def run_node(config: NodeConfig) -> int:
    configure_logging(config.node_id, config.log_level, config.log_format, config.data_dir / "node.log")
    _install_uvloop()
    try:
        return asyncio.run(_serve(config))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":  # pragma: no cover - `keystream node` is the entry point
    sys.exit("use: keystream node --help")
