"""The Keystream SDK (async first; ``client.sync`` wraps it for blocking code).

async with Keystream("127.0.0.1:9100") as ks:
    await ks.admin.create_topic("orders", partitions=6)
    async with ks.producer() as producer:
        meta = await producer.send_and_wait("orders", b"hello", key=b"user-1")
    consumer = ks.consumer()
    await consumer.assign_topic("orders")
    async for record in consumer: ...
    async with ks.group_consumer("billing", topics=["orders"]) as member:
        async for record in member: ...
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from client.admin import Admin
from client.consumer import Consumer
from client.groups import CommitFailedError, GroupAdmin, GroupConsumer
from client.kv import CommandError, KeyValue
from client.producer import Producer, ProducerConfig, RecordMetadata
from client.push import PushConsumer
from client.records import ConsumerRecord, TopicPartition
from client.routing import ClusterClient


class Keystream:
    """One connection to a cluster, shared by producers, consumers and admin calls."""

    def __init__(self, bootstrap: str | Sequence[str], **cluster_options: Any) -> None:
        self.cluster = ClusterClient(bootstrap, **cluster_options)
        self.admin = Admin(self.cluster)
        self.kv = KeyValue(self.cluster)
        self.groups = GroupAdmin(self.cluster)  # list, describe (lag), reset offsets, delete
        self._owned: list[Any] = []

    async def start(self) -> Keystream:
        await self.cluster.start()
        return self

    async def close(self) -> None:
        for owned in reversed(self._owned):
            await owned.close()
        await self.cluster.close()

    async def __aenter__(self) -> Keystream:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def producer(self, config: ProducerConfig | None = None, **overrides: Any) -> Producer:
        producer = Producer(self.cluster, config, **overrides)
        self._owned.append(producer)
        return producer

    def consumer(self, **options: Any) -> Consumer:
        consumer = Consumer(self.cluster, **options)
        self._owned.append(consumer)
        return consumer

    def group_consumer(self, group_id: str, **options: Any) -> GroupConsumer:
        """A member of consumer group ``group_id``: ``topics=[...]`` or ``pattern=...``, ``assignors``,
        ``session_timeout_ms``, ``group_instance_id``, callbacks ... (see client/groups.py)."""
        consumer = GroupConsumer(self.cluster, group_id, **options)
        self._owned.append(consumer)
        return consumer

    def push_consumer(self, **options: Any) -> PushConsumer:
        consumer = PushConsumer(self.cluster, **options)
        self._owned.append(consumer)
        return consumer


__all__ = [
    "Admin",
    "ClusterClient",
    "CommandError",
    "CommitFailedError",
    "Consumer",
    "ConsumerRecord",
    "GroupConsumer",
    "KeyValue",
    "Keystream",
    "Producer",
    "ProducerConfig",
    "PushConsumer",
    "RecordMetadata",
    "TopicPartition",
]
