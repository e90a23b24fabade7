"""Log benchmarks: produce throughput and latency, consume throughput, end-to-end latency.

Measured against a cluster of separate node processes (a fresh local
three-node cluster unless ``--bootstrap`` is given); the client runs in
this process. Numbers are printed, never asserted: speed is measured, not
tested.
"""

from __future__ import annotations

import asyncio
import statistics
import struct
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from client import Keystream, TopicPartition


@dataclass
class LogBenchResult:
    records: int
    record_bytes: int
    produce_s: float
    produce_latency_ms: list[float] = field(default_factory=list)
    consume_s: float = 0.0
    consumed: int = 0
    e2e_ms: list[float] = field(default_factory=list)
    e2e_rate: int = 0
    # idempotence on against off, in rounds ordered on, off, off, on (ABBA: a rate that drifts
    # through the run, as it does while the log and page cache grow, cancels out)
    compared_records: int = 0
    idempotent_s: float = 0.0
    plain_s: float = 0.0

    def rows(self) -> list[tuple[str, str]]:
        mb = self.records * self.record_bytes / 1e6
        rows = [
            ("produce records/s (acks=all)", f"{self.records / self.produce_s:,.0f}"),
            ("produce MB/s", f"{mb / self.produce_s:,.1f}"),
        ]
        if self.produce_latency_ms:
            rows.append(("produce latency p50 / p99 (ms)", _p50_p99(self.produce_latency_ms)))
        if self.plain_s and self.idempotent_s:
            rows.append(("idempotence on / off, records/s (ABBA rounds)",
                         f"{self.compared_records / self.idempotent_s:,.0f} / "
                         f"{self.compared_records / self.plain_s:,.0f}"))  # fmt: skip
        if self.consume_s:
            rows.append(("consume records/s (one consumer)", f"{self.consumed / self.consume_s:,.0f}"))
        if self.e2e_ms:
            rows.append((f"end-to-end latency p50 / p99 (ms) at {self.e2e_rate:,}/s", _p50_p99(self.e2e_ms)))
        return rows


def _record_latency(into: list[float], sent_at: float, _fut: Any) -> None:
    into.append((time.perf_counter() - sent_at) * 1000)


def _p50_p99(values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"{statistics.median(ordered):.2f} / {p99:.2f}"


async def run_log_bench(
    bootstrap: list[str],
    *,
    records: int,
    record_bytes: int,
    partitions: int,
    replication_factor: int,
    acks: str,
    linger_ms: float,
    batch_size: int,
    compression: str | None,
    e2e_rate: int,
    e2e_seconds: float,
    progress: Any = None,
    compare_idempotence: bool = False,
    client_options: Mapping[str, Any] | None = None,
    admin_options: Mapping[str, Any] | None = None,
) -> LogBenchResult:
    """``client_options`` (credentials, ssl) for the producer and consumers; ``admin_options``
    for creating and deleting the topic, when another user must do that."""
    topic = f"bench-{uuid.uuid4().hex[:8]}"
    admin_opts = dict(admin_options if admin_options is not None else client_options or {})
    async with Keystream(bootstrap, **admin_opts) as admin:
        await admin.admin.create_topic(topic, partitions=partitions, replication_factor=replication_factor)
    async with Keystream(bootstrap, **dict(client_options or {})) as ks:
        await _wait_leaders(ks, topic, partitions)
        payload = b"x" * record_bytes
        producer = await ks.producer(acks=acks, linger_ms=linger_ms, batch_size=batch_size,
                                     compression=compression).start()  # fmt: skip
        # Produce: one producer, unkeyed records (sticky partitioning), as Kafka's own test did.
        latencies: list[float] = []
        produce_s = await _produce(producer, topic, payload, records, latencies, progress)
        await producer.close()
        result = LogBenchResult(records, record_bytes, produce_s, latencies)
        if compare_idempotence:
            quarter = max(1, records // 4)
            for idempotent in (True, False, False, True):
                round_producer = await ks.producer(
                    acks=acks, linger_ms=linger_ms, batch_size=batch_size, compression=compression,
                    enable_idempotence=idempotent,
                ).start()  # fmt: skip
                seconds = await _produce(round_producer, topic, payload, quarter, [], None)
                await round_producer.close()
                if idempotent:
                    result.idempotent_s += seconds
                else:
                    result.plain_s += seconds
            result.compared_records = 2 * quarter
            records += 4 * quarter  # the consumer reads every run

        # Consume everything from the beginning with one consumer.
        consumer = ks.consumer(auto_offset_reset="earliest", fetch_min_bytes=1)
        consumer.assign([TopicPartition(topic, p) for p in range(partitions)])
        started = time.perf_counter()
        got = 0
        while got < records:
            batch = await consumer.getmany(timeout_ms=5000)
            if not batch:
                break
            for recs in batch.values():
                got += len(recs)
        result.consume_s = time.perf_counter() - started
        result.consumed = got
        await consumer.close()

        if e2e_rate > 0:
            result.e2e_ms = await _end_to_end(ks, topic, partitions, e2e_rate, e2e_seconds, acks)
            result.e2e_rate = e2e_rate
    async with Keystream(bootstrap, **admin_opts) as admin:
        await admin.admin.delete_topic(topic)
    return result


async def _produce(
    producer: Any, topic: str, payload: bytes, records: int, latencies: list[float], progress: Any
) -> float:
    sample_every = max(1, records // 2000)
    started = time.perf_counter()
    send = producer.send
    for i in range(records):
        fut = await send(topic, payload)
        if i % sample_every == 0:
            sent_at = time.perf_counter()
            fut.add_done_callback(partial(_record_latency, latencies, sent_at))
        if progress is not None and i % 50_000 == 0:
            progress(i)
    await producer.flush()
    return time.perf_counter() - started


async def _wait_leaders(ks: Keystream, topic: str, partitions: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            offsets = await ks.admin.list_offsets(topic, "latest")
            if len(offsets) == partitions:
                return
        except Exception:
            pass
        await asyncio.sleep(0.1)
    raise TimeoutError(f"{topic} has no leaders after 30s")


async def _end_to_end(ks: Keystream, topic: str, partitions: int, rate: int, seconds: float, acks: str) -> list[float]:
    """Send timestamped records at a fixed rate; the consumer measures now - send time."""
    consumer = ks.consumer(auto_offset_reset="latest", fetch_max_wait_ms=500)
    consumer.assign([TopicPartition(topic, p) for p in range(partitions)])
    await consumer.seek_to_end()
    producer = await ks.producer(acks=acks, linger_ms=0).start()
    latencies: list[float] = []
    total = int(rate * seconds)
    done = asyncio.Event()

    async def consume() -> None:
        seen = 0
        while seen < total:
            batch = await consumer.getmany(timeout_ms=2000)
            if not batch:
                break
            now = time.perf_counter()
            for recs in batch.values():
                for r in recs:
                    (sent,) = struct.unpack(">d", r.value[:8])  # type: ignore[index]
                    latencies.append((now - sent) * 1000)
                    seen += 1
        done.set()

    reader = asyncio.create_task(consume())
    await asyncio.sleep(0.2)
    started = time.perf_counter()
    for i in range(total):
        target = started + i / rate
        delay = target - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        await producer.send(topic, struct.pack(">d", time.perf_counter()) + b"y" * 92)
    await producer.flush()
    try:
        await asyncio.wait_for(done.wait(), 30)
    except TimeoutError:
        pass
    reader.cancel()
    await producer.close()
    await consumer.close()
    return latencies
