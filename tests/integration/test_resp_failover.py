"""SIGKILL a shard leader under a redis-py RedisCluster workload.

Writer threads, each with its own RedisCluster client, SET distinct keys over every slot
and remember what was acknowledged. One node that leads shards is killed with SIGKILL.
The controller fences it within its session timeout and elects new leaders from the
in-sync followers; the clients find them through MOVED and CLUSTER SLOTS refreshes (the
errors they see meanwhile are not acknowledgements). Then: writes to the dead node's
former slots succeed again, and every acknowledged write reads back with its value
(acks=all: an acknowledged write is on every in-sync replica).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.backoff import ExponentialBackoff
from redis.cluster import RedisCluster
from redis.exceptions import RedisError
from redis.retry import Retry

from client.local_cluster import LocalCluster
from cluster.slots import key_slot
from tests.integration.test_resp_support import Raw, key_in_slot, resp_port, start_cluster, wait_until

WRITERS = 4
MAX_WRITES_PER_WRITER = 20_000  # bounds every loop; the test stops them long before


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    c = start_cluster(tmp_path / "failover")
    yield c
    c.stop_all(timeout=15)


def _client(cluster: LocalCluster, node: int) -> RedisCluster:
    return RedisCluster(
        host="127.0.0.1",
        port=resp_port(cluster, node),
        socket_timeout=5,
        socket_connect_timeout=2,
        retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=8),
    )


def _slots_of(cluster: LocalCluster, asked: int, port: int) -> list[tuple[int, int]]:
    """The slot ranges node ``asked`` reports as led by the node listening on ``port``."""
    conn = Raw(resp_port(cluster, asked), timeout=5)
    try:
        return [(int(s[0]), int(s[1])) for s in conn.call("CLUSTER", "SLOTS") if int(s[2][1]) == port]
    finally:
        conn.close()


def test_sigkill_shard_leader_under_redis_py_workload(cluster: LocalCluster) -> None:
    victim = 2
    victim_port = resp_port(cluster, victim)
    observer = _client(cluster, 1)
    victim_ranges = _slots_of(cluster, 1, victim_port)
    assert victim_ranges, "the victim leads no shard"

    acked: dict[str, str] = {}
    errors: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def writer(w: int) -> None:
        client = _client(cluster, 1 + w % 3 if 1 + w % 3 != victim else 1)
        try:
            for i in range(MAX_WRITES_PER_WRITER):
                if stop.is_set():
                    return
                key, value = f"fo:{w}:{i}", f"{w}-{i}"
                try:
                    if client.set(key, value):
                        with lock:
                            acked[key] = value
                except RedisError as exc:  # not acknowledged: its fate may be unknown
                    with lock:
                        errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            client.close()

    threads = [threading.Thread(target=writer, args=(w,), daemon=True) for w in range(WRITERS)]
    for t in threads:
        t.start()
    try:
        wait_until(lambda: len(acked), lambda n: n >= 400, timeout=60, what="writes before the kill")
        before = len(acked)
        cluster.kill(victim)
        killed_at = time.monotonic()

        # The victim's slots move to other nodes, and the clients write there again.
        def moved_away() -> list[tuple[int, int]]:
            return _slots_of(cluster, 3, victim_port)

        wait_until(moved_away, lambda ranges: not ranges, timeout=60, what="the victim's slots moving away")
        probe = key_in_slot(victim_ranges[0][0])
        wait_until(lambda: observer.set(probe, b"after"), bool, timeout=60, what="a write to a former victim slot")
        recovered_s = time.monotonic() - killed_at
        wait_until(lambda: len(acked), lambda n: n >= before + 400, timeout=60, what="writes after the kill")
        victim_slot_keys = [k for k in acked if any(s <= key_slot(k.encode()) <= e for s, e in victim_ranges)]
        assert victim_slot_keys, "no acknowledged write landed on the victim's slots"
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)

    # No acknowledged write is lost: read every one back through a fresh client.
    reader = _client(cluster, 3)
    try:
        keys = sorted(acked)
        for start in range(0, len(keys), 1000):
            chunk = keys[start : start + 1000]
            pipe = reader.pipeline()
            for key in chunk:
                pipe.get(key)
            values = pipe.execute()
            lost = [(k, v) for k, v in zip(chunk, values, strict=True) if v != acked[k].encode()]
            assert not lost, f"acknowledged writes lost or changed: {lost[:10]}"
    finally:
        reader.close()
        observer.close()
    print(
        f"\n{len(acked)} acknowledged writes, {len(errors)} client errors ({sorted(set(errors))[:5]}), "
        f"recovered {recovered_s:.1f}s after SIGKILL"
    )
