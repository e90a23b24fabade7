"""A full disk on one node, with real node processes: the node reports its failed storage,
the controller moves its leaderships to in-sync replicas (acks=all produces and keyspace
writes go on there), and once the disk is freed the node recovers by itself, rejoins
every ISR and no acknowledged record or write is lost.

Each node's data directory of interest is a small tmpfs (as the chaos disk fault does),
so this needs root. Run with ``-s`` to see the measured times.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from client import Keystream, TopicPartition
from client.local_cluster import LocalCluster
from tests.conftest import call, eventually

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("mount") is None, reason="mounts a tmpfs as a node's data directory: needs root"
)

TOPIC = "disk-full"
PARTITIONS = 6
TMPFS_MB = 64
HEADROOM_BYTES = 4096  # what the full disk leaves: less than a record batch
BALLAST = "ballast"
COUNTERS = [f"counter:{i}" for i in range(8)]


@pytest.fixture
def tmpfs_mounts() -> Iterator[Callable[[Path], None]]:
    mounted: list[Path] = []

    def mount(path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_MB}m,mode=0700", "tmpfs", str(path)],
                       check=True, capture_output=True, timeout=30)  # fmt: skip
        mounted.append(path)

    yield mount
    for path in reversed(mounted):
        with contextlib.suppress(OSError):  # keep the node's log next to the mount point
            shutil.copyfile(path / "stdout.log", path.parent / f"{path.name}.stdout.log")
        if subprocess.run(["umount", str(path)], capture_output=True, timeout=30).returncode:
            subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=30)


def _fill(directory: Path) -> int:
    """Take all but HEADROOM_BYTES of the filesystem (the node keeps writing meanwhile)."""
    fd = os.open(directory / BALLAST, os.O_WRONLY | os.O_CREAT, 0o600)
    taken = 0
    try:
        for _ in range(64):
            stats = os.statvfs(directory)
            want = stats.f_bavail * stats.f_frsize - HEADROOM_BYTES
            if want < stats.f_frsize:
                break
            try:
                os.posix_fallocate(fd, os.fstat(fd).st_size, want)
                taken += want
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
    finally:
        os.close(fd)
    return taken


async def _map(cluster: LocalCluster) -> dict[str, Any]:
    for node in sorted(cluster.nodes):
        try:
            return dict(await call(cluster.address(node, "native"), "metadata", timeout=3))
        except Exception:
            continue
    raise ConnectionError("no node answers metadata")


def _partitions(cluster_map: dict[str, Any]) -> list[tuple[str, int, dict[str, Any]]]:
    return [(t, i, p) for t, parts in cluster_map["partitions"].items() for i, p in enumerate(parts)]


def _gone(victim: int) -> Callable[[dict[str, Any]], bool]:
    def check(cluster_map: dict[str, Any]) -> bool:
        parts = [p for t, _, p in _partitions(cluster_map) if t in (TOPIC, "__keyspace")]
        return all(p["leader"] not in (victim, -1) and victim not in p["isr"] for p in parts)

    return check


def _fully_in_sync(cluster_map: dict[str, Any]) -> bool:
    parts = [p for t, _, p in _partitions(cluster_map) if t in (TOPIC, "__keyspace")]
    return all(p["leader"] >= 0 and sorted(p["isr"]) == sorted(p["replicas"]) for p in parts)


class Load:
    """acks=all produces and keyspace INCRs until stopped; remembers what was acknowledged."""

    def __init__(self, ks: Keystream) -> None:
        self.ks = ks
        self.acked: dict[str, tuple[int, int]] = {}  # value -> (partition, offset)
        self.incr_acked = dict.fromkeys(COUNTERS, 0)
        self.incr_sent = dict.fromkeys(COUNTERS, 0)
        self.stop = asyncio.Event()

    def acked_since(self, count: int) -> int:
        return len(self.acked) - count

    async def produce(self) -> None:
        producer = await self.ks.producer(acks="all", linger_ms=5, delivery_timeout_ms=60_000).start()
        i = 0
        while not self.stop.is_set():
            value = f"v{i}"
            fut = await producer.send(TOPIC, value.encode(), key=f"k{i % 97}".encode())
            fut.add_done_callback(functools.partial(self._on_ack, value))
            i += 1
            await asyncio.sleep(0.002)  # pacing: a steady ~500 records/s load, not a wait for a condition
        await producer.flush()
        await producer.close()

    def _on_ack(self, value: str, fut: Any) -> None:
        if fut.exception() is None:
            meta = fut.result()
            self.acked[value] = (meta.partition, meta.offset)

    async def increment(self, key: str) -> None:
        while not self.stop.is_set():
            self.incr_sent[key] += 1
            try:
                await self.ks.kv.incr(key)
                self.incr_acked[key] += 1
            except Exception:
                await asyncio.sleep(0.05)  # the outcome may be unknown: the final value may exceed the acks
            await asyncio.sleep(0.01)  # pacing of the INCR load


async def _read_all(ks: Keystream) -> dict[tuple[int, int], bytes | None]:
    consumer = ks.consumer(auto_offset_reset="earliest")
    consumer.assign([TopicPartition(TOPIC, p) for p in range(PARTITIONS)])
    ends = await ks.admin.list_offsets(TOPIC, "latest")
    out: dict[tuple[int, int], bytes | None] = {}
    deadline = time.monotonic() + 60
    while any((consumer.position(TopicPartition(TOPIC, p)) or 0) < ends[p] for p in range(PARTITIONS)):
        assert time.monotonic() < deadline, "reading back took too long"
        for tp, records in (await consumer.getmany(timeout_ms=1000)).items():
            for r in records:
                out[(tp.partition, r.offset)] = r.value
    await consumer.close()
    return out


async def _digests(cluster: LocalCluster) -> dict[int, set[tuple[str, int]]]:
    out: dict[int, set[tuple[str, int]]] = {}
    for node in sorted(cluster.nodes):
        for shard, info in (await call(cluster.address(node, "native"), "keyspace_digest")).items():
            out.setdefault(int(shard), set()).add((info["digest"], int(info["applied"])))
    return out


def _count_lines(cluster: LocalCluster, needle: str) -> int:
    total = 0
    for node in cluster.nodes:
        path = cluster.node_dir(node) / "stdout.log"
        with open(path, errors="replace") as fh:
            total += sum(1 for line in fh if needle in line)
    return total


@pytest.mark.parametrize("role", ["controller", "broker"])
async def test_a_full_disk_moves_leadership_away_and_the_node_rejoins_when_freed(
    cluster_factory: Callable[..., LocalCluster], tmpfs_mounts: Callable[[Path], None], role: str
) -> None:
    cluster = cluster_factory(3)
    for node in cluster.nodes:
        tmpfs_mounts(cluster.node_dir(node))
    cluster.start_all()
    try:
        await cluster.wait_ready(40)
        async with Keystream(cluster.bootstrap()) as ks:
            await ks.admin.create_topic(TOPIC, partitions=PARTITIONS, replication_factor=3,
                                        config={"min.insync.replicas": "2"})  # fmt: skip
            before = await eventually(lambda: _map(cluster), _fully_in_sync, timeout=30, what="topic in sync")
            controller = before["controller"]
            victim = controller if role == "controller" else min(n for n in cluster.nodes if n != controller)
            led = [(t, i) for t, i, p in _partitions(before) if p["leader"] == victim]
            assert led, f"node {victim} leads nothing to move: {before['partitions']}"

            load = Load(ks)
            tasks = [asyncio.create_task(load.produce())] + [asyncio.create_task(load.increment(k)) for k in COUNTERS]
            await eventually(lambda: _async(len(load.acked)), lambda n: n > 200, timeout=30, what="load running")

            filled_at = time.monotonic()
            taken = await asyncio.to_thread(_fill, cluster.node_dir(victim))
            assert taken > 0
            await eventually(lambda: _map(cluster), _gone(victim), timeout=10, interval=0.05,
                             what=f"node {victim}'s leaderships and ISR memberships moving away")  # fmt: skip
            moved_s = time.monotonic() - filled_at

            # acks=all produces go on, on the other two replicas, while the disk stays full.
            acked_then = len(load.acked)
            await eventually(lambda: _async(load.acked_since(acked_then)), lambda n: n > 1000, timeout=20,
                             what="acks=all produces succeeding on the in-sync replicas")  # fmt: skip
            health = await cluster.node_health(victim)
            assert health is not None and any("storage failed" in p for p in health["health"]["problems"]), health

            freed_at = time.monotonic()
            (cluster.node_dir(victim) / BALLAST).unlink()
            after = await eventually(lambda: _map(cluster), _fully_in_sync, timeout=30, interval=0.05,
                                     what=f"node {victim} back in every ISR")  # fmt: skip
            rejoined_s = time.monotonic() - freed_at
            assert not after["nodes"][str(victim)]["fenced"]

            load.stop.set()
            await asyncio.gather(*tasks)
            print(f"\ndisk full -> leadership moved: {moved_s:.2f} s; disk freed -> ISR rejoined: {rejoined_s:.2f} s; "
                  f"{len(load.acked)} records acknowledged")  # fmt: skip

            records = await _read_all(ks)
            missing = [(v, at) for v, at in load.acked.items() if records.get(at) != v.encode()]
            assert not missing, f"{len(missing)} acknowledged records lost, e.g. {missing[:5]}"
            assert len(set(records.values())) == len(records), "records duplicated"

            for key in COUNTERS:
                value = int(await ks.kv.get(key) or 0)
                assert load.incr_acked[key] <= value <= load.incr_sent[key], (key, value, load.incr_acked[key])

        await eventually(lambda: _digests(cluster), lambda d: all(len(s) == 1 for s in d.values()), timeout=30,
                         what="every shard's replicas applied to the same state")  # fmt: skip
        replicas = await call(cluster.address(victim, "native"), "describe_replicas")
        assert all(r["offline"] is None for r in replicas)
        # Followers backed off instead of spinning on the errors (at most one line per partition per 10 s).
        assert _count_lines(cluster, "fetch error") <= 4 * (PARTITIONS + 12), "fetch errors logged too often"
    finally:
        cluster.stop_all(timeout=15)


async def _async(value: int) -> int:
    return value
