"""``FaultProxyServer``: the fault proxy embedded in a running asyncio loop.

::

    async with FaultProxyServer("127.0.0.1:0", seed=7) as server:
        client = Toxiproxy(); client.update_api_consumer(*server.address)  # or plain HTTP
        ...

The HTTP API and every proxied connection run on the caller's loop, so a test
driving the API with a *blocking* client (``toxiproxy-python`` uses requests)
must not call it from that loop: use ``FaultProxyProcess`` (process.py) then.
"""

from __future__ import annotations

import logging
from types import TracebackType

from aiohttp import web

from client.chaos.faultproxy.api import build_app
from client.chaos.faultproxy.proxy import (
    ProxyRegistry,
    is_loopback_host,
    join_host_port,
    split_host_port,
)

log = logging.getLogger(__name__)

DEFAULT_API_LISTEN = "127.0.0.1:8474"  # Toxiproxy's port, loopback only unless told otherwise


class FaultProxyServer:
    """A Toxiproxy-compatible server: HTTP API plus the proxies it creates.

    ``listen`` is the API address (port 0 picks a free one). ``seed`` seeds every
    random draw (toxicity, jitter, slicing) per proxy, connection and direction.
    Proxies may only listen on loopback addresses unless ``allow_remote_listen``.
    """

    def __init__(
        self,
        listen: str = DEFAULT_API_LISTEN,
        *,
        seed: int = 0,
        allow_remote_listen: bool = False,
    ) -> None:
        self.requested_listen = listen
        self.registry = ProxyRegistry(seed=seed, allow_remote_listen=allow_remote_listen)
        self._runner: web.AppRunner | None = None
        self._address: tuple[str, int] | None = None

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) the API listens on; only valid once started."""
        if self._address is None:
            raise RuntimeError("FaultProxyServer is not started")
        return self._address

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://{join_host_port(host, port)}"

    async def start(self) -> None:
        if self._runner is not None:
            return
        host, port = split_host_port(self.requested_listen)
        if not is_loopback_host(host):
            log.warning("fault proxy API bound to non-loopback address %s", host)
        runner = web.AppRunner(build_app(self.registry), access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, host, port, reuse_address=True)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        bound = runner.addresses[0]  # the real port when ``listen`` asked for port 0
        self._address = (str(bound[0]), int(bound[1]))
        log.info("fault proxy API on %s", self.url)

    async def stop(self) -> None:
        """Stop the API, every proxy and every proxied connection."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        await self.registry.stop_all()
        self._address = None

    async def __aenter__(self) -> FaultProxyServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
