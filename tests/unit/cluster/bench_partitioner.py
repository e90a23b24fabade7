"""Records/s through Kafka's default partitioner (not a test; run it by hand).

    python tests/unit/cluster/bench_partitioner.py

Prints (CPU time, best of 5) murmur2 hashes/s for distinct keys of several sizes (the uncached cost) and
partition_for_key records/s when keys repeat (a bounded set of user ids: the cached cost).
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from cluster.partitioner import (
    StickyPartitioner,
    murmur2,
    partition_for_key,
)


def rate(label: str, count: int, run: Callable[[], object]) -> None:
    best = float("inf")
    for _ in range(5):
        start = time.process_time()
        run()
        best = min(best, time.process_time() - start)
    print(f"{label:<52} {count / best:>14,.0f} /s")


def main() -> None:
    rng = random.Random(42)
    count = 200_000
    for size in (8, 16, 36, 100, 1000):
        keys = [rng.randbytes(size) for _ in range(count if size < 1000 else count // 10)]

        def hash_all(keys: list[bytes] = keys) -> list[int]:
            return [murmur2(key) for key in keys]

        rate(f"murmur2, distinct {size}-byte keys", len(keys), hash_all)
    user_ids = [b"user-%d" % rng.randrange(10_000) for _ in range(count)]
    rate(
        "partition_for_key, 10k repeating user ids, 12 parts",
        count,
        lambda: [partition_for_key(key, 12) for key in user_ids],
    )
    uuids = [str(rng.getrandbits(128)).encode() for _ in range(count)]
    rate(
        "partition_for_key, distinct 36-39 byte keys",
        count,
        lambda: [partition_for_key(key, 12) for key in uuids],
    )
    sticky = StickyPartitioner(random.Random(1))
    rate(
        "sticky partition() for unkeyed records",
        count,
        lambda: [sticky.partition("t", 12) for _ in range(count)],
    )


if __name__ == "__main__":
    main()
