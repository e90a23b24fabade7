"""Workloads: clients that drive the cluster through the fault proxies and record every
operation in the history, then (after the faults are healed) read everything back.

* ``LogWorkload``: idempotent producers (acks=all unless told otherwise) writing unique
  values round-robin over the partitions of one topic, a consumer tailing every
  partition, and, at the end, a read of every partition from every replica (directly,
  not through a proxy) up to the high watermark.
* ``KvWorkload``: single-key registers (GET, SET of unique values, and compare-and-set
  as WATCH + GET + MULTI/SET/EXEC), counters (INCR, GET) and sets (SADD of unique
  elements, SMEMBERS), then a final read of every key.

Outcomes follow Jepsen: ``ok`` happened, ``fail`` certainly did not (the node refused
it before it reached the log: MOVED, TRYAGAIN, CLUSTERDOWN, NOT_LEADER, no connection
could be opened), ``info`` unknown (a timeout, a connection lost after sending,
OUTCOME_UNKNOWN). A read that fails is ``fail``: it changed nothing.

Every loop is bounded by the run's deadline on the history clock, and every client
call by a timeout.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from client import CommandError, Keystream, TopicPartition
from client.chaos.history import FAIL, INFO, OK, History
from client.connection import NativeConnection
from client.local_cluster import LocalCluster
from cluster.errors import ErrorCode, KeystreamError
from node.storage.batch import decode_records, iter_batches

log = logging.getLogger(__name__)

LOG_TOPIC = "chaos-log"
FINAL_PROCESS = -1  # the process that makes the final reads
CAS_READ_PROCESS_OFFSET = 10_000  # the GET inside a compare-and-set is recorded as this process's read
NOT_EXECUTED = frozenset(
    {ErrorCode.MOVED, ErrorCode.TRYAGAIN, ErrorCode.CLUSTERDOWN, ErrorCode.NOT_LEADER, ErrorCode.CLUSTER_NOT_READY}
)
FINAL_READ_TIMEOUT_S = 60.0
FINAL_READ_ATTEMPTS = 200
REPLICA_READ_MAX_BYTES = 1 << 20
REPLICA_READ_MAX_CHUNKS = 100_000


@dataclass
class WorkloadOptions:
    seed: int = 0
    # the log
    log_partitions: int = 3
    log_replication: int = 3
    log_min_insync: int = 2
    log_producers: int = 2
    log_rate: float = 40.0  # records per second per producer
    producer_acks: str = "all"
    unclean_election: bool = False
    delivery_timeout_ms: int = 30_000
    request_timeout_ms: int = 5_000
    # the keyspace
    register_workers: int = 4
    counter_workers: int = 2
    set_workers: int = 2
    counter_keys: int = 2
    set_keys: int = 2
    ops_per_register_key: int = 150
    kv_op_timeout_s: float = 5.0
    think_s: float = 0.01
    # consumer groups
    group_members: int = 3
    group_partitions: int = 4


def classify(exc: BaseException, write: bool) -> str:
    """``fail`` if the operation certainly had no effect, else ``info``."""
    if not write:
        return FAIL
    if isinstance(exc, CommandError):
        return FAIL  # the keyspace refused it (WRONGTYPE, EXECABORT, ...)
    if isinstance(exc, KeystreamError):
        return FAIL if exc.code in NOT_EXECUTED else INFO
    if isinstance(exc, ConnectionError | OSError) and not isinstance(exc, TimeoutError):
        return FAIL  # the SDK converts a connection lost after sending into OUTCOME_UNKNOWN
    return INFO


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, KeystreamError):
        return f"{exc.code.name}: {exc.message}"[:300]
    return f"{type(exc).__name__}: {exc}"[:300]


def _text(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="backslashreplace")
    return value


class Workload:
    name = "workload"

    def __init__(self, history: History, options: WorkloadOptions, bootstrap: list[str]) -> None:
        self.history = history
        self.options = options
        self.bootstrap = bootstrap
        self.rng = random.Random(f"{options.seed}-{self.name}")
        self.client_options: dict[str, Any] = {"connect_timeout": 2.0, "request_timeout": 10.0}

    def topics(self) -> list[str]:
        return []

    def keys(self) -> list[str]:
        """Keys the workload uses all along (faults aimed at "a shard leader" pick theirs)."""
        return []

    async def setup(self) -> None:
        pass

    async def run(self, until: float) -> None:
        pass

    async def finish(self, cluster: LocalCluster) -> None:
        pass

    async def close(self) -> None:
        pass


# --- the log -----------------------------------------------------------------------------------------


class LogWorkload(Workload):
    name = "log"

    def __init__(self, history: History, options: WorkloadOptions, bootstrap: list[str]) -> None:
        super().__init__(history, options, bootstrap)
        self.topic = LOG_TOPIC
        self.partitions = options.log_partitions
        self.replication = options.log_replication
        self.in_flight: set[Awaitable[Any]] = set()

    def topics(self) -> list[str]:
        return [self.topic]

    def topic_config(self) -> dict[str, str]:
        config = {"min.insync.replicas": str(min(self.options.log_min_insync, self.replication))}
        if self.options.unclean_election:
            config["unclean.leader.election.enable"] = "true"
        return config

    async def setup(self) -> None:
        async with Keystream(self.bootstrap, **self.client_options) as ks:
            await ks.admin.create_topic(
                self.topic,
                partitions=self.partitions,
                replication_factor=self.replication,
                config=self.topic_config(),
            )
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                await ks.cluster.refresh(reason="topic created")
                parts = ks.cluster.map.get("partitions", {}).get(self.topic, [])
                if parts and all(p["leader"] >= 0 for p in parts):
                    return
                await asyncio.sleep(0.1)
            raise TimeoutError(f"{self.topic} has partitions without a leader after 30 s")

    async def run(self, until: float) -> None:
        await asyncio.gather(
            *(self._producer(i, until) for i in range(self.options.log_producers)), self._consumer(until)
        )

    async def _producer(self, index: int, until: float) -> None:
        opts = self.options
        async with Keystream(self.bootstrap, **self.client_options) as ks:
            producer = ks.producer(
                acks=opts.producer_acks,
                linger_ms=5,
                enable_idempotence=True,
                max_block_ms=5_000,
                delivery_timeout_ms=opts.delivery_timeout_ms,
                request_timeout_ms=opts.request_timeout_ms,
                retry_backoff_max_ms=500,
            )
            try:
                await asyncio.wait_for(producer.start(), opts.kv_op_timeout_s * 4)
            except (KeystreamError, ConnectionError, OSError, TimeoutError) as exc:
                log.warning("log producer %d could not start: %s", index, exc)
            pending: set[asyncio.Future[Any]] = set()
            seq = 0
            interval = 1.0 / opts.log_rate
            while self.history.now() < until:
                partition = seq % self.partitions
                value = f"p{index}-{seq}"
                invocation = self.history.invoke(
                    self.name, "record", index, "send", key=partition, value=value, seq=seq
                )
                seq += 1
                try:
                    future = await asyncio.wait_for(
                        producer.send(self.topic, value.encode(), partition=partition), opts.kv_op_timeout_s
                    )
                except (KeystreamError, ConnectionError, OSError, TimeoutError) as exc:
                    self.history.complete(invocation, INFO, error=describe_error(exc))
                    await asyncio.sleep(interval)
                    continue
                done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
                pending.add(done)

                def on_done(
                    fut: Any, invocation: dict[str, Any] = invocation, done: asyncio.Future[Any] = done
                ) -> None:
                    error = fut.exception()
                    if error is None:
                        self.history.complete(invocation, OK, offset=fut.result().offset)
                    else:
                        self.history.complete(invocation, INFO, error=describe_error(error))
                    pending.discard(done)
                    if not done.done():
                        done.set_result(None)

                future.add_done_callback(on_done)
                await asyncio.sleep(interval)
            # Everything sent gets its verdict: acknowledged, or failed after the delivery timeout.
            try:
                await asyncio.wait_for(producer.flush(), opts.delivery_timeout_ms / 1000 + 10)
            except TimeoutError:
                log.warning("log producer %d: flush did not finish", index)
            await producer.close(timeout=5)
            if pending:
                await asyncio.wait(pending, timeout=5)

    async def _consumer(self, until: float) -> None:
        async with Keystream(self.bootstrap, **self.client_options) as ks:
            consumer = ks.consumer(auto_offset_reset="earliest", fetch_max_wait_ms=300)
            tps = [TopicPartition(self.topic, p) for p in range(self.partitions)]
            consumer.assign(tps)
            for tp in tps:
                consumer.seek(tp, 0)
            try:
                while self.history.now() < until:
                    try:
                        batch = await asyncio.wait_for(consumer.getmany(timeout_ms=500), 5)
                    except (KeystreamError, ConnectionError, OSError, TimeoutError) as exc:
                        self.history.record(
                            {
                                "type": FAIL,
                                "workload": self.name,
                                "model": "consumer",
                                "f": "poll",
                                "error": describe_error(exc),
                            }
                        )
                        await asyncio.sleep(0.2)
                        continue
                    seen = [[r.partition, r.offset, _text(r.value)] for records in batch.values() for r in records]
                    if seen:
                        self.history.record(
                            {"type": OK, "workload": self.name, "model": "consumer", "f": "poll", "records": seen}
                        )
            finally:
                await consumer.close()

    async def finish(self, cluster: LocalCluster) -> None:
        """Read every partition from every replica (each node's own copy) up to the leader's HW."""
        describe = await _direct(cluster, "describe_topics", {"names": [self.topic]})
        for part in describe[0]["partitions"]:
            index = part["partition"]
            hw = part["high_watermark"]
            for node in part["replicas"]:
                event = await read_replica(cluster, node, self.topic, index, hw)
                self.history.record(
                    {
                        "type": OK,
                        "workload": self.name,
                        "model": "replica",
                        "f": "replica_read",
                        "final": True,
                        "leader": part["leader"],
                        "isr": part["isr"],
                        **event,
                    }
                )


async def _direct(cluster: LocalCluster, op: str, args: dict[str, Any], timeout: float = 10.0) -> Any:
    """A request to the first running node that answers, on its default listener."""
    errors = []
    for node_id, node in sorted(cluster.nodes.items()):
        if not node.alive or node.paused:
            continue
        try:
            conn = await NativeConnection.open(cluster.address(node_id, "native"), connect_timeout=timeout)
        except ConnectionError as exc:
            errors.append(str(exc))
            continue
        try:
            return await conn.request(op, args, timeout=timeout)
        except (KeystreamError, ConnectionError) as exc:
            errors.append(f"node {node_id}: {exc}")
        finally:
            await conn.close()
    raise ConnectionError(f"no node answered {op}: {'; '.join(errors[:3])}")


async def read_replica(cluster: LocalCluster, node: int, topic: str, partition: int, upto: int) -> dict[str, Any]:
    """One replica's records below ``upto`` and the SHA-256 of their batches' bytes, read from
    that node's own copy (whatever its role)."""
    digest = hashlib.sha256()
    records: list[list[Any]] = []
    info: dict[str, Any] = {}
    conn = await NativeConnection.open(cluster.address(node, "native"), connect_timeout=5)
    try:
        offset: int | None = None  # None: from the replica's log start
        for _ in range(REPLICA_READ_MAX_CHUNKS):
            args: dict[str, Any] = {
                "topic": topic,
                "partition": partition,
                "max_bytes": REPLICA_READ_MAX_BYTES,
                "max_offset": upto,
            }
            if offset is not None:
                args["offset"] = offset
            reply = await conn.request("replica_read", args, timeout=10)
            info = {
                k: reply.get(k)
                for k in ("log_start_offset", "log_end_offset", "high_watermark", "leader_epoch", "role")
            }
            if offset is None:
                offset = int(reply["log_start_offset"])
            next_offset = offset
            for header, raw in iter_batches(reply["data"] or b"", verify=True):
                if header.base_offset >= upto:
                    break
                digest.update(raw)
                records.extend([r.offset, _text(r.value)] for r in decode_records(raw, verify_crc=False))
                next_offset = header.last_offset + 1
            if next_offset <= offset or next_offset >= upto:
                break
            offset = next_offset
    finally:
        await conn.close()
    return {
        "node": node,
        "partition": partition,
        "upto": upto,
        "records": records,
        "sha256": digest.hexdigest(),
        **info,
    }


# --- the keyspace ----------------------------------------------------------------------------------------


class KvWorkload(Workload):
    name = "kv"

    def __init__(self, history: History, options: WorkloadOptions, bootstrap: list[str]) -> None:
        super().__init__(history, options, bootstrap)
        self.ks: Keystream | None = None
        self.register_ops = 0
        self.register_keys: set[str] = set()
        self.counter_keys = [f"cnt:{i}" for i in range(options.counter_keys)]
        self.set_keys = [f"set:{i}" for i in range(options.set_keys)]

    def keys(self) -> list[str]:
        return self.counter_keys + self.set_keys

    async def setup(self) -> None:
        self.ks = await Keystream(self.bootstrap, **self.client_options).start()
        self.ks.kv.retry_timeout = self.options.kv_op_timeout_s

    async def close(self) -> None:
        if self.ks is not None:
            await self.ks.close()
            self.ks = None

    async def _op(
        self,
        model: str,
        process: int,
        f: str,
        key: str,
        call: Callable[[], Awaitable[Any]],
        write: bool,
        result: Callable[[Any], dict[str, Any]] | None = None,
        **fields: Any,
    ) -> bool:
        """Invoke, run ``call`` under a timeout, complete (with ``result(reply)`` on success)."""
        invocation = self.history.invoke(self.name, model, process, f, key=key, **fields)
        try:
            reply = await asyncio.wait_for(call(), self.options.kv_op_timeout_s + 2)
        except (KeystreamError, ConnectionError, OSError, TimeoutError) as exc:
            self.history.complete(invocation, classify(exc, write), error=describe_error(exc))
            return False
        self.history.complete(invocation, OK, **(result(reply) if result is not None else {}))
        return True

    async def run(self, until: float) -> None:
        o = self.options
        workers = [self._register_worker(p, until) for p in range(o.register_workers)]
        base = o.register_workers
        workers += [self._counter_worker(base + p, until) for p in range(o.counter_workers)]
        base += o.counter_workers
        workers += [self._set_worker(base + p, until) for p in range(o.set_workers)]
        await asyncio.gather(*workers)

    # registers -------------------------------------------------------------------------------------
    async def _register_worker(self, process: int, until: float) -> None:
        assert self.ks is not None
        kv = self.ks.kv
        rng = random.Random(f"{self.options.seed}-register-{process}")
        n = 0
        while self.history.now() < until:
            key = f"reg:{self.register_ops // self.options.ops_per_register_key}"
            self.register_ops += 1
            self.register_keys.add(key)
            roll = rng.random()
            if roll < 0.4:
                await self.read_register(process, key)
            elif roll < 0.7:
                value = f"{process}-{n}"
                n += 1
                await self._op("register", process, "write", key, partial(kv.set, key, value), True, value=value)
            else:
                value = f"{process}-{n}"
                n += 1
                await self._cas(process, key, value)
            await asyncio.sleep(self.options.think_s)

    async def read_register(self, process: int, key: str, final: bool = False) -> bool:
        assert self.ks is not None
        kv = self.ks.kv
        extra = {"final": True} if final else {}
        return await self._op(
            "register", process, "read", key, lambda: kv.get(key), False, lambda reply: {"value": _text(reply)}, **extra
        )

    async def _cas(self, process: int, key: str, new: str) -> None:
        """Compare-and-set: WATCH key, GET it (the expected value), MULTI SET key new EXEC.

        EXEC answers None when the key changed after WATCH: then the value differed
        from the expected one at some instant of the operation (values are unique), so
        it is a cas whose comparison failed. The GET is also recorded as a read."""
        assert self.ks is not None
        kv = self.ks.kv
        invocation = self.history.invoke(self.name, "register", process, "cas", key=key, value=new)
        timeout = self.options.kv_op_timeout_s + 2
        try:
            watched = await asyncio.wait_for(kv.watch(key), timeout)
            reader = process + CAS_READ_PROCESS_OFFSET
            read_inv = self.history.invoke(self.name, "register", reader, "read", key=key)
            try:
                current = _text(await asyncio.wait_for(kv.get(key), timeout))
            except (KeystreamError, ConnectionError, OSError, TimeoutError) as exc:
                self.history.complete(read_inv, FAIL, error=describe_error(exc))
                raise
            self.history.complete(read_inv, OK, value=current)
        except (KeystreamError, ConnectionError, OSError, TimeoutError) as exc:
            self.history.complete(invocation, FAIL, error=describe_error(exc))  # nothing was written
            return
        try:
            reply = await asyncio.wait_for(kv.multi_exec([["SET", key, new]], watched), timeout)
        except (KeystreamError, ConnectionError, OSError, TimeoutError) as exc:
            self.history.complete(invocation, classify(exc, True), expected=current, error=describe_error(exc))
            return
        if reply is None:
            self.history.complete(invocation, OK, expected=current, swapped=False)
        elif isinstance(reply, list) and reply and reply[0] == "OK":
            self.history.complete(invocation, OK, expected=current, swapped=True)
        else:
            self.history.complete(invocation, FAIL, expected=current, error=f"unexpected EXEC reply {reply!r}"[:300])

    # counters ---------------------------------------------------------------------------------------
    async def _counter_worker(self, process: int, until: float) -> None:
        assert self.ks is not None
        kv = self.ks.kv
        rng = random.Random(f"{self.options.seed}-counter-{process}")
        while self.history.now() < until:
            key = rng.choice(self.counter_keys)
            if rng.random() < 0.8:
                await self._op("counter", process, "add", key, partial(kv.incr, key), True, value=1)
            else:
                await self.read_counter(process, key)
            await asyncio.sleep(self.options.think_s)

    async def read_counter(self, process: int, key: str, final: bool = False) -> bool:
        assert self.ks is not None
        kv = self.ks.kv
        extra = {"final": True} if final else {}
        return await self._op(
            "counter",
            process,
            "read",
            key,
            lambda: kv.get(key),
            False,
            lambda reply: {"value": int(reply or 0)},
            **extra,
        )

    # sets -------------------------------------------------------------------------------------------
    async def _set_worker(self, process: int, until: float) -> None:
        assert self.ks is not None
        kv = self.ks.kv
        rng = random.Random(f"{self.options.seed}-set-{process}")
        n = 0
        while self.history.now() < until:
            key = rng.choice(self.set_keys)
            if rng.random() < 0.85:
                element = f"{process}-{n}"
                n += 1
                await self._op("set", process, "add", key, partial(kv.sadd, key, element), True, value=element)
            else:
                await self.read_set(process, key)
            await asyncio.sleep(self.options.think_s)

    async def read_set(self, process: int, key: str, final: bool = False) -> bool:
        assert self.ks is not None
        kv = self.ks.kv
        extra = {"final": True} if final else {}
        return await self._op(
            "set",
            process,
            "read",
            key,
            lambda: kv.smembers(key),
            False,
            lambda reply: {"value": sorted(_text(v) for v in (reply or []))},
            **extra,
        )

    # the end ------------------------------------------------------------------------------------------
    async def finish(self, cluster: LocalCluster) -> None:
        """Read every key until the read succeeds (bounded), after the cluster settled."""
        reads: list[Callable[[], Awaitable[bool]]] = []
        for key in sorted(self.register_keys):
            reads.append(partial(self.read_register, FINAL_PROCESS, key, final=True))
        for key in self.counter_keys:
            reads.append(partial(self.read_counter, FINAL_PROCESS, key, final=True))
        for key in self.set_keys:
            reads.append(partial(self.read_set, FINAL_PROCESS, key, final=True))
        deadline = time.monotonic() + FINAL_READ_TIMEOUT_S
        for read in reads:
            if time.monotonic() > deadline:
                log.warning("final reads of the keyspace stopped after %.0f s", FINAL_READ_TIMEOUT_S)
                break
            for _ in range(FINAL_READ_ATTEMPTS):
                if await read() or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)
        await self._digests(cluster)

    async def _digests(self, cluster: LocalCluster) -> None:
        """Every shard replica's state digest and applied offset, for the convergence check."""
        for node_id in sorted(cluster.nodes):
            try:
                conn = await NativeConnection.open(cluster.address(node_id, "native"), connect_timeout=5)
            except ConnectionError as exc:
                self.history.record(
                    {
                        "type": FAIL,
                        "workload": self.name,
                        "model": "digest",
                        "f": "keyspace_digest",
                        "final": True,
                        "node": node_id,
                        "error": str(exc),
                    }
                )
                continue
            try:
                digests = await conn.request("keyspace_digest", {}, timeout=10)
                self.history.record(
                    {
                        "type": OK,
                        "workload": self.name,
                        "model": "digest",
                        "f": "keyspace_digest",
                        "final": True,
                        "node": node_id,
                        "shards": {str(k): v for k, v in digests.items()},
                    }
                )
            except (KeystreamError, ConnectionError) as exc:
                self.history.record(
                    {
                        "type": FAIL,
                        "workload": self.name,
                        "model": "digest",
                        "f": "keyspace_digest",
                        "final": True,
                        "node": node_id,
                        "error": describe_error(exc),
                    }
                )
            finally:
                await conn.close()


# --- consumer groups ---------------------------------------------------------------------------------------

GROUP_ID = "chaos-group"


class GroupsWorkload(LogWorkload):
    """Group members that consume and commit after processing, while a producer writes.

    Each member polls, records what it was handed (``consume`` events), and commits the
    positions after it (``commit`` operations: ok, fail when the group refused it -- a
    new generation -- or info). An observer reads the committed offsets twice a second
    (``read`` operations). After the faults, a fresh member joins, resumes from the
    committed offsets and consumes up to the high watermark: with commit-after-processing,
    every acknowledged record must have been handed to some member at least once."""

    name = "groups"

    def __init__(self, history: History, options: WorkloadOptions, bootstrap: list[str]) -> None:
        super().__init__(history, options, bootstrap)
        self.topic = "chaos-groups"
        self.partitions = options.group_partitions
        self.members = options.group_members

    async def run(self, until: float) -> None:
        await asyncio.gather(
            self._producer(0, until),
            *(self._member(i, until) for i in range(self.members)),
            self._observer(until),
        )

    def _group_consumer(self, ks: Keystream, index: int) -> Any:
        return ks.group_consumer(
            GROUP_ID,
            topics=[self.topic],
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=6_000,
            request_timeout_ms=5_000,
            max_poll_interval_ms=60_000,
            client_id=f"chaos-member-{index}",
            fetch_max_wait_ms=300,
        )

    async def _member(
        self,
        index: int,
        until: float,
        final_ends: dict[int, int] | None = None,
        committed: dict[int, int] | None = None,
    ) -> None:
        """Consume and commit until ``until`` or, with ``final_ends``, until every partition's
        committed offset reaches its end (bounded by FINAL_READ_TIMEOUT_S)."""
        process = index
        timeout = self.options.kv_op_timeout_s * 2
        async with Keystream(self.bootstrap, **self.client_options) as ks:
            consumer = self._group_consumer(ks, index)
            await consumer.start()
            deadline = time.monotonic() + FINAL_READ_TIMEOUT_S
            done: dict[int, int] = dict(committed or {})
            try:
                while True:
                    if final_ends is None and self.history.now() >= until:
                        break
                    if final_ends is not None and (
                        all(done.get(p, 0) >= end for p, end in final_ends.items()) or time.monotonic() > deadline
                    ):
                        break
                    try:
                        batch = await asyncio.wait_for(consumer.getmany(timeout_ms=500), timeout)
                    except (KeystreamError, ConnectionError, OSError, TimeoutError) as exc:
                        self.history.record(
                            {
                                "type": FAIL,
                                "workload": self.name,
                                "model": "consume",
                                "f": "poll",
                                "process": process,
                                "error": describe_error(exc),
                            }
                        )
                        await asyncio.sleep(0.2)
                        continue
                    if not batch:
                        continue
                    seen = [[r.partition, r.offset, _text(r.value)] for records in batch.values() for r in records]
                    self.history.record(
                        {
                            "type": OK,
                            "workload": self.name,
                            "model": "consume",
                            "f": "poll",
                            "process": process,
                            "generation": consumer.generation,
                            "records": seen,
                            **({"final": True} if final_ends is not None else {}),
                        }
                    )
                    offsets = {tp: records[-1].offset + 1 for tp, records in batch.items()}
                    invocation = self.history.invoke(
                        self.name,
                        "commit",
                        process,
                        "commit",
                        value=sorted([tp.partition, o] for tp, o in offsets.items()),
                        generation=consumer.generation,
                        **({"final": True} if final_ends is not None else {}),
                    )
                    try:
                        await asyncio.wait_for(consumer.commit(offsets), timeout)
                    except (KeystreamError, ConnectionError, OSError, TimeoutError) as exc:
                        refused = isinstance(exc, KeystreamError) and exc.code in (
                            ErrorCode.ILLEGAL_GENERATION,
                            ErrorCode.UNKNOWN_MEMBER_ID,
                            ErrorCode.FENCED_INSTANCE_ID,
                            ErrorCode.REBALANCE_IN_PROGRESS,
                        )
                        self.history.complete(invocation, FAIL if refused else INFO, error=describe_error(exc))
                        continue
                    self.history.complete(invocation, OK)
                    for tp, offset in offsets.items():
                        done[tp.partition] = max(done.get(tp.partition, 0), offset)
            finally:
                await consumer.close()

    async def _observer(self, until: float, final: bool = False) -> dict[int, int] | None:
        """Read the committed offsets every half second until ``until``; with ``final``, once
        (the offsets read, or None if the read failed)."""
        from client.groups import GroupAdmin

        async with Keystream(self.bootstrap, **self.client_options) as ks:
            admin = GroupAdmin(ks.cluster, timeout_s=self.options.kv_op_timeout_s)
            read: dict[int, int] | None = None
            while True:
                invocation = self.history.invoke(
                    self.name, "committed", OBSERVER_PROCESS, "read", **({"final": True} if final else {})
                )
                try:
                    committed = await asyncio.wait_for(
                        admin.committed(GROUP_ID, [self.topic]), self.options.kv_op_timeout_s + 2
                    )
                except (KeystreamError, ConnectionError, OSError, TimeoutError) as exc:
                    self.history.complete(invocation, FAIL, error=describe_error(exc))
                    read = None
                else:
                    read = {tp.partition: o for tp, o in committed.items()}
                    self.history.complete(invocation, OK, value=sorted([p, o] for p, o in read.items()))
                if final or self.history.now() >= until:
                    return read
                await asyncio.sleep(0.5)

    async def _final_committed(self) -> dict[int, int] | None:
        deadline = time.monotonic() + FINAL_READ_TIMEOUT_S / 2
        for _ in range(FINAL_READ_ATTEMPTS):
            read = await self._observer(until=0.0, final=True)
            if read is not None or time.monotonic() > deadline:
                return read
            await asyncio.sleep(0.5)
        return None

    async def finish(self, cluster: LocalCluster) -> None:
        """A fresh member consumes from the committed offsets to the end; then the final
        committed offsets and every replica's copy (for the log checks)."""
        describe = await _direct(cluster, "describe_topics", {"names": [self.topic]})
        ends = {int(p["partition"]): int(p["high_watermark"]) for p in describe[0]["partitions"]}
        committed = await self._final_committed() or {}
        if any(committed.get(p, 0) < end for p, end in ends.items()):
            await self._member(self.members, until=0.0, final_ends=ends, committed=committed)
            await self._final_committed()
        await super().finish(cluster)


OBSERVER_PROCESS = -2
WORKLOADS: dict[str, type[Workload]] = {"log": LogWorkload, "kv": KvWorkload, "groups": GroupsWorkload}
