"""Push delivery (credit-bounded) and log compaction, with real node processes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import cast

from client import ConsumerRecord, Keystream, TopicPartition
from client.local_cluster import LocalCluster
from tests.conftest import call, eventually


async def test_push_delivers_committed_records_and_respects_credit(
    cluster_factory: Callable[..., LocalCluster],
) -> None:
    cluster = cluster_factory(3)
    cluster.start_all()
    await cluster.wait_ready(30)
    async with Keystream(cluster.bootstrap()) as ks:
        await ks.admin.create_topic("pushed", partitions=2, replication_factor=3)
        fast = ks.push_consumer(auto_offset_reset="earliest", window_bytes=1 << 20)
        await fast.subscribe([TopicPartition("pushed", 0), TopicPartition("pushed", 1)])
        # a consumer that never takes its records: 64 KiB of credit, then nothing
        stuck = ks.push_consumer(auto_offset_reset="earliest", window_bytes=64 * 1024)
        await stuck.subscribe([TopicPartition("pushed", 0)])
        producer = await ks.producer(acks="all").start()
        sent = [await producer.send("pushed", f"r{i}".encode() + b"x" * 1000, key=f"k{i}".encode())
                for i in range(5000)]  # fmt: skip
        await producer.flush()
        assert all(f.exception() is None for f in sent)
        got: list[bytes] = []
        for _ in range(200):
            for records in (await fast.getmany(timeout_ms=2000)).values():
                got.extend(r.value for r in records)  # type: ignore[misc]
            if len(got) >= 5000:
                break
        assert sorted(got) == sorted(f"r{i}".encode() + b"x" * 1000 for i in range(5000))
        leader = (await ks.admin.describe_topics(["pushed"]))[0]["partitions"][0]["leader"]
        subs = await call(cluster.address(leader, "native"), "describe_push")
        stuck_id = stuck._subs[leader][1]
        stuck_sub = next(s for s in subs if s["subscription"] == stuck_id)
        # the leader pushed at most the credit (plus one batch, as a fetch returns at least one)
        # and holds nothing else for it: the rest waits in the log
        assert stuck_sub["pushed_bytes"] <= 64 * 1024 + (1 << 20)
        assert stuck_sub["pushed_bytes"] < 5000 * 1000 // 4
        await producer.close()
        await fast.close()
        await stuck.close()


async def test_compaction_keeps_the_latest_value_per_key_at_its_offset(
    cluster_factory: Callable[..., LocalCluster],
) -> None:
    cluster = cluster_factory(1, extra_args=["--set", "log.retention.check.interval.ms=300"])
    cluster.start_all()
    await cluster.wait_ready(30)
    async with Keystream(cluster.bootstrap()) as ks:
        await ks.admin.create_topic("latest", partitions=1, replication_factor=1, config={
            "cleanup.policy": "compact", "segment.bytes": 2048, "delete.retention.ms": 0,
            "min.cleanable.dirty.ratio": 0.01})  # fmt: skip
        producer = await ks.producer(acks="all", linger_ms=0, batch_size=512).start()
        expected: dict[bytes, tuple[int, bytes | None]] = {}
        for round_ in range(6):
            for k in range(20):
                key = f"key-{k}".encode()
                value = None if (round_ == 5 and k % 4 == 0) else f"v{round_}-{k}".encode()
                meta = await producer.send_and_wait("latest", value, key=key)
                expected[key] = (meta.offset, value)
        # unique filler keys roll the log so every versioned record sits in a sealed
        # segment (the active segment is never compacted, as in Kafka)
        for n in range(60):
            await producer.send_and_wait("latest", b"filler", key=f"filler-{n}".encode())
        await producer.close()

        async def compacted() -> list[ConsumerRecord]:
            consumer = ks.consumer(auto_offset_reset="earliest")
            consumer.assign([TopicPartition("latest", 0)])
            end = (await ks.admin.list_offsets("latest", "latest"))[0]
            records: list[ConsumerRecord] = []
            deadline = time.monotonic() + 30
            while (consumer.position(TopicPartition("latest", 0)) or 0) < end:
                assert time.monotonic() < deadline, f"did not read up to offset {end} within 30 s"
                for batch in (await consumer.getmany(timeout_ms=2000)).values():
                    records.extend(batch)
            await consumer.close()
            return records

        def versioned(rs: list[ConsumerRecord]) -> list[ConsumerRecord]:
            return [r for r in rs if cast(bytes, r.key).startswith(b"key-")]  # compacted records have keys

        records = versioned(await eventually(compacted, lambda rs: len(versioned(rs)) <= 15, timeout=30,
                                             what="compaction to run"))  # fmt: skip
        assert len({r.key for r in records}) == len(records), "a key appears twice after compaction"
        latest = {r.key: (r.offset, r.value) for r in records}
        live = {k: v for k, v in expected.items() if v[1] is not None}
        for key, (offset, value) in live.items():
            assert latest[key] == (offset, value), key  # kept record: same offset, latest value
        assert all(r.key in live for r in records if r.value is not None)
        offsets = [r.offset for r in records]
        assert offsets == sorted(offsets)
