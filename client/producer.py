"""The producer: batching per partition, routing to leaders, retries within a delivery timeout.

``send()`` puts a record into its partition's open batch and returns a
future for its metadata. A batch is sealed when it reaches ``batch_size``
bytes, or, once it has waited ``linger_ms``, as soon as its partition has
nothing in flight (so batches grow while the previous one is being
replicated, as in Kafka's accumulator). The sender puts every sealed batch
whose leader is the same node into one request (up to ``max_in_flight``
requests per node at a time). A partition never has more than one batch in
flight, so records of a partition are written in the order they were sent,
across retries too.

Keyed records go to ``murmur2(key) % partitions`` (Kafka's default
partitioner); unkeyed records stick to one partition until its batch is
sealed (KIP-480). Retriable errors (leader moved, not enough replicas,
timeouts, lost connections) refresh the map and retry with backoff until
``delivery_timeout_ms``; others fail the records' futures at once.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import random
import time
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from client.routing import ClusterClient
from cluster import limits
from cluster.errors import ErrorCode, KeystreamError
from cluster.partitioner import DefaultPartitioner
from node.storage.batch import Compression, build_batch

log = logging.getLogger(__name__)

Headers = Iterable[tuple[str, bytes]] | None
_RECORD_OVERHEAD = 24  # bytes a record adds to a batch besides key and value (estimate)


class RecordMetadata(NamedTuple):
    topic: str
    partition: int
    offset: int
    timestamp: int


@dataclass
class ProducerConfig:
    acks: int | str = "all"
    linger_ms: float = 5.0
    batch_size: int = 512 * 1024
    max_in_flight: int = 5
    compression: str | None = None  # None, "lz4" or "zstd"
    delivery_timeout_ms: int = 120_000
    request_timeout_ms: int = 30_000
    retry_backoff_ms: int = 100
    retry_backoff_max_ms: int = 1000
    max_request_size: int = limits.DEFAULT_MAX_MESSAGE_BYTES
    buffer_memory: int = 64 * limits.MIB
    max_block_ms: int = 60_000
    enable_idempotence: bool = True

    def acks_code(self) -> int:
        if self.acks in ("all", -1, "-1"):
            return -1
        if self.acks in (0, "0"):
            return 0
        if self.acks in (1, "1"):
            return 1
        raise ValueError(f"acks must be 0, 1 or all, got {self.acks!r}")


class RecordFuture:
    """The outcome of one sent record: awaitable, with ``done``/``result``/``exception``.

    One asyncio future per *batch* carries the outcome; each record's future is
    this light view of it, so sending a record does not cost a future and a
    callback of its own."""

    __slots__ = ("_batch", "_index", "_partition", "_timestamp", "_topic")

    def __init__(
        self, batch: asyncio.Future[tuple[int, int]], index: int, topic: str, partition: int, timestamp: int | None
    ) -> None:
        self._batch = batch
        self._index = index
        self._topic = topic
        self._partition = partition
        self._timestamp = timestamp

    def done(self) -> bool:
        return self._batch.done()

    def result(self) -> RecordMetadata:
        base, append_ms = self._batch.result()
        offset = base + self._index if base >= 0 else -1
        return RecordMetadata(self._topic, self._partition, offset, self._timestamp or append_ms)

    def exception(self) -> BaseException | None:
        return self._batch.exception()

    def add_done_callback(self, fn: Callable[[RecordFuture], object]) -> None:
        self._batch.add_done_callback(lambda _f: fn(self))

    def __await__(self) -> Generator[Any, None, RecordMetadata]:
        yield from self._batch.__await__()
        return self.result()


class _Batch:
    __slots__ = ("attempts", "created", "data", "deadline", "future", "partition", "records", "size", "topic")

    def __init__(self, topic: str, partition: int, deadline: float) -> None:
        self.topic = topic
        self.partition = partition
        self.records: list[tuple[bytes | None, bytes | None, Any, int | None]] = []
        self.future: asyncio.Future[tuple[int, int]] = asyncio.get_running_loop().create_future()
        self.size = 61
        self.created = time.monotonic()
        self.deadline = deadline
        self.data: bytes | None = None
        self.attempts = 0


class _PartitionQueue:
    __slots__ = ("in_flight", "open", "sealed")

    def __init__(self) -> None:
        self.open: _Batch | None = None
        self.sealed: collections.deque[_Batch] = collections.deque()
        self.in_flight = False


class Producer:
    def __init__(self, cluster: ClusterClient, config: ProducerConfig | None = None, **overrides: Any) -> None:
        self.cluster = cluster
        self.config = config or ProducerConfig(**overrides)
        if config is not None and overrides:
            for key, value in overrides.items():
                setattr(self.config, key, value)
        self._acks = self.config.acks_code()
        self._compression = Compression.parse(self.config.compression) if self.config.compression else Compression.NONE
        self._queues: dict[tuple[str, int], _PartitionQueue] = {}
        self._partitioner = DefaultPartitioner(random.Random())
        self._wakeup = asyncio.Event()
        self._space = asyncio.Event()
        self._space.set()
        self._buffered = 0
        self._in_flight_per_node: collections.Counter[int] = collections.Counter()
        self._sender: asyncio.Task[None] | None = None
        self._requests: set[asyncio.Task[None]] = set()
        self._closed = False
        self._flush_waiters: list[asyncio.Future[None]] = []
        self._flushing = 0
        self.stats = collections.Counter[str]()
        self.producer_id = -1
        self.producer_epoch = -1
        self._sequences: dict[tuple[str, int], int] = {}
        self._init_lock = asyncio.Lock()
        self._needs_new_id = False

    async def start(self) -> Producer:
        if self.config.enable_idempotence and self.producer_id < 0:
            async with self._init_lock:
                if self.producer_id < 0:
                    reply = await self.cluster.request_any("init_producer_id", {})
                    self.producer_id = int(reply["producer_id"])
                    self.producer_epoch = int(reply["producer_epoch"])
        if self._sender is None:
            self._sender = asyncio.create_task(self._send_loop(), name="producer-sender")
        return self

    async def __aenter__(self) -> Producer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- sending -----------------------------------------------------------------------------------
    async def send(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | None = None,
        *,
        partition: int | None = None,
        headers: Headers = None,
        timestamp_ms: int | None = None,
    ) -> RecordFuture:
        """Queue one record; the returned future resolves once it is acknowledged."""
        if self._closed:
            raise KeystreamError(ErrorCode.INVALID_REQUEST, "the producer is closed")
        if self._sender is None or (self.config.enable_idempotence and self.producer_id < 0):
            await self.start()
        if value is not None and not isinstance(value, bytes | bytearray | memoryview):
            raise TypeError(f"value must be bytes or None, got {type(value).__name__}")
        if key is not None and not isinstance(key, bytes | bytearray | memoryview):
            raise TypeError(f"key must be bytes or None, got {type(key).__name__}")
        size = _RECORD_OVERHEAD + (len(key) if key else 0) + (len(value) if value else 0)
        if size + 61 > self.config.max_request_size:
            raise KeystreamError(
                ErrorCode.MESSAGE_TOO_LARGE,
                f"record of ~{size} bytes exceeds max_request_size={self.config.max_request_size}",
            )
        if self._buffered + size > self.config.buffer_memory:
            await self._wait_for_space(size)
        count = self.cluster.partition_count(topic) or len(await self.cluster.partitions_for(topic))
        if partition is None:
            partition = self._partitioner.partition(topic, bytes(key) if key is not None else None, count)
        elif not 0 <= partition < count:
            raise KeystreamError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, f"{topic} has no partition {partition}")
        queue = self._queues.get((topic, partition))
        if queue is None:
            queue = self._queues[(topic, partition)] = _PartitionQueue()
        batch = queue.open
        if batch is not None and batch.size + size > self.config.batch_size:
            self._seal(queue, count)
            batch = None
        if batch is None:
            batch = queue.open = _Batch(topic, partition, time.monotonic() + self.config.delivery_timeout_ms / 1000)
            self._wakeup.set()
        fut = RecordFuture(batch.future, len(batch.records), topic, partition, timestamp_ms)
        batch.records.append((key, value, list(headers) if headers else None, timestamp_ms))
        batch.size += size
        self._buffered += size
        if batch.size >= self.config.batch_size:
            self._seal(queue, count)
        return fut

    async def send_and_wait(
        self, topic: str, value: bytes | None, key: bytes | None = None, **kw: Any
    ) -> RecordMetadata:
        fut = await self.send(topic, value, key, **kw)
        return await fut

    async def flush(self) -> None:
        """Send everything buffered now and wait until all of it is acknowledged or failed."""
        futures = [b.future for q in self._queues.values() for b in self._all_batches(q)]
        self._flushing += 1
        self._wakeup.set()
        try:
            if futures:
                await asyncio.gather(*futures, return_exceptions=True)
        finally:
            self._flushing -= 1

    async def close(self, timeout: float | None = None) -> None:
        if self._closed:
            return
        try:
            await asyncio.wait_for(self.flush(), timeout)
        except TimeoutError:
            pass
        self._closed = True
        if self._sender is not None:
            self._sender.cancel()
            try:
                await self._sender
            except asyncio.CancelledError:
                pass
        for q in self._queues.values():
            for b in self._all_batches(q):
                self._fail(b, KeystreamError(ErrorCode.REQUEST_TIMED_OUT, "producer closed before delivery"))

    @staticmethod
    def _all_batches(q: _PartitionQueue) -> list[_Batch]:
        return list(q.sealed) + ([q.open] if q.open is not None else [])

    async def _wait_for_space(self, size: int) -> None:
        deadline = time.monotonic() + self.config.max_block_ms / 1000
        while self._buffered + size > self.config.buffer_memory:
            self._space.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise KeystreamError(ErrorCode.REQUEST_TIMED_OUT, f"buffer full for {self.config.max_block_ms} ms")
            try:
                async with asyncio.timeout(remaining):
                    await self._space.wait()
            except TimeoutError:
                pass

    def _seal(self, queue: _PartitionQueue, partition_count: int) -> None:
        batch = queue.open
        if batch is None:
            return
        queue.open = None
        queue.sealed.append(batch)
        self._partitioner.on_new_batch(batch.topic, partition_count, batch.partition)
        self._wakeup.set()

    # --- the sender ------------------------------------------------------------------------------------
    async def _send_loop(self) -> None:
        linger = self.config.linger_ms / 1000
        while True:
            self._wakeup.clear()
            now = time.monotonic()
            next_deadline: float | None = None
            for (topic, _partition), queue in self._queues.items():
                batch = queue.open
                if batch is None:
                    continue
                if queue.in_flight or queue.sealed:
                    # Kafka's accumulator: the open batch keeps growing while the partition
                    # waits for its in-flight batch; it is drained when the partition is free.
                    continue
                if now - batch.created >= linger or self._flushing:
                    self._seal(queue, len(self.cluster.map.get("partitions", {}).get(topic, [])) or 1)
                else:
                    due = batch.created + linger
                    next_deadline = due if next_deadline is None else min(next_deadline, due)
            self._expire(now)
            await self._dispatch()
            timeout = None if next_deadline is None else max(0.0, next_deadline - time.monotonic())
            try:
                async with asyncio.timeout(timeout):
                    await self._wakeup.wait()
            except TimeoutError:
                pass

    def _expire(self, now: float) -> None:
        for queue in self._queues.values():
            while queue.sealed and not queue.in_flight and queue.sealed[0].deadline <= now:
                batch = queue.sealed.popleft()
                self._fail(
                    batch,
                    KeystreamError(
                        ErrorCode.REQUEST_TIMED_OUT,
                        f"{batch.topic}-{batch.partition}: not delivered within "
                        f"delivery_timeout_ms={self.config.delivery_timeout_ms}",
                    ),
                )

    async def _dispatch(self) -> None:
        by_node: dict[int, list[tuple[_PartitionQueue, _Batch, int]]] = {}
        need_refresh = False
        for (topic, partition), queue in self._queues.items():
            if queue.in_flight or not queue.sealed:
                continue
            batch = queue.sealed[0]
            if batch.attempts and time.monotonic() < batch.created:
                continue  # backing off (created is pushed forward on retry)
            try:
                leader, epoch = self.cluster.leader(topic, partition)
            except KeystreamError:
                need_refresh = True
                continue
            by_node.setdefault(leader, []).append((queue, batch, epoch))
        if need_refresh:
            self._schedule_refresh("partition without a known leader")
        for node_id, items in by_node.items():
            while items and self._in_flight_per_node[node_id] < self.config.max_in_flight:
                request: list[tuple[_PartitionQueue, _Batch, int]] = []
                total = 0
                while items and (not request or total + items[0][1].size <= self.config.max_request_size * 4):
                    entry = items.pop(0)
                    request.append(entry)
                    total += entry[1].size
                for queue, _, _ in request:
                    queue.in_flight = True
                self._in_flight_per_node[node_id] += 1
                task = asyncio.create_task(self._send_request(node_id, request))
                self._requests.add(task)
                task.add_done_callback(self._requests.discard)

    def _encode(self, batch: _Batch) -> bytes:
        """Encode once; retries resend the same bytes, sequence numbers included, so the
        leader recognises a retry of a batch it already wrote."""
        if batch.data is None:
            if self.producer_id >= 0:
                key = (batch.topic, batch.partition)
                sequence = self._sequences.get(key, 0)
                self._sequences[key] = (sequence + len(batch.records)) % (2**31)
                batch.data = build_batch(
                    batch.records,
                    compression=self._compression,
                    producer_id=self.producer_id,
                    producer_epoch=self.producer_epoch,
                    base_sequence=sequence,
                )
            else:
                batch.data = build_batch(batch.records, compression=self._compression)
        return batch.data

    async def _renew_producer_id(self) -> None:
        """After a batch failed for good, its sequence numbers left a gap; continue under a
        fresh producer id whose sequences start again at 0 (batches already encoded keep
        theirs, so their retries are still recognised)."""
        async with self._init_lock:
            if not self._needs_new_id:
                return
            reply = await self.cluster.request_any("init_producer_id", {})
            self.producer_id = int(reply["producer_id"])
            self.producer_epoch = int(reply["producer_epoch"])
            self._sequences.clear()
            self._needs_new_id = False

    async def _send_request(self, node_id: int, request: list[tuple[_PartitionQueue, _Batch, int]]) -> None:
        if self._needs_new_id and any(batch.data is None for _q, batch, _e in request):
            try:
                await self._renew_producer_id()
            except (ConnectionError, OSError, KeystreamError) as exc:
                log.warning("cannot renew the producer id: %s", exc)
        topics: dict[str, list[list[Any]]] = {}
        for _queue, batch, epoch in request:
            batch.attempts += 1
            topics.setdefault(batch.topic, []).append([batch.partition, self._encode(batch), epoch])
        args = {
            "acks": self._acks,
            "timeout_ms": self.config.request_timeout_ms,
            "topics": [[t, parts] for t, parts in topics.items()],
        }
        results: dict[tuple[str, int], tuple[int, int, str]] = {}
        try:
            conn = await self.cluster.connection(node_id)
            if self._acks == 0:
                conn.send_noreply("produce", args)
                for _q, batch, _e in request:
                    results[(batch.topic, batch.partition)] = (0, -1, "")
            else:
                reply = await conn.request("produce", args, timeout=self.config.request_timeout_ms / 1000 + 5)
                for entry in reply["results"]:
                    topic, partition, code, base = entry[0], entry[1], entry[2], entry[3]
                    message = entry[5] if len(entry) > 5 else ""
                    results[(topic, partition)] = (code, base, message)
        except (ConnectionError, OSError) as exc:
            self.cluster.drop_connection(node_id)
            for _q, batch, _e in request:
                results[(batch.topic, batch.partition)] = (int(ErrorCode.REQUEST_TIMED_OUT), -1, str(exc))
            self._schedule_refresh(f"connection to node {node_id} failed")
        except KeystreamError as exc:
            for _q, batch, _e in request:
                results[(batch.topic, batch.partition)] = (int(exc.code), -1, exc.message)
        finally:
            self._in_flight_per_node[node_id] -= 1
        for queue, batch, _epoch in request:
            code, base, message = results.get(
                (batch.topic, batch.partition), (int(ErrorCode.UNKNOWN_SERVER_ERROR), -1, "no result")
            )
            queue.in_flight = False
            self._complete(queue, batch, code, base, message)
        self._wakeup.set()

    def _complete(self, queue: _PartitionQueue, batch: _Batch, code: int, base: int, message: str) -> None:
        if code == 0:
            queue.sealed.popleft()
            if not batch.future.done():
                batch.future.set_result((base, int(time.time() * 1000)))
            self._release(batch)
            self.stats["batches_acked"] += 1
            return
        error = ErrorCode(code) if code in ErrorCode._value2member_map_ else ErrorCode.UNKNOWN_SERVER_ERROR
        if error.retriable and time.monotonic() < batch.deadline:
            self.stats["retries"] += 1
            if error.refresh_metadata:
                self._schedule_refresh(f"{error.name} from {batch.topic}-{batch.partition}")
            backoff = min(
                self.config.retry_backoff_ms * (2 ** min(batch.attempts - 1, 10)), self.config.retry_backoff_max_ms
            )
            batch.created = time.monotonic() + backoff / 1000 * random.uniform(0.8, 1.2)
            asyncio.get_running_loop().call_later(backoff / 1000 * 1.25, self._wakeup.set)
            return
        queue.sealed.popleft()
        self._fail(batch, KeystreamError(error, message or error.name))

    def _fail(self, batch: _Batch, exc: KeystreamError) -> None:
        if batch.data is not None and self.producer_id >= 0:
            self._needs_new_id = True
        if not batch.future.done():
            batch.future.set_exception(exc)
        self._release(batch)
        self.stats["batches_failed"] += 1

    def _release(self, batch: _Batch) -> None:
        self._buffered -= batch.size - 61
        batch.records = []
        if self._buffered < self.config.buffer_memory:
            self._space.set()

    def _schedule_refresh(self, reason: str) -> None:
        task = asyncio.create_task(self._refresh(reason))
        self._requests.add(task)
        task.add_done_callback(self._requests.discard)

    async def _refresh(self, reason: str) -> None:
        try:
            await self.cluster.refresh(reason=reason)
        except (ConnectionError, OSError) as exc:
            log.debug("map refresh failed: %s", exc)
        self._wakeup.set()
