"""The replica manager: every partition replica this node hosts, as leader or follower.

It follows the cluster map (``reconcile``): opens logs for partitions
assigned here, becomes leader or follower when the map's leader or leader
epoch changes, and deletes replicas of deleted topics. As leader it serves
produce (acks 0, 1, all), consumer fetches (below the high watermark, long
polling) and follower fetches (which move the high watermark and the ISR);
as follower it hands the partition to a fetcher that pulls from the leader.

Storage failures (``node/storage/health.py``): every I/O failure of a log, of
opening one or of the high-watermark checkpoint marks this node's storage
failed; the node reports it in its heartbeats and the controller fences it, so
its leaderships move to in-sync replicas. Meanwhile ``_storage_loop`` probes the
data directory and, once it takes writes again, reopens the logs that went
offline (recovering them from their segments; a follower re-fetches whatever
recovery cut) and reports healthy.

Leadership is only taken while this node is registered with its current
incarnation and not fenced: a restarted node may hold a stale copy of the
map in which it still leads, and must not act on it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cluster import limits
from cluster.durable_file import atomic_write
from cluster.errors import ErrorCode, KeystreamError
from cluster.state import ClusterState
from cluster.topics import NO_LEADER, min_insync_replicas
from node.logging_setup import LogThrottle
from node.protocols.native import NO_REPLY
from node.replication.fetcher import FetcherManager
from node.replication.replica import Replica, Role
from node.replication.state import PartitionLeaderState
from node.storage import LogConfig, PartitionLog
from node.storage.batch import parse_header
from node.storage.checkpoint import write_all
from node.storage.errors import InvalidLogConfigError
from node.storage.health import StorageHealth

log = logging.getLogger(__name__)

_DELETED_SUFFIX = ".deleted"  # a replica directory renamed for deletion in the background

_LOG_CONFIG_KEYS = {
    "retention.ms",
    "retention.bytes",
    "segment.bytes",
    "segment.ms",
    "max.message.bytes",
    "index.interval.bytes",
    "cleanup.policy",
    "delete.retention.ms",
    "min.compaction.lag.ms",
    "min.cleanable.dirty.ratio",
}


@dataclass
class ReplicationSettings:
    replica_lag_time_max_ms: int = 10_000
    replica_fetch_wait_max_ms: int = 500
    replica_fetch_max_bytes: int = 8 * limits.MIB
    replica_fetch_partition_max_bytes: int = 4 * limits.MIB
    flush_interval_ms: int = 1000
    retention_check_interval_ms: int = 5000
    isr_check_interval_ms: int = 250
    storage_probe_interval_ms: int = 500
    # A probe must fit about a batch, so a disk with a few KB left is not "writable again".
    storage_probe_bytes: int = limits.MIB

    @classmethod
    def from_extra(cls, extra: dict[str, Any]) -> ReplicationSettings:
        names = {
            "replica.lag.time.max.ms": "replica_lag_time_max_ms",
            "replica.fetch.wait.max.ms": "replica_fetch_wait_max_ms",
            "replica.fetch.max.bytes": "replica_fetch_max_bytes",
            "log.flush.interval.ms": "flush_interval_ms",
            "log.retention.check.interval.ms": "retention_check_interval_ms",
            "storage.probe.interval.ms": "storage_probe_interval_ms",
            "storage.probe.bytes": "storage_probe_bytes",
        }
        values = {attr: int(extra[key]) for key, attr in names.items() if key in extra}
        return cls(**values)


def log_config_for(topic_config: dict[str, str]) -> LogConfig:
    return LogConfig.from_properties({k: v for k, v in topic_config.items() if k in _LOG_CONFIG_KEYS})


def _now_ms() -> int:
    return int(time.time() * 1000)


class ReplicaManager:
    def __init__(
        self,
        node_id: int,
        data_dir: Path,
        settings: ReplicationSettings,
        propose: Callable[[dict[str, Any]], Any],
        internal_address: Callable[[int], str | None],
        can_lead: Callable[[], bool],
        connect: Callable[..., Any] | None = None,
    ) -> None:
        self.node_id = node_id
        self.log_dir = data_dir / "log"
        self.settings = settings
        self._propose = propose
        self._can_lead = can_lead
        self.replicas: dict[tuple[str, int], Replica] = {}
        self.fetchers = FetcherManager(self, internal_address, connect)
        self.live_nodes: set[int] = set()
        self._hw_checkpoint = data_dir / "replication-offset-checkpoint"
        self._saved_hw: dict[str, int] = {}
        self._tasks: list[asyncio.Task[Any]] = []
        self._isr_proposals: set[asyncio.Task[Any]] = set()
        # Feature hooks (the keyspace applies committed commands; push delivery wakes subscribers).
        self.on_high_watermark: list[Callable[[Replica], None]] = []
        self.on_role_change: list[Callable[[Replica], None]] = []
        self.on_replica_removed: list[Callable[[Replica], None]] = []
        self.on_truncated: list[Callable[[Replica], None]] = []
        # Read-only partitions derived on this node (keyspace change streams), served like topics.
        self.virtual_replicas: dict[tuple[str, int], Replica] = {}
        self._last_state: ClusterState | None = None
        self.storage = StorageHealth(probe_interval_s=settings.storage_probe_interval_ms / 1000)
        self.on_storage_change: list[Callable[[], None]] = []  # failed or healthy again: heartbeat now
        self._loop: asyncio.AbstractEventLoop | None = None
        self._deletions: set[asyncio.Task[None]] = set()
        self._throttle = LogThrottle()

    # --- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(self._remove_leftover_deletions)
        self._saved_hw = self._load_hw_checkpoint()
        self._tasks = [
            asyncio.create_task(self._isr_loop(), name="isr-maintenance"),
            asyncio.create_task(self._flush_loop(), name="log-flush"),
            asyncio.create_task(self._retention_loop(), name="log-retention"),
            asyncio.create_task(self._storage_loop(), name="storage-probe"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        await self.fetchers.stop()
        for replica in self.replicas.values():
            replica.fail_waiters(ErrorCode.NOT_LEADER, "node shutting down")
        await asyncio.to_thread(self._close_all)
        await asyncio.gather(*self._deletions, return_exceptions=True)  # or the next start finishes them

    def _close_all(self) -> None:
        self._write_hw_checkpoint()
        for replica in self.replicas.values():
            try:
                replica.log.close()
            except Exception:
                log.exception("closing %s failed", replica.name)
        self.replicas.clear()

    # --- high-watermark checkpoint ------------------------------------------------------------------
    def _load_hw_checkpoint(self) -> dict[str, int]:
        try:
            lines = self._hw_checkpoint.read_text().splitlines()
        except OSError:
            return {}
        out: dict[str, int] = {}
        for line in lines:
            name, _, value = line.rpartition(" ")
            if name and value.isdigit():
                out[name] = int(value)
        return out

    def _write_hw_checkpoint(self) -> None:
        body = "".join(f"{r.name} {r.high_watermark}\n" for r in self.replicas.values())
        try:
            atomic_write(self._hw_checkpoint, body.encode())
        except OSError as exc:
            self._on_io_error(f"cannot write the high-watermark checkpoint: {exc}")

    # --- following the cluster map --------------------------------------------------------------------
    def reconcile(self, state: ClusterState) -> None:
        self._last_state = state
        self.live_nodes = set(state.live_node_ids())
        may_lead = self._can_lead()
        wanted: set[tuple[str, int]] = set()
        for name, topic in state.topics.items():
            for index, p in enumerate(topic["partitions"]):
                if self.node_id not in p["replicas"]:
                    continue
                key = (name, index)
                wanted.add(key)
                replica = self.replicas.get(key)
                if replica is not None and replica.topic_id != topic["topic_id"]:
                    self._remove(replica, delete=True)
                    replica = None
                if replica is None:
                    replica = self._open(name, index, topic["topic_id"], topic["config"])
                    if replica is None:
                        continue
                self._apply_partition_state(replica, topic, p, may_lead)
        for key in list(self.replicas):
            if key not in wanted:
                self._remove(self.replicas[key], delete=True)
        self.fetchers.reconcile()

    def _open(self, topic: str, partition: int, topic_id: str, config: dict[str, str]) -> Replica | None:
        directory = self.log_dir / f"{topic}-{partition}"
        marker = directory / "partition.metadata"
        if directory.exists():
            try:
                existing_id = marker.read_text().strip()
            except OSError:
                existing_id = ""
            if existing_id != topic_id:
                log.info("deleting %s: it belongs to an earlier topic of that name", directory)
                self._delete_directory(str(directory))
        try:
            log_config = log_config_for(config)
        except InvalidLogConfigError as exc:
            log.error("topic %s has an invalid config (%s); using defaults", topic, exc.message)
            log_config = LogConfig()
        try:
            directory.mkdir(parents=True, exist_ok=True)
            if not marker.exists():
                atomic_write(marker, f"{topic_id}\n".encode())
            plog = PartitionLog.open(str(directory), log_config, _now_ms())
        except (OSError, KeystreamError) as exc:
            # Retried at the next map change, or when a failed disk is writable again.
            self._on_io_error(f"cannot open the log of {topic}-{partition}: {exc}")
            return None
        plog.on_io_error = self._on_io_error
        replica = Replica(topic, partition, topic_id, plog, self._saved_hw.get(f"{topic}-{partition}", 0))
        replica.topic_config = dict(config)
        try:
            replica.rebuild_producer_state()
        except KeystreamError as exc:
            log.error("%s: cannot rebuild producer state: %s", replica.name, exc.message)
        self.replicas[(topic, partition)] = replica
        return replica

    def _remove(self, replica: Replica, delete: bool) -> None:
        self.replicas.pop(replica.key, None)
        self.fetchers.remove(replica)
        replica.role = Role.NONE
        replica.fail_waiters(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, f"{replica.name} is no longer hosted here")
        for hook in self.on_replica_removed:
            hook(replica)
        directory = replica.log.directory
        try:
            replica.log.close()
        except Exception:
            log.exception("closing %s failed", replica.name)
        if delete:
            self._delete_directory(directory)
            log.info("deleted replica %s", replica.name)

    def _delete_directory(self, directory: str) -> None:
        """Rename now, delete in a worker thread (as Kafka's ``-delete`` directories): removing a
        big log file by file on the event loop stalled the node; the rename frees the name at once
        for a topic created again under it."""
        doomed = f"{directory}.{uuid.uuid4().hex[:8]}{_DELETED_SUFFIX}"
        try:
            os.rename(directory, doomed)
        except OSError:
            shutil.rmtree(directory, ignore_errors=True)
            return
        if self._loop is not None and self._loop.is_running():
            task = self._loop.create_task(asyncio.to_thread(shutil.rmtree, doomed, True))
            self._deletions.add(task)
            task.add_done_callback(self._deletions.discard)
        else:
            shutil.rmtree(doomed, ignore_errors=True)

    def _remove_leftover_deletions(self) -> None:
        """Directories renamed for deletion before a crash or stop are deleted at start."""
        for entry in self.log_dir.iterdir():
            if entry.name.endswith(_DELETED_SUFFIX):
                shutil.rmtree(entry, ignore_errors=True)

    def _apply_partition_state(
        self, replica: Replica, topic: dict[str, Any], p: dict[str, Any], may_lead: bool
    ) -> None:
        if replica.topic_config != topic["config"]:
            replica.topic_config = dict(topic["config"])
            try:
                replica.config = log_config_for(topic["config"])
                replica.log.update_config(replica.config)
            except InvalidLogConfigError as exc:
                log.error("ignoring invalid config for %s: %s", replica.name, exc.message)
        replica.min_insync = min_insync_replicas(topic)
        replica.replicas = list(p["replicas"])
        epoch_changed = replica.leader_epoch != p["leader_epoch"] or replica.leader_id != p["leader"]
        replica.leader_id = p["leader"]
        replica.leader_epoch = p["leader_epoch"]
        isr_changed = replica.partition_epoch != p["partition_epoch"]
        replica.partition_epoch = p["partition_epoch"]
        replica.isr = list(p["isr"])
        if p["leader"] == self.node_id and may_lead:
            if replica.role != Role.LEADER or epoch_changed:
                self._become_leader(replica)
            elif isr_changed and replica.leader_state is not None:
                if replica.leader_state.on_isr_committed(replica.isr, replica.partition_epoch):
                    self._hw_advanced(replica)
        elif p["leader"] not in (NO_LEADER, self.node_id):
            if replica.role != Role.FOLLOWER or epoch_changed:
                self._become_follower(replica)
        elif replica.role != Role.NONE:
            self._step_down(replica, Role.NONE)

    def _become_leader(self, replica: Replica) -> None:
        was = replica.role
        self.fetchers.remove(replica)
        leo = replica.log.log_end_offset
        replica.role = Role.LEADER
        replica.leader_state = PartitionLeaderState(
            leader_id=self.node_id,
            leader_epoch=replica.leader_epoch,
            partition_epoch=replica.partition_epoch,
            replicas=list(replica.replicas),
            isr=list(replica.isr),
            leader_leo=leo,
            high_watermark=replica.high_watermark,
            epoch_start_offset=leo,
            now_ms=_now_ms(),
        )
        replica.high_watermark = replica.leader_state.high_watermark
        if replica.leader_state.on_local_append(leo):
            self._hw_advanced(replica)
        log.info("%s: leader in epoch %d (was %s; LEO %d, HW %d, ISR %s)", replica.name,
                 replica.leader_epoch, was.value, leo, replica.high_watermark, replica.isr)  # fmt: skip
        replica.notify_change()
        for hook in self.on_role_change:
            hook(replica)

    def _become_follower(self, replica: Replica) -> None:
        self._step_down(replica, Role.FOLLOWER)
        replica.needs_truncation = True
        self.fetchers.add(replica)
        log.info("%s: follower of node %d in epoch %d (LEO %d)", replica.name, replica.leader_id,
                 replica.leader_epoch, replica.log.log_end_offset)  # fmt: skip

    def _step_down(self, replica: Replica, role: Role) -> None:
        was_leader = replica.role == Role.LEADER
        replica.role = role
        replica.leader_state = None
        if role != Role.FOLLOWER:
            self.fetchers.remove(replica)
        if was_leader:
            replica.fail_waiters(ErrorCode.NOT_LEADER, f"{replica.name}: leadership moved (outcome unknown)")
        for hook in self.on_role_change:
            hook(replica)

    # --- shared helpers ------------------------------------------------------------------------------
    def _hw_advanced(self, replica: Replica) -> None:
        if replica.leader_state is not None:
            replica.set_high_watermark(replica.leader_state.high_watermark)
        for hook in self.on_high_watermark:
            hook(replica)

    def leader_replica(self, topic: Any, partition: Any, leader_epoch: Any = None) -> Replica:
        """The replica if this node leads it (in ``leader_epoch``, when given), else a typed error."""
        virtual = self.virtual_replicas.get((topic, partition)) if isinstance(partition, int) else None
        if virtual is not None:
            if virtual.role != Role.LEADER:
                raise KeystreamError(ErrorCode.NOT_LEADER, f"node {self.node_id} does not lead {virtual.name}",
                                     {"leader": virtual.leader_id, "leader_epoch": virtual.leader_epoch})  # fmt: skip
            return virtual
        replica = self.replicas.get((topic, partition)) if isinstance(partition, int) else None
        if replica is None:
            state = self._last_state
            exists = (
                state is not None
                and topic in state.topics
                and isinstance(partition, int)
                and (0 <= partition < len(state.topics[topic]["partitions"]))
            )
            if not exists:
                raise KeystreamError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, f"{topic}-{partition} does not exist")
            raise KeystreamError(ErrorCode.NOT_LEADER, f"node {self.node_id} does not host {topic}-{partition}")
        if isinstance(leader_epoch, int) and leader_epoch >= 0:
            if leader_epoch < replica.leader_epoch:
                raise KeystreamError(
                    ErrorCode.FENCED_LEADER_EPOCH,
                    f"{replica.name}: epoch {leader_epoch} is older than the current {replica.leader_epoch}",
                )
            if leader_epoch > replica.leader_epoch:
                raise KeystreamError(
                    ErrorCode.UNKNOWN_LEADER_EPOCH,
                    f"{replica.name}: epoch {leader_epoch} is newer than {replica.leader_epoch} known here",
                )
        if replica.role != Role.LEADER or replica.leader_state is None:
            raise KeystreamError(
                ErrorCode.NOT_LEADER,
                f"node {self.node_id} is not the leader of {replica.name} (leader: {replica.leader_id})",
                {"leader": replica.leader_id, "leader_epoch": replica.leader_epoch},
            )
        return replica

    # --- produce ------------------------------------------------------------------------------------
    async def produce(self, args: dict[str, Any]) -> Any:
        """``{acks, timeout_ms, topics: [[topic, [[partition, batch, leader_epoch?], ...]], ...]}``."""
        acks = args.get("acks", -1)
        if acks not in (0, 1, -1, "all"):
            raise KeystreamError(ErrorCode.INVALID_REQUEST, f"acks must be 0, 1 or all, got {acks!r}")
        acks = -1 if acks == "all" else acks
        timeout_ms = int(args.get("timeout_ms", 30_000))
        topics = args.get("topics")
        if not isinstance(topics, list):
            raise KeystreamError(ErrorCode.INVALID_REQUEST, "produce needs topics: [[topic, [[partition, batch]]]]")
        results: list[list[Any]] = []
        waits: list[tuple[list[Any], Replica, int, asyncio.Future[None]]] = []
        now = _now_ms()
        for entry in topics:
            if not isinstance(entry, list) or len(entry) != 2 or not isinstance(entry[1], list):
                raise KeystreamError(ErrorCode.INVALID_REQUEST, "each topic entry is [topic, [[partition, batch]]]")
            topic, parts = entry
            for part in parts:
                if not isinstance(part, list) or len(part) < 2:
                    raise KeystreamError(ErrorCode.INVALID_REQUEST, "each partition entry is [partition, batch]")
                partition, batch = part[0], part[1]
                epoch = part[2] if len(part) > 2 else None
                result: list[Any] = [topic, partition, 0, -1, -1]
                results.append(result)
                try:
                    base, nxt, replica = self._append(topic, partition, batch, epoch, acks, now)
                except KeystreamError as exc:
                    result[2] = int(exc.code)
                    result.append(exc.message)
                    continue
                result[3] = base
                result[4] = replica.log.log_start_offset
                if acks == -1:
                    waits.append((result, replica, nxt, replica.wait_for_hw(nxt)))
        if acks == 0:
            return NO_REPLY
        if waits:
            pending = [w[3] for w in waits]
            done, _ = await asyncio.wait(pending, timeout=timeout_ms / 1000)
            for result, replica, _nxt, fut in waits:
                if fut not in done:
                    fut.cancel()
                    result[2] = int(ErrorCode.REQUEST_TIMED_OUT)
                    result.append(f"not replicated to the ISR within {timeout_ms} ms")
                elif fut.exception() is not None:
                    failure = fut.exception()
                    code = failure.code if isinstance(failure, KeystreamError) else ErrorCode.UNKNOWN_SERVER_ERROR
                    result[2] = int(code)
                    result.append(str(failure))
                elif len(replica.isr) < replica.min_insync:
                    result[2] = int(ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND)
                    result.append(f"ISR shrank to {len(replica.isr)} < min.insync.replicas={replica.min_insync}")
        return {"results": results}

    def _append(
        self, topic: Any, partition: Any, batch: Any, epoch: Any, acks: int, now: int
    ) -> tuple[int, int, Replica]:
        replica = self.leader_replica(topic, partition, epoch)
        if replica.key in self.virtual_replicas:
            raise KeystreamError(ErrorCode.INVALID_TOPIC, f"{replica.topic} is read-only (derived by the cluster)")
        if not isinstance(batch, bytes):
            raise KeystreamError(ErrorCode.CORRUPT_MESSAGE, "batch must be bytes")
        state = replica.leader_state
        assert state is not None
        if acks == -1 and not state.enough_replicas(replica.min_insync):
            raise KeystreamError(
                ErrorCode.NOT_ENOUGH_REPLICAS,
                f"{replica.name}: ISR {replica.isr} is smaller than min.insync.replicas={replica.min_insync}",
            )
        header = parse_header(batch) if len(batch) >= 61 else None
        if header is not None and header.producer_id >= 0:
            duplicate = replica.producers.check(
                header.producer_id, header.producer_epoch, header.base_sequence, header.record_count
            )
            if duplicate is not None:  # a retry of a batch already written: same offsets, no second copy
                return duplicate.first_offset, duplicate.last_offset + 1, replica
        info = replica.log.append_as_leader(batch, replica.leader_epoch, now)
        if info.producer_id >= 0:
            replica.producers.update(info.producer_id, info.producer_epoch, info.base_sequence,
                                     info.record_count, info.first_offset, info.last_offset)  # fmt: skip
        replica.dirty = True
        if state.on_local_append(replica.log.log_end_offset):
            self._hw_advanced(replica)
        replica.notify_change()
        return info.first_offset, info.last_offset + 1, replica

    def append_internal(self, replica: Replica, batch: bytes, now: int) -> tuple[int, int]:
        """Append a batch built by this node (keyspace records) as the partition's leader."""
        if replica.role != Role.LEADER or replica.leader_state is None:
            raise KeystreamError(ErrorCode.NOT_LEADER, f"{replica.name}: not the leader here")
        info = replica.log.append_as_leader(batch, replica.leader_epoch, now)
        replica.dirty = True
        if replica.leader_state.on_local_append(replica.log.log_end_offset):
            self._hw_advanced(replica)
        replica.notify_change()
        return info.first_offset, info.last_offset + 1

    # --- fetch (consumers) -------------------------------------------------------------------------------
    async def fetch(self, args: dict[str, Any]) -> Any:
        """``{max_wait_ms, min_bytes, max_bytes, partitions: [[topic, p, offset, leader_epoch?, max_bytes?]]}``"""
        parts = args.get("partitions")
        if not isinstance(parts, list) or not parts:
            raise KeystreamError(ErrorCode.INVALID_REQUEST, "fetch needs partitions: [[topic, partition, offset]]")
        max_wait = min(int(args.get("max_wait_ms", limits.DEFAULT_FETCH_MAX_WAIT_MS)), limits.MAX_FETCH_WAIT_MS)
        min_bytes = int(args.get("min_bytes", 1))
        max_bytes = min(int(args.get("max_bytes", limits.MAX_FETCH_BYTES)), limits.MAX_FETCH_BYTES)
        deadline = time.monotonic() + max_wait / 1000
        while True:
            results, total, replicas = self._read_for_consumer(parts, max_bytes)
            remaining = deadline - time.monotonic()
            if total >= min_bytes or remaining <= 0 or not replicas or any(r[2] for r in results):
                return {"partitions": results}
            waiters = [r.change_waiter() for r in replicas]
            await asyncio.wait(waiters, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
            for w in waiters:
                w.cancel()

    def _read_for_consumer(self, parts: list[Any], max_bytes: int) -> tuple[list[list[Any]], int, list[Replica]]:
        results: list[list[Any]] = []
        total = 0
        replicas: list[Replica] = []
        for part in parts:
            if not isinstance(part, list) or len(part) < 3:
                raise KeystreamError(ErrorCode.INVALID_REQUEST, "each fetch partition is [topic, partition, offset]")
            topic, partition, offset = part[0], part[1], part[2]
            epoch = part[3] if len(part) > 3 else None
            part_max = int(part[4]) if len(part) > 4 and part[4] else limits.MAX_FETCH_BYTES
            try:
                replica = self.leader_replica(topic, partition, epoch)
                if not isinstance(offset, int):
                    raise KeystreamError(ErrorCode.INVALID_REQUEST, "offset must be an integer")
                hw = replica.high_watermark
                if offset < replica.log.log_start_offset or offset > replica.log.log_end_offset:
                    raise KeystreamError(
                        ErrorCode.OFFSET_OUT_OF_RANGE,
                        f"offset {offset} is outside [{replica.log.log_start_offset}, {hw}] for {replica.name}",
                        {"log_start_offset": replica.log.log_start_offset, "high_watermark": hw},
                    )
                budget = max(1, min(part_max, max_bytes - total))
                data = replica.log.read(offset, budget, max_offset=hw) if offset < hw else b""
                total += len(data)
                replicas.append(replica)
                results.append([topic, partition, 0, hw, replica.log.log_start_offset, data])
            except KeystreamError as exc:
                detail = exc.detail if isinstance(exc.detail, dict) else {}
                results.append([topic, partition, int(exc.code), detail.get("high_watermark", -1),
                                detail.get("log_start_offset", -1), b"", exc.message])  # fmt: skip
        return results, total, replicas

    # --- fetch (followers) ---------------------------------------------------------------------------------
    async def replica_fetch(self, args: dict[str, Any]) -> Any:
        """``{replica_id, max_wait_ms, max_bytes, partitions: [[topic, p, fetch_offset, leader_epoch]]}``"""
        follower = args.get("replica_id")
        parts = args.get("partitions")
        if not isinstance(follower, int) or not isinstance(parts, list):
            raise KeystreamError(ErrorCode.INVALID_REQUEST, "replica_fetch needs replica_id and partitions")
        max_wait = min(int(args.get("max_wait_ms", self.settings.replica_fetch_wait_max_ms)), limits.MAX_FETCH_WAIT_MS)
        max_bytes = min(int(args.get("max_bytes", self.settings.replica_fetch_max_bytes)), limits.MAX_FETCH_BYTES)
        now = _now_ms()
        known_hw: list[int] = []
        served: list[Replica | None] = []
        for part in parts:
            replica = None
            try:
                topic, partition, offset, epoch = part[0], part[1], part[2], part[3]
                replica = self.leader_replica(topic, partition, epoch)
                state = replica.leader_state
                assert state is not None
                if offset > replica.log.log_end_offset or offset < replica.log.log_start_offset:
                    replica = None
                elif state.on_follower_fetch(follower, offset, now):
                    self._hw_advanced(replica)
                if replica is not None and state.pending_isr is None:
                    expanded = state.isr_after_expand(self.live_nodes)
                    if expanded is not None:
                        self._propose_isr(replica, expanded)
            except (KeystreamError, IndexError, TypeError):
                replica = None
            served.append(replica)
            known_hw.append(part[4] if isinstance(part, list) and len(part) > 4 else -1)
        deadline = time.monotonic() + max_wait / 1000
        while True:
            results, total = self._read_for_follower(parts, max_bytes)
            remaining = deadline - time.monotonic()
            hw_news = any(r is not None and r.high_watermark > hw for r, hw in zip(served, known_hw, strict=True))
            live = [r for r in served if r is not None]
            if total > 0 or hw_news or remaining <= 0 or not live or any(res[2] for res in results):
                return {"partitions": results}
            waiters = [r.change_waiter() for r in live]
            await asyncio.wait(waiters, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
            for w in waiters:
                w.cancel()

    def _read_for_follower(self, parts: list[Any], max_bytes: int) -> tuple[list[list[Any]], int]:
        results: list[list[Any]] = []
        total = 0
        for part in parts:
            try:
                topic, partition, offset, epoch = part[0], part[1], part[2], part[3]
                replica = self.leader_replica(topic, partition, epoch)
                if not isinstance(offset, int):
                    raise KeystreamError(ErrorCode.INVALID_REQUEST, "fetch offset must be an integer")
                log_obj = replica.log
                if offset < log_obj.log_start_offset or offset > log_obj.log_end_offset:
                    raise KeystreamError(
                        ErrorCode.OFFSET_OUT_OF_RANGE,
                        f"{replica.name}: fetch offset {offset} outside [{log_obj.log_start_offset}, "
                        f"{log_obj.log_end_offset}]",
                    )
                budget = max(1, min(self.settings.replica_fetch_partition_max_bytes, max_bytes - total))
                data = log_obj.read(offset, budget) if offset < log_obj.log_end_offset else b""
                total += len(data)
                results.append([topic, partition, 0, replica.high_watermark, log_obj.log_start_offset,
                                log_obj.log_end_offset, data])  # fmt: skip
            except KeystreamError as exc:
                replica_obj = (
                    self.replicas.get((part[0], part[1])) if isinstance(part, list) and len(part) > 1 else None
                )
                start = replica_obj.log.log_start_offset if replica_obj is not None else -1
                end = replica_obj.log.log_end_offset if replica_obj is not None else -1
                results.append([part[0] if isinstance(part, list) and part else None,
                                part[1] if isinstance(part, list) and len(part) > 1 else None,
                                int(exc.code), -1, start, end, b"", exc.message])  # fmt: skip
            except (IndexError, TypeError):
                raise KeystreamError(ErrorCode.INVALID_REQUEST, "each partition is [topic, p, offset, epoch]") from None
        return results, total

    def offset_for_leader_epoch(self, args: dict[str, Any]) -> Any:
        """``{partitions: [[topic, p, current_leader_epoch, epoch]]}`` -> [[topic, p, error, epoch, end_offset]]"""
        out = []
        for part in args.get("partitions") or []:
            try:
                topic, partition, current, epoch = part
                replica = self.leader_replica(topic, partition, current)
                found_epoch, end = replica.log.end_offset_for_epoch(int(epoch))
                if found_epoch < 0:
                    end = replica.log.log_start_offset
                out.append([topic, partition, 0, found_epoch, end])
            except KeystreamError as exc:
                out.append([part[0], part[1], int(exc.code), -1, -1])
            except (ValueError, TypeError):
                raise KeystreamError(
                    ErrorCode.INVALID_REQUEST, "each partition is [topic, p, current, epoch]"
                ) from None
        return {"partitions": out}

    def list_offsets(self, args: dict[str, Any]) -> Any:
        """``{partitions: [[topic, p, spec]]}``, spec -2 earliest, -1 latest, else a timestamp (ms)."""
        out = []
        for part in args.get("partitions") or []:
            try:
                topic, partition, spec = part[0], part[1], part[2]
                replica = self.leader_replica(topic, partition)
                if spec == -2:
                    offset: int | None = replica.log.log_start_offset
                elif spec == -1:
                    offset = replica.high_watermark
                elif isinstance(spec, int):
                    found = replica.log.offset_for_timestamp(spec)
                    offset = found if found is not None and found < replica.high_watermark else None
                else:
                    raise KeystreamError(ErrorCode.INVALID_REQUEST, f"bad offset spec {spec!r}")
                out.append([topic, partition, 0, -1 if offset is None else offset])
            except KeystreamError as exc:
                out.append([part[0], part[1], int(exc.code), -1, exc.message])
            except (IndexError, TypeError):
                raise KeystreamError(ErrorCode.INVALID_REQUEST, "each partition is [topic, p, spec]") from None
        return {"partitions": out}

    def describe_local(self) -> list[dict[str, Any]]:
        return [r.describe() for r in self.replicas.values()]

    # --- follower side (called by the fetcher) --------------------------------------------------------
    def truncated(self, replica: Replica) -> None:
        for hook in self.on_truncated:
            hook(replica)

    def follower_appended(self, replica: Replica, leader_hw: int, leader_log_start: int) -> None:
        if leader_log_start > replica.log.log_start_offset:
            replica.log.advance_log_start_offset(min(leader_log_start, replica.log.log_end_offset))
        hw = min(leader_hw, replica.log.log_end_offset)
        advanced = replica.set_high_watermark(hw)
        replica.notify_change()
        if advanced:
            for hook in self.on_high_watermark:
                hook(replica)

    # --- ISR maintenance ------------------------------------------------------------------------------
    def _propose_isr(self, replica: Replica, isr: list[int]) -> None:
        state = replica.leader_state
        if state is None or state.pending_isr is not None:
            return
        state.begin_isr_change(isr)
        command = {
            "op": "alter_isr",
            "topic": replica.topic,
            "partition": replica.partition,
            "leader": self.node_id,
            "leader_epoch": replica.leader_epoch,
            "partition_epoch": state.partition_epoch,
            "isr": isr,
        }
        old = list(state.isr)

        async def run() -> None:
            try:
                result = await self._propose(command)
                if replica.leader_state is state:
                    if state.on_isr_committed(result["isr"], result["partition_epoch"]):
                        self._hw_advanced(replica)
                    replica.isr = list(result["isr"])
                    replica.partition_epoch = result["partition_epoch"]
                log.info("%s: ISR %s -> %s", replica.name, old, result["isr"])
            except KeystreamError as exc:
                if replica.leader_state is state:
                    state.on_isr_change_failed()
                log.info("%s: ISR change to %s not made: %s", replica.name, isr, exc.message)

        task = asyncio.create_task(run())
        self._isr_proposals.add(task)
        task.add_done_callback(self._isr_proposals.discard)

    async def _isr_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.isr_check_interval_ms / 1000)
            now = _now_ms()
            for replica in list(self.replicas.values()):
                state = replica.leader_state
                if state is None or replica.role != Role.LEADER:
                    continue
                shrunk = state.isr_after_shrink(now, self.settings.replica_lag_time_max_ms)
                if shrunk is not None:
                    self._propose_isr(replica, shrunk)

    # --- background maintenance ------------------------------------------------------------------------
    async def _flush_loop(self) -> None:
        interval = self.settings.flush_interval_ms / 1000
        while True:
            await asyncio.sleep(interval)
            dirty = [r for r in self.replicas.values() if r.dirty]
            for replica in dirty:
                replica.dirty = False
            if dirty:
                await asyncio.to_thread(self._flush, dirty)
            await asyncio.to_thread(self._write_hw_checkpoint)

    def _flush(self, replicas: list[Replica]) -> None:
        for replica in replicas:
            if replica.log.offline_reason is not None:
                continue  # the storage loop reopens it
            try:
                replica.log.flush()
            except Exception as exc:
                replica.dirty = True  # retried at the next flush (the log reported the failure)
                held = self._throttle.allow(("flush", replica.key), time.monotonic())
                if held is not None:
                    log.error("flush of %s failed%s: %s", replica.name, _held_note(held), exc)

    async def _retention_loop(self) -> None:
        interval = self.settings.retention_check_interval_ms / 1000
        while True:
            await asyncio.sleep(interval)
            now = _now_ms()
            for replica in list(self.replicas.values()):
                if replica.role == Role.NONE or replica.log.offline_reason is not None:
                    continue
                try:
                    if replica.config.delete:
                        deleted = await asyncio.to_thread(replica.log.enforce_retention, now, replica.high_watermark)
                        if deleted:
                            log.info("%s: retention deleted %d segment(s); log start %d", replica.name,
                                     deleted, replica.log.log_start_offset)  # fmt: skip
                    if replica.config.compact:
                        stats = await asyncio.to_thread(replica.log.compact, now, replica.high_watermark)
                        del stats
                except Exception as exc:
                    log.error("%s: log cleanup failed: %s", replica.name, exc)

    # --- storage failures ------------------------------------------------------------------------------
    def _on_io_error(self, reason: str) -> None:
        """A log (or this manager) hit an I/O error; may run in a worker thread."""
        loop = self._loop
        if loop is None:
            log.error("storage: %s", reason)
            return
        try:
            loop.call_soon_threadsafe(self._storage_failed, reason)
        except RuntimeError:  # the loop is closed: shutting down
            pass

    def _storage_failed(self, reason: str) -> None:
        now = time.monotonic()
        if self.storage.record_failure(reason, now):
            self._throttle.allow("storage-failure", now)  # this line says it: hold back repeats for a while
            log.error("storage failed (%s): reporting it to the controller until the data directory "
                      "takes writes again", reason)  # fmt: skip
            for hook in self.on_storage_change:
                hook()
            return
        held = self._throttle.allow("storage-failure", now)
        if held is not None:
            log.warning("storage still failing%s: %s", _held_note(held), reason)

    def storage_problem(self) -> str | None:
        """What this node reports to the controller: why its storage failed, or None."""
        return self.storage.reason if self.storage.failed else None

    async def _storage_loop(self) -> None:
        interval = self.settings.storage_probe_interval_ms / 1000
        while True:
            await asyncio.sleep(interval)
            if self.storage.probe_due(time.monotonic()):
                try:
                    await self._probe_and_recover()
                except Exception:
                    log.exception("storage probe failed")

    async def _probe_and_recover(self) -> None:
        token = self.storage.begin_probe(time.monotonic())
        try:
            await asyncio.to_thread(self._probe_writable)
        except OSError as exc:
            held = self._throttle.allow("storage-probe", time.monotonic())
            if held is not None:
                log.warning("data directory %s still cannot take writes%s: %s", self.log_dir, _held_note(held), exc)
            return
        for replica in [r for r in self.replicas.values() if r.log.offline_reason is not None]:
            await self._reopen(replica)
        offline = sum(1 for r in self.replicas.values() if r.log.offline_reason is not None)
        lasted = self.storage.probe_finished(token, True, offline, time.monotonic())
        if lasted is None:
            return
        log.warning("storage takes writes again after %.1f s: reporting healthy", lasted)
        if self._last_state is not None:
            self.reconcile(self._last_state)  # opens logs that could not be opened meanwhile
        for hook in self.on_storage_change:
            hook()

    def _probe_writable(self) -> None:
        """Write, fsync and remove a batch-sized file in the log directory (raises OSError)."""
        path = self.log_dir / ".storage-probe"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            write_all(fd, bytes(self.settings.storage_probe_bytes))
            os.fsync(fd)
        finally:
            os.close(fd)
            try:
                os.unlink(path)
            except OSError:
                pass

    async def _reopen(self, replica: Replica) -> bool:
        """Recover an offline log from its segment files, in place of the old object.

        Only once this node no longer leads the partition (the controller fenced it):
        recovery may cut a torn tail, which a follower simply fetches again.
        """
        if replica.role == Role.LEADER:
            return False
        old = replica.log
        try:
            old.close()  # offline: only releases the files and the directory lock
        except Exception as exc:
            log.debug("closing offline %s: %s", replica.name, exc)
        try:
            new = await asyncio.to_thread(PartitionLog.open, old.directory, replica.config, _now_ms())
        except (OSError, KeystreamError) as exc:
            held = self._throttle.allow(("reopen", replica.key), time.monotonic())
            if held is not None:
                log.warning("%s: cannot reopen the offline log yet%s: %s", replica.name, _held_note(held), exc)
            return False
        if self.replicas.get(replica.key) is not replica:  # removed meanwhile
            new.close()
            return False
        new.on_io_error = self._on_io_error
        replica.log = new
        replica.high_watermark = min(replica.high_watermark, new.log_end_offset)
        replica.dirty = True
        try:
            replica.rebuild_producer_state()
        except KeystreamError as exc:
            log.error("%s: cannot rebuild producer state: %s", replica.name, exc.message)
        report = new.last_recovery
        log.warning("%s: offline log reopened (LEO %d, %d bytes of torn tail cut)", replica.name,
                    new.log_end_offset, report.bytes_truncated if report else 0)  # fmt: skip
        if replica.role == Role.LEADER:  # became leader while reopening: restart from the recovered log
            self._become_leader(replica)
        elif replica.role == Role.FOLLOWER:
            replica.needs_truncation = True
            self.fetchers.add(replica)
        self.truncated(replica)  # whatever applies this log (the keyspace) re-reads it
        replica.notify_change()
        return True


def _held_note(held: int) -> str:
    return f" ({held} similar lines held back)" if held else ""
