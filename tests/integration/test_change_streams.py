"""Keyspace change streams: committed changes as records of __keyspace.changes, the same on
every replica (so a failover changes nothing a consumer can see)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgpack

from client import Keystream, TopicPartition
from client.local_cluster import LocalCluster
from cluster.slots import key_slot
from tests.conftest import call, eventually

CHANGES = "__keyspace.changes"


async def _read_changes(ks: Keystream, shard: int, upto: int) -> list[Any]:
    consumer = ks.consumer(auto_offset_reset="earliest")
    consumer.assign([TopicPartition(CHANGES, shard)])
    out: list[Any] = []
    for _ in range(100):
        for records in (await consumer.getmany(timeout_ms=1000)).values():
            out.extend(records)
        if len(out) >= upto:
            break
    await consumer.close()
    return out


async def test_changes_are_consumable_in_order_and_survive_failover(
    cluster_factory: Callable[..., LocalCluster],
) -> None:
    cluster = cluster_factory(3, extra_args=["--set", "keyspace.changes=true"])
    cluster.start_all()
    await cluster.wait_ready(30)
    cluster_map = await eventually(lambda: call(cluster.address(1, "native"), "metadata"),
                                   lambda m: CHANGES in m["partitions"], timeout=20,
                                   what="the change stream in node 1's map")  # fmt: skip
    slot = key_slot(b"{cdc}")
    shard = next(s for start, end, s in cluster_map["slots"] if start <= slot <= end)
    async with Keystream(cluster.bootstrap()) as ks:
        await ks.kv.set("{cdc}name", "ann")
        await ks.kv.hset("{cdc}user", "age", "41", "city", "Oslo")
        await ks.kv.incr("{cdc}visits")
        await ks.kv.set("{cdc}name", "bob", px=100_000)
        await ks.kv.delete("{cdc}visits")
        records = await _read_changes(ks, shard, 5)
        changes = [(r.key, msgpack.unpackb(r.value, raw=False)) for r in records]
        assert [(k, c["op"]) for k, c in changes] == [
            (b"{cdc}name", "SET"), (b"{cdc}user", "HSET"), (b"{cdc}visits", "INCR"),
            (b"{cdc}name", "SET"), (b"{cdc}visits", "DEL"),
        ]  # fmt: skip
        assert changes[0][1]["value"] == b"ann" and changes[0][1]["type"] == "string"
        assert changes[1][1]["value"] == {b"age": b"41", b"city": b"Oslo"}
        assert changes[3][1]["expire_at"] is not None
        assert changes[4][1]["deleted"] is True
        offsets = [c["offset"] for _, c in changes]
        assert offsets == sorted(offsets)
        with_offsets = [(r.offset, r.key, r.value) for r in records]

        leader = cluster_map["shards"][shard]["leader"]
        cluster.kill(leader)
        await eventually(lambda: ks.kv.set("{cdc}after", "x"), lambda ok: ok is True, timeout=30,
                         what="a new shard leader")  # fmt: skip
        again = await _read_changes(ks, shard, 6)
        # the new leader's change log is the same log: same offsets, same records
        assert [(r.offset, r.key, r.value) for r in again[: len(with_offsets)]] == with_offsets
        assert again[len(with_offsets)].key == b"{cdc}after"
