"""The consumer: read assigned partitions from their leaders, from any offset.

The consumer keeps one long-polling fetch in flight per leader node,
covering every assigned partition that node leads, and buffers what comes
back (prefetching while the application processes the previous records).
Only records below the high watermark are ever returned: committed to the
ISR, they can't disappear on a leader change.

``auto_offset_reset`` decides where a partition without a position starts
(``earliest``, ``latest``, or ``none`` to raise), and where it restarts when
its position falls out of the log (retention deleted it).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any

from client.records import ConsumerRecord, TopicPartition, decode_fetched
from client.routing import ClusterClient
from cluster import limits
from cluster.errors import ErrorCode, KeystreamError

log = logging.getLogger(__name__)

EARLIEST = -2
LATEST = -1


class Consumer:
    def __init__(
        self,
        cluster: ClusterClient,
        *,
        auto_offset_reset: str = "earliest",
        fetch_max_wait_ms: int = 500,
        fetch_min_bytes: int = 1,
        fetch_max_bytes: int = 32 * limits.MIB,
        max_partition_fetch_bytes: int = 4 * limits.MIB,
        max_buffered_bytes: int = 64 * limits.MIB,
    ) -> None:
        if auto_offset_reset not in ("earliest", "latest", "none"):
            raise ValueError("auto_offset_reset must be earliest, latest or none")
        self.cluster = cluster
        self.auto_offset_reset = auto_offset_reset
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self.fetch_min_bytes = fetch_min_bytes
        self.fetch_max_bytes = fetch_max_bytes
        self.max_partition_fetch_bytes = max_partition_fetch_bytes
        self.max_buffered_bytes = max_buffered_bytes
        self._positions: dict[TopicPartition, int | None] = {}
        self._paused: set[TopicPartition] = set()
        self._buffer: collections.deque[tuple[TopicPartition, list[ConsumerRecord], int]] = collections.deque()
        self._buffered_bytes = 0
        self._buffered_parts: collections.Counter[TopicPartition] = collections.Counter()
        self._generation = 0  # bumped by seeks/assignments: responses for older ones are dropped
        self._changed = asyncio.Event()
        self._data = asyncio.Event()
        self._fetches: dict[int, asyncio.Task[None]] = {}
        self._loop_task: asyncio.Task[None] | None = None
        self._refreshing: asyncio.Future[None] | None = None
        self._error: Exception | None = None
        self._closed = False
        self.high_watermarks: dict[TopicPartition, int] = {}

    # --- assignment and positions -------------------------------------------------------------------
    def assign(self, partitions: Iterable[TopicPartition | tuple[str, int]]) -> None:
        new = [TopicPartition(*tp) for tp in partitions]
        self._positions = {tp: self._positions.get(tp) for tp in new}
        self._paused &= set(new)
        self._drop_buffered(lambda tp: tp not in self._positions)
        self._touch()

    async def assign_topic(self, topic: str) -> list[TopicPartition]:
        """Assign every partition of ``topic``."""
        parts = await self.cluster.partitions_for(topic)
        tps = [TopicPartition(topic, p["partition"]) for p in parts]
        self.assign(list(self._positions) + [tp for tp in tps if tp not in self._positions])
        return tps

    def assignment(self) -> set[TopicPartition]:
        return set(self._positions)

    def seek(self, tp: TopicPartition | tuple[str, int], offset: int) -> None:
        tp = TopicPartition(*tp)
        if tp not in self._positions:
            raise KeystreamError(ErrorCode.INVALID_REQUEST, f"{tp.topic}-{tp.partition} is not assigned")
        if offset < 0:
            raise KeystreamError(ErrorCode.OFFSET_OUT_OF_RANGE, f"offset must be >= 0, got {offset}")
        self._positions[tp] = offset
        self._drop_buffered(lambda t: t == tp)
        self._touch()

    async def seek_to_beginning(self, *tps: TopicPartition) -> None:
        await self._seek_to(tps or tuple(self._positions), EARLIEST)

    async def seek_to_end(self, *tps: TopicPartition) -> None:
        await self._seek_to(tps or tuple(self._positions), LATEST)

    async def seek_to_timestamp(self, timestamp_ms: int, *tps: TopicPartition) -> None:
        await self._seek_to(tps or tuple(self._positions), timestamp_ms)

    async def _seek_to(self, tps: Iterable[TopicPartition], spec: int) -> None:
        offsets = await list_offsets(self.cluster, [(tp, spec) for tp in tps])
        for tp, offset in offsets.items():
            if offset < 0:  # no record at or after that timestamp: go to the end
                offset = (await list_offsets(self.cluster, [(tp, LATEST)]))[tp]
            self.seek(tp, offset)

    def position(self, tp: TopicPartition | tuple[str, int]) -> int | None:
        return self._positions.get(TopicPartition(*tp))

    def pause(self, *tps: TopicPartition) -> None:
        self._paused.update(TopicPartition(*tp) for tp in tps)
        self._drop_buffered(lambda t: t in self._paused)
        self._touch()

    def resume(self, *tps: TopicPartition) -> None:
        self._paused.difference_update(TopicPartition(*tp) for tp in tps)
        self._touch()

    def paused(self) -> set[TopicPartition]:
        return set(self._paused)

    def _touch(self) -> None:
        self._generation += 1
        self._changed.set()

    def _drop_buffered(self, predicate: Any) -> None:
        kept: collections.deque[tuple[TopicPartition, list[ConsumerRecord], int]] = collections.deque()
        for item in self._buffer:
            if predicate(item[0]):
                self._buffered_bytes -= item[2]
                self._buffered_parts[item[0]] -= 1
            else:
                kept.append(item)
        self._buffer = kept

    # --- reading ---------------------------------------------------------------------------------------
    async def getmany(
        self, timeout_ms: float = 1000, max_records: int | None = None
    ) -> dict[TopicPartition, list[ConsumerRecord]]:
        """Records from the buffer (waiting up to ``timeout_ms`` for some), grouped by partition."""
        self._ensure_running()
        deadline = time.monotonic() + timeout_ms / 1000
        while not self._buffer:
            if self._error is not None:
                error, self._error = self._error, None
                raise error
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return {}
            self._data.clear()
            # asyncio.timeout, not wait_for: in 3.11 wait_for can swallow a cancellation
            # that races with the event being set, and the caller's task never stops
            try:
                async with asyncio.timeout(remaining):
                    await self._data.wait()
            except TimeoutError:
                return {}
        out: dict[TopicPartition, list[ConsumerRecord]] = {}
        count = 0
        while self._buffer and (max_records is None or count < max_records):
            tp, records, size = self._buffer[0]
            if max_records is not None and count + len(records) > max_records:
                take = max_records - count
                out.setdefault(tp, []).extend(records[:take])
                self._buffer[0] = (tp, records[take:], size)
                count += take
                break
            self._buffer.popleft()
            self._buffered_bytes -= size
            self._buffered_parts[tp] -= 1
            out.setdefault(tp, []).extend(records)
            count += len(records)
        self._changed.set()
        return out

    async def getone(self, timeout_ms: float | None = None) -> ConsumerRecord:
        while True:
            batch = await self.getmany(timeout_ms=timeout_ms if timeout_ms is not None else 3_600_000, max_records=1)
            for records in batch.values():
                return records[0]
            if timeout_ms is not None:
                raise TimeoutError(f"no record within {timeout_ms} ms")

    def __aiter__(self) -> AsyncIterator[ConsumerRecord]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[ConsumerRecord]:
        while not self._closed:
            for records in (await self.getmany(timeout_ms=1000)).values():
                for record in records:
                    yield record

    async def close(self) -> None:
        self._closed = True
        tasks = list(self._fetches.values()) + ([self._loop_task] if self._loop_task else [])
        for task in tasks:
            task.cancel()
        for task in tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass

    async def __aenter__(self) -> Consumer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- fetching ---------------------------------------------------------------------------------------
    def _ensure_running(self) -> None:
        if self._loop_task is None and not self._closed:
            self._loop_task = asyncio.create_task(self._fetch_loop(), name="consumer-fetch")

    async def _fetch_loop(self) -> None:
        backoff = 0.05
        while not self._closed:
            self._changed.clear()
            try:
                await self._resolve_positions()
                self._launch_fetches()
                backoff = 0.05
            except (ConnectionError, OSError, KeystreamError) as exc:
                if isinstance(exc, KeystreamError) and not exc.code.retriable:
                    self._error = exc
                    self._data.set()
                log.debug("consumer: %s", exc)
                try:
                    await self.cluster.refresh(reason=str(exc))
                except (ConnectionError, OSError):
                    pass
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 1.0)
                continue
            try:
                async with asyncio.timeout(1.0):
                    await self._changed.wait()
            except TimeoutError:
                pass

    async def _resolve_positions(self) -> None:
        missing = [tp for tp, pos in self._positions.items() if pos is None and tp not in self._paused]
        if not missing:
            return
        if self.auto_offset_reset == "none":
            raise KeystreamError(
                ErrorCode.OFFSET_OUT_OF_RANGE, f"no position for {missing[0]} and auto_offset_reset=none"
            )
        spec = EARLIEST if self.auto_offset_reset == "earliest" else LATEST
        offsets = await list_offsets(self.cluster, [(tp, spec) for tp in missing])
        for tp, offset in offsets.items():
            if tp in self._positions and self._positions[tp] is None:
                self._positions[tp] = offset

    def _launch_fetches(self) -> None:
        if self._buffered_bytes >= self.max_buffered_bytes:
            return
        by_node: dict[int, list[tuple[TopicPartition, int, int]]] = {}
        for tp, pos in self._positions.items():
            if pos is None or tp in self._paused or self._buffered_parts[tp] > 0:
                continue
            try:
                leader, epoch = self.cluster.leader(tp.topic, tp.partition)
            except KeystreamError:
                self._schedule_refresh()
                continue
            by_node.setdefault(leader, []).append((tp, pos, epoch))
        for node_id, parts in by_node.items():
            running = self._fetches.get(node_id)
            if running is not None and not running.done():
                continue
            self._fetches[node_id] = asyncio.create_task(self._fetch(node_id, parts, self._generation))

    def _schedule_refresh(self) -> None:
        if self._loop_task is not None and (self._refreshing is None or self._refreshing.done()):
            self._refreshing = asyncio.ensure_future(self._refresh_quietly())

    async def _refresh_quietly(self) -> None:
        try:
            await self.cluster.refresh(reason="consumer")
        except (ConnectionError, OSError):
            pass
        self._changed.set()

    async def _fetch(self, node_id: int, parts: list[tuple[TopicPartition, int, int]], generation: int) -> None:
        try:
            conn = await self.cluster.connection(node_id)
            reply = await conn.request(
                "fetch",
                {
                    "max_wait_ms": self.fetch_max_wait_ms,
                    "min_bytes": self.fetch_min_bytes,
                    "max_bytes": self.fetch_max_bytes,
                    "partitions": [
                        [tp.topic, tp.partition, pos, epoch, self.max_partition_fetch_bytes] for tp, pos, epoch in parts
                    ],
                },
                timeout=self.fetch_max_wait_ms / 1000 + 30,
            )
        except (ConnectionError, OSError, KeystreamError) as exc:
            log.debug("consumer fetch from node %d failed: %s", node_id, exc)
            self.cluster.drop_connection(node_id) if isinstance(exc, ConnectionError | OSError) else None
            await self._refresh_quietly()
            await asyncio.sleep(0.05)
            self._changed.set()
            return
        got_data = False
        asked = {tp: pos for tp, pos, _ in parts}
        for entry in reply["partitions"]:
            topic, partition, code, hw, log_start, data = entry[:6]
            tp = TopicPartition(topic, partition)
            if tp not in asked or self._positions.get(tp) != asked[tp] or generation != self._generation:
                continue  # a seek or reassignment happened while this fetch was out
            if code:
                self._on_fetch_error(tp, ErrorCode(code), log_start, hw, entry)
                continue
            self.high_watermarks[tp] = hw
            if not data:
                continue
            try:
                records = decode_fetched(data, topic, partition, asked[tp])
            except KeystreamError as exc:
                self._error = exc
                self._data.set()
                continue
            if records:
                self._positions[tp] = records[-1].offset + 1
                self._buffer.append((tp, records, len(data)))
                self._buffered_bytes += len(data)
                self._buffered_parts[tp] += 1
                got_data = True
        if got_data:
            self._data.set()
        self._changed.set()

    def _on_fetch_error(self, tp: TopicPartition, code: ErrorCode, log_start: int, hw: int, entry: list[Any]) -> None:
        if code == ErrorCode.OFFSET_OUT_OF_RANGE:
            if self.auto_offset_reset == "none":
                self._error = KeystreamError(code, entry[6] if len(entry) > 6 else "offset out of range")
                self._data.set()
                return
            position = self._positions.get(tp)
            if self.auto_offset_reset == "earliest" or (
                position is not None and log_start >= 0 and position < log_start
            ):
                self._positions[tp] = None if log_start < 0 else log_start
            else:
                self._positions[tp] = None if hw < 0 else hw
            log.info("%s-%d: position out of range; reset to %s", tp.topic, tp.partition, self._positions[tp])
        elif code.refresh_metadata or code.retriable:
            self._schedule_refresh()
        else:
            self._error = KeystreamError(code, entry[6] if len(entry) > 6 else code.name)
            self._data.set()


async def list_offsets(
    cluster: ClusterClient, requests: list[tuple[TopicPartition, int]], attempts: int = 5
) -> dict[TopicPartition, int]:
    """Offsets from partition leaders: spec -2 earliest, -1 latest (the HW), else a timestamp."""
    out: dict[TopicPartition, int] = {}
    pending = list(requests)
    for attempt in range(attempts):
        by_node: dict[int, list[tuple[TopicPartition, int]]] = {}
        for tp, spec in pending:
            await cluster.partitions_for(tp.topic)
            leader, _ = cluster.leader(tp.topic, tp.partition)
            by_node.setdefault(leader, []).append((tp, spec))
        retry: list[tuple[TopicPartition, int]] = []
        for node_id, items in by_node.items():
            try:
                conn = await cluster.connection(node_id)
                reply = await conn.request(
                    "list_offsets", {"partitions": [[tp.topic, tp.partition, spec] for tp, spec in items]}
                )
            except (ConnectionError, OSError):
                cluster.drop_connection(node_id)
                retry.extend(items)
                continue
            for (tp, spec), entry in zip(items, reply["partitions"], strict=True):
                code = entry[2]
                if code == 0:
                    out[tp] = entry[3]
                elif ErrorCode(code).retriable:
                    retry.append((tp, spec))
                else:
                    raise KeystreamError(ErrorCode(code), entry[4] if len(entry) > 4 else "list_offsets failed")
        if not retry:
            return out
        pending = retry
        await cluster.refresh(reason="list_offsets")
        await asyncio.sleep(0.1 * (attempt + 1))
    raise KeystreamError(ErrorCode.NOT_LEADER, f"no leader answered list_offsets for {pending[0][0]}")
