"""Consumer groups with real processes: members (subprocesses, SIGKILLed), the coordinator's
node killed during commits, static membership restarts, max.poll.interval, pattern subscriptions,
a member closing while the group waits for the leader's sync.

Run as a module, this file is also the member process the tests start:
``python -m tests.integration.test_groups member --bootstrap ... --log FILE``. A member
processes records batch by batch and commits after each batch (commit-after-processing);
it logs its ownership changes and every record it processed, with ``time.monotonic()``
(one clock for every process on the machine), flushed before each commit.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from client import CommitFailedError, Keystream, TopicPartition
from client.groups import GroupAdmin
from client.local_cluster import LocalCluster
from client.producer import RecordFuture
from cluster.errors import ErrorCode, KeystreamError
from node.groups.protocol import PROTOCOL_TYPE, Assignment, Subscription
from tests.conftest import eventually

TOPIC = "events"
PARTITIONS = 12
SESSION_MS = 3000
HEARTBEAT_MS = 300
ROOT = Path(__file__).resolve().parents[2]


# --- the member process ------------------------------------------------------------------------------------
async def _member(args: argparse.Namespace) -> None:
    out = open(args.log, "a")  # noqa: ASYNC230 - a local log file, closed at exit

    def emit(event: str, **fields: Any) -> None:
        out.write(json.dumps({"e": event, "t": time.monotonic(), **fields}) + "\n")

    def on(event: str) -> Callable[[set[TopicPartition]], None]:
        def callback(tps: set[TopicPartition]) -> None:
            emit(event, tps=sorted(tp.partition for tp in tps))
            out.flush()

        return callback

    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with Keystream(args.bootstrap.split(",")) as ks:
        consumer = ks.group_consumer(
            args.group,
            topics=[args.topic],
            assignors=args.assignor,
            session_timeout_ms=args.session_ms,
            heartbeat_interval_ms=args.heartbeat_ms,
            group_instance_id=args.instance or None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            client_id=args.name,
            on_assigned=on("assigned"),
            on_revoked=on("revoked"),
            on_lost=on("lost"),
        )
        emit("start", pid=os.getpid())
        out.flush()
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=200, max_records=50)
            if not batch:
                continue
            now = time.monotonic()
            for tp, records in batch.items():
                out.write(
                    "".join(
                        json.dumps({"e": "rec", "t": now, "p": tp.partition, "o": r.offset}) + "\n" for r in records
                    )
                )
            out.flush()
            await asyncio.sleep(args.work_ms / 1000)  # the "processing"
            offsets = {tp.partition: records[-1].offset + 1 for tp, records in batch.items()}
            try:
                await consumer.commit()
                emit("commit", offsets=offsets)
            except CommitFailedError as exc:
                emit("commit_failed", why=str(exc))
            out.flush()
        await consumer.close()
        emit("closed")
        out.close()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["member"])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--group", default="g")
    parser.add_argument("--topic", default=TOPIC)
    parser.add_argument("--assignor", default="range")
    parser.add_argument("--session-ms", type=int, default=SESSION_MS)
    parser.add_argument("--heartbeat-ms", type=int, default=HEARTBEAT_MS)
    parser.add_argument("--instance", default="")
    parser.add_argument("--name", default="member")
    parser.add_argument("--work-ms", type=float, default=5.0)
    parser.add_argument("--log", required=True)
    asyncio.run(_member(parser.parse_args(argv)))


# --- driving members from the tests ----------------------------------------------------------------------
class Member:
    def __init__(self, tmp: Path, name: str, bootstrap: list[str], **options: Any) -> None:
        self.name = name
        self.log = tmp / f"{name}.jsonl"
        self.options = options
        self.bootstrap = bootstrap
        self.proc: subprocess.Popen[bytes] | None = None
        self.killed_at: float | None = None

    def start(self) -> Member:
        args = [
            sys.executable,
            "-m",
            "tests.integration.test_groups",
            "member",
            "--bootstrap",
            ",".join(self.bootstrap),
            "--log",
            str(self.log),
            "--name",
            self.name,
        ]
        for key, value in self.options.items():
            args += [f"--{key.replace('_', '-')}", str(value)]
        stderr = open(self.log.with_suffix(".stderr"), "ab")
        self.proc = subprocess.Popen(args, cwd=ROOT, stdout=stderr, stderr=stderr, start_new_session=True)
        stderr.close()
        return self

    def kill(self) -> None:
        assert self.proc is not None
        self.killed_at = time.monotonic()
        self.proc.kill()
        self.proc.wait(timeout=10)

    def terminate(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def events(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        out = []
        for line in self.log.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue  # a line torn by SIGKILL
        return out

    def owned(self) -> set[int]:
        owned: set[int] = set()
        for ev in self.events():
            if ev["e"] == "assigned":
                owned |= set(ev["tps"])
            elif ev["e"] in ("revoked", "lost"):
                owned -= set(ev["tps"])
        return owned if self.killed_at is None else set()

    def intervals(self, end: float) -> dict[int, list[tuple[float, float]]]:
        """Ownership intervals per partition (open ones end at ``end`` or at the kill)."""
        stop = self.killed_at if self.killed_at is not None else end
        open_since: dict[int, float] = {}
        out: dict[int, list[tuple[float, float]]] = {}
        for ev in self.events():
            if ev["e"] == "assigned":
                for p in ev["tps"]:
                    open_since.setdefault(p, ev["t"])
            elif ev["e"] in ("revoked", "lost"):
                for p in ev["tps"]:
                    if p in open_since:
                        out.setdefault(p, []).append((open_since.pop(p), ev["t"]))
        for p, since in open_since.items():
            out.setdefault(p, []).append((since, stop))
        return out

    def records(self) -> list[tuple[int, int, float]]:
        return [(ev["p"], ev["o"], ev["t"]) for ev in self.events() if ev["e"] == "rec"]

    def last_commits(self) -> dict[int, int]:
        out: dict[int, int] = {}
        for ev in self.events():
            if ev["e"] == "commit":
                for p, o in ev["offsets"].items():
                    out[int(p)] = max(out.get(int(p), 0), o)
        return out


class Producer:
    """A steady stream of acks=all records; remembers where each acknowledged one landed."""

    def __init__(self, ks: Keystream, topic: str = TOPIC, per_tick: int = 20, tick_s: float = 0.05) -> None:
        self.ks = ks
        self.topic = topic
        self.per_tick = per_tick
        self.tick_s = tick_s
        self.futures: list[RecordFuture] = []
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> Producer:
        self.producer = await self.ks.producer(acks="all", linger_ms=2).start()
        self._task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        i = 0
        while not self._stop.is_set():
            for _ in range(self.per_tick):
                self.futures.append(await self.producer.send(self.topic, f"v{i}".encode(), key=f"k{i}".encode()))
                i += 1
            await asyncio.sleep(self.tick_s)

    async def stop(self) -> set[tuple[int, int]]:
        self._stop.set()
        assert self._task is not None
        await self._task
        await self.producer.flush()
        await self.producer.close()
        acked = set()
        for fut in self.futures:
            if fut.exception() is None:
                meta = fut.result()
                acked.add((meta.partition, meta.offset))
        return acked


async def _cluster(cluster_factory: Callable[..., LocalCluster], nodes: int = 3) -> LocalCluster:
    cluster = cluster_factory(nodes)
    cluster.start_all()
    await cluster.wait_ready(60)
    return cluster


def _overlaps(members: list[Member], end: float) -> list[str]:
    problems = []
    by_partition: dict[int, list[tuple[float, float, str]]] = {}
    for m in members:
        for p, spans in m.intervals(end).items():
            by_partition.setdefault(p, []).extend((a, b, m.name) for a, b in spans)
    for p, owned in by_partition.items():
        owned.sort()
        for (_a1, b1, m1), (a2, _b2, m2) in itertools.pairwise(owned):
            if a2 < b1:
                problems.append(f"partition {p}: {m1} owned it until {b1:.3f}, {m2} from {a2:.3f}")
    return problems


def _outside_ownership(m: Member, end: float) -> list[tuple[int, int]]:
    spans = m.intervals(end)
    return [(p, o) for p, o, t in m.records() if not any(a <= t <= b for a, b in spans.get(p, []))]


# --- tests ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("assignor", ["range", "cooperative-sticky"])
async def test_three_members_twelve_partitions_one_killed(
    cluster_factory: Callable[..., LocalCluster], tmp_path: Path, assignor: str
) -> None:
    cluster = await _cluster(cluster_factory)
    async with Keystream(cluster.bootstrap()) as ks:
        await ks.admin.create_topic(TOPIC, partitions=PARTITIONS, replication_factor=3)
        producer = await Producer(ks).start()
        # the victim processes slowly, so the kill usually lands between processing and committing
        members = [
            Member(tmp_path, f"m{i}", cluster.bootstrap(), assignor=assignor, work_ms=50 if i == 2 else 5).start()
            for i in range(3)
        ]
        try:

            async def owners() -> list[set[int]]:
                return [m.owned() for m in members]

            def settled(owned: list[set[int]], alive: list[int]) -> bool:
                union = set().union(*(owned[i] for i in alive))
                total = sum(len(owned[i]) for i in alive)
                return union == set(range(PARTITIONS)) and total == PARTITIONS and all(owned[i] for i in alive)

            await eventually(owners, lambda o: settled(o, [0, 1, 2]), timeout=40, what="12 partitions over 3 members")
            victim = members[2]
            # every member has processed and committed a few batches: the kill lands mid-stream
            await eventually(
                lambda: asyncio.sleep(0, [(len(m.records()), len(m.last_commits())) for m in members]),
                lambda progress: all(records >= 20 and commits > 0 for records, commits in progress),
                timeout=40,
                what="every member processing and committing",
            )
            victim_partitions = victim.owned()
            victim.kill()
            await eventually(
                owners,
                lambda o: settled(o, [0, 1]),
                timeout=SESSION_MS / 1000 + 15,
                interval=0.05,
                what="the killed member's partitions reassigned",
            )
            reassigned_at = max(
                ev["t"]
                for m in members[:2]
                for ev in m.events()
                if ev["e"] == "assigned" and set(ev["tps"]) & victim_partitions
            )
            assert victim.killed_at is not None
            reassign_s = reassigned_at - victim.killed_at
            await asyncio.sleep(1.5)
            acked = await producer.stop()

            async def processed() -> set[tuple[int, int]]:
                return {(p, o) for m in members for p, o, _ in m.records()}

            await eventually(processed, lambda got: acked <= got, timeout=40, what="every acked record processed")
            for m in members[:2]:
                m.terminate()
            end = time.monotonic()
        finally:
            for m in members:
                m.terminate()

        # ownership: one owner per partition at any moment, and records only while owned
        assert not _overlaps(members, end)
        for m in members:
            assert not _outside_ownership(m, end), f"{m.name} processed records of partitions it did not own"
        # at least once; duplicates only after the killed member's last commit
        counts: dict[tuple[int, int], list[str]] = {}
        for m in members:
            for p, o, _ in m.records():
                counts.setdefault((p, o), []).append(m.name)
        assert acked <= set(counts)
        last = victim.last_commits()
        duplicates = {k: v for k, v in counts.items() if len(v) > 1}
        for (p, o), names in duplicates.items():
            assert victim.name in names and len(names) == 2, f"{p}@{o} processed by {names}"
            assert p in victim_partitions and o >= last.get(p, 0), f"{p}@{o} duplicated before the last commit"
        # committed offsets are at the end after the survivors closed
        ends = await ks.admin.list_offsets(TOPIC, "latest")
        committed = await GroupAdmin(ks.cluster).committed("g")
        assert {tp.partition: o for tp, o in committed.items()} == ends

        # consumption of partitions that did not move, around the rebalance
        window = (victim.killed_at, reassigned_at + 0.5)
        gaps = []
        for m in members[:2]:
            # owned before the kill and after the rebalance (eager assignors revoke and give them back)
            spans = m.intervals(end)
            kept = {p for p in spans if any(a < window[0] < b for a, b in spans[p])}
            kept &= {p for p in spans if any(a < window[1] < b for a, b in spans[p])}
            times = sorted(t for p, _, t in m.records() if p in kept and window[0] <= t <= window[1])
            if len(times) > 1:
                gaps.append(max(b - a for a, b in itertools.pairwise(times)))
        print(
            f"\n[{assignor}] reassigned {reassign_s:.2f}s after SIGKILL (session {SESSION_MS} ms); "
            f"{len(duplicates)} duplicate(s); longest pause on kept partitions during the rebalance: "
            f"{max(gaps, default=0):.3f}s"
        )
        assert reassign_s < SESSION_MS / 1000 + 2.5
        if assignor == "cooperative-sticky":
            assert gaps and max(gaps) < 1.5, f"kept partitions paused during the rebalance: {gaps}"


async def test_killing_the_coordinator_node_during_commits_loses_no_offset(
    cluster_factory: Callable[..., LocalCluster],
) -> None:
    cluster = await _cluster(cluster_factory)
    total = 6000
    async with Keystream(cluster.bootstrap()) as ks:
        await ks.admin.create_topic(TOPIC, partitions=6, replication_factor=3)
        producer = await ks.producer(acks="all").start()
        for i in range(total):
            await producer.send(TOPIC, f"v{i}".encode(), key=f"k{i}".encode())
        await producer.flush()
        await producer.close()
        ends = await ks.admin.list_offsets(TOPIC, "latest")
        admin = GroupAdmin(ks.cluster, timeout_s=60)
        acked: dict[int, int] = {}
        samples: dict[int, list[int]] = {}
        failures: list[str] = []
        processed = 0
        consumer = ks.group_consumer(
            "c",
            topics=[TOPIC],
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            session_timeout_ms=15_000,
            heartbeat_interval_ms=500,
            request_timeout_ms=60_000,
        )
        stop_sampling = asyncio.Event()

        async def sample() -> None:
            async with Keystream(cluster.bootstrap()) as other:
                reader = GroupAdmin(other.cluster, timeout_s=60)
                while not stop_sampling.is_set():
                    try:
                        for tp, offset in (await reader.committed("c")).items():
                            samples.setdefault(tp.partition, []).append(offset)
                    except Exception as exc:  # a failover in progress: keep sampling
                        failures.append(f"sample: {exc}")
                    await asyncio.sleep(0.05)

        sampler = asyncio.create_task(sample())
        killed = None
        slowest_commit = 0.0
        deadline = time.monotonic() + 90
        while processed < total:
            assert time.monotonic() < deadline, f"consumed {processed} of {total}"
            batch = await consumer.getmany(timeout_ms=500, max_records=40)
            processed += sum(len(r) for r in batch.values())
            if not batch:
                continue
            await asyncio.sleep(0.01)
            try:
                started = time.monotonic()
                await consumer.commit()
                slowest_commit = max(slowest_commit, time.monotonic() - started)
                for tp, records in batch.items():
                    acked[tp.partition] = max(acked.get(tp.partition, 0), records[-1].offset + 1)
            except CommitFailedError as exc:
                failures.append(f"commit: {exc}")
            if killed is None and processed > total // 3:
                coordinator = await ks.cluster.request_any("find_coordinator", {"group_id": "c"})
                killed = coordinator["node_id"]
                generation_before = consumer.generation
                cluster.kill(killed)
        await consumer.commit()
        for tp in consumer.assignment():
            acked[tp.partition] = max(acked.get(tp.partition, 0), consumer._delivered.get(tp, 0))
        stop_sampling.set()
        await sampler
        final = {tp.partition: o for tp, o in (await admin.committed("c")).items()}
        moved_to = (await ks.cluster.request_any("find_coordinator", {"group_id": "c"}))["node_id"]
        generation_after = consumer.generation
        await consumer.close()
    print(
        f"\ncoordinator node {killed} killed; {len(failures)} failed commit/sample attempt(s) during the failover; "
        f"{sum(len(s) for s in samples.values())} samples"
    )
    print(
        f"coordinator moved {killed} -> {moved_to}; slowest commit {slowest_commit:.2f}s; generation "
        f"{generation_before} -> {generation_after} (the new coordinator loaded the group: no rebalance needed)"
    )
    assert killed is not None and moved_to != killed
    for p, offset in acked.items():
        assert final.get(p, -1) >= offset, f"partition {p}: acknowledged commit {offset} lost ({final.get(p)})"
    for p, seen in samples.items():
        assert seen == sorted(seen), f"partition {p}: committed offset moved backwards: {seen}"
    assert final == ends


async def test_static_member_restart_causes_no_rebalance(
    cluster_factory: Callable[..., LocalCluster], tmp_path: Path
) -> None:
    cluster = await _cluster(cluster_factory)
    session = 10_000
    async with Keystream(cluster.bootstrap()) as ks:
        await ks.admin.create_topic(TOPIC, partitions=PARTITIONS, replication_factor=3)
        producer = await Producer(ks, per_tick=5).start()
        opts = {"session_ms": session, "heartbeat_ms": 500}
        a = Member(tmp_path, "a", cluster.bootstrap(), instance="inst-a", **opts).start()
        b = Member(tmp_path, "b", cluster.bootstrap(), instance="inst-b", **opts).start()
        a2 = Member(tmp_path, "a2", cluster.bootstrap(), instance="inst-a", **opts)
        try:

            async def owners() -> tuple[set[int], set[int]]:
                return a.owned(), b.owned()

            await eventually(owners, lambda o: len(o[0]) == len(o[1]) == 6, timeout=40, what="6 + 6 partitions")
            admin = GroupAdmin(ks.cluster)
            before = await admin.describe_group("g")
            a_partitions = a.owned()
            b_events = len([e for e in b.events() if e["e"] in ("assigned", "revoked", "lost")])
            await asyncio.sleep(1.0)
            a.kill()
            a2.start()
            await eventually(
                lambda: asyncio.sleep(0, a2.owned()),
                lambda o: o == a_partitions,
                timeout=30,
                what="the restarted instance getting its partitions back",
            )
            after = await admin.describe_group("g")
            acked = await producer.stop()

            async def processed() -> set[tuple[int, int]]:
                return {(p, o) for m in (a, a2, b) for p, o, _ in m.records()}

            await eventually(processed, lambda got: acked <= got, timeout=40, what="every acked record processed")
            b_events_after = len([e for e in b.events() if e["e"] in ("assigned", "revoked", "lost")])
        finally:
            for m in (a, a2, b):
                m.terminate()
    assert after["generation"] == before["generation"], "the restart caused a rebalance"
    assert b_events_after == b_events, "the other member saw a rebalance"
    last = a.last_commits()
    a2_first: dict[int, int] = {}
    for p, o, _ in a2.records():
        a2_first.setdefault(p, o)
    for p, o in a2_first.items():
        assert o == last.get(p, 0), f"partition {p}: the restarted member resumed at {o}, last commit {last.get(p)}"


async def test_a_member_that_stops_polling_leaves_and_a_pattern_follows_new_topics(
    cluster_factory: Callable[..., LocalCluster],
) -> None:
    cluster = await _cluster(cluster_factory)
    async with Keystream(cluster.bootstrap()) as ks:
        await ks.admin.create_topic("ev-a", partitions=4, replication_factor=3)
        assigned: dict[str, set[TopicPartition]] = {"busy": set(), "fine": set()}

        def track(name: str, add: bool) -> Callable[[set[TopicPartition]], None]:
            def callback(tps: set[TopicPartition]) -> None:
                assigned[name] = assigned[name] | tps if add else assigned[name] - tps

            return callback

        common: dict[str, Any] = {
            "pattern": r"ev-.*",
            "assignors": "cooperative-sticky",
            "session_timeout_ms": 3000,
            "heartbeat_interval_ms": 200,
            "metadata_max_age_ms": 300,
        }
        busy = ks.group_consumer(
            "p",
            max_poll_interval_ms=1500,
            on_assigned=track("busy", True),
            on_revoked=track("busy", False),
            on_lost=track("busy", False),
            **common,
        )
        fine = ks.group_consumer("p", on_assigned=track("fine", True), on_revoked=track("fine", False), **common)

        async def poll(consumer: Any, stop: asyncio.Event) -> None:
            while not stop.is_set():
                await consumer.getmany(timeout_ms=100)

        stop_busy, stop_fine = asyncio.Event(), asyncio.Event()
        busy_task = asyncio.create_task(poll(busy, stop_busy))
        fine_task = asyncio.create_task(poll(fine, stop_fine))
        try:
            await eventually(
                lambda: asyncio.sleep(0, dict(assigned)),
                lambda a: len(a["busy"]) == len(a["fine"]) == 2,
                timeout=30,
                what="2 + 2",
            )
            await ks.admin.create_topic("ev-b", partitions=4, replication_factor=3)
            await eventually(
                lambda: asyncio.sleep(0, dict(assigned)),
                lambda a: len(a["busy"]) + len(a["fine"]) == 8,
                timeout=30,
                what="the new topic's partitions assigned",
            )
            stop_busy.set()  # the application stops polling; the member must leave
            await busy_task
            stopped = time.monotonic()
            await eventually(
                lambda: asyncio.sleep(0, dict(assigned)),
                lambda a: len(a["fine"]) == 8,
                timeout=30,
                what="the idle member's partitions moving to the other",
            )
            print(
                f"\nmember that stopped polling replaced after {time.monotonic() - stopped:.2f}s "
                f"(max.poll.interval.ms=1500)"
            )
            # the member gave its partitions up at once; on_lost runs when the application polls again
            assert busy.assignment() == set() and {tp.topic for tp in assigned["fine"]} == {"ev-a", "ev-b"}
            await busy.getmany(timeout_ms=0)
            assert assigned["busy"] == set()
        finally:
            stop_fine.set()
            await fine_task
            await busy.close()
            await fine.close()


class _ProtocolMember:
    """A group member speaking the native group protocol by hand, to hold a group where the SDK
    never would: it leads the group and can start a rebalance and then never sync."""

    def __init__(self, conn: Any, group: str, topic: str) -> None:
        self.conn, self.group, self.topic = conn, group, topic
        self.member_id = ""
        self.generation = -1

    async def join(self) -> dict[str, Any]:
        meta = Subscription((self.topic,)).encode()
        args = {
            "group_id": self.group,
            "member_id": self.member_id,
            "group_instance_id": None,
            "client_id": "by-hand",
            "session_timeout_ms": 60_000,
            "rebalance_timeout_ms": 60_000,
            "protocol_type": PROTOCOL_TYPE,
            "protocols": [["cooperative-sticky", meta]],
        }
        deadline = time.monotonic() + 30
        while True:
            try:
                reply: dict[str, Any] = await self.conn.request("join_group", args, timeout=60)
                break
            except KeystreamError as exc:
                if exc.code == ErrorCode.MEMBER_ID_REQUIRED and isinstance(exc.detail, dict):
                    self.member_id = args["member_id"] = str(exc.detail["member_id"])
                elif exc.code != ErrorCode.COORDINATOR_NOT_AVAILABLE or time.monotonic() > deadline:
                    raise
                else:  # the group's shard is still electing its first leader
                    await asyncio.sleep(0.1)
        self.member_id, self.generation = reply["member_id"], reply["generation"]
        return reply

    async def sync_giving_everything_to_the_others(self, joined: dict[str, Any], partitions: int) -> None:
        everything = Assignment(tuple(TopicPartition(self.topic, p) for p in range(partitions))).encode()
        assignments = [[mid, Assignment(()).encode() if mid == self.member_id else everything]
                       for mid, _, _ in joined["members"]]  # fmt: skip
        args = {"group_id": self.group, "member_id": self.member_id, "generation": self.generation}
        await self.conn.request("sync_group", {**args, "assignments": assignments}, timeout=30)


async def test_a_member_closing_while_the_leader_has_not_synced_leaves_at_once(
    cluster_factory: Callable[..., LocalCluster],
) -> None:
    """A member closing during a rebalance commits what it processed; the coordinator answers
    REBALANCE_IN_PROGRESS while the group waits for the leader's sync. The closing member must give
    that commit up and leave (as Kafka's consumer does), not retry until the request timeout: when
    it is itself the leader, the sync it waits for is its own and never comes. Seen as a leave
    that took a whole session timeout in ``keystream bench groups`` (cooperative-sticky)."""
    cluster = await _cluster(cluster_factory)
    async with Keystream(cluster.bootstrap()) as ks:
        await ks.admin.create_topic("ev-close", partitions=6, replication_factor=3)
        producer = await ks.producer().start()
        for i in range(60):
            await producer.send("ev-close", b"x", key=str(i).encode())
        await producer.flush()
        await producer.close()
        coordinator = await ks.cluster.request_any("find_coordinator", {"group_id": "held"}, timeout=10)
        leader = _ProtocolMember(await ks.cluster.connection(int(coordinator["node_id"])), "held", "ev-close")
        joined = await leader.join()
        await leader.sync_giving_everything_to_the_others(joined, 6)  # alone: nothing to give
        member = ks.group_consumer(
            "held", topics=["ev-close"], assignors="cooperative-sticky", session_timeout_ms=30_000,
            heartbeat_interval_ms=100, auto_offset_reset="earliest", request_timeout_ms=30_000,
        )  # fmt: skip
        stop = asyncio.Event()
        consumed: list[int] = []

        async def poll() -> None:
            while not stop.is_set():
                batch = await member.getmany(timeout_ms=50)
                consumed.extend(r.offset for records in batch.values() for r in records)

        polling = asyncio.create_task(poll())
        try:
            await eventually(lambda: asyncio.sleep(0, member.state), lambda s: s == "rebalancing", what="its join")
            await leader.sync_giving_everything_to_the_others(await leader.join(), 6)
            await eventually(lambda: asyncio.sleep(0, len(consumed)), lambda n: n == 60, what="60 records consumed")
            assert member.state == "stable" and len(member.assignment()) == 6
            next_generation = leader.generation + 1
            rejoin = asyncio.create_task(leader.join())  # the leader starts a rebalance and will not sync
            await eventually(
                lambda: asyncio.sleep(0, (member.state, member.generation)),
                lambda sg: sg == ("rebalancing", next_generation),
                what="the member joined the new generation and waits for the leader's sync",
            )
            stop.set()
            await polling
            started = time.monotonic()
            await member.close()
            took = time.monotonic() - started
            print(f"\nclose while the leader has not synced took {took:.2f}s")
            assert took < 5.0, f"close waited {took:.1f}s for a rebalance it will never join"
            assert (await rejoin)["generation"] == next_generation
        finally:
            stop.set()
            await asyncio.gather(polling, return_exceptions=True)
            await member.close()


if __name__ == "__main__":
    main(sys.argv[1:])
