"""The compose demo: `docker compose -f deploy/docker-compose.yml run --rm demo`.

Runs inside the compose network against the nodes' internal listeners, with
the SDK, and prints what it does:

1. the cluster: every node's HTTP `GET /v1/cluster` names the same controller
   at the same map epoch;
2. the log: creates the topic `demo` (6 partitions, 3 replicas) unless it
   exists, produces keyed records with acks=all to partitions led by
   different nodes, and consumes them back from where this run started;
3. the keyspace: strings, a counter, a hash, a sorted set and a TTL, on keys
   whose slots belong to shards led by different nodes.

Environment:
  KEYSTREAM_BOOTSTRAP  comma-separated native addresses (node1:9092,...)
  KEYSTREAM_HTTP       comma-separated base URLs of the nodes' HTTP listeners
  DEMO_TOPIC           topic to use (default demo)
  DEMO_RECORDS         how many records to produce (default 60)
  DEMO_DEADLINE_S      how long each step may take (default 60)
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import sys
import time
import urllib.error
import urllib.request
from typing import Any

from client import Keystream, TopicPartition
from cluster.errors import ErrorCode, KeystreamError

POLL_INTERVAL_S = 0.5


# --- 1. the cluster, over HTTP --------------------------------------------------------------------


def get_json(url: str, timeout: float = 3.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.load(response)


def cluster_maps(bases: list[str]) -> dict[str, Any]:
    maps: dict[str, Any] = {}
    for base in bases:
        try:
            maps[base] = get_json(f"{base}/v1/cluster")
        except (OSError, urllib.error.URLError, ValueError) as exc:
            maps[base] = {"error": str(exc)}
    return maps


def agreed(maps: dict[str, Any]) -> bool:
    """Every node answered, and all name the same controller at the same map epoch."""
    views = {(m.get("map_epoch"), m.get("controller")) for m in maps.values()}
    return all("error" not in m for m in maps.values()) and len(views) == 1


def wait_for_agreement(bases: list[str], deadline_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + deadline_s
    maps = cluster_maps(bases)
    while not agreed(maps):
        if time.monotonic() > deadline:
            print("the nodes did not agree on one cluster map in time:", file=sys.stderr)
            print(json.dumps(maps, indent=2, sort_keys=True), file=sys.stderr)
            raise SystemExit(1)
        time.sleep(POLL_INTERVAL_S)
        maps = cluster_maps(bases)
    return maps


def show_cluster(maps: dict[str, Any]) -> None:
    first = next(iter(maps.values()))
    print(f"cluster map epoch {first.get('map_epoch')}, controller node {first.get('controller')}")
    for node_id, node in sorted(first.get("nodes", {}).items()):
        print(f"  node {node_id}: native {node.get('native')}, http {node.get('http')}, resp {node.get('resp')}")
    print(f"all {len(maps)} nodes serve the same map ({', '.join(maps)})")


# --- 2. the log, with the SDK ---------------------------------------------------------------------


async def log_demo(bootstrap: str, topic: str, count: int, deadline_s: float) -> None:
    async with Keystream(bootstrap) as ks:
        try:
            await ks.admin.create_topic(topic, partitions=6, replication_factor=3)
            print(f"created topic {topic!r}: 6 partitions, 3 replicas each")
        except KeystreamError as exc:
            if exc.code != ErrorCode.TOPIC_ALREADY_EXISTS:
                raise
            print(f"topic {topic!r} exists already: appending to it")
            await ks.cluster.refresh(reason="demo")
        parts = await ks.cluster.partitions_for(topic)
        for p in parts:
            print(f"  {topic}-{p['partition']}: leader node {p['leader']}, replicas {p['replicas']}, isr {p['isr']}")

        start = await ks.admin.list_offsets(topic, "latest")
        run = f"{time.time():.0f}"
        sent: dict[int, list[tuple[int, bytes]]] = collections.defaultdict(list)
        async with ks.producer(acks="all", linger_ms=5) as producer:
            futures = [
                await producer.send(topic, f"record {i} of run {run}".encode(), key=f"user-{i % 12}".encode())
                for i in range(count)
            ]
            metas = await asyncio.wait_for(asyncio.gather(*futures), deadline_s)
        for i, meta in enumerate(metas):
            sent[meta.partition].append((meta.offset, f"record {i} of run {run}".encode()))
        leaders = {p["partition"]: p["leader"] for p in ks.cluster.topic_partitions(topic)}
        print(f"produced {count} records with acks=all:")
        for partition in sorted(sent):
            offsets = [o for o, _ in sent[partition]]
            print(
                f"  {topic}-{partition} (leader node {leaders[partition]}): "
                f"{len(offsets)} records at offsets {offsets[0]}..{offsets[-1]}"
            )

        consumer = ks.consumer()
        tps = [TopicPartition(topic, p["partition"]) for p in parts]
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, start[tp.partition])
        got: dict[int, list[tuple[int, bytes | None]]] = collections.defaultdict(list)
        deadline = time.monotonic() + deadline_s
        while sum(len(v) for v in got.values()) < count:
            if time.monotonic() > deadline:
                raise SystemExit(f"consumed only {sum(len(v) for v in got.values())} of {count} records in time")
            for tp, records in (await consumer.getmany(timeout_ms=1000)).items():
                got[tp.partition].extend((r.offset, r.value) for r in records)
        await consumer.close()
        for partition, records in sent.items():
            if got[partition][: len(records)] != records:
                raise SystemExit(f"{topic}-{partition}: consumed records differ from those produced")
        print(f"consumed all {count} records back, in order per partition, from {len(got)} partitions")


# --- 3. the keyspace, with the SDK ----------------------------------------------------------------


def text(value: Any) -> Any:
    """Replies with bytes decoded, for printing."""
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, list):
        return [text(v) for v in value]
    if isinstance(value, dict):
        return {text(k): text(v) for k, v in value.items()}
    return value


async def keyspace_demo(bootstrap: str) -> None:
    from cluster.slots import key_slot

    async with Keystream(bootstrap) as ks:
        kv = ks.kv
        await kv.set("greeting", "hello from the compose demo")
        print(f"SET greeting -> GET greeting = {text(await kv.get('greeting'))!r}")
        visits = await kv.incr("demo:visits")
        print(f"INCR demo:visits = {visits} (one more every time the demo runs)")
        await kv.hset("user:{ann}", "name", "Ann", "lang", "python")
        print(f"HSET/HGETALL user:{{ann}} = {text(await kv.hgetall('user:{ann}'))}")
        await kv.zadd("board", 30, "ann", 20, "bob", 10, "cy")
        print(f"ZADD/ZRANGE board = {text(await kv.zrange('board', 0, -1, 'WITHSCORES'))}")
        await kv.set("session:42", "short-lived", ex=60)
        print(f"SET session:42 EX 60 -> TTL = {await kv.ttl('session:42')}")
        print("where these keys live (slot -> shard leader):")
        for key in ("greeting", "demo:visits", "user:{ann}", "board", "session:42"):
            slot = key_slot(key.encode())
            print(f"  {key}: slot {slot}, node {kv.node_for_slot(slot)}")


def main() -> int:
    bases = [b.strip().rstrip("/") for b in os.environ.get("KEYSTREAM_HTTP", "").split(",") if b.strip()]
    bootstrap = os.environ.get("KEYSTREAM_BOOTSTRAP", "")
    if not bases or not bootstrap:
        print("set KEYSTREAM_HTTP and KEYSTREAM_BOOTSTRAP", file=sys.stderr)
        return 2
    deadline_s = float(os.environ.get("DEMO_DEADLINE_S", "60"))
    print(f"== the cluster: asking {len(bases)} nodes for their map (GET /v1/cluster)")
    show_cluster(wait_for_agreement(bases, deadline_s))
    print(f"\n== the log: SDK bootstrapping on {bootstrap}")
    asyncio.run(
        log_demo(
            bootstrap,
            os.environ.get("DEMO_TOPIC", "demo"),
            int(os.environ.get("DEMO_RECORDS", "60")),
            deadline_s,
        )
    )
    print("\n== the keyspace: SDK key-value commands, routed by hash slot")
    asyncio.run(keyspace_demo(bootstrap))
    return 0


if __name__ == "__main__":
    sys.exit(main())
