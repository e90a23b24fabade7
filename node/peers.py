"""Connections from this node to the other nodes (internal listener), cached and re-dialled."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from client.connection import NativeConnection


class PeerConnections:
    def __init__(
        self,
        address_of: Callable[[int], str | None],
        credentials: dict[str, Any] | None = None,
        ssl: Any = None,
    ) -> None:
        self._address_of = address_of
        self._credentials = credentials
        self._ssl = ssl
        self._conns: dict[int, NativeConnection] = {}

    async def get(self, node_id: int) -> NativeConnection:
        conn = self._conns.get(node_id)
        address = self._address_of(node_id)
        if address is None:
            raise ConnectionError(f"no address known for node {node_id}")
        if conn is None or conn.closed or conn.address != address:
            if conn is not None:
                await conn.close()
            conn = self._conns[node_id] = await NativeConnection.open(
                address, connect_timeout=3.0, credentials=self._credentials, ssl=self._ssl
            )
        return conn

    async def request(self, node_id: int, op: str, args: dict[str, Any], timeout: float = 10.0) -> Any:
        conn = await self.get(node_id)
        try:
            return await conn.request(op, args, timeout=timeout)
        except ConnectionError:
            self._conns.pop(node_id, None)
            raise

    async def close(self) -> None:
        conns, self._conns = list(self._conns.values()), {}
        for conn in conns:
            await conn.close()
