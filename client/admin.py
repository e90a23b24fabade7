"""Cluster administration from the SDK: topics, offsets, cluster status."""

from __future__ import annotations

from typing import Any

from client.consumer import EARLIEST, LATEST, list_offsets
from client.records import TopicPartition
from client.routing import ClusterClient


class Admin:
    def __init__(self, cluster: ClusterClient) -> None:
        self.cluster = cluster

    async def create_topic(
        self,
        name: str,
        partitions: int | None = None,
        replication_factor: int | None = None,
        config: dict[str, Any] | None = None,
        *,
        wait: bool = True,
    ) -> dict[str, Any]:
        """Create a topic; with ``wait``, return once every partition has a leader in the map."""
        result = dict(
            await self.cluster.request_any(
                "create_topic",
                {"name": name, "partitions": partitions, "replication_factor": replication_factor, "config": config},
            )
        )
        if wait:
            await self.cluster.refresh(reason=f"created {name}")
        return result

    async def delete_topic(self, name: str) -> None:
        await self.cluster.request_any("delete_topic", {"name": name})
        await self.cluster.refresh(reason=f"deleted {name}")

    async def list_topics(self) -> list[str]:
        return list(await self.cluster.request_any("list_topics"))

    async def describe_topics(self, names: list[str] | None = None) -> list[dict[str, Any]]:
        return list(await self.cluster.request_any("describe_topics", {"names": names}))

    async def alter_topic_config(
        self, name: str, set: dict[str, Any] | None = None, delete: list[str] | None = None
    ) -> dict[str, str]:
        return dict(await self.cluster.request_any("alter_topic_config", {"name": name, "set": set, "delete": delete}))

    async def list_offsets(
        self, topic: str, spec: int | str = "latest", partitions: list[int] | None = None
    ) -> dict[int, int]:
        """Offsets per partition: ``earliest``, ``latest`` (the high watermark) or a timestamp in ms."""
        code = {"earliest": EARLIEST, "latest": LATEST}.get(spec, spec) if isinstance(spec, str) else spec
        if not isinstance(code, int):
            raise ValueError(f"spec must be earliest, latest or a timestamp, got {spec!r}")
        parts = await self.cluster.partitions_for(topic)
        wanted = partitions if partitions is not None else [p["partition"] for p in parts]
        found = await list_offsets(self.cluster, [(TopicPartition(topic, p), code) for p in wanted])
        return {tp.partition: offset for tp, offset in found.items()}

    async def cluster_status(self) -> dict[str, Any]:
        return dict(await self.cluster.request_any("cluster_status"))
