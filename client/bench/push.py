"""End-to-end latency of push delivery against pull with long-poll, at a fixed rate.

One producer (acks=all, no linger) sends timestamped records at ``rate`` per
second to a replicated topic; one consumer reads them, either a pull consumer
(fetch long-polls on the leader until the high watermark moves) or a push
consumer (the leader sends committed batches over the connection as the high
watermark passes them). Latency is receive time minus send time, both taken in
this process. The two kinds alternate round by round so a noisy moment hits
both alike. Nothing is asserted.
"""

from __future__ import annotations

import asyncio
import statistics
import struct
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from client import Keystream, TopicPartition

KINDS = ("pull", "push")


@dataclass
class LatencyResult:
    kind: str
    latencies_ms: list[float] = field(default_factory=list)
    sent: int = 0

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else float("nan")

    def rows(self) -> list[str]:
        got = len(self.latencies_ms)
        median = statistics.median(self.latencies_ms) if got else float("nan")
        return [f"{got:,} / {self.sent:,}", f"{median:.2f}", f"{self.percentile(0.99):.2f}",
                f"{self.percentile(0.999):.2f}", f"{max(self.latencies_ms, default=float('nan')):.2f}"]  # fmt: skip


async def run_push_bench(
    bootstrap: list[str],
    *,
    rate: int,
    seconds: float,
    rounds: int,
    partitions: int = 3,
    client_options: Mapping[str, Any] | None = None,
    say: Callable[[str], None] = lambda _text: None,
) -> list[LatencyResult]:
    results = {kind: LatencyResult(kind) for kind in KINDS}
    topic = f"bench-push-{uuid.uuid4().hex[:8]}"
    async with Keystream(bootstrap, **dict(client_options or {})) as ks:
        await ks.admin.create_topic(topic, partitions=partitions, replication_factor=3)
        deadline = time.monotonic() + 30
        while len(await ks.admin.list_offsets(topic, "latest")) < partitions:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic} has no leaders after 30s")
            await asyncio.sleep(0.1)
        for round_no in range(1, rounds + 1):
            for kind in KINDS:
                say(f"round {round_no}/{rounds}: {kind}")
                await _one_run(ks, topic, partitions, kind, rate, seconds, results[kind])
        await ks.admin.delete_topic(topic)
    return list(results.values())


async def _one_run(
    ks: Keystream, topic: str, partitions: int, kind: str, rate: int, seconds: float, into: LatencyResult
) -> None:
    tps = [TopicPartition(topic, p) for p in range(partitions)]
    consumer: Any
    if kind == "push":
        consumer = ks.push_consumer(auto_offset_reset="latest")
        await consumer.subscribe(tps)
    else:
        consumer = ks.consumer(auto_offset_reset="latest", fetch_max_wait_ms=500)
        consumer.assign(tps)
        await consumer.seek_to_end()
    producer = await ks.producer(acks="all", linger_ms=0).start()
    total = int(rate * seconds)
    received: list[float] = []

    async def read() -> None:
        while len(received) < total:
            batch = await consumer.getmany(timeout_ms=3000)
            if not batch:
                return
            now = time.perf_counter()
            for records in batch.values():
                for record in records:
                    (sent_at,) = struct.unpack(">d", record.value[:8])
                    received.append((now - sent_at) * 1000)

    reader = asyncio.create_task(read())
    await asyncio.sleep(0.5)  # the consumer is positioned and waiting before the first record
    started = time.perf_counter()
    for i in range(total):
        delay = started + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        await producer.send(topic, struct.pack(">d", time.perf_counter()) + b"z" * 92)
    await producer.flush()
    try:
        async with asyncio.timeout(30):
            await reader
    except TimeoutError:
        reader.cancel()
    await producer.close()
    await consumer.close()
    into.sent += total
    into.latencies_ms.extend(received)
