"""The SDK's view of the cluster: the map, connections to nodes, and refreshing both.

Every producer, consumer, admin and key-value client shares one
``ClusterClient``. It fetches the cluster map from any bootstrap node and
routes by it. When a request comes back ``NOT_LEADER``/``FENCED_LEADER_EPOCH``/
``MOVED`` or a connection drops, callers ask for a refresh: refreshes are
single-flight (concurrent callers share one) and jittered, so a node's death
does not turn every client into a metadata storm. Connections are pooled per
node address and dropped when a node leaves the map or its address changes.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl as ssl_module
import time
from collections.abc import Sequence
from typing import Any

from client.connection import NativeConnection
from cluster.errors import ErrorCode, KeystreamError

log = logging.getLogger(__name__)


class ClusterClient:
    def __init__(
        self,
        bootstrap: str | Sequence[str],
        *,
        request_timeout: float = 30.0,
        connect_timeout: float = 5.0,
        ssl: ssl_module.SSLContext | None = None,
        refresh_jitter_s: float = 0.05,
        credentials: dict[str, Any] | None = None,
        min_refresh_interval_s: float = 0.05,
        rng: random.Random | None = None,
    ) -> None:
        if isinstance(bootstrap, str):
            bootstrap = [a.strip() for a in bootstrap.split(",") if a.strip()]
        if not bootstrap:
            raise ValueError("at least one bootstrap address (HOST:PORT) is required")
        self.bootstrap = list(bootstrap)
        self.request_timeout = request_timeout
        self.connect_timeout = connect_timeout
        self.ssl = ssl
        self.credentials = credentials
        self._jitter = refresh_jitter_s
        self._min_interval = min_refresh_interval_s
        self._rng = rng or random.Random()
        self.map: dict[str, Any] = {}
        self._conns: dict[str, NativeConnection] = {}
        self._connecting: dict[str, asyncio.Future[NativeConnection]] = {}
        self._refresh: asyncio.Task[None] | None = None
        self._last_refresh = 0.0
        self._closed = False

    # --- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> ClusterClient:
        await self.refresh()
        return self

    async def close(self) -> None:
        self._closed = True
        if self._refresh is not None and not self._refresh.done():
            self._refresh.cancel()
        conns, self._conns = list(self._conns.values()), {}
        for conn in conns:
            await conn.close()

    async def __aenter__(self) -> ClusterClient:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- the map --------------------------------------------------------------------------------
    @property
    def map_epoch(self) -> int:
        return int(self.map.get("map_epoch", -1))

    async def refresh(self, *, reason: str = "") -> None:
        """Fetch a newer map; concurrent callers share one fetch."""
        if self._refresh is not None and not self._refresh.done():
            await asyncio.shield(self._refresh)
            return
        self._refresh = asyncio.create_task(self._do_refresh(reason))
        await asyncio.shield(self._refresh)

    async def _do_refresh(self, reason: str) -> None:
        wait = self._min_interval - (time.monotonic() - self._last_refresh)
        if self.map and (wait > 0 or self._jitter > 0):
            await asyncio.sleep(max(wait, 0) + self._rng.uniform(0, self._jitter))
        candidates = self._live_first()
        candidates += [a for a in self.bootstrap if a not in candidates]
        errors: list[str] = []
        for address in candidates:
            try:
                conn = await self._connect(address)
                new = await conn.request("metadata", {}, timeout=min(self.request_timeout, 10.0))
            except (ConnectionError, OSError, KeystreamError) as exc:
                errors.append(f"{address}: {exc}")
                continue
            if new.get("map_epoch", -1) >= self.map_epoch or not self.map:
                self._install(new)
            self._last_refresh = time.monotonic()
            if reason:
                log.debug("refreshed the cluster map (%s): epoch %s", reason, self.map_epoch)
            return
        raise ConnectionError("no node answered for the cluster map: " + "; ".join(errors[:5]))

    def _install(self, new: dict[str, Any]) -> None:
        self.map = new
        wanted = set(self._node_addresses())
        for address in list(self._conns):
            if address not in wanted and address not in self.bootstrap:
                self._conns.pop(address).abort()

    def _node_addresses(self) -> list[str]:
        return [n["native"] for n in self.map.get("nodes", {}).values() if n.get("native")]

    def node_address(self, node_id: int, service: str = "native") -> str:
        node = self.map.get("nodes", {}).get(str(node_id))
        if node is None or not node.get(service):
            raise KeystreamError(ErrorCode.NOT_LEADER, f"node {node_id} is not in the cluster map")
        return str(node[service])

    def topic_partitions(self, topic: str) -> list[dict[str, Any]]:
        parts = self.map.get("partitions", {}).get(topic)
        if parts is None:
            raise KeystreamError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, f"topic {topic!r} is not in the cluster map")
        return list(parts)

    def partition_count(self, topic: str) -> int:
        """Partitions of ``topic`` in the current map (0 if unknown): the producer's hot path."""
        parts = self.map.get("partitions", {}).get(topic)
        return len(parts) if parts else 0

    async def partitions_for(self, topic: str) -> list[dict[str, Any]]:
        """The topic's partitions, refreshing the map once if the topic is unknown."""
        try:
            return self.topic_partitions(topic)
        except KeystreamError:
            await self.refresh(reason=f"unknown topic {topic}")
            return self.topic_partitions(topic)

    def leader(self, topic: str, partition: int) -> tuple[int, int]:
        parts = self.topic_partitions(topic)
        if not 0 <= partition < len(parts):
            raise KeystreamError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, f"{topic}-{partition} does not exist")
        p = parts[partition]
        if p["leader"] < 0:
            raise KeystreamError(ErrorCode.NOT_LEADER, f"{topic}-{partition} has no leader right now")
        return int(p["leader"]), int(p["leader_epoch"])

    # --- connections ------------------------------------------------------------------------------
    async def _connect(self, address: str) -> NativeConnection:
        conn = self._conns.get(address)
        if conn is not None and not conn.closed:
            return conn
        pending = self._connecting.get(address)
        if pending is not None:
            return await asyncio.shield(pending)
        fut: asyncio.Future[NativeConnection] = asyncio.get_running_loop().create_future()
        self._connecting[address] = fut
        try:
            conn = await NativeConnection.open(
                address, connect_timeout=self.connect_timeout, ssl=self.ssl, credentials=self.credentials
            )
            self._conns[address] = conn
            fut.set_result(conn)
            return conn
        except BaseException as exc:
            fut.set_exception(exc)
            fut.exception()  # mark retrieved
            raise
        finally:
            del self._connecting[address]

    async def connection(self, node_id: int) -> NativeConnection:
        return await self._connect(self.node_address(node_id))

    def _live_first(self) -> list[str]:
        """The map's node addresses: live nodes in random order, then fenced ones (a frozen
        node is fenced and would only time out)."""
        live: list[str] = []
        fenced: list[str] = []
        for node in self.map.get("nodes", {}).values():
            if node.get("native"):
                (fenced if node.get("fenced") else live).append(str(node["native"]))
        return self._rng.sample(live, len(live)) + self._rng.sample(fenced, len(fenced))

    async def any_connection(self, avoid: frozenset[str] | set[str] = frozenset()) -> NativeConnection:
        """A connection to some node: live ones first, then fenced ones, then those in
        ``avoid`` (they just failed us)."""
        ordered = self._live_first() or self._rng.sample(self.bootstrap, len(self.bootstrap))
        ordered = [a for a in ordered if a not in avoid] + [a for a in ordered if a in avoid]
        errors = []
        for address in ordered:
            try:
                return await self._connect(address)
            except ConnectionError as exc:
                errors.append(str(exc))
        raise ConnectionError("no node reachable: " + "; ".join(errors[:5]))

    # Requests any node answers and that do the same thing if sent twice (or, for
    # init_producer_id, no harm: an unused producer id): retried on another node after a
    # timeout, which is how a frozen node (paused, its sockets open) looks to a client.
    _RETRY_ON_TIMEOUT = frozenset({"init_producer_id", "metadata", "list_topics", "describe_topics", "cluster_status",
                                   "find_coordinator", "list_offsets", "describe_groups"})  # fmt: skip

    async def request_any(self, op: str, args: dict[str, Any] | None = None, timeout: float | None = None) -> Any:
        """An admin request that any node can answer; retried on another node if one is down."""
        last: Exception | None = None
        failed: set[str] = set()
        for _ in range(3):
            conn = None
            try:
                conn = await self.any_connection(failed)
                return await conn.request(op, args or {}, timeout=timeout or self.request_timeout)
            except ConnectionError as exc:
                last = exc
                if conn is not None:
                    failed.add(conn.address)
                await self.refresh(reason="connection lost")
            except KeystreamError as exc:
                if exc.code == ErrorCode.REQUEST_TIMED_OUT and op in self._RETRY_ON_TIMEOUT and conn is not None:
                    failed.add(conn.address)
                elif exc.code not in (ErrorCode.NOT_CONTROLLER, ErrorCode.CLUSTER_NOT_READY):
                    raise
                else:
                    await asyncio.sleep(0.2)
                last = exc
        assert last is not None
        raise last

    def drop_connection(self, node_id: int) -> None:
        try:
            address = self.node_address(node_id)
        except KeystreamError:
            return
        conn = self._conns.pop(address, None)
        if conn is not None:
            conn.abort()
