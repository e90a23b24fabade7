"""``keystream bench groups``: rebalance times (eager vs cooperative), group consumption
throughput with three member processes, and commit latency. Prints tables; never pass/fail.

Rebalance time is measured from the trigger (a fourth member's ``start()``, or a member's
``close()`` which sends LeaveGroup) until every partition has exactly one owner among the
members of the new membership and none of them has a rebalance pending: for
cooperative-sticky that includes the second round that hands over the revoked partitions.
While it runs, a producer writes at a fixed rate, and each member notes when it handed
out each record: the longest gap on a partition that has the same owner before and after
the rebalance is how long a member that keeps a partition stopped consuming it.
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import random
import statistics
import time
from collections.abc import Sequence
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from client.records import TopicPartition


class _Member:
    """One in-process group member with its own SDK client, polling and noting record times."""

    def __init__(
        self, addresses: Sequence[str], group: str, topic: str, assignor: str, options: dict[str, Any]
    ) -> None:
        from client import Keystream

        self.ks = Keystream(list(addresses))
        self.group, self.topic, self.assignor, self.options = group, topic, assignor, options
        self.seen: dict[int, list[float]] = {}
        self._task: asyncio.Task[None] | None = None
        self._stopped = False
        self.consumer: Any = None

    async def start(self) -> None:
        await self.ks.start()
        self.consumer = self.ks.group_consumer(
            self.group, topics=[self.topic], assignors=self.assignor, auto_offset_reset="latest", **self.options
        )
        await self.consumer.start()
        self._task = asyncio.create_task(self._poll())

    async def _poll(self) -> None:
        while not self._stopped:  # a flag, not only cancel(): asyncio.wait_for may swallow a cancellation (3.11)
            batch = await self.consumer.getmany(timeout_ms=100)
            now = time.monotonic()
            for tp in batch:
                self.seen.setdefault(tp.partition, []).append(now)

    async def close(self) -> None:
        self._stopped = True
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        await self.ks.close()

    def settled(self) -> bool:
        c = self.consumer
        return c is not None and c.state == "stable" and not c._rejoin and c.generation >= 0


def _settled(members: list[_Member], partitions: int) -> bool:
    if not all(m.settled() for m in members):
        return False
    owned = [m.consumer.assignment() for m in members]
    if len({m.consumer.generation for m in members}) != 1:
        return False
    every = [tp for o in owned for tp in o]
    return len(every) == len(set(every)) == partitions


async def _wait_settled(members: list[_Member], partitions: int, timeout: float = 60.0) -> float:
    deadline = time.monotonic() + timeout
    while not _settled(members, partitions):
        if time.monotonic() > deadline:
            raise TimeoutError("the group did not settle")
        await asyncio.sleep(0.005)
    return time.monotonic()


def _owners(members: list[_Member]) -> dict[int, int]:
    return {tp.partition: i for i, m in enumerate(members) for tp in m.consumer.assignment()}


def _longest_pause(
    members: list[_Member], before: dict[int, int], after: dict[int, int], window: tuple[float, float]
) -> float:
    """Longest gap between handed-out records of a partition whose owner is the same before and
    after, from the trigger until half a second after the group settled."""
    longest = 0.0
    start, end = window[0], window[1] + 0.5
    for partition, owner in before.items():
        if after.get(partition) != owner or owner >= len(members):
            continue
        marks = [start, *sorted(t for t in members[owner].seen.get(partition, []) if start <= t <= end)]
        if len(marks) == 1:
            marks.append(end)
        longest = max(longest, *(b - a for a, b in itertools.pairwise(marks)))
    return longest


async def _steady_producer(ks: Any, topic: str, rate: int, stop: asyncio.Event) -> None:
    producer = await ks.producer(acks=1, linger_ms=1).start()
    tick = 0.01
    per_tick = max(1, int(rate * tick))
    i = 0
    while not stop.is_set():
        for _ in range(per_tick):
            await producer.send(topic, b"x" * 100, key=str(i).encode())
            i += 1
        await asyncio.sleep(tick)
    await producer.close()


async def measure_rebalances(
    addresses: Sequence[str], assignor: str, runs: int, partitions: int, rate: int, options: dict[str, Any]
) -> dict[str, list[float]]:
    from client import Keystream

    topic = f"bench-rebalance-{assignor}"
    rng = random.Random(7)
    out: dict[str, list[float]] = {"join": [], "leave": [], "join_pause": [], "leave_pause": []}
    async with Keystream(list(addresses)) as ks:
        if topic not in await ks.admin.list_topics():
            await ks.admin.create_topic(topic, partitions=partitions, replication_factor=min(3, len(addresses)))
        stop = asyncio.Event()
        producing = asyncio.create_task(_steady_producer(ks, topic, rate, stop))
        try:
            for run in range(runs):
                group = f"bench-{assignor}-{run}-{time.time_ns()}"
                members = [_Member(addresses, group, topic, assignor, options) for _ in range(3)]
                for m in members:
                    # random heartbeat phases (seeded): members started together would all learn of a
                    # rebalance at the same heartbeat, which flatters eager rebalancing
                    await asyncio.sleep(rng.uniform(0, options["heartbeat_interval_ms"] / 1000))
                    await m.start()
                await _wait_settled(members, partitions)
                await asyncio.sleep(0.5)  # consume steadily before the trigger (the workload, not a condition)
                before = _owners(members)
                joiner = _Member(addresses, group, topic, assignor, options)
                started = time.monotonic()
                await joiner.start()
                members.append(joiner)
                done = await _wait_settled(members, partitions)
                out["join"].append(done - started)
                await asyncio.sleep(0.5)
                out["join_pause"].append(_longest_pause(members, before, _owners(members), (started, done)))
                before = _owners(members)
                leaver = members.pop(0)
                started = time.monotonic()
                await leaver.close()
                done = await _wait_settled(members, partitions)
                out["leave"].append(done - started)
                await asyncio.sleep(0.5)
                shifted = {p: o - 1 for p, o in before.items() if o > 0}
                out["leave_pause"].append(_longest_pause(members, shifted, _owners(members), (started, done)))
                for m in members:
                    await m.close()
        finally:
            stop.set()
            await producing
    return out


def _throughput_member(addresses: list[str], group: str, topic: str, queue: Any, index: int) -> None:
    """A member process: consume as fast as it can, committing every second; report counts."""

    async def go() -> None:
        from client import Keystream

        async with Keystream(addresses) as ks:
            consumer = ks.group_consumer(
                group,
                topics=[topic],
                assignors="cooperative-sticky",
                auto_offset_reset="earliest",
                auto_commit_interval_ms=1000,
                max_poll_records=5000,
                session_timeout_ms=10_000,
            )
            count = 0
            first = None
            last_report = time.monotonic()
            while True:
                batch = await consumer.getmany(timeout_ms=200)
                n = sum(len(r) for r in batch.values())
                if n:
                    first = first or time.monotonic()
                    count += n
                if time.monotonic() - last_report > 0.1:
                    queue.put((index, count, first, time.monotonic()))
                    last_report = time.monotonic()

    asyncio.run(go())


async def measure_throughput(
    addresses: Sequence[str], records: int, record_size: int, partitions: int
) -> dict[str, float]:
    from client import Keystream
    from client.consumer import Consumer

    topic = f"bench-groups-{time.time_ns()}"
    async with Keystream(list(addresses)) as ks:
        await ks.admin.create_topic(topic, partitions=partitions, replication_factor=min(3, len(addresses)))
        producer = await ks.producer(acks=1, linger_ms=5).start()
        value = b"x" * record_size
        for i in range(records):
            await producer.send(topic, value, key=str(i).encode())
        await producer.flush()
        await producer.close()
        # one plain consumer, no group: the reference
        consumer = Consumer(ks.cluster, auto_offset_reset="earliest", max_buffered_bytes=64 << 20)
        await consumer.assign_topic(topic)
        got = 0
        started = time.monotonic()
        while got < records:
            got += sum(len(r) for r in (await consumer.getmany(timeout_ms=1000)).values())
        single = records / (time.monotonic() - started)
        await consumer.close()
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=_throughput_member, args=(list(addresses), f"tp-{topic}", topic, queue, i), daemon=True)
        for i in range(3)
    ]
    for p in procs:
        p.start()
    latest: dict[int, tuple[int, float | None, float]] = {}
    deadline = time.monotonic() + 600
    try:
        while sum(c for c, _, _ in latest.values()) < records:
            if time.monotonic() > deadline:
                raise TimeoutError("group consumption did not finish")
            index, count, first, at = await asyncio.to_thread(queue.get, True, 60)
            latest[index] = (count, first, at)
    finally:
        for p in procs:
            p.kill()
    firsts = [f for _, f, _ in latest.values() if f is not None]
    ends = [at for _, _, at in latest.values()]
    group_rate = records / (max(ends) - min(firsts))
    return {"single": single, "group": group_rate, "consumed": float(sum(c for c, _, _ in latest.values()))}


async def measure_commits(addresses: Sequence[str], count: int = 300) -> list[float]:
    from client import Keystream

    topic = f"bench-commit-{time.time_ns()}"
    async with Keystream(list(addresses)) as ks:
        await ks.admin.create_topic(topic, partitions=1, replication_factor=min(3, len(addresses)))
        consumer = ks.group_consumer(f"commit-{topic}", topics=[topic], enable_auto_commit=False)
        while not consumer.assignment():
            await consumer.getmany(timeout_ms=100)
        tp = TopicPartition(topic, 0)
        latencies = []
        for i in range(count):
            started = time.perf_counter()
            await consumer.commit({tp: i})
            latencies.append(time.perf_counter() - started)
        await consumer.close()
    return latencies


@click.command("groups")
@click.option("--bootstrap", "-b", help="Use this cluster instead of starting a local three-node one.")
@click.option("--runs", type=click.IntRange(1, 50), default=5, show_default=True, help="Rebalances of each kind.")
@click.option("--partitions", type=int, default=12, show_default=True)
@click.option("--records", type=int, default=300_000, show_default=True, help="For the throughput measurement.")
@click.option("--record-size", type=int, default=100, show_default=True)
@click.option("--rate", type=int, default=2000, show_default=True, help="Records/s produced during rebalances.")
@click.option("--heartbeat-ms", type=int, default=500, show_default=True)
@click.option("--session-ms", type=int, default=10_000, show_default=True)
def groups(
    bootstrap: str | None,
    runs: int,
    partitions: int,
    records: int,
    record_size: int,
    rate: int,
    heartbeat_ms: int,
    session_ms: int,
) -> None:
    """Consumer groups: rebalance time (join, leave; eager vs cooperative), throughput, commit latency."""
    from client.cli.common import bench_cluster
    from client.cli.runner import run

    console = Console()
    options = {"heartbeat_interval_ms": heartbeat_ms, "session_timeout_ms": session_ms}
    with bench_cluster(bootstrap) as addresses:
        rebalances = {}
        for assignor in ("range", "cooperative-sticky"):
            console.print(f"rebalances with {assignor} ({runs} runs)...")
            rebalances[assignor] = run(measure_rebalances(addresses, assignor, runs, partitions, rate, options))
        console.print("commit latency...")
        commits = run(measure_commits(addresses))
        console.print(f"throughput ({records:,} records)...")
        throughput = run(measure_throughput(addresses, records, record_size, partitions))

    def ms(values: list[float]) -> str:
        return f"{statistics.median(values) * 1000:.0f} / {max(values) * 1000:.0f}"

    table = Table(
        title=f"Consumer groups: {partitions} partitions, 3 nodes + clients on this machine, heartbeat "
        f"{heartbeat_ms} ms, session {session_ms} ms"
    )
    table.add_column("measure")
    table.add_column("range (eager)", justify="right")
    table.add_column("cooperative-sticky", justify="right")
    r, c = rebalances["range"], rebalances["cooperative-sticky"]
    table.add_row("rebalance, 4th member joins (median / max ms)", ms(r["join"]), ms(c["join"]))
    table.add_row("rebalance, a member leaves (median / max ms)", ms(r["leave"]), ms(c["leave"]))
    table.add_row("longest stop of a kept partition, join (median / max ms)", ms(r["join_pause"]), ms(c["join_pause"]))
    table.add_row(
        "longest stop of a kept partition, leave (median / max ms)", ms(r["leave_pause"]), ms(c["leave_pause"])
    )
    console.print(table)
    other = Table(title="Throughput and commits")
    other.add_column("measure")
    other.add_column("value", justify="right")
    other.add_row(f"group of 3 member processes, {record_size} B records (records/s)", f"{throughput['group']:,.0f}")
    other.add_row("one consumer, assigned, no group (records/s)", f"{throughput['single']:,.0f}")
    commits.sort()
    other.add_row(
        "commit latency p50 / p99 (ms, acks=all keyspace write)",
        f"{commits[len(commits) // 2] * 1000:.1f} / {commits[int(len(commits) * 0.99)] * 1000:.1f}",
    )
    console.print(other)
