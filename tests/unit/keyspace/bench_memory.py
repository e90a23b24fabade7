"""Memory per key: Keystream's keyspace against a real redis-server, same data.

    python tests/unit/keyspace/bench_memory.py [--count 1000000] [--cluster]

Two data sets (issue 4's targets): ``count`` small string keys (``key:0000042`` ->
``val:0000042``) and one sorted set of ``count`` members (``member:0000042``, random scores).
For Redis: ``INFO memory`` ``used_memory`` after loading minus before (a standalone server by
default; ``--cluster`` for cluster mode, which Redis 7.0 charges 16 more bytes a key for its
slot-to-keys links). For us, in a fresh subprocess per measurement: the ``tracemalloc``
growth (Python allocations, exact) and the RSS growth (what the OS sees, including
allocator slack). The target is at most 2x Redis per key. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from real_redis import RawRedis, redis_server

from cluster.slots import key_slot

BATCH = 1000


def string_batches(count: int) -> Iterator[list[bytes]]:
    """MSETs of keys grouped by slot (a multi-key command must stay in one slot), a chunk
    of keys at a time so that no large temporary structure inflates the RSS measured."""
    chunk = 100_000
    for first in range(0, count, chunk):
        by_slot: dict[int, list[bytes]] = {}
        for i in range(first, min(first + chunk, count)):
            key = b"key:%07d" % i
            by_slot.setdefault(key_slot(key), []).extend((key, b"val:%07d" % i))
        for pending in by_slot.values():
            yield [b"MSET", *pending]


def zset_batches(count: int) -> Iterator[list[bytes]]:
    rng = random.Random(42)
    for start in range(0, count, BATCH):
        argv = [b"ZADD", b"leaderboard"]
        for i in range(start, min(start + BATCH, count)):
            argv += [repr(rng.uniform(0, 1e6)).encode(), b"member:%07d" % i]
        yield argv


DATASETS = {"strings": string_batches, "zset": zset_batches}


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def measure_ours(dataset: str, count: int, mode: str) -> dict[str, float]:
    """Runs in a fresh process: load the data set into a Keyspace, report the growth."""
    from node.keyspace import ApplyContext, Keyspace

    gc.collect()
    if mode == "tracemalloc":
        tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0] if mode == "tracemalloc" else _rss_bytes()
    keyspace = Keyspace()
    started = time.perf_counter()
    for offset, argv in enumerate(DATASETS[dataset](count)):
        reply = keyspace.apply(argv, ApplyContext(0, 0, offset))
        assert not isinstance(reply, Exception), reply
    elapsed = time.perf_counter() - started
    del argv
    gc.collect()
    after = tracemalloc.get_traced_memory()[0] if mode == "tracemalloc" else _rss_bytes()
    return {"bytes": after - before, "seconds": elapsed}


def measure_redis(dataset: str, count: int, cluster: bool) -> float:
    with redis_server(cluster=cluster) as port:
        conn = RawRedis(port)
        before = _used_memory(conn)
        sent = 0
        for argv in DATASETS[dataset](count):
            conn.send(*argv)
            sent += 1
            if sent % 100 == 0:  # keep the pipeline bounded
                for _ in range(100):
                    reply = conn.read()
                    assert reply[0] != "-", reply
        for _ in range(sent % 100):
            reply = conn.read()
            assert reply[0] != "-", reply
        after = _used_memory(conn)
        conn.close()
    return after - before


def _used_memory(conn: RawRedis) -> int:
    info = conn.call("INFO", "memory")[1].decode()
    return next(int(line.split(":")[1]) for line in info.splitlines() if line.startswith("used_memory:"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--cluster", action="store_true", help="compare with cluster-mode Redis")
    parser.add_argument("--child", nargs=2, metavar=("DATASET", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure_ours(args.child[0], args.count, args.child[1])))
        return
    mode_name = "cluster" if args.cluster else "standalone"
    print(f"{args.count:,} keys/members; redis-server 7.0 ({mode_name}) vs Keystream keyspace")
    print(f"{'data set':<10}{'redis B/key':>14}{'ours traced':>14}{'ours RSS':>12}{'ratio':>8}")
    for dataset in DATASETS:
        redis_bytes = measure_redis(dataset, args.count, args.cluster)
        ours = {}
        for mode in ("tracemalloc", "rss"):
            out = subprocess.run(
                [sys.executable, __file__, "--count", str(args.count), "--child", dataset, mode],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            ours[mode] = json.loads(out.stdout)
        per_key = {mode: result["bytes"] / args.count for mode, result in ours.items()}
        redis_per_key = redis_bytes / args.count
        ratio = max(per_key.values()) / redis_per_key
        print(
            f"{dataset:<10}{redis_per_key:>14.1f}{per_key['tracemalloc']:>14.1f}"
            f"{per_key['rss']:>12.1f}{ratio:>7.2f}x"
            f"   (load {ours['rss']['seconds']:.1f}s)"
        )


if __name__ == "__main__":
    main()
