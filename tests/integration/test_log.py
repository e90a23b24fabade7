"""The replicated log with real node processes: failover under load, min.insync.replicas,
full restarts, byte-identical replicas, hostile produce/fetch input, CLI and HTTP."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from client import ConsumerRecord, Keystream, TopicPartition
from client.connection import NativeConnection
from client.local_cluster import LocalCluster
from client.producer import RecordFuture
from cluster.errors import ErrorCode, KeystreamError
from node.storage.batch import build_batch, iter_batches
from tests.conftest import call, eventually


async def _describe(cluster: LocalCluster, topic: str) -> dict[str, Any]:
    return (await call(cluster.address(1, "native"), "describe_topics", {"names": [topic]}))[0]


async def _read_all(ks: Keystream, topic: str, partitions: int, timeout_s: float = 30) -> dict[int, list[Any]]:
    consumer = ks.consumer(auto_offset_reset="earliest")
    consumer.assign([TopicPartition(topic, p) for p in range(partitions)])
    ends = await ks.admin.list_offsets(topic, "latest")
    out: dict[int, list[Any]] = {p: [] for p in range(partitions)}
    deadline = asyncio.get_running_loop().time() + timeout_s
    while any((consumer.position(TopicPartition(topic, p)) or 0) < ends[p] for p in range(partitions)):
        assert asyncio.get_running_loop().time() < deadline, "reading back took too long"
        for tp, records in (await consumer.getmany(timeout_ms=1000)).items():
            out[tp.partition].extend(records)
    await consumer.close()
    return out


async def _replica_bytes(cluster: LocalCluster, node: int, topic: str, partition: int, upto: int) -> bytes:
    """A replica's batches below ``upto``, read from that node's own copy."""
    chunks = []
    offset = 0
    while offset < upto:
        reply = await call(cluster.address(node, "native"), "replica_read",
                           {"topic": topic, "partition": partition, "offset": offset, "max_bytes": 1 << 20,
                            "max_offset": upto})  # fmt: skip
        data = reply["data"]
        if not data:
            break
        chunks.append(data)
        last = None
        for header, _ in iter_batches(data, verify=True):
            last = header
        assert last is not None
        offset = last.last_offset + 1
    return b"".join(chunks)


async def test_acked_records_survive_a_leader_kill_mid_stream(cluster_factory: Callable[..., LocalCluster]) -> None:
    cluster = cluster_factory(3)
    cluster.start_all()
    await cluster.wait_ready(30)
    total = 100_000
    async with Keystream(cluster.bootstrap()) as ks:
        await ks.admin.create_topic("orders", partitions=6, replication_factor=3)
        victim = (await _describe(cluster, "orders"))["partitions"][0]["leader"]
        producer = await ks.producer(acks="all", linger_ms=5, delivery_timeout_ms=60_000).start()
        futures: list[RecordFuture] = []
        for i in range(total):
            futures.append(await producer.send("orders", f"value-{i}".encode(), key=f"key-{i % 5000}".encode()))
            if i == total // 3:
                cluster.kill(victim)  # SIGKILL the leader of partition 0 mid-stream
        await producer.flush()
        acked = {}
        for i, fut in enumerate(futures):
            if fut.exception() is None:
                meta = fut.result()
                acked[i] = (meta.partition, meta.offset)
        await producer.close()
        assert len(acked) == total, f"{total - len(acked)} records were not acknowledged"

        cluster.start_node(victim)
        await cluster.wait_ready(40)

        async def back_in_sync() -> list[list[int]]:
            return [p["isr"] for p in (await _describe(cluster, "orders"))["partitions"]]

        await eventually(back_in_sync, lambda isrs: all(len(isr) == 3 for isr in isrs), timeout=60,
                         what="the restarted replica rejoining every ISR")  # fmt: skip

        records = await _read_all(ks, "orders", 6)
        by_position = {(p, r.offset): r for p, rs in records.items() for r in rs}
        for i, (partition, offset) in acked.items():
            record = by_position.get((partition, offset))
            assert record is not None, f"acknowledged record {i} missing at {partition}@{offset}"
            assert record.value == f"value-{i}".encode()
        values = [r.value for rs in records.values() for r in rs]
        assert len(values) == len(set(values)) == total, "records duplicated or lost"
        for p, rs in records.items():  # order per partition = order of sending
            seq = [int(r.value.split(b"-")[1]) for r in rs]
            assert seq == sorted(seq), f"partition {p} out of order"

        described = await _describe(cluster, "orders")
        for p in described["partitions"]:
            hw = p["high_watermark"]
            copies = {n: await _replica_bytes(cluster, n, "orders", p["partition"], hw) for n in p["replicas"]}
            assert len(set(copies.values())) == 1, f"replicas of orders-{p['partition']} differ below the HW {hw}"


async def test_min_insync_replicas_refuses_writes_it_cannot_protect(
    cluster_factory: Callable[..., LocalCluster],
) -> None:
    # Five nodes, so the metadata quorum survives while two of the topic's three replicas are down.
    cluster = cluster_factory(5)
    cluster.start_all()
    await cluster.wait_ready(40)
    async with Keystream(cluster.bootstrap(), request_timeout=10) as ks:
        await ks.admin.create_topic("safe", partitions=1, replication_factor=3, config={"min.insync.replicas": 2})
        producer = await ks.producer(acks="all", linger_ms=0, delivery_timeout_ms=60_000).start()
        before = await producer.send_and_wait("safe", b"before")
        partition = (await _describe(cluster, "safe"))["partitions"][0]
        leader = partition["leader"]
        others = [n for n in partition["replicas"] if n != leader]
        for n in others:
            cluster.kill(n)
        await producer.close()
        # the leader learns that its followers are gone (fenced, out of the ISR)
        await eventually(
            lambda: call(cluster.address(leader, "native"), "describe_topics", {"names": ["safe"]}),
            lambda d: d[0]["partitions"][0]["isr"] == [leader],
            timeout=30,
            what="ISR shrinking to 1",
        )
        conn = await NativeConnection.open(cluster.address(leader, "native"))
        batch = build_batch([(None, b"during", None, None)])
        reply = await conn.request("produce", {"acks": -1, "topics": [["safe", [[0, batch]]]]})
        assert reply["results"][0][2] == ErrorCode.NOT_ENOUGH_REPLICAS
        await conn.close()
        for n in others:
            cluster.start_node(n)
        await cluster.wait_ready(40)
        consumer = ks.consumer(auto_offset_reset="earliest")
        consumer.assign([TopicPartition("safe", 0)])
        got: list[ConsumerRecord] = []
        deadline = time.monotonic() + 30
        while len(got) < 1:
            assert time.monotonic() < deadline, "the record written before the outage was not readable in 30 s"
            for records in (await consumer.getmany(timeout_ms=2000)).values():
                got.extend(records)
        assert [r.value for r in got] == [b"before"] and got[0].offset == before.offset
        await consumer.close()


async def test_restarting_every_node_keeps_what_was_below_the_high_watermark(
    cluster_factory: Callable[..., LocalCluster],
) -> None:
    cluster = cluster_factory(3)
    cluster.start_all()
    await cluster.wait_ready(30)
    async with Keystream(cluster.bootstrap()) as ks:
        await ks.admin.create_topic("keep", partitions=3, replication_factor=3)
        producer = await ks.producer(acks="all").start()
        futures = [await producer.send("keep", f"v{i}".encode()) for i in range(3000)]
        await producer.flush()
        assert all(f.exception() is None for f in futures)
        await producer.close()
        hws = await ks.admin.list_offsets("keep", "latest")
    for n in (1, 2, 3):
        cluster.kill(n)
    cluster.start_all()
    await cluster.wait_ready(40)
    async with Keystream(cluster.bootstrap()) as ks:
        await eventually(lambda: ks.admin.list_offsets("keep", "latest"), lambda h: h == hws, timeout=40,
                         what="high watermarks back at their values")  # fmt: skip
        records = await _read_all(ks, "keep", 3)
        assert sorted(r.value for rs in records.values() for r in rs) == sorted(f"v{i}".encode() for i in range(3000))


async def test_bad_produce_and_fetch_input_gets_typed_errors(cluster_factory: Callable[..., LocalCluster]) -> None:
    cluster = cluster_factory(1)
    cluster.start_all()
    await cluster.wait_ready(30)
    conn = await NativeConnection.open(cluster.address(1, "native"))
    await conn.request("create_topic", {"name": "small", "partitions": 1, "replication_factor": 1,
                                        "config": {"max.message.bytes": 2000}})  # fmt: skip
    await eventually(lambda: conn.request("list_offsets", {"partitions": [["small", 0, -1]]}),
                     lambda r: r["partitions"][0][2] == 0, what="leader ready")  # fmt: skip

    async def produce_code(topic: str, partition: int, batch: Any) -> int:
        reply = await conn.request("produce", {"acks": 1, "topics": [[topic, [[partition, batch]]]]})
        return int(reply["results"][0][2])

    good = build_batch([(b"k", b"v", None, None)])
    corrupt = bytearray(good)
    corrupt[-1] ^= 0xFF
    assert await produce_code("nope", 0, good) == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
    assert await produce_code("small", 5, good) == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
    assert await produce_code("small", 0, bytes(corrupt)) == ErrorCode.CORRUPT_MESSAGE
    assert await produce_code("small", 0, b"garbage") == ErrorCode.CORRUPT_MESSAGE
    assert await produce_code("small", 0, build_batch([(None, b"x" * 5000, None, None)])) == ErrorCode.MESSAGE_TOO_LARGE
    assert await produce_code("small", 0, good) == 0

    fetch = await conn.request("fetch", {"partitions": [["small", 0, 99]], "max_wait_ms": 0})
    code, detail = fetch["partitions"][0][2], fetch["partitions"][0]
    assert code == ErrorCode.OFFSET_OUT_OF_RANGE and "[0, 1]" in detail[6]
    fetch = await conn.request("fetch", {"partitions": [["small", 0, -5]], "max_wait_ms": 0})
    assert fetch["partitions"][0][2] == ErrorCode.OFFSET_OUT_OF_RANGE
    with pytest.raises(KeystreamError) as info:
        await conn.request("create_topic", {"name": "bad name"})
    assert info.value.code == ErrorCode.INVALID_TOPIC
    with pytest.raises(KeystreamError) as info:
        await conn.request("create_topic", {"name": "c", "config": {"retention.ms": "soon"}})
    assert info.value.code == ErrorCode.INVALID_CONFIG
    assert (await conn.request("ping"))["node_id"] == 1
    await conn.close()


async def _http_json(http: aiohttp.ClientSession, url: str) -> Any:
    async with http.get(url) as resp:
        return await resp.json()


async def test_retention_deletes_old_segments(cluster_factory: Callable[..., LocalCluster]) -> None:
    cluster = cluster_factory(1, extra_args=["--set", "log.retention.check.interval.ms=200"])
    cluster.start_all()
    await cluster.wait_ready(30)
    async with Keystream(cluster.bootstrap()) as ks:
        await ks.admin.create_topic("short", partitions=1, replication_factor=1,
                                    config={"segment.bytes": 4096, "retention.bytes": 8192})  # fmt: skip
        producer = await ks.producer(linger_ms=0, batch_size=1024).start()
        for i in range(400):
            await producer.send("short", b"x" * 100 + str(i).encode())
        await producer.flush()
        await producer.close()
        starts = await eventually(lambda: ks.admin.list_offsets("short", "earliest"), lambda o: o[0] > 0,
                                  timeout=20, what="log start advancing")  # fmt: skip
        consumer = ks.consumer(auto_offset_reset="earliest")
        consumer.assign([TopicPartition("short", 0)])
        first = await consumer.getone(timeout_ms=5000)
        assert first.offset >= starts[0]
        await consumer.close()


def _cli(args: list[str], stdin: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "KEYSTREAM_BOOTSTRAP"}
    return subprocess.run([sys.executable, "-m", "client.cli.main", *args], input=stdin, capture_output=True,
                          text=True, timeout=timeout, env=env)  # fmt: skip


async def test_cli_and_http_produce_and_consume(cluster_factory: Callable[..., LocalCluster]) -> None:
    cluster = cluster_factory(3)
    cluster.start_all()
    await cluster.wait_ready(30)
    boot = ["--bootstrap", ",".join(cluster.bootstrap())]
    created = await asyncio.to_thread(_cli, ["topic", "create", "cli", "--partitions", "2", "-c", "retention.ms=600000",
                                             *boot])  # fmt: skip
    assert created.returncode == 0, created.stderr
    lines = "".join(f"k{i}\tv{i}\n" for i in range(50)) + "no-key-line\n"
    produced = await asyncio.to_thread(_cli, ["produce", "cli", *boot], lines)
    assert produced.returncode == 0 and "produced 51" in produced.stderr, produced.stderr
    consumed = await asyncio.to_thread(_cli, ["consume", "cli", "--from-beginning", "--max", "51", "--print-key",
                                              *boot])  # fmt: skip
    assert consumed.returncode == 0, consumed.stderr
    assert sorted(consumed.stdout.splitlines()) == sorted([f"k{i}\tv{i}" for i in range(50)] + ["\tno-key-line"])
    described = await asyncio.to_thread(_cli, ["topic", "describe", "cli", "--json", *boot])
    info = json.loads(described.stdout)[0]
    assert info["config"] == {"retention.ms": "600000"}
    assert sum(p["high_watermark"] for p in info["partitions"]) == 51

    async with aiohttp.ClientSession() as http:
        base = f"http://{cluster.address(2, 'http')}"
        async with http.post(f"{base}/v1/topics", json={"name": "web", "partitions": 1}) as resp:
            assert resp.status == 201
        async with http.post(
            f"{base}/v1/topics/web/records",
            json={"records": [{"key": "a", "value": "hello"}, {"value": {"base64": "//4="}}]},
        ) as resp:
            body = await resp.json()
            assert resp.status == 200 and [o["offset"] for o in body["offsets"]] == [0, 1]
        async with http.get(f"{base}/v1/topics/web/partitions/0/records?offset=0&max_records=10") as resp:
            body = await resp.json()
            assert [r["value"] for r in body["records"]] == ["hello", {"base64": "//4="}]
            assert body["next_offset"] == 2
        async with http.get(f"{base}/v1/topics/web/partitions/0/records?offset=9") as resp:
            assert resp.status == 416 and (await resp.json())["error"] == "OFFSET_OUT_OF_RANGE"
        async with http.delete(f"{base}/v1/topics/web") as resp:
            assert resp.status == 200
        async with http.get(f"{base}/v1/topics/web") as resp:
            assert resp.status == 404
        # every replica's directory goes (renamed at once, removed by a worker thread)
        dirs = [cluster.data_dir / f"node{n}" / "log" for n in (1, 2, 3)]
        await eventually(lambda: asyncio.sleep(0, sorted(p.name for d in dirs for p in d.glob("web-*"))),
                         lambda left: left == [], timeout=20, what="the deleted topic's directories gone")  # fmt: skip
        # the name is free again at once: a new topic of that name starts empty
        async with http.post(f"{base}/v1/topics", json={"name": "web", "partitions": 1}) as resp:
            assert resp.status == 201
        await eventually(lambda: _http_json(http, f"{base}/v1/topics/web"),
                         lambda d: d["partitions"][0]["high_watermark"] == 0 and d["partitions"][0]["leader"] >= 0,
                         timeout=20, what="the new topic 'web' led and empty")  # fmt: skip
