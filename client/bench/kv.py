"""Keyspace benchmarks through the SDK: pipelined SET and GET throughput.

Each worker keeps one pipeline of ``pipeline`` commands in flight at a time
(the SDK sends one request per node per pipeline; writes to a shard share a
log batch), so the numbers reflect the cluster's request path, not the
client's round trips.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from client import Keystream


@dataclass
class KvBenchResult:
    operation: str
    ops: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.ops / self.seconds


async def run_kv_bench(
    bootstrap: list[str], *, keys: int, pipeline: int, workers: int, value_bytes: int
) -> list[KvBenchResult]:
    value = b"v" * value_bytes
    results = []
    async with Keystream(bootstrap) as ks:
        await _wait_keyspace(ks)
        for op in ("SET", "GET"):
            per_worker = keys // workers

            async def worker(w: int, op: str = op, per_worker: int = per_worker) -> None:
                base = w * per_worker
                for start in range(0, per_worker, pipeline):
                    pipe = ks.kv.pipeline()
                    for i in range(start, min(start + pipeline, per_worker)):
                        if op == "SET":
                            pipe.set(f"key:{base + i}", value)
                        else:
                            pipe.get(f"key:{base + i}")
                    replies = await pipe.execute()
                    bad = [r for r in replies if isinstance(r, Exception)]
                    if bad:
                        raise bad[0]

            started = time.perf_counter()
            await asyncio.gather(*(worker(w) for w in range(workers)))
            results.append(KvBenchResult(op, per_worker * workers, time.perf_counter() - started))
    return results


async def _wait_keyspace(ks: Keystream) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        await ks.cluster.refresh(reason="bench")
        shards = ks.cluster.map.get("shards", [])
        if shards and all(s["leader"] >= 0 for s in shards):
            try:
                await ks.kv.set("bench:probe", "1")
                return
            except Exception:
                pass
        await asyncio.sleep(0.2)
    raise TimeoutError("the keyspace did not become ready in 30s")
