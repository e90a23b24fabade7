"""pysyncobj wiring and hardening: the metadata Raft group behind an asyncio facade.

pysyncobj is the Raft implementation our users chose. Used as shipped it
has holes that matter for a metadata store, each closed here (and each with
a test in ``tests/unit/cluster/test_raft_hardening.py`` that fails without
the fix):

1. **Authentication.** Its port accepts anyone and unpickles what arrives.
   We always set its ``password`` (Fernet key from the cluster secret) and
   replace its transport (``cluster.raft_transport``): authenticated
   handshake, msgpack frames, sizes checked before buffering.
2. **Durable term and vote.** ``DurableJournal`` fsyncs ``currentTerm`` and
   ``votedFor`` before pysyncobj sends the vote, so a restarted member can
   never vote twice in one term.
3. **Durable log before acknowledge.** Its journal is an mmap that is never
   flushed. A follower here fsyncs appended entries before it answers
   AppendEntries, and the leader fsyncs its own new entries before its next
   tick counts itself towards a commit. (``metadata_fsync=False`` trades
   this away, for tests on slow disks.)
4. **Latency without giving up batching.** With ``appendEntriesUseBatch`` a
   new command waits for the next tick (~50 ms) and then for the next
   heartbeat (100 ms) before followers see it, and followers learn of the
   commit only at the heartbeat after that; switching batching off sends one
   message per command. We keep batching and instead (a) wake the tick
   thread through a pipe when a command is queued, and (b) send
   AppendEntries at the end of every tick in which the leader appended
   entries or advanced its commit index. Everything queued during one tick
   still travels in one message per follower.
5. **No truncation of matching entries.** pysyncobj 0.3.17 deletes every
   entry after ``prevLogIdx`` whenever the follower holds more, even entries
   that match the incoming ones. A delayed or repeated AppendEntries then
   makes a follower drop entries it already acknowledged (and counted
   towards a commit); crash it before they are re-sent and a committed entry
   can sit on less than a majority. Raft (§5.3) truncates only at the first
   entry whose term conflicts. We also compute the follower's commit index
   as ``min(leaderCommit, index of the last new entry)`` as Raft says, not
   against the end of a log that may still hold unverified entries.
6. **Votes counted once per voter.** A candidate counts a ``response_vote``
   only once per voter and term.
7. **No fork.** ``useFork=False``: forking a process that runs an asyncio
   loop and threads is unsafe. Snapshots are msgpack (our serializer), not
   pickle.

The tick loop runs on its own thread (pysyncobj's style); committed
changes reach the node's asyncio loop through ``call_soon_threadsafe``,
coalesced, so the event loop never blocks on Raft.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import msgpack
from pysyncobj import SyncObj, SyncObjConf, SyncObjConsumer, replicated
from pysyncobj.config import FAIL_REASON
from pysyncobj.pipe_notifier import PipeNotifier

from cluster.durable_file import atomic_write
from cluster.errors import ErrorCode, KeystreamError
from cluster.raft_journal import DurableJournal
from cluster.raft_transport import KeystreamTransport, RaftPeer, TransportSettings
from cluster.state import ClusterState, Command, Result

log = logging.getLogger(__name__)

_NO_OP = b"\x01"  # pysyncobj's _COMMAND_TYPE.NO_OP as its first log entry
_M = "_SyncObj__"  # prefix of pysyncobj's name-mangled internals
_FOLLOWER = 0  # pysyncobj's _RAFT_STATE.FOLLOWER


@dataclass
class RaftSettings:
    node_id: int
    voters: dict[int, str]  # voter id -> raft address other members dial
    bind: str | None  # where this voter listens; None for a broker
    data_dir: Path
    secret: str
    cluster_name: str = "keystream"
    dial_overrides: dict[int, str] = field(default_factory=dict)  # e.g. per-pair fault proxies
    durable: bool = True
    election_timeout_min_s: float = 1.0
    election_timeout_max_s: float = 2.0
    heartbeat_period_s: float = 0.1
    tick_period_s: float = 0.05
    log_compaction_min_entries: int = 5000
    log_compaction_min_time_s: float = 300.0

    @property
    def is_voter(self) -> bool:
        return self.node_id in self.voters


class ReplicatedClusterState(SyncObjConsumer):
    """The pysyncobj consumer: applies committed commands to a ClusterState."""

    def __init__(self, on_applied: Callable[[], None]) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.state = ClusterState()
        self._on_applied = on_applied

    @replicated
    def apply_command(self, packed: bytes) -> Result:
        try:
            command = msgpack.unpackb(packed, raw=False, strict_map_key=False)
        except Exception as exc:
            return {"error": int(ErrorCode.INVALID_REQUEST), "message": f"undecodable command: {exc}"}
        with self.lock:
            result = self.state.apply(command)
        self._on_applied()
        return result

    def replace(self, state: ClusterState) -> None:
        with self.lock:
            self.state = state
        self._on_applied()


class HardenedSyncObj(SyncObj):
    """SyncObj with the fixes listed in the module docstring."""

    def __init__(
        self,
        self_peer: RaftPeer | None,
        peers: list[RaftPeer],
        conf: SyncObjConf,
        consumers: list[Any],
        transport_factory: Callable[..., Any],
        journal: DurableJournal,
    ) -> None:
        if conf.autoTick or conf.useFork or not conf.password:
            raise ValueError("HardenedSyncObj needs autoTick=False, useFork=False and a password")
        self._journal = journal
        self._votes: tuple[int, set[str]] = (-1, set())
        self._sent_last_index = -1
        self._sent_commit_index = -1
        self._wake_pending = False
        self._wake_lock = threading.Lock()
        super().__init__(
            self_peer,
            peers,
            conf,
            consumers=consumers,
            nodeClass=RaftPeer,
            transportClass=transport_factory,
        )
        self._install_journal(journal)
        self._wake = PipeNotifier(self._poller, self._on_wake)

    def _install_journal(self, journal: DurableJournal) -> None:
        """Swap pysyncobj's in-memory journal for ours and restore term, vote, commit."""
        if len(journal) == 0:
            journal.add(_NO_OP, 1, 0)
            journal.sync()
        setattr(self, _M + "raftLog", journal)
        last_term = journal[-1][2]
        setattr(self, _M + "raftCurrentTerm", max(journal.getCurrentTerm(), last_term))
        setattr(self, _M + "votedForNodeId", journal.getVotedForNodeId())
        setattr(self, _M + "raftCommitIndex", min(journal.getRaftCommitIndex(), journal[-1][1]))

    # --- (4) wake the tick thread when a command is queued ---------------------------------
    def _applyCommand(self, command: Any, callback: Any, commandType: Any = None) -> None:
        super()._applyCommand(command, callback, commandType)
        with self._wake_lock:
            if self._wake_pending:
                return
            self._wake_pending = True
        try:
            self._wake.notify()
        except BlockingIOError:
            pass

    def _on_wake(self) -> None:
        with self._wake_lock:
            self._wake_pending = False

    # --- (3) + (4): durable, then send right away -------------------------------------------
    def _checkCommandsToApply(self) -> None:
        super()._checkCommandsToApply()
        # Entries the leader appended this tick become durable before the next
        # tick counts the leader's own log towards a commit.
        self._journal.sync()
        if self._isLeader():
            last_index = self._journal[-1][1]
            commit_index = getattr(self, _M + "raftCommitIndex")
            if last_index != self._sent_last_index or commit_index != self._sent_commit_index:
                self._sent_last_index = last_index
                self._sent_commit_index = commit_index
                getattr(self, _M + "sendAppendEntries")()

    # --- (5) + (6): message handling ---------------------------------------------------------------
    def _SyncObj__onMessageReceived(self, node: Any, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "append_entries" and "prevLogIdx" in message and "transmission" not in message:
            self._on_append_entries(node, message)
            return
        if kind == "response_vote":
            term = getattr(self, _M + "raftCurrentTerm")
            if self._votes[0] != term:
                self._votes = (term, set())
            if node.id in self._votes[1]:
                return
            self._votes[1].add(node.id)
        SyncObj._SyncObj__onMessageReceived(self, node, message)

    def _on_append_entries(self, node: Any, message: dict[str, Any]) -> None:
        term = message["term"]
        current_term = getattr(self, _M + "raftCurrentTerm")
        if term < current_term:
            return  # stale leader; pysyncobj ignores these too
        # --- same bookkeeping as pysyncobj's handler -------------------------------------------
        if term > current_term:
            setattr(self, _M + "transferInProgress", False)
        if not getattr(self, _M + "transferInProgress"):
            setattr(
                self,
                _M + "raftElectionDeadline",
                time.monotonic() + getattr(self, _M + "generateRaftTimeout")(),
            )
        if getattr(self, _M + "raftLeader") != node:
            getattr(self, _M + "onLeaderChanged")()
        setattr(self, _M + "raftLeader", node)
        if term > current_term:
            getattr(self, _M + "setCurrentTerm")(term, None)
        getattr(self, _M + "setState")(_FOLLOWER)
        leader_commit = message["commit_index"]
        setattr(self, _M + "leaderCommitIndex", leader_commit)
        send_next = getattr(self, _M + "sendNextNodeIdx")
        get_entries = getattr(self, _M + "getEntries")

        prev_idx = message["prevLogIdx"]
        prev_term = message["prevLogTerm"]
        entries = message.get("entries") or []
        prev_entries = get_entries(prev_idx)
        if not prev_entries:
            send_next(node, success=False, reset=True)
            return
        if prev_entries[0][2] != prev_term:
            send_next(node, nextNodeIdx=prev_idx, success=False, reset=True)
            return

        # Raft §5.3: skip entries we already hold with the same term; truncate
        # only at the first conflicting one; append what is left.
        held = prev_entries[1:]
        matched = 0
        while matched < len(entries) and matched < len(held):
            if held[matched][2] != entries[matched][2]:
                break
            matched += 1
        if matched < len(entries):
            if matched < len(held):
                conflict_idx = prev_idx + 1 + matched
                if conflict_idx <= getattr(self, _M + "raftLastApplied"):
                    log.critical("raft: leader asks to truncate applied entry %d (term conflict)", conflict_idx)
                getattr(self, _M + "deleteEntriesFrom")(conflict_idx)
            for expected, entry in enumerate(entries[matched:], start=prev_idx + 1 + matched):
                command, idx, entry_term = entry
                if idx != expected:
                    log.error("raft: non-contiguous AppendEntries (%d != %d); ignoring", idx, expected)
                    return
                self._journal.add(command, idx, entry_term)
        # Durable before we acknowledge.
        self._journal.sync()
        last_new = prev_idx + len(entries)
        send_next(node, nextNodeIdx=last_new + 1, success=True)

        commit = getattr(self, _M + "raftCommitIndex")
        log_end = self._journal[-1][1]
        if commit > log_end:
            commit = log_end
        if leader_commit > commit:
            commit = max(commit, min(leader_commit, last_new))
        setattr(self, _M + "raftCommitIndex", commit)
        self._journal.setRaftCommitIndex(commit)

    # --- introspection --------------------------------------------------------------------------
    @property
    def journal(self) -> DurableJournal:
        return self._journal

    def last_log_index(self) -> int:
        return int(self._journal[-1][1])

    def leader_id(self) -> int | None:
        leader = self._getLeader()
        return int(leader.id) if leader is not None else None


_FAIL_MESSAGES = {
    FAIL_REASON.QUEUE_FULL: (ErrorCode.CLUSTER_NOT_READY, "metadata command queue full"),
    FAIL_REASON.MISSING_LEADER: (ErrorCode.NOT_CONTROLLER, "no metadata leader elected"),
    FAIL_REASON.DISCARDED: (
        ErrorCode.REQUEST_TIMED_OUT,
        "command discarded by a leader change (outcome unknown)",
    ),
    FAIL_REASON.NOT_LEADER: (ErrorCode.NOT_CONTROLLER, "not the metadata leader"),
    FAIL_REASON.LEADER_CHANGED: (ErrorCode.REQUEST_TIMED_OUT, "metadata leader changed (outcome unknown)"),
    FAIL_REASON.REQUEST_DENIED: (ErrorCode.INVALID_REQUEST, "request denied"),
}


class MetadataRaft:
    """The node's handle on the metadata Raft group (asyncio side)."""

    def __init__(self, settings: RaftSettings) -> None:
        self.settings = settings
        self._loop: asyncio.AbstractEventLoop | None = None
        self._consumer = ReplicatedClusterState(self._on_applied)
        self._sync: HardenedSyncObj | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._publish_scheduled = False
        self._publish_lock = threading.Lock()
        self._listeners: list[Callable[[ClusterState], None]] = []
        self.snapshot: ClusterState = ClusterState()
        self.transport_stats: dict[str, int] = {"auth_failures": 0, "frames_in": 0}

    # --- lifecycle -------------------------------------------------------------------------------
    def bind(self) -> socket.socket | None:
        """Bind the Raft port now, so a port in use is a clear start-up error."""
        if not self.settings.is_voter or self.settings.bind is None:
            return None
        host, port = self.settings.bind.rsplit(":", 1)
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, int(port)))
        except OSError as exc:
            sock.close()
            raise OSError(exc.errno, f"cannot bind the Raft port {self.settings.bind}: {exc.strerror}") from exc
        sock.listen(128)
        return sock

    def start(self, loop: asyncio.AbstractEventLoop, listen_socket: socket.socket | None) -> None:
        self._loop = loop
        s = self.settings
        raft_dir = s.data_dir / "metadata"
        raft_dir.mkdir(parents=True, exist_ok=True)
        journal = DurableJournal(raft_dir / "raft.journal", durable=s.durable)
        dump_file = str(raft_dir / "raft.snapshot")
        conf = SyncObjConf(
            password=s.secret,
            autoTick=False,
            useFork=False,
            appendEntriesUseBatch=True,
            appendEntriesPeriod=s.heartbeat_period_s,
            raftMinTimeout=s.election_timeout_min_s,
            raftMaxTimeout=s.election_timeout_max_s,
            connectionTimeout=max(3.5, s.election_timeout_max_s),
            leaderFallbackTimeout=s.election_timeout_max_s * 1.25,
            appendEntriesBatchSizeBytes=2 * 1024 * 1024,
            commandsQueueSize=100_000,
            fullDumpFile=dump_file,
            serializer=self._write_snapshot,
            deserializer=self._read_snapshot,
            logCompactionMinEntries=s.log_compaction_min_entries,
            logCompactionMinTime=s.log_compaction_min_time_s,
            dynamicMembershipChange=False,
        )
        dial = {vid: addr for vid, addr in s.voters.items() if vid != s.node_id}
        dial.update({k: v for k, v in s.dial_overrides.items() if k != s.node_id})
        peers = [RaftPeer(vid, dial.get(vid), voter=True) for vid in sorted(s.voters) if vid != s.node_id]
        self_peer = RaftPeer(s.node_id, s.voters[s.node_id], voter=True) if s.is_voter else None
        tsettings = TransportSettings(
            node_id=s.node_id,
            cluster_name=s.cluster_name,
            dial_addresses=dial,
            voter_ids=frozenset(s.voters),
            listen_socket=listen_socket,
            dead_after_s=max(3.0, s.election_timeout_max_s * 1.5),
            stats=self.transport_stats,
        )
        self._sync = HardenedSyncObj(
            self_peer, peers, conf, [self._consumer], partial(KeystreamTransport, settings=tsettings), journal
        )
        self._thread = threading.Thread(target=self._run, name=f"raft-{s.node_id}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        assert self._sync is not None
        while not self._stopping.is_set():
            try:
                self._sync.doTick(self.settings.tick_period_s)
            except Exception:
                log.exception("raft tick failed")
                time.sleep(self.settings.tick_period_s)
        try:
            self._sync._doDestroy()
        except Exception:
            log.exception("raft shutdown failed")

    def stop(self) -> None:
        self._stopping.set()
        if self._sync is not None:
            try:
                self._sync._wake.notify()
            except (BlockingIOError, OSError):
                pass
        if self._thread is not None:
            self._thread.join(timeout=10)

    # --- snapshots (pysyncobj log compaction), msgpack not pickle ---------------------------
    def _write_snapshot(self, path: str, raft_data: Any) -> None:
        entry_last, entry_prev, _cluster = raft_data
        with self._consumer.lock:
            state_bytes = self._consumer.state.to_bytes()
        blob = msgpack.packb(
            {"v": 1, "state": state_bytes, "last": list(entry_last), "prev": list(entry_prev)},
            use_bin_type=True,
        )
        atomic_write(path, blob, durable=self.settings.durable)

    def _read_snapshot(self, path: str) -> tuple[Any, Any, Any]:
        with open(path, "rb") as fh:
            blob = msgpack.unpackb(fh.read(), raw=False, strict_map_key=False)
        self._consumer.replace(ClusterState.load_bytes(blob["state"]))
        last, prev = blob["last"], blob["prev"]
        return (bytes(last[0]), int(last[1]), int(last[2])), (bytes(prev[0]), int(prev[1]), int(prev[2])), []

    # --- committed state -> asyncio ---------------------------------------------------------------
    def _on_applied(self) -> None:
        """Called on the Raft thread after every apply; schedules one publish."""
        with self._publish_lock:
            if self._publish_scheduled or self._loop is None:
                return
            self._publish_scheduled = True
        try:
            self._loop.call_soon_threadsafe(self._publish)
        except RuntimeError:  # loop closed during shutdown
            pass

    def _publish(self) -> None:
        with self._publish_lock:
            self._publish_scheduled = False
        with self._consumer.lock:
            snap = self._consumer.state.copy()
        self.snapshot = snap
        for listener in list(self._listeners):
            try:
                listener(snap)
            except Exception:
                log.exception("cluster state listener failed")

    def add_listener(self, listener: Callable[[ClusterState], None]) -> None:
        self._listeners.append(listener)

    def applied_map_epoch(self) -> int:
        with self._consumer.lock:
            return self._consumer.state.map_epoch

    def state_digest(self) -> str:
        with self._consumer.lock:
            return self._consumer.state.digest()

    # --- proposing ----------------------------------------------------------------------------------
    async def propose(self, command: Command, timeout: float = 10.0) -> Any:
        """Replicate a command; returns its ``ok`` value or raises KeystreamError."""
        if self._sync is None or self._loop is None:
            raise KeystreamError(ErrorCode.CLUSTER_NOT_READY, "metadata Raft not started")
        packed = msgpack.packb(command, use_bin_type=True)
        fut: asyncio.Future[Any] = self._loop.create_future()
        loop = self._loop

        def done(result: Any, error: Any) -> None:
            def settle() -> None:
                if fut.done():
                    return
                if error == FAIL_REASON.SUCCESS:
                    fut.set_result(result)
                else:
                    code, msg = _FAIL_MESSAGES.get(error, (ErrorCode.REQUEST_TIMED_OUT, f"failure {error}"))
                    fut.set_exception(KeystreamError(code, msg))

            try:
                loop.call_soon_threadsafe(settle)
            except RuntimeError:
                pass

        self._consumer.apply_command(packed, callback=done)
        try:
            result = await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            raise KeystreamError(
                ErrorCode.REQUEST_TIMED_OUT, f"metadata write not committed within {timeout}s"
            ) from None
        if not isinstance(result, dict):
            raise KeystreamError(ErrorCode.UNKNOWN_SERVER_ERROR, f"unexpected result {result!r}")
        if "error" in result:
            raise KeystreamError(ErrorCode(result["error"]), result.get("message", ""))
        return result.get("ok")

    # --- status ---------------------------------------------------------------------------------------
    @property
    def leader_id(self) -> int | None:
        return self._sync.leader_id() if self._sync is not None else None

    @property
    def is_leader(self) -> bool:
        return self._sync is not None and bool(self._sync._isLeader())

    @property
    def term(self) -> int:
        return int(self._sync.raftCurrentTerm) if self._sync is not None else 0

    def status(self) -> dict[str, Any]:
        if self._sync is None:
            return {"started": False}
        sync = self._sync
        return {
            "started": True,
            "leader": self.leader_id,
            "is_leader": self.is_leader,
            "term": self.term,
            "commit_index": sync.raftCommitIndex,
            "last_applied": sync.raftLastApplied,
            "last_log_index": sync.last_log_index(),
            "voter": self.settings.is_voter,
            "transport": dict(self.transport_stats),
        }


def secret_fingerprint(secret: str) -> str:
    """A short, non-reversible tag to tell secrets apart in logs (never log the secret)."""
    return hashlib.sha256(b"keystream-secret-fingerprint" + secret.encode()).hexdigest()[:8]


__all__ = [
    "HardenedSyncObj",
    "MetadataRaft",
    "RaftSettings",
    "ReplicatedClusterState",
    "secret_fingerprint",
]
