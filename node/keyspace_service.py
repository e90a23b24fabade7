"""The keyspace on a node: shard replicas that apply their committed log, and the
leader-side paths that turn client commands into records and replies.

A shard is a partition of the internal topic ``__keyspace``. Every replica of
it (leader or follower) applies the records below the high watermark, in
order, to its :class:`Keyspace`, so all replicas hold the same state. The
shard leader:

* **writes**: makes the command deterministic, appends it as a record (all
  writes arriving in one event-loop turn share one batch: a pipeline of 16
  SETs is one append and one replication round), and answers with its own
  apply's reply once the record is committed (``acks=all``); with
  ``acks=leader`` it applies at append and answers at once (Redis's speed and
  risk: a failover may lose the last writes);
* **reads**: answers from its applied state, after every write it has already
  appended has been applied (so a pipeline's GET sees its SET, and a read never
  misses a write acknowledged before it started), and only while it holds its
  **lease** (below) and has applied the no-op it appended on becoming leader
  (Raft's rule: a new leader's high watermark may lag what the old one
  acknowledged; the no-op's commit proves it has caught up).

The lease. The controller fences a node, and moves its shard leaderships,
only after ``session_timeout`` without a heartbeat from it, counting from
when it became controller. A stale controller may still answer heartbeats
for up to ``leader_fallback`` after losing its quorum, and a new one is
elected no sooner than ``election_timeout_min`` after that loss; so a lease
of ``session_timeout + election_timeout_min - leader_fallback - margin``
from the *sending* of an acknowledged heartbeat ends before any new leader
can serve. A leader without a valid lease refuses reads (``TRYAGAIN``).

Snapshots of each replica's state let the log prefix go; a replica restarts
from its latest snapshot plus the log after it, and one that fell behind the
leader's log start installs the leader's snapshot.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import os
import random
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgpack

from cluster.errors import ErrorCode, KeystreamError
from cluster.slots import key_slot
from cluster.state import KEYSPACE_TOPIC, ClusterState
from cluster.topics import assign_replicas
from node.change_stream import CHANGES_SUFFIX, ChangeLog
from node.keyspace import (
    NULL_ARRAY,
    WOULD_BLOCK,
    ApplyContext,
    CommandKind,
    Keyspace,
    KeyspaceLimits,
    Map,
    PairArray,
    RedisError,
    Reply,
    SetReply,
    SimpleString,
    TouchEvent,
    Watch,
    classify_argv,
)
from node.keyspace.lists import blocking_timeout_ms
from node.protocols.native import ConnectionContext
from node.protocols.native_codec import Request
from node.replication.replica import Replica, Role
from node.server import Node
from node.storage.batch import build_batch, decode_records, iter_batches

log = logging.getLogger(__name__)

KIND_COMMAND = 0
KIND_TRANSACTION = 1
KIND_EXPIRY = 2
KIND_NOOP = 3

_APPLY_SLICE = 2000  # records applied per event-loop turn before yielding
_MAX_WAIT_S = 30.0


class Moved(Exception):
    """The slot's shard is led by another node (or by nobody right now)."""

    def __init__(self, slot: int, node_id: int) -> None:
        super().__init__(f"MOVED {slot} to node {node_id}")
        self.slot = slot
        self.node_id = node_id


def _now_ms() -> int:
    return int(time.time() * 1000)


class ShardReplica:
    """One replica of one shard on this node."""

    def __init__(self, service: KeyspaceService, replica: Replica, shard: int) -> None:
        self.service = service
        self.replica = replica
        self.shard = shard
        self.dir = service.data_dir / f"shard-{shard}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.keyspace = Keyspace(service.limits)
        self.next_apply = 0
        self.pending: dict[int, asyncio.Future[Reply]] = {}
        self._barriers: list[tuple[int, int, asyncio.Future[None]]] = []
        self._outbox: list[tuple[bytes, asyncio.Future[Reply] | None]] = []
        self._flush_scheduled = False
        self._apply_scheduled = False
        self.epoch_noop_offset: int | None = None
        self.epoch_of_noop = -1
        self.leader_since = 0.0
        self.blocked: dict[bytes, list[asyncio.Future[None]]] = {}
        self.applied_since_snapshot = 0
        self.last_snapshot_at = time.monotonic()
        self.snapshot_offset = -1
        self.snapshotting = False
        self.needs_snapshot_install = False
        self.rng = random.Random()
        self.changes: ChangeLog | None = None
        self.change_replica: Replica | None = None
        self._current: tuple[str, int, int] | None = None  # (op, offset, now_ms) of the record being applied
        if service.changes_enabled:
            self._open_changes()
        self._load_local()
        self.keyspace.add_listener(self._on_touch)

    @property
    def name(self) -> str:
        return f"shard-{self.shard}"

    def _open_changes(self) -> None:
        self.changes = ChangeLog(str(self.dir / "changes"), self.service.changes_retention_ms)
        topic = KEYSPACE_TOPIC + CHANGES_SUFFIX
        self.change_replica = Replica(topic, self.shard, self.replica.topic_id, self.changes.log,
                                      self.changes.log.log_end_offset)  # fmt: skip
        self.change_replica.high_watermark = self.changes.log.log_end_offset
        self.service.manager.virtual_replicas[(topic, self.shard)] = self.change_replica
        self._mirror_role()

    def _mirror_role(self) -> None:
        if self.change_replica is not None:
            self.change_replica.role = self.replica.role
            self.change_replica.leader_id = self.replica.leader_id
            self.change_replica.leader_epoch = self.replica.leader_epoch
            self.change_replica.notify_change()

    def _snapshot_meta(self, offset: int) -> Path:
        return self.dir / f"snapshot-{offset:020d}.meta"

    def _cut_changes(self, snapshot_offset: int) -> None:
        if self.changes is None:
            return
        meta = self._snapshot_meta(snapshot_offset)
        try:
            changes_next = int(msgpack.unpackb(meta.read_bytes())["changes_next"])
        except (OSError, KeyError, ValueError, TypeError):
            changes_next = self.changes.log.log_start_offset if snapshot_offset >= 0 else 0
        self.changes.cut_at(changes_next)
        if self.change_replica is not None:
            self.change_replica.high_watermark = self.changes.log.log_end_offset

    # --- start-up ------------------------------------------------------------------------------------
    def _snapshots(self) -> list[tuple[int, Path]]:
        out = []
        for path in self.dir.glob("snapshot-*.bin"):
            try:
                out.append((int(path.stem.split("-")[1]), path))
            except (IndexError, ValueError):
                continue
        return sorted(out)

    def _load_local(self) -> None:
        for offset, path in reversed(self._snapshots()):
            try:
                with open(path, "rb") as fh:
                    self.keyspace = Keyspace.load(fh, self.service.limits)
                self.next_apply = offset + 1
                self.snapshot_offset = offset
                self._cut_changes(offset)
                log.info("%s: loaded snapshot at offset %d (%d keys)", self.name, offset, self.keyspace.key_count)
                return
            except Exception as exc:
                log.error("%s: snapshot %s unusable (%s); trying an older one", self.name, path.name, exc)
        self.keyspace = Keyspace(self.service.limits)
        self.next_apply = 0
        if self.changes is not None:
            self.changes.cut_at(0)

    def reset_state(self) -> None:
        """Our applied state went beyond the log (acks=leader writes truncated): rebuild."""
        listeners = self.keyspace._listeners
        self._load_local()
        self.keyspace._listeners = listeners
        if self.next_apply > self.replica.log.log_end_offset + 1:
            self.keyspace = Keyspace(self.service.limits)
            self.keyspace.add_listener(self._on_touch)
            self.next_apply = 0
        log.warning("%s: state rebuilt from offset %d after a truncation", self.name, self.next_apply)

    # --- applying the log -------------------------------------------------------------------------------
    def apply_limit(self) -> int:
        if self.service.acks == "leader" and self.replica.role == Role.LEADER:
            return self.replica.log.log_end_offset
        return self.replica.high_watermark

    def schedule_apply(self) -> None:
        if not self._apply_scheduled:
            self._apply_scheduled = True
            asyncio.get_running_loop().call_soon(self._apply_available)

    def _apply_available(self) -> None:
        self._apply_scheduled = False
        if self.needs_snapshot_install:
            return
        limit = self.apply_limit()
        log_start = self.replica.log.log_start_offset
        if self.next_apply < log_start:
            if self.replica.role == Role.FOLLOWER:
                self.needs_snapshot_install = True
                self.service.schedule_snapshot_install(self)
            else:
                log.error("%s: applied %d is below the log start %d", self.name, self.next_apply, log_start)
            return
        applied = 0
        while self.next_apply < limit and applied < _APPLY_SLICE:
            data = self.replica.log.read(self.next_apply, 1 << 20, max_offset=limit)
            if not data:
                break
            progressed = False
            for header, batch in iter_batches(data, verify=False):
                if header.last_offset < self.next_apply:
                    continue
                for record in decode_records(batch, verify_crc=False):
                    if record.offset < self.next_apply or record.offset >= limit:
                        continue
                    self._apply_record(record.offset, record.value)
                    applied += 1
                    progressed = True
                # a compacted or empty batch still moves us past it
                self.next_apply = max(self.next_apply, min(header.last_offset + 1, limit))
            if not progressed and self.next_apply < limit:
                break
        if applied:
            self.applied_since_snapshot += applied
            self._release_barriers()
            self.service.maybe_snapshot(self)
        if self.next_apply < limit:
            self.schedule_apply()

    def _apply_record(self, offset: int, value: bytes | None) -> None:
        fut = self.pending.pop(offset, None)
        try:
            kind, payload, now_ms, seed = msgpack.unpackb(value or b"\x94\x03\xc0\x00\x00", raw=False)
        except Exception as exc:
            log.error("%s: undecodable record at %d: %s", self.name, offset, exc)
            self.next_apply = offset + 1
            if fut is not None and not fut.done():
                fut.set_exception(KeystreamError(ErrorCode.CORRUPT_MESSAGE, "undecodable keyspace record"))
            return
        ctx = ApplyContext(now_ms, seed, offset)
        if self.changes is not None:
            op = {KIND_TRANSACTION: "EXEC", KIND_EXPIRY: "EXPIRED", KIND_NOOP: "NOOP"}.get(kind, "")
            if kind == KIND_COMMAND and payload:
                op = bytes(payload[0]).decode(errors="replace").upper()
            self._current = (op, offset, now_ms)
        reply: Reply
        try:
            if kind == KIND_COMMAND:
                reply = self.keyspace.apply(payload, ctx)
            elif kind == KIND_TRANSACTION:
                commands, watched = payload
                reply = self.keyspace.apply_transaction(commands, ctx, [Watch(k, o, t) for k, o, t in watched])
            elif kind == KIND_EXPIRY:
                reply = self.keyspace.apply_expiry(payload, ctx)
            else:  # KIND_NOOP: moves the applied offset and the clock only
                reply = self.keyspace.apply_expiry([], ctx)
        except Exception as exc:  # a bug must not wedge the shard; every replica hits it alike
            log.exception("%s: applying record %d failed", self.name, offset)
            reply = RedisError(f"ERR internal error applying the command: {exc}")
        self.next_apply = offset + 1
        if fut is not None and not fut.done():
            fut.set_result(reply)

    def _release_barriers(self) -> None:
        while self._barriers and self._barriers[0][0] <= self.next_apply:
            _, _, fut = heapq.heappop(self._barriers)
            if not fut.done():
                fut.set_result(None)

    def wait_applied(self, offset: int) -> asyncio.Future[None]:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.next_apply >= offset:
            fut.set_result(None)
        else:
            heapq.heappush(self._barriers, (offset, next(_seq), fut))
        return fut

    def _on_touch(self, event: TouchEvent) -> None:
        if self.changes is not None and self._current is not None:
            op, offset, now_ms = self._current
            try:
                if self.changes.append(self.keyspace, offset, op, list(event.keys), now_ms) and self.change_replica:
                    self.change_replica.set_high_watermark(self.changes.log.log_end_offset)
            except Exception:
                log.exception("%s: change stream append failed at %d", self.name, offset)
        keys = event.keys if not event.flushed else list(self.blocked)
        for key in keys:
            for fut in self.blocked.pop(key, ()):
                if not fut.done():
                    fut.set_result(None)

    # --- leadership ---------------------------------------------------------------------------------------
    def on_role_change(self) -> None:
        self._mirror_role()
        if self.replica.role == Role.LEADER:
            if self.epoch_of_noop != self.replica.leader_epoch:
                self.leader_since = time.monotonic()
                self.epoch_of_noop = self.replica.leader_epoch
                self.epoch_noop_offset = None
                self._outbox.append((self._record(KIND_NOOP, None), None))
                self.flush_outbox()
        else:
            self.epoch_noop_offset = None
            self.epoch_of_noop = -1
            unknown = KeystreamError(
                ErrorCode.OUTCOME_UNKNOWN, f"{self.name}: leadership moved before the write committed"
            )
            for fut in list(self.pending.values()):
                if not fut.done():
                    fut.set_exception(unknown)
            self.pending.clear()
            not_sent = KeystreamError(ErrorCode.NOT_LEADER, f"{self.name}: leadership moved; not written")
            for _item, queued in self._outbox:
                if queued is not None and not queued.done():
                    queued.set_exception(not_sent)
            self._outbox.clear()
            for waiters in self.blocked.values():
                for w in waiters:
                    if not w.done():
                        w.set_result(None)
            self.blocked.clear()
            if self.next_apply > self.replica.high_watermark and self.service.acks == "leader":
                self.reset_state()

    def caught_up(self) -> bool:
        """Every record appended or queued so far is applied: a read now sees all of them."""
        return not self._outbox and self.next_apply >= self.replica.log.log_end_offset

    def read_now_ok(self) -> bool:
        """A read may be answered at once, without awaiting anything: what
        ``KeyspaceService._ready(shard, for_read=True)`` and ``barrier()`` would let through
        without waiting. The RESP front end's read fast path relies on it (keep it in step
        with ``_ready``)."""
        return self.reads_allowed() and self.caught_up() and self.service.node.lease_valid()

    def ready_to_serve(self) -> bool:
        return (
            self.replica.role == Role.LEADER
            and self.epoch_noop_offset is not None
            and self.next_apply > self.epoch_noop_offset
        )

    def reads_allowed(self) -> bool:
        """A new leader also waits one lease length: a previous leader that was moved away
        (not fenced) may hold a lease granted before the move; it ends by then."""
        return self.ready_to_serve() and time.monotonic() >= self.leader_since + self.service.node.lease_duration_s

    # --- writing --------------------------------------------------------------------------------------------
    def _record(self, kind: int, payload: Any, now_ms: int | None = None) -> bytes:
        return msgpack.packb(
            [kind, payload, now_ms if now_ms is not None else _now_ms(), self.rng.getrandbits(63)], use_bin_type=True
        )

    def submit(self, kind: int, payload: Any, now_ms: int) -> asyncio.Future[Reply]:
        """Queue a record for this turn's batch; resolves with its apply's reply."""
        if self.replica.role != Role.LEADER:
            raise KeystreamError(ErrorCode.NOT_LEADER, f"{self.name}: not the leader here")
        fut: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._outbox.append((self._record(kind, payload, now_ms), fut))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self.flush_outbox)
        return fut

    def flush_outbox(self) -> None:
        """Append everything queued as one batch."""
        self._flush_scheduled = False
        if not self._outbox:
            return
        items, self._outbox = self._outbox, []
        if self.replica.role != Role.LEADER:
            error = KeystreamError(ErrorCode.NOT_LEADER, f"{self.name}: not the leader here")
            for _value, fut in items:
                if fut is not None and not fut.done():
                    fut.set_exception(error)
            return
        now = _now_ms()
        batch = build_batch([(None, value, None, now) for value, _ in items])
        try:
            first, _next = self.service.manager.append_internal(self.replica, batch, now)
        except KeystreamError as exc:
            for _value, fut in items:
                if fut is not None and not fut.done():
                    fut.set_exception(exc)
            return
        for i, (_value, fut) in enumerate(items):
            if fut is None:
                if self.epoch_noop_offset is None and self.epoch_of_noop == self.replica.leader_epoch:
                    self.epoch_noop_offset = first + i
            else:
                self.pending[first + i] = fut
        self.schedule_apply()

    def barrier(self) -> asyncio.Future[None]:
        """Resolves once every record appended so far (this turn's included) is applied."""
        if self._outbox:
            self.flush_outbox()
        return self.wait_applied(self.replica.log.log_end_offset)


_seq = itertools.count()


class KeyspaceService:
    def __init__(self, node: Node) -> None:
        self.node = node
        extra = node.config.extra
        self.data_dir = node.config.data_dir / "keyspace"
        defaults = KeyspaceLimits()
        self.limits = KeyspaceLimits(
            max_key_bytes=int(extra.get("keyspace.max.key.bytes", defaults.max_key_bytes)),
            max_value_bytes=int(extra.get("keyspace.max.value.bytes", defaults.max_value_bytes)),
        )
        self.default_shards = int(extra["keyspace.shards"]) if "keyspace.shards" in extra else None
        self.acks_default = str(extra.get("keyspace.acks", "all"))
        if self.acks_default not in ("all", "leader"):
            raise ValueError("keyspace.acks must be all or leader")
        self.snapshot_records = int(extra.get("keyspace.snapshot.records", 200_000))
        self.snapshot_interval_s = int(extra.get("keyspace.snapshot.interval.ms", 300_000)) / 1000
        self.expiry_interval_s = int(extra.get("keyspace.expiry.interval.ms", 100)) / 1000
        self.changes_default = str(extra.get("keyspace.changes", "false")).lower() in ("1", "true", "yes", "on")
        self.changes_retention_ms = int(extra.get("keyspace.changes.retention.ms", 7 * 24 * 3600 * 1000))
        self.shards: dict[int, ShardReplica] = {}
        self._slots_cache: list[int] | None = None
        self._slots_for: ClusterState | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._background: set[asyncio.Task[Any]] = set()
        self._installing: set[int] = set()
        log_service = node.features["log"]
        self.manager = log_service.manager
        self.peers = log_service.peers
        self.manager.on_high_watermark.append(self._on_hw)
        self.manager.on_role_change.append(self._on_role)
        self.manager.on_replica_removed.append(self._on_removed)
        self.manager.on_truncated.append(self._on_truncated)
        node.controller.add_decider(self._decide_init)
        for op, handler in {
            "kv": self._h_kv,
            "kv_batch": self._h_kv_batch,
            "kv_exec": self._h_kv_exec,
            "kv_watch": self._h_kv_watch,
            "keyspace_digest": self._h_digest,
            "keyspace_save": self._h_save,
            "keyspace_snapshot_info": self._h_snapshot_info,
            "keyspace_snapshot_chunk": self._h_snapshot_chunk,
        }.items():
            node.add_native_handler(op, handler)
        node.add_service(self)

    @property
    def changes_enabled(self) -> bool:
        keyspace = self.node.raft.snapshot.data.get("keyspace") or {}
        return bool(keyspace.get("changes", False))

    @property
    def acks(self) -> str:
        keyspace = self.node.raft.snapshot.data.get("keyspace") or {}
        return str(keyspace.get("acks", self.acks_default))

    async def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.node.raft.add_listener(self._on_state)
        self._on_state(self.node.raft.snapshot)
        self._tasks.append(asyncio.create_task(self._expiry_loop(), name="keyspace-expiry"))

    async def stop(self) -> None:
        for task in self._tasks + list(self._background):
            task.cancel()
        for task in self._tasks + list(self._background):
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass

    # --- following the map ----------------------------------------------------------------------------
    def _on_state(self, state: ClusterState) -> None:
        for (topic, partition), replica in self.manager.replicas.items():
            if topic == KEYSPACE_TOPIC and partition not in self.shards:
                self.shards[partition] = ShardReplica(self, replica, partition)
                self.shards[partition].schedule_apply()
                if replica.role == Role.LEADER:
                    self.shards[partition].on_role_change()

    def _shard_of(self, replica: Replica) -> ShardReplica | None:
        if replica.topic != KEYSPACE_TOPIC:
            return None
        shard = self.shards.get(replica.partition)
        if shard is None or shard.replica is not replica:
            shard = self.shards[replica.partition] = ShardReplica(self, replica, replica.partition)
            shard.schedule_apply()  # what is already committed (a restart's checkpointed HW) may never advance
        return shard

    def _on_hw(self, replica: Replica) -> None:
        shard = self._shard_of(replica)
        if shard is not None:
            shard.schedule_apply()

    def _on_role(self, replica: Replica) -> None:
        shard = self._shard_of(replica)
        if shard is not None:
            shard.on_role_change()

    def _on_removed(self, replica: Replica) -> None:
        if replica.topic == KEYSPACE_TOPIC:
            shard = self.shards.get(replica.partition)
            if shard is not None and shard.replica is replica:
                del self.shards[replica.partition]

    def _on_truncated(self, replica: Replica) -> None:
        shard = self._shard_of(replica)
        if shard is None:
            return
        if shard.next_apply > replica.log.log_end_offset:
            shard.reset_state()
        shard.schedule_apply()  # behind a new log start: installs a snapshot

    def _decide_init(self, state: ClusterState, tracker: Any, now: float) -> list[dict[str, Any]]:
        """Create the keyspace once every voter is live (so shards spread over all of them)."""
        if state.data.get("keyspace") or state.cluster_id is None:
            return []
        live = {n["id"]: n.get("rack") for n in state.nodes.values() if not n["fenced"]}
        voters = set(self.node.config.voters)
        if not voters <= set(live):
            return []
        shards = self.default_shards or max(3, 3 * len(live))
        rf = min(3, len(live))
        existing = [p["replicas"] for t in state.topics.values() for p in t["partitions"]]
        return [
            {
                "op": "init_keyspace",
                "topic_id": uuid.uuid4().hex,
                "assignment": assign_replicas(live, shards, rf, existing),
                "acks": self.acks_default,
                "changes": self.changes_default,
                "created_ms": _now_ms(),
            }
        ]

    # --- routing ---------------------------------------------------------------------------------------
    def shard_for_slot(self, slot: int) -> int:
        table = self._slot_table()
        if table is None:
            raise KeystreamError(ErrorCode.CLUSTERDOWN, "the keyspace is not initialised yet")
        shard = table[slot]
        if shard < 0:
            raise KeystreamError(ErrorCode.CLUSTERDOWN, f"hash slot {slot} is not served")
        return shard

    def _slot_table(self) -> list[int] | None:
        """slot -> shard, rebuilt when the map changes (a list index on the hot path)."""
        state = self.node.raft.snapshot
        if self._slots_for is not state:
            keyspace = state.data.get("keyspace")
            if not keyspace:
                return None
            table = [-1] * 16384
            for start, end, shard in keyspace["slots"]:
                table[start : end + 1] = [int(shard)] * (end - start + 1)
            self._slots_cache, self._slots_for = table, state
        return self._slots_cache

    def leader_of(self, shard: int) -> int:
        topic = self.node.raft.snapshot.topics.get(KEYSPACE_TOPIC)
        if topic is None:
            raise KeystreamError(ErrorCode.CLUSTERDOWN, "the keyspace is not initialised yet")
        return int(topic["partitions"][shard]["leader"])

    def local_leader_shard(self, slot: int) -> ShardReplica:
        """The shard serving ``slot`` if this node leads it; else raise Moved/CLUSTERDOWN."""
        shard_id = self.shard_for_slot(slot)
        shard = self.shards.get(shard_id)
        if shard is None or shard.replica.role != Role.LEADER:
            leader = self.leader_of(shard_id)
            if leader < 0:
                raise KeystreamError(ErrorCode.CLUSTERDOWN, f"shard {shard_id} of slot {slot} has no leader")
            if leader != self.node.node_id:
                raise Moved(slot, leader)
            raise KeystreamError(ErrorCode.TRYAGAIN, f"shard {shard_id} is becoming leader here")
        return shard

    def leader_shards(self) -> list[ShardReplica]:
        return [s for _, s in sorted(self.shards.items()) if s.replica.role == Role.LEADER]

    async def _ready(self, shard: ShardReplica, for_read: bool) -> None:
        deadline = time.monotonic() + 5.0
        while not (shard.reads_allowed() if for_read else shard.ready_to_serve()):
            if shard.replica.role != Role.LEADER:
                raise Moved(-1, shard.replica.leader_id)
            if time.monotonic() > deadline:
                raise KeystreamError(ErrorCode.TRYAGAIN, f"{shard.name} is still catching up as new leader")
            if shard.ready_to_serve():  # only the lease wait is left
                await asyncio.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
            else:
                await shard.wait_applied(shard.replica.log.log_end_offset)
                await asyncio.sleep(0)
        if for_read and not self.node.lease_valid():
            raise KeystreamError(ErrorCode.TRYAGAIN, "this node's leadership lease is not confirmed; retry")

    # --- executing commands (front ends call these) ---------------------------------------------------
    def try_submit(self, argv: list[bytes]) -> Reply | asyncio.Future[Reply] | None:
        """The hot path, without awaiting: a reply now, a future of one, or None when the
        command needs :meth:`execute` (keyless, blocking, a shard not ready, another node...).
        Calling this for each command of a pipeline, in order, keeps their order: writes
        queue into this turn's batch and a read waits for everything queued before it."""
        try:
            info = classify_argv(argv)
        except RedisError as exc:
            return exc
        if info.slot is None or info.blocking or info.kind not in (CommandKind.READ, CommandKind.WRITE):
            return None
        table = self._slot_table()
        shard = self.shards.get(table[info.slot]) if table is not None else None
        if shard is None or not shard.ready_to_serve():
            return None
        if info.kind == CommandKind.WRITE:
            now = _now_ms()
            return shard.submit(KIND_COMMAND, shard.keyspace.prepare_write(argv, now), now)
        if not shard.reads_allowed() or not self.node.lease_valid():
            return None
        if shard._outbox:
            shard.flush_outbox()
        target = shard.replica.log.log_end_offset
        if shard.next_apply >= target:
            return shard.keyspace.read(argv, _now_ms())
        reply: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()

        def answer(_barrier: asyncio.Future[None]) -> None:
            if not reply.done():
                reply.set_result(shard.keyspace.read(argv, _now_ms()))

        shard.wait_applied(target).add_done_callback(answer)
        return reply

    async def execute(self, argv: list[bytes]) -> Reply:
        """Run one command on this node (raises Moved, KeystreamError; returns a Reply)."""
        try:
            info = classify_argv(argv)
        except RedisError as exc:
            return exc
        if info.kind not in (CommandKind.READ, CommandKind.WRITE):
            return RedisError(f"ERR '{argv[0].decode(errors='replace')}' is not a keyspace command")
        if info.slot is None:
            return await self._keyless(argv, info)
        shard = self.local_leader_shard(info.slot)
        if info.kind == CommandKind.READ:
            await self._ready(shard, for_read=True)
            await shard.barrier()
            return shard.keyspace.read(argv, _now_ms(), shard.rng)
        await self._ready(shard, for_read=False)
        if info.blocking:
            return await self._blocking(shard, argv, info.keys)
        now = _now_ms()
        prepared = shard.keyspace.prepare_write(argv, now)
        return await self._await_reply(shard.submit(KIND_COMMAND, prepared, now))

    async def _await_reply(self, fut: asyncio.Future[Reply]) -> Reply:
        try:
            return await asyncio.wait_for(fut, _MAX_WAIT_S)
        except TimeoutError:
            raise KeystreamError(ErrorCode.OUTCOME_UNKNOWN, "write not committed in time") from None

    async def _keyless(self, argv: list[bytes], info: Any) -> Reply:
        """Keyless keyspace commands act on every shard this node leads (as on a Redis node)."""
        name = info.name
        shards = self.leader_shards()
        for shard in shards:
            await self._ready(shard, for_read=info.kind == CommandKind.READ)
        if name in ("dbsize",):
            for shard in shards:
                await shard.barrier()
            return sum(s.keyspace.user_key_count for s in shards)
        if name in ("flushall", "flushdb"):
            now = _now_ms()
            replies = await asyncio.gather(
                *(self._await_reply(s.submit(KIND_COMMAND, list(argv), now)) for s in shards)
            )
            errors = [r for r in replies if isinstance(r, RedisError)]
            return errors[0] if errors else SimpleString("OK")
        if name == "randomkey":
            candidates = [s for s in shards if s.keyspace.user_key_count]
            if not candidates:
                return None
            shard = random.choice(candidates)
            await shard.barrier()
            return shard.keyspace.read(argv, _now_ms(), shard.rng)
        if name in ("keys",):
            out: list[Reply] = []
            for shard in shards:
                await shard.barrier()
                reply = shard.keyspace.read(argv, _now_ms(), shard.rng)
                if isinstance(reply, list):
                    out.extend(reply)
            return out
        if name == "scan":
            return await self.scan(argv)
        if not shards:
            return RedisError("CLUSTERDOWN this node serves no hash slots")
        await shards[0].barrier()
        return (
            shards[0].keyspace.read(argv, _now_ms(), shards[0].rng)
            if info.kind == CommandKind.READ
            else RedisError(f"ERR {name} needs a key on a cluster")
        )

    async def scan(self, argv: list[bytes]) -> Reply:
        """SCAN over the slot ranges of the shards this node leads, in slot order. The
        cursor encodes a slot (and a position inside it), so it names its shard; a shard's
        scan that runs past its own range hands over to the next range."""
        from node.keyspace.scan import decode_keys_cursor, encode_keys_cursor

        ranges = sorted(
            (start, end, s) for s in self.leader_shards() for start, end in self._slot_ranges(s.shard)
        )  # fmt: skip
        try:
            cursor = int(argv[1])
        except (IndexError, ValueError):
            return RedisError("ERR invalid cursor")
        slot, threshold = decode_keys_cursor(cursor) if cursor else (ranges[0][0] if ranges else 0, 0)
        index = next((i for i, (start, end, _) in enumerate(ranges) if end >= slot), None)
        if index is None:
            return [b"0", []]
        start, end, shard = ranges[index]
        if slot < start:
            slot, threshold = start, 0
        await self._ready(shard, for_read=True)
        await shard.barrier()
        shard_cursor = encode_keys_cursor(slot, threshold)
        reply = shard.keyspace.read([argv[0], str(shard_cursor).encode(), *argv[2:]], _now_ms(), shard.rng)
        if not isinstance(reply, list) or len(reply) != 2:
            return reply
        next_cursor = int(reply[0])  # type: ignore[arg-type]
        if next_cursor == 0 or decode_keys_cursor(next_cursor)[0] > end:
            next_cursor = encode_keys_cursor(ranges[index + 1][0], 0) if index + 1 < len(ranges) else 0
        return [str(next_cursor).encode(), reply[1]]

    def _slot_ranges(self, shard: int) -> list[tuple[int, int]]:
        keyspace = self.node.raft.snapshot.data.get("keyspace") or {}
        return [(s, e) for s, e, sh in keyspace.get("slots", []) if sh == shard]

    def _first_slot(self, shard: int) -> int:
        ranges = self._slot_ranges(shard)
        return min(s for s, _ in ranges) if ranges else 0

    async def _blocking(self, shard: ShardReplica, argv: list[bytes], keys: Sequence[bytes]) -> Reply:
        try:
            timeout_ms = blocking_timeout_ms(argv[-1])
        except RedisError as exc:
            return exc
        deadline = None if timeout_ms == 0 else time.monotonic() + timeout_ms / 1000
        while True:
            now = _now_ms()
            reply = await self._await_reply(shard.submit(KIND_COMMAND, shard.keyspace.prepare_write(argv, now), now))
            if reply is not WOULD_BLOCK:
                return reply
            if shard.replica.role != Role.LEADER:
                raise Moved(key_slot(keys[0]), shard.replica.leader_id)
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            for key in keys:
                shard.blocked.setdefault(key, []).append(waiter)
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return NULL_ARRAY
            try:
                await asyncio.wait_for(waiter, remaining)
            except TimeoutError:
                return NULL_ARRAY

    async def watch(self, keys: list[bytes]) -> list[Watch]:
        out = []
        for key in keys:
            shard = self.local_leader_shard(key_slot(key))
            await self._ready(shard, for_read=True)
            await shard.barrier()
            out.append(Watch(key, shard.keyspace.applied_offset, shard.keyspace.clock_ms))
        return out

    async def execute_transaction(self, commands: list[list[bytes]], watched: Sequence[Watch]) -> Reply:
        """MULTI/EXEC: all keys in one slot (CROSSSLOT otherwise), applied as one record."""
        slots = set()
        for argv in commands:
            try:
                info = classify_argv(argv)
            except RedisError as exc:
                return RedisError(f"EXECABORT Transaction discarded because of previous errors. ({exc.message})")
            if info.slot is not None:
                slots.add(info.slot)
        slots.update(key_slot(w.key) for w in watched)
        if len(slots) > 1:
            return RedisError("CROSSSLOT Keys in request don't hash to the same slot")
        if not slots:
            shards = self.leader_shards()
            if not shards:
                return RedisError("CLUSTERDOWN this node serves no hash slots")
            shard = shards[0]
        else:
            shard = self.local_leader_shard(slots.pop())
        await self._ready(shard, for_read=True)
        now = _now_ms()
        prepared = [shard.keyspace.prepare_write(argv, now) for argv in commands]
        watch_list = [[w.key, w.offset, w.time_ms] for w in watched]
        return await self._await_reply(shard.submit(KIND_TRANSACTION, [prepared, watch_list], now))

    # --- active expiry ---------------------------------------------------------------------------------------
    async def _expiry_loop(self) -> None:
        while True:
            await asyncio.sleep(self.expiry_interval_s)
            now = _now_ms()
            for shard in self.leader_shards():
                if not shard.ready_to_serve():
                    continue
                keys = shard.keyspace.active_expire_candidates(now, 200)
                if keys:
                    shard.submit(KIND_EXPIRY, keys, now).add_done_callback(_ignore_result)

    # --- snapshots -----------------------------------------------------------------------------------------
    def maybe_snapshot(self, shard: ShardReplica) -> None:
        if shard.snapshotting:
            return
        due = shard.applied_since_snapshot >= self.snapshot_records or (
            shard.applied_since_snapshot > 0 and time.monotonic() - shard.last_snapshot_at > self.snapshot_interval_s
        )
        if due:
            self._spawn(self.snapshot(shard))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def snapshot(self, shard: ShardReplica) -> int:
        """Write the shard's state at its applied offset, then let the log prefix go."""
        if shard.snapshotting:
            return shard.snapshot_offset
        shard.snapshotting = True
        try:
            offset = shard.keyspace.applied_offset
            if offset < 0 or offset == shard.snapshot_offset:
                return shard.snapshot_offset
            path = shard.dir / f"snapshot-{offset:020d}.bin"
            tmp = path.with_suffix(".tmp")
            keyspace = shard.keyspace
            # Reads go on (they never mutate); applying waits, so the state holds still.
            shard._apply_scheduled = True
            try:
                if shard.changes is not None:
                    meta = {"changes_next": shard.changes.log.log_end_offset}
                    await asyncio.to_thread(_atomic, shard._snapshot_meta(offset), msgpack.packb(meta))
                await asyncio.to_thread(_write_snapshot_file, keyspace, tmp, path)
            finally:
                shard._apply_scheduled = False
                shard.schedule_apply()
            shard.snapshot_offset = offset
            shard.applied_since_snapshot = 0
            shard.last_snapshot_at = time.monotonic()
            for old_offset, old in shard._snapshots()[:-2]:
                old.unlink(missing_ok=True)
                shard._snapshot_meta(old_offset).unlink(missing_ok=True)
            self._truncate_log_prefix(shard, offset + 1)
            log.info("%s: snapshot at offset %d (%d keys)", shard.name, offset, keyspace.key_count)
            return offset
        finally:
            shard.snapshotting = False

    def _truncate_log_prefix(self, shard: ShardReplica, upto: int) -> None:
        replica = shard.replica
        limit = upto
        state = replica.leader_state
        if state is not None:
            # Keep what in-sync followers still need; a follower out of the ISR (dead,
            # fenced) installs a snapshot when it comes back behind our log start.
            for follower in state.isr:
                progress = state.followers.get(follower)
                if progress is not None and progress.leo >= 0:
                    limit = min(limit, progress.leo)
        limit = min(limit, replica.high_watermark)
        if limit > replica.log.log_start_offset:
            replica.log.advance_log_start_offset(limit)

    def schedule_snapshot_install(self, shard: ShardReplica) -> None:
        if shard.shard in self._installing:
            return
        self._installing.add(shard.shard)
        self._spawn(self._install_snapshot(shard))

    async def _install_snapshot(self, shard: ShardReplica) -> None:
        """We are behind the leader's log start: fetch its latest snapshot and load it."""
        try:
            for attempt in range(60):
                leader = shard.replica.leader_id
                try:
                    info = await self.peers.request(leader, "keyspace_snapshot_info", {"shard": shard.shard})
                    if info["offset"] + 1 < shard.replica.log.log_start_offset:
                        raise KeystreamError(ErrorCode.TRYAGAIN, "leader snapshot older than our log start")
                    tmp = shard.dir / f"incoming-{info['offset']:020d}.tmp"
                    chunks = []
                    position = 0
                    while position < info["size"]:
                        chunk = await self.peers.request(
                            leader, "keyspace_snapshot_chunk",
                            {"shard": shard.shard, "offset": info["offset"], "position": position},
                            timeout=30,
                        )  # fmt: skip
                        if not chunk["data"]:
                            raise KeystreamError(ErrorCode.TRYAGAIN, "snapshot changed during transfer")
                        chunks.append(chunk["data"])
                        position += len(chunk["data"])
                    keyspace = await asyncio.to_thread(_store_and_load, tmp, chunks, self.limits)
                    final = shard.dir / f"snapshot-{info['offset']:020d}.bin"
                    if "changes_next" in info:
                        _atomic(
                            shard._snapshot_meta(info["offset"]), msgpack.packb({"changes_next": info["changes_next"]})
                        )
                    os.replace(tmp, final)
                    listeners = shard.keyspace._listeners
                    shard.keyspace = keyspace
                    shard.keyspace._listeners = listeners
                    shard.next_apply = info["offset"] + 1
                    shard.snapshot_offset = info["offset"]
                    shard.needs_snapshot_install = False
                    shard._cut_changes(info["offset"])
                    log.info("%s: installed the leader's snapshot at offset %d", shard.name, info["offset"])
                    shard.schedule_apply()
                    return
                except (KeystreamError, ConnectionError, OSError) as exc:
                    log.warning("%s: snapshot install attempt %d failed: %s", shard.name, attempt, exc)
                    await asyncio.sleep(min(5.0, 0.2 * (attempt + 1)))
        finally:
            self._installing.discard(shard.shard)

    # --- native handlers -----------------------------------------------------------------------------------
    async def _h_kv(self, req: Request, ctx: ConnectionContext) -> Any:
        argv = _argv(req.args.get("argv"))
        try:
            fast = self.try_submit(argv)
            if fast is None:
                reply = await self.execute(argv)
            elif isinstance(fast, asyncio.Future):
                reply = await self._await_reply(fast)
            else:
                reply = fast
        except Moved as moved:
            raise self._moved_error(moved, ctx) from None
        if isinstance(reply, RedisError):
            raise KeystreamError(ErrorCode.KEYSPACE_ERROR, reply.message)
        return to_wire(reply)

    async def _h_kv_batch(self, req: Request, ctx: ConnectionContext) -> Any:
        """A pipeline: every command queued in order (writes share one batch), answered in order."""
        commands = req.args.get("commands")
        if not isinstance(commands, list) or len(commands) > 100_000:
            raise KeystreamError(ErrorCode.INVALID_REQUEST, "commands must be a list of at most 100000 argv")
        pending: list[Any] = []
        for raw in commands:
            argv = _argv(raw)
            fast = self.try_submit(argv)
            pending.append(asyncio.ensure_future(self.execute(argv)) if fast is None else fast)
        out = []
        for item in pending:
            try:
                if isinstance(item, asyncio.Future):
                    reply = await (self._await_reply(item) if not isinstance(item, asyncio.Task) else item)
                else:
                    reply = item
                out.append([0, to_wire(reply)] if not isinstance(reply, RedisError) else [1, reply.message])
            except Moved as moved:
                out.append([2, self._moved_error(moved, ctx).message])
            except KeystreamError as exc:
                out.append([3, f"{exc.code.name} {exc.message}", int(exc.code)])
        return out

    async def _h_kv_exec(self, req: Request, ctx: ConnectionContext) -> Any:
        commands = [_argv(a) for a in req.args.get("commands") or []]
        watched = [Watch(bytes(k), int(o), int(t)) for k, o, t in req.args.get("watched") or []]
        try:
            reply = await self.execute_transaction(commands, watched)
        except Moved as moved:
            raise self._moved_error(moved, ctx) from None
        if isinstance(reply, RedisError):
            raise KeystreamError(ErrorCode.KEYSPACE_ERROR, reply.message)
        return to_wire(reply)

    async def _h_kv_watch(self, req: Request, ctx: ConnectionContext) -> Any:
        try:
            watches = await self.watch([bytes(k) for k in req.args.get("keys") or []])
        except Moved as moved:
            raise self._moved_error(moved, ctx) from None
        return [[w.key, w.offset, w.time_ms] for w in watches]

    def _moved_error(self, moved: Moved, ctx: ConnectionContext) -> KeystreamError:
        node = self.node.raft.snapshot.node(moved.node_id)
        address = None
        if node is not None:
            services: dict[str, str] = node["listeners"].get(ctx.listener) or next(iter(node["listeners"].values()), {})
            address = services.get("native")
        return KeystreamError(
            ErrorCode.MOVED,
            f"MOVED {moved.slot} {address}",
            {"slot": moved.slot, "node": moved.node_id, "address": address},
        )

    def _h_digest(self, req: Request, ctx: ConnectionContext) -> Any:
        out = {}
        for shard_id, shard in sorted(self.shards.items()):
            out[shard_id] = {
                "digest": shard.keyspace.digest().hex(),
                "applied": shard.keyspace.applied_offset,
                "keys": shard.keyspace.key_count,
                "role": shard.replica.role.value,
                "high_watermark": shard.replica.high_watermark,
                "log_start": shard.replica.log.log_start_offset,
                "snapshot": shard.snapshot_offset,
            }
        return out

    async def _h_save(self, req: Request, ctx: ConnectionContext) -> Any:
        """BGSAVE for this node: snapshot every local shard replica now."""
        return {shard_id: await self.snapshot(shard) for shard_id, shard in sorted(self.shards.items())}

    def _h_snapshot_info(self, req: Request, ctx: ConnectionContext) -> Any:
        shard = self.shards.get(int(req.args.get("shard", -1)))
        if shard is None or not shard._snapshots():
            raise KeystreamError(ErrorCode.TRYAGAIN, "no snapshot of that shard here yet")
        offset, path = shard._snapshots()[-1]
        info: dict[str, Any] = {"offset": offset, "size": path.stat().st_size}
        try:
            info["changes_next"] = int(msgpack.unpackb(shard._snapshot_meta(offset).read_bytes())["changes_next"])
        except (OSError, KeyError, ValueError, TypeError):
            pass
        return info

    def _h_snapshot_chunk(self, req: Request, ctx: ConnectionContext) -> Any:
        shard = self.shards.get(int(req.args.get("shard", -1)))
        if shard is None:
            raise KeystreamError(ErrorCode.TRYAGAIN, "no such shard here")
        path = shard.dir / f"snapshot-{int(req.args.get('offset', -1)):020d}.bin"
        try:
            with open(path, "rb") as fh:
                fh.seek(int(req.args.get("position", 0)))
                return {"data": fh.read(4 << 20)}
        except FileNotFoundError:
            return {"data": b""}


def _write_snapshot_file(keyspace: Keyspace, tmp: Path, final: Path) -> None:
    try:
        with open(tmp, "wb") as fh:
            keyspace.snapshot(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    except OSError:
        tmp.unlink(missing_ok=True)  # a full disk must not keep a partial snapshot holding space
        raise
    from cluster.durable_file import fsync_dir

    fsync_dir(final.parent)


def _atomic(path: Path, data: bytes) -> None:
    from cluster.durable_file import atomic_write

    atomic_write(path, data)


def _store_and_load(tmp: Path, chunks: list[bytes], limits: KeyspaceLimits) -> Keyspace:
    with open(tmp, "wb") as fh:
        for chunk in chunks:
            fh.write(chunk)
        fh.flush()
        os.fsync(fh.fileno())
    with open(tmp, "rb") as fh:
        return Keyspace.load(fh, limits)


def _ignore_result(fut: asyncio.Future[Any]) -> None:
    if not fut.cancelled():
        fut.exception()


def _argv(raw: Any) -> list[bytes]:
    if not isinstance(raw, list) or not raw or len(raw) > 1024 * 1024:
        raise KeystreamError(ErrorCode.INVALID_REQUEST, "argv must be a non-empty list of byte strings")
    out = []
    for item in raw:
        if isinstance(item, bytes):
            out.append(item)
        elif isinstance(item, str):
            out.append(item.encode())
        elif isinstance(item, int | float) and not isinstance(item, bool):
            out.append(str(item).encode())
        else:
            raise KeystreamError(ErrorCode.INVALID_REQUEST, f"argv items must be bytes, str or numbers, got {item!r}")
    return out


def to_wire(reply: Reply) -> Any:
    """A reply as msgpack-able data for the native protocol (errors inside lists as {"err": ...})."""
    if reply is None or isinstance(reply, bytes | int | float):
        return reply
    if reply is NULL_ARRAY:
        return None
    if isinstance(reply, SimpleString):
        return reply.text
    if isinstance(reply, RedisError):
        return {"err": reply.message}
    if isinstance(reply, Map):
        return {to_wire(k): to_wire(v) for k, v in reply.pairs}
    if isinstance(reply, SetReply):
        return [to_wire(x) for x in reply.items]
    if isinstance(reply, PairArray):
        return [[to_wire(a), to_wire(b)] for a, b in reply.pairs]
    if isinstance(reply, list):
        return [to_wire(x) for x in reply]
    return reply
