"""The blocking facade (client/sync.py) from plain synchronous code: admin, produce,
consume, the keyspace, a consumer group and its committed offsets."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from client import TopicPartition
from client.local_cluster import LocalCluster
from client.sync import SyncKeystream


def test_sync_facade_end_to_end(cluster_factory: Callable[..., LocalCluster]) -> None:
    cluster = cluster_factory(1)
    cluster.start_all()
    asyncio.run(cluster.wait_ready(30))
    with SyncKeystream(cluster.bootstrap()) as ks:
        ks.admin.create_topic("orders", partitions=2, replication_factor=1)
        producer = ks.producer(acks="all")
        futures = [producer.send("orders", f"order-{i}".encode(), key=f"user-{i % 5}".encode()) for i in range(50)]
        producer.flush()
        offsets = sorted((f.result(timeout=10).partition, f.result(timeout=10).offset) for f in futures)
        assert len(set(offsets)) == 50
        producer.close()

        consumer = ks.consumer(auto_offset_reset="earliest")
        consumer.assign_topic("orders")
        seen: list[bytes] = []
        deadline = time.monotonic() + 20
        while len(seen) < 50 and time.monotonic() < deadline:
            seen += [r.value for r in consumer.poll(timeout_ms=500) if r.value is not None]
        consumer.close()
        assert sorted(seen) == sorted(f"order-{i}".encode() for i in range(50))

        assert ks.kv.set("greeting", "hello") is True
        assert ks.kv.get("greeting") == b"hello"
        assert ks.kv.incrby("counter", 5) == 5

        with ks.group_consumer("billing", topics=["orders"], auto_offset_reset="earliest",
                               enable_auto_commit=False) as member:  # fmt: skip
            got: list[bytes] = []
            deadline = time.monotonic() + 30
            while len(got) < 50 and time.monotonic() < deadline:
                got += [r.value for r in member.poll(timeout_ms=500) if r.value is not None]
            assert sorted(got) == sorted(seen)
            assert member.assignment() == {TopicPartition("orders", 0), TopicPartition("orders", 1)}
            member.commit()
            committed = member.committed()
        assert sum(committed.values()) == 50
        assert ks.groups.committed("billing") == committed
