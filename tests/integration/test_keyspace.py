"""The keyspace with real node processes: routing over all slots, shard-leader failover
under INCR/SET/SADD load, TTLs across failover and restarts, snapshots and snapshot install."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

import pytest

from client import CommandError, Keystream
from client.connection import NativeConnection
from client.local_cluster import LocalCluster
from cluster.errors import ErrorCode, KeystreamError
from cluster.slots import key_slot
from tests.conftest import call, eventually

FAST_SNAPSHOTS = ["--set", "keyspace.snapshot.records=500"]


async def _keyspace_ready(cluster: LocalCluster) -> dict[str, Any]:
    return await eventually(
        lambda: call(cluster.address(1, "native"), "metadata"),
        lambda m: bool(m["slots"]) and all(s["leader"] >= 0 for s in m["shards"]),
        timeout=30,
        what="keyspace shards with leaders",
    )


def _shard_of(cluster_map: dict[str, Any], key: bytes) -> int:
    slot = key_slot(key)
    return next(shard for start, end, shard in cluster_map["slots"] if start <= slot <= end)


async def _digests(cluster: LocalCluster, shard: int, nodes: list[int]) -> list[tuple[str, int]]:
    out = []
    for node in nodes:
        info = (await call(cluster.address(node, "native"), "keyspace_digest"))[shard]
        out.append((info["digest"], info["applied"]))
    return out


async def _replicas_identical(cluster: LocalCluster, shard: int, nodes: list[int]) -> None:
    await eventually(lambda: _digests(cluster, shard, nodes), lambda d: len(set(d)) == 1, timeout=30,
                     what=f"identical state on every replica of shard {shard}")  # fmt: skip


async def test_ten_thousand_keys_over_all_slots_and_moved_errors(cluster_factory: Callable[..., LocalCluster]) -> None:
    cluster = cluster_factory(3)
    cluster.start_all()
    await cluster.wait_ready(30)
    cluster_map = await _keyspace_ready(cluster)
    async with Keystream(cluster.bootstrap()) as ks:
        pipe = ks.kv.pipeline()
        for i in range(10_000):
            pipe.set(f"key:{i}", f"value:{i}")
        assert all(r == "OK" for r in await pipe.execute())
        pipe = ks.kv.pipeline()
        for i in range(10_000):
            pipe.get(f"key:{i}")
        assert await pipe.execute() == [f"value:{i}".encode() for i in range(10_000)]
        assert await ks.kv.dbsize() == 10_000
        assert {k async for k in ks.kv.scan_iter(match="key:*", count=500)} == {
            f"key:{i}".encode() for i in range(10_000)
        }
        with pytest.raises(CommandError) as info:
            await ks.kv.execute("MSET", "a", "1", "b", "2")
        assert info.value.message == "CROSSSLOT Keys in request don't hash to the same slot"
        assert await ks.kv.execute("MSET", "{u}a", "1", "{u}b", "2") == "OK"
        with pytest.raises(CommandError) as info:
            await ks.kv.lpush("{u}a", "x")
        assert info.value.message.startswith("WRONGTYPE")
    # a node that does not lead the key's shard answers MOVED with the leader's address
    shard = _shard_of(cluster_map, b"key:1")
    leader = cluster_map["shards"][shard]["leader"]
    other = next(n for n in (1, 2, 3) if n != leader)
    conn = await NativeConnection.open(cluster.address(other, "native"))
    with pytest.raises(KeystreamError) as moved:
        await conn.request("kv", {"argv": [b"GET", b"key:1"]})
    assert moved.value.code == ErrorCode.MOVED
    assert moved.value.message == f"MOVED {key_slot(b'key:1')} {cluster.address(leader, 'native')}"
    await conn.close()


async def test_shard_leader_kill_loses_no_acknowledged_write(cluster_factory: Callable[..., LocalCluster]) -> None:
    cluster = cluster_factory(3)
    cluster.start_all()
    await cluster.wait_ready(30)
    cluster_map = await _keyspace_ready(cluster)
    shard = _shard_of(cluster_map, b"{w}counter")
    victim = cluster_map["shards"][shard]["leader"]
    acked_incr = unknown_incr = 0
    acked_sets: dict[bytes, bytes] = {}
    acked_members: set[bytes] = set()
    rng = random.Random(7)
    async with Keystream(cluster.bootstrap()) as ks:
        ks.kv.retry_timeout = 20

        async def worker(n: int) -> None:
            nonlocal acked_incr, unknown_incr
            for i in range(300):
                op = rng.choice(("incr", "set", "sadd"))
                try:
                    if op == "incr":
                        await ks.kv.incr("{w}counter")
                        acked_incr += 1
                    elif op == "set":
                        key, value = f"{{w}}k{n}-{i}".encode(), f"v{i}".encode()
                        await ks.kv.set(key, value)
                        acked_sets[key] = value
                    else:
                        member = f"m{n}-{i}".encode()
                        await ks.kv.sadd("{w}set", member)
                        acked_members.add(member)
                except (KeystreamError, ConnectionError, OSError):
                    if op == "incr":
                        unknown_incr += 1

        async def nemesis() -> None:
            # the kill lands mid-workload: once every kind of write has been acknowledged
            await eventually(lambda: asyncio.sleep(0, (acked_incr, len(acked_sets), len(acked_members))),
                             lambda counts: min(counts) >= 10, timeout=30, what="writes acknowledged")  # fmt: skip
            cluster.kill(victim)

        await asyncio.gather(*(worker(n) for n in range(4)), nemesis())
        cluster.start_node(victim)
        await cluster.wait_ready(40)
        counter = int(await ks.kv.get("{w}counter") or 0)
        assert acked_incr <= counter <= acked_incr + unknown_incr, (acked_incr, unknown_incr, counter)
        for key, value in acked_sets.items():
            assert await ks.kv.get(key) == value, key
        members = set(await ks.kv.smembers("{w}set"))
        assert acked_members <= members
        assert acked_incr > 100
    replicas = (await call(cluster.address(1, "native"), "metadata"))["shards"][shard]["replicas"]
    await _replicas_identical(cluster, shard, replicas)


async def test_ttls_expire_everywhere_across_failover_and_restart(cluster_factory: Callable[..., LocalCluster]) -> None:
    cluster = cluster_factory(3, extra_args=FAST_SNAPSHOTS)
    cluster.start_all()
    await cluster.wait_ready(30)
    cluster_map = await _keyspace_ready(cluster)
    shard = _shard_of(cluster_map, b"{ttl}short")
    replicas = cluster_map["shards"][shard]["replicas"]
    async with Keystream(cluster.bootstrap()) as ks:
        await ks.kv.set("{ttl}short", "x", px=300)
        await ks.kv.set("{ttl}long", "y", ex=3)
        await ks.kv.set("{ttl}forever", "z")
        await eventually(lambda: ks.kv.exists("{ttl}short"), lambda n: n == 0, timeout=5, what="short key expired")
        # the active sweep logged the deletion: gone on every replica, same state
        await _replicas_identical(cluster, shard, replicas)
        # failover: the new leader still expires {ttl}long on time
        leader = cluster_map["shards"][shard]["leader"]
        cluster.kill(leader)
        await eventually(lambda: ks.kv.get("{ttl}forever"), lambda v: v == b"z", timeout=30, what="new leader serving")
        assert await ks.kv.exists("{ttl}long") in (0, 1)
        await eventually(lambda: ks.kv.exists("{ttl}long"), lambda n: n == 0, timeout=10, what="long key expired")
        cluster.start_node(leader)
        await cluster.wait_ready(40)
        # snapshot every replica, restart everything, state comes back from snapshot + log
        await ks.kv.set("{ttl}later", "w", ex=4)
        for node in replicas:
            await call(cluster.address(node, "native"), "keyspace_save")
    for node in (1, 2, 3):
        cluster.kill(node)
    cluster.start_all()
    await cluster.wait_ready(40)
    await _keyspace_ready(cluster)
    async with Keystream(cluster.bootstrap()) as ks:
        assert await eventually(lambda: ks.kv.get("{ttl}forever"), lambda v: v == b"z", timeout=30) == b"z"
        assert await ks.kv.exists("{ttl}short", "{ttl}long") == 0
        await eventually(lambda: ks.kv.exists("{ttl}later"), lambda n: n == 0, timeout=10, what="expiry after restart")
    await _replicas_identical(cluster, shard, replicas)


async def test_snapshots_truncate_the_log_and_a_lagging_replica_installs_one(
    cluster_factory: Callable[..., LocalCluster],
) -> None:
    cluster = cluster_factory(3, extra_args=FAST_SNAPSHOTS)
    cluster.start_all()
    await cluster.wait_ready(30)
    cluster_map = await _keyspace_ready(cluster)
    shard = _shard_of(cluster_map, b"{snap}k0")
    leader = cluster_map["shards"][shard]["leader"]
    follower = next(n for n in cluster_map["shards"][shard]["replicas"] if n != leader)
    cluster.kill(follower)
    async with Keystream(cluster.bootstrap()) as ks:
        await eventually(lambda: call(cluster.address(leader, "native"), "metadata"),
                         lambda m: m["nodes"][str(follower)]["fenced"], timeout=20, what="follower fenced")  # fmt: skip
        pipe = ks.kv.pipeline()
        for i in range(3000):
            pipe.set(f"{{snap}}k{i}", i)
        await pipe.execute()
        await call(cluster.address(leader, "native"), "keyspace_save")
        info = await eventually(
            lambda: call(cluster.address(leader, "native"), "keyspace_digest"),
            lambda d: d[shard]["log_start"] > 0,
            timeout=20,
            what="log prefix truncated",
        )
        assert info[shard]["snapshot"] >= 3000
        cluster.start_node(follower)
        await cluster.wait_ready(40)
        await _replicas_identical(cluster, shard, [leader, follower])
        assert await ks.kv.get("{snap}k2999") == b"2999"
