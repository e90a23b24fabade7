"""Push delivery for consumers: committed records arrive as soon as they are committed.

Instead of long-polling fetches, a ``PushConsumer`` subscribes its partitions
on their leaders and receives batches the moment the high watermark passes
them. Flow control is by credit: the consumer grants ``window_bytes`` up
front and grants again only what the application has taken, so a slow
consumer stalls its own stream instead of growing the leader's (or its own)
memory. When a partition's leader changes, the consumer re-subscribes on the
new leader from its position.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
from collections.abc import AsyncIterator, Iterable
from functools import partial
from typing import Any

from client.connection import NativeConnection
from client.consumer import EARLIEST, LATEST, list_offsets
from client.records import ConsumerRecord, TopicPartition, decode_fetched
from client.routing import ClusterClient
from cluster import limits
from cluster.errors import ErrorCode, KeystreamError

log = logging.getLogger(__name__)

_sub_ids = itertools.count(1)


class PushConsumer:
    def __init__(
        self, cluster: ClusterClient, *, window_bytes: int = 4 * limits.MIB, auto_offset_reset: str = "latest"
    ) -> None:
        self.cluster = cluster
        self.window_bytes = window_bytes
        self.auto_offset_reset = auto_offset_reset
        self._positions: dict[TopicPartition, int] = {}
        self._queue: collections.deque[tuple[TopicPartition, list[ConsumerRecord], int, int]] = collections.deque()
        self._data = asyncio.Event()
        self._subs: dict[int, tuple[NativeConnection, int, list[TopicPartition]]] = {}  # node -> (conn, id, tps)
        self._resubscribe = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.error: Exception | None = None
        self._needs_refresh = False

    async def subscribe(
        self, partitions: Iterable[TopicPartition | tuple[str, int]], offsets: dict[TopicPartition, int] | None = None
    ) -> None:
        tps = [TopicPartition(*tp) for tp in partitions]
        offsets = dict(offsets or {})
        missing = [tp for tp in tps if tp not in offsets]
        if missing:
            spec = EARLIEST if self.auto_offset_reset == "earliest" else LATEST
            offsets.update(await list_offsets(self.cluster, [(tp, spec) for tp in missing]))
        self._positions.update({tp: offsets[tp] for tp in tps})
        if self._task is None:
            self._task = asyncio.create_task(self._maintain(), name="push-consumer")
        self._resubscribe.set()

    def position(self, tp: TopicPartition) -> int | None:
        return self._positions.get(tp)

    async def _maintain(self) -> None:
        """Keep one subscription per leader node covering the partitions it leads."""
        while not self._closed:
            self._resubscribe.clear()
            try:
                if self._needs_refresh:
                    self._needs_refresh = False
                    await self.cluster.refresh(reason="push leadership moved")
                await self._subscribe_all()
            except (ConnectionError, OSError, KeystreamError) as exc:
                log.debug("push subscribe failed: %s", exc)
                try:
                    await self.cluster.refresh(reason="push subscribe")
                except (ConnectionError, OSError):
                    pass
                await asyncio.sleep(0.1)
                continue
            try:
                async with asyncio.timeout(5.0):
                    await self._resubscribe.wait()
            except TimeoutError:
                pass

    async def _subscribe_all(self) -> None:
        by_node: dict[int, list[TopicPartition]] = {}
        for tp in self._positions:
            await self.cluster.partitions_for(tp.topic)
            leader, _ = self.cluster.leader(tp.topic, tp.partition)
            by_node.setdefault(leader, []).append(tp)
        for node, (conn, sub_id, tps) in list(self._subs.items()):
            if node not in by_node or sorted(tps) != sorted(by_node[node]) or conn.closed:
                del self._subs[node]
                conn.push_handlers.pop(sub_id, None)
                if not conn.closed:
                    try:
                        await conn.request("push_unsubscribe", {"subscription": sub_id}, timeout=5)
                    except (ConnectionError, KeystreamError):
                        pass
        for node, tps in by_node.items():
            if node in self._subs:
                continue
            conn = await self.cluster.connection(node)
            sub_id = next(_sub_ids)
            conn.push_handlers[sub_id] = partial(self._on_push, node)
            await conn.request(
                "push_subscribe",
                {
                    "subscription": sub_id,
                    "partitions": [[tp.topic, tp.partition, self._positions[tp]] for tp in tps],
                    "credit": self.window_bytes,
                },
                timeout=10,
            )
            self._subs[node] = (conn, sub_id, tps)

    def _on_push(self, node: int, code: int, payload: Any) -> None:
        if code:
            detail = payload.get("detail") if isinstance(payload, dict) else None
            log.debug("push from node %d: %s %s", node, ErrorCode(code).name, payload)
            self._subs.pop(node, None)
            if code == ErrorCode.OFFSET_OUT_OF_RANGE and isinstance(detail, dict):
                self.error = KeystreamError(ErrorCode(code), str(payload.get("message")))
                self._data.set()
            self._needs_refresh = True
            self._resubscribe.set()
            return
        tp = TopicPartition(payload["topic"], payload["partition"])
        if self._positions.get(tp) != payload["position"]:
            return  # a stale push from before a re-subscription
        records = decode_fetched(payload["records"], tp.topic, tp.partition, payload["position"])
        if records:
            self._positions[tp] = records[-1].offset + 1
        self._queue.append((tp, records, len(payload["records"]), node))
        self._data.set()

    async def getmany(self, timeout_ms: float = 1000) -> dict[TopicPartition, list[ConsumerRecord]]:
        if not self._queue:
            self._data.clear()
            try:
                async with asyncio.timeout(timeout_ms / 1000):
                    await self._data.wait()
            except TimeoutError:
                return {}
        if self.error is not None:
            error, self.error = self.error, None
            raise error
        out: dict[TopicPartition, list[ConsumerRecord]] = {}
        granted: collections.Counter[int] = collections.Counter()
        while self._queue:
            tp, records, size, node = self._queue.popleft()
            out.setdefault(tp, []).extend(records)
            granted[node] += size
        for node, size in granted.items():  # hand the credit back now that the app has the records
            sub = self._subs.get(node)
            if sub is not None and not sub[0].closed:
                try:
                    sub[0].send("push_credit", {"subscription": sub[1], "bytes": size}).add_done_callback(_quiet)
                except ConnectionError:
                    self._resubscribe.set()
        return out

    def __aiter__(self) -> AsyncIterator[ConsumerRecord]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[ConsumerRecord]:
        while not self._closed:
            for records in (await self.getmany()).values():
                for record in records:
                    yield record

    async def close(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        for conn, sub_id, _ in self._subs.values():
            conn.push_handlers.pop(sub_id, None)
            if not conn.closed:
                try:
                    await conn.request("push_unsubscribe", {"subscription": sub_id}, timeout=5)
                except (ConnectionError, KeystreamError):
                    pass
        self._subs.clear()


def _quiet(fut: asyncio.Future[Any]) -> None:
    if not fut.cancelled():
        fut.exception()
