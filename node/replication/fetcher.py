"""Followers pull from leaders: one long-polling fetch session per leader node.

A session carries every partition this node follows from that leader in
one ``replica_fetch`` request (as Kafka's replica fetcher threads do), so
the number of requests does not grow with the number of partitions. Before
fetching a partition for the first time in a leader epoch, the follower asks
the leader where their logs diverge (OffsetForLeaderEpoch, KIP-101) and cuts
its tail there.

A partition whose fetch fails (the leader's disk or ours refused it, the
leader moved) backs off on its own, exponentially up to ``_MAX_BACKOFF_S``,
while the other partitions of the session go on; its log lines are throttled.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from client.connection import NativeConnection
from cluster.errors import ErrorCode, KeystreamError
from node.logging_setup import LogThrottle
from node.replication.replica import Replica, Role
from node.replication.state import truncation_offset
from node.storage.errors import LogStorageError

if TYPE_CHECKING:
    from node.replication.manager import ReplicaManager

log = logging.getLogger(__name__)

_MAX_TRUNCATION_ROUNDS = 16
_MIN_BACKOFF_S = 0.05  # a partition's first retry after a failed fetch or append
_MAX_BACKOFF_S = 1.0


class FetchSession:
    def __init__(
        self,
        manager: ReplicaManager,
        leader_id: int,
        address_of: Callable[[int], str | None],
        connect: Callable[..., Any] | None = None,
    ) -> None:
        self.manager = manager
        self.leader_id = leader_id
        self._address_of = address_of
        self._connect = connect
        self.partitions: dict[tuple[str, int], Replica] = {}
        self._conn: NativeConnection | None = None
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name=f"fetch-from-{leader_id}")
        self._backoff = 0.05
        self._retry_at: dict[tuple[str, int], float] = {}  # partitions backing off: when to retry
        self._delay: dict[tuple[str, int], float] = {}
        self._throttle = LogThrottle()

    def wake(self) -> None:
        self._wake.set()

    def reset_backoff(self, key: tuple[str, int]) -> None:
        self._retry_at.pop(key, None)
        self._delay.pop(key, None)

    def _back_off(self, replica: Replica) -> None:
        delay = min(self._delay.get(replica.key, _MIN_BACKOFF_S / 2) * 2, _MAX_BACKOFF_S)
        self._delay[replica.key] = delay
        self._retry_at[replica.key] = time.monotonic() + delay

    def _ready(self, key: tuple[str, int], now: float) -> bool:
        return self._retry_at.get(key, 0.0) <= now

    def _warn(self, replica: Replica, what: str, detail: str) -> None:
        held = self._throttle.allow((replica.key, what), time.monotonic())
        if held is not None:
            note = f" ({held} similar lines held back)" if held else ""
            log.warning("%s: %s%s: %s", replica.name, what, note, detail)

    async def stop(self) -> None:
        self._task.cancel()
        try:
            await self._task
        except (asyncio.CancelledError, Exception):
            pass
        if self._conn is not None:
            await self._conn.close()

    async def _run(self) -> None:
        while True:
            if not self.partitions:
                self._wake.clear()
                await self._wake.wait()
                continue
            try:
                conn = await self._connection()
                await self._truncate_divergent(conn)
                await self._fetch_once(conn)
                self._backoff = 0.05
            except asyncio.CancelledError:
                raise
            except (ConnectionError, OSError, KeystreamError) as exc:
                log.debug("fetch from node %d failed: %s", self.leader_id, exc)
                if self._conn is not None:
                    await self._conn.close()
                    self._conn = None
                await self._sleep(self._backoff)
                self._backoff = min(self._backoff * 2, 1.0)
            except Exception:
                log.exception("fetch session from node %d failed", self.leader_id)
                await self._sleep(0.5)

    async def _sleep(self, seconds: float) -> None:
        """Back off, but wake early when the partitions we follow change."""
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), seconds)
        except TimeoutError:
            pass

    async def _connection(self) -> NativeConnection:
        if self._conn is not None and not self._conn.closed:
            return self._conn
        address = self._address_of(self.leader_id)
        if address is None:
            raise ConnectionError(f"no address known for node {self.leader_id}")
        if self._connect is not None:
            self._conn = await self._connect(address, timeout=3.0)
        else:
            self._conn = await NativeConnection.open(address, connect_timeout=3.0)
        return self._conn

    async def _truncate_divergent(self, conn: NativeConnection) -> None:
        now = time.monotonic()
        pending = {k: r for k, r in self.partitions.items() if r.needs_truncation and self._ready(k, now)}
        asking = {k: r.log.latest_epoch for k, r in pending.items()}
        for _ in range(_MAX_TRUNCATION_ROUNDS):
            if not asking:
                return
            request = [[t, p, pending[(t, p)].leader_epoch, epoch] for (t, p), epoch in asking.items()]
            reply = await conn.request("offset_for_leader_epoch", {"partitions": request}, timeout=10)
            next_round: dict[tuple[str, int], int] = {}
            for topic, partition, error, leader_epoch, end_offset in reply["partitions"]:
                key = (topic, partition)
                replica = self.partitions.get(key)
                if replica is None or replica is not pending.get(key):
                    continue
                if error:
                    raise KeystreamError(ErrorCode(error), f"offset_for_leader_epoch {topic}-{partition}")
                if asking[key] < 0:  # our log has no epochs: nothing of ours can diverge by epoch
                    offset: int | None = min(replica.log.log_end_offset, end_offset) if end_offset >= 0 else None
                    if offset is None or replica.log.log_end_offset == 0:
                        replica.needs_truncation = False
                        continue
                    ask_again = None
                else:
                    offset, ask_again = truncation_offset(
                        replica.log.end_offset_for_epoch, replica.log.log_end_offset, leader_epoch, end_offset
                    )
                if ask_again is not None:
                    next_round[key] = ask_again
                    continue
                assert offset is not None
                if offset < replica.log.log_end_offset:
                    log.warning("%s: truncating divergent tail %d..%d (leader epoch %d)", replica.name,
                                offset, replica.log.log_end_offset, replica.leader_epoch)  # fmt: skip
                    try:
                        replica.log.truncate_to(offset)
                    except LogStorageError as exc:  # our disk: retry later, the others go on
                        self._back_off(replica)
                        self._warn(replica, "cannot truncate", exc.message)
                        continue
                    replica.high_watermark = min(replica.high_watermark, replica.log.log_end_offset)
                    replica.rebuild_producer_state()
                    self.manager.truncated(replica)
                replica.needs_truncation = False
            asking = next_round
        raise KeystreamError(ErrorCode.UNKNOWN_SERVER_ERROR, "leader-epoch truncation did not converge")

    async def _fetch_once(self, conn: NativeConnection) -> None:
        now = time.monotonic()
        fetchable = {k: r for k, r in self.partitions.items() if not r.needs_truncation and r.role == Role.FOLLOWER}
        sent = {k: r for k, r in fetchable.items() if self._ready(k, now)}
        if not sent:
            waits = [self._retry_at[k] - now for k in fetchable if k in self._retry_at]
            await self._sleep(max(min(waits), 0.001) if waits else 0.05)
            return
        request = [[t, p, r.log.log_end_offset, r.leader_epoch, r.high_watermark] for (t, p), r in sent.items()]
        settings = self.manager.settings
        reply = await conn.request(
            "replica_fetch",
            {
                "replica_id": self.manager.node_id,
                "max_wait_ms": settings.replica_fetch_wait_max_ms,
                "max_bytes": settings.replica_fetch_max_bytes,
                "partitions": request,
            },
            timeout=settings.replica_fetch_wait_max_ms / 1000 + 10,
        )
        for entry in reply["partitions"]:
            topic, partition, error, hw, log_start, _leo, records = entry[:7]
            key = (topic, partition)
            replica = self.partitions.get(key)
            if replica is None or replica is not sent.get(key):
                continue  # reassigned while the fetch was in flight
            if error:
                message = str(entry[7]) if len(entry) > 7 else ""
                self._on_error(replica, ErrorCode(error), log_start, message)
                continue
            try:
                if records:
                    try:
                        replica.log.append_as_follower(records)
                    except LogStorageError:
                        raise
                    except KeystreamError as exc:
                        log.warning("%s: cannot append fetched data (%s); re-checking divergence",
                                    replica.name, exc.message)  # fmt: skip
                        replica.needs_truncation = True
                        continue
                    replica.track_batches(records)
                    replica.dirty = True
                self.manager.follower_appended(replica, hw, log_start)
            except LogStorageError as exc:  # our disk refused it (the log reported it): retry later
                self._back_off(replica)
                self._warn(replica, "cannot append fetched data", exc.message)
                continue
            self.reset_backoff(key)

    def _on_error(self, replica: Replica, error: ErrorCode, leader_log_start: int, message: str = "") -> None:
        if error == ErrorCode.OFFSET_OUT_OF_RANGE:
            if 0 <= replica.log.log_end_offset < leader_log_start:
                log.info(
                    "%s: behind the leader's log start %d; starting over there",
                    replica.name,
                    leader_log_start,
                )
                try:
                    replica.log.truncate_fully_and_start_at(leader_log_start)
                except LogStorageError as exc:
                    self._back_off(replica)
                    self._warn(replica, "cannot start over at the leader's log start", exc.message)
                    return
                replica.high_watermark = leader_log_start
                replica.producers.rebuild([])
                self.manager.truncated(replica)
            else:
                replica.needs_truncation = True
            return
        # Retrying at once would spin: the leader's disk may be full, or our map or the
        # leader's is stale (the next map update re-adds the partition without delay).
        self._back_off(replica)
        if error not in (
            ErrorCode.FENCED_LEADER_EPOCH,
            ErrorCode.NOT_LEADER,
            ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
            ErrorCode.UNKNOWN_LEADER_EPOCH,
        ):
            self._warn(replica, f"fetch error {error.name}", message or "(no message)")


class FetcherManager:
    def __init__(
        self,
        manager: ReplicaManager,
        address_of: Callable[[int], str | None],
        connect: Callable[..., Any] | None = None,
    ) -> None:
        self.manager = manager
        self._address_of = address_of
        self._connect = connect
        self._sessions: dict[int, FetchSession] = {}
        self._stopping: set[asyncio.Task[None]] = set()

    def add(self, replica: Replica) -> None:
        self.remove(replica)
        session = self._sessions.get(replica.leader_id)
        if session is None:
            session = self._sessions[replica.leader_id] = FetchSession(
                self.manager, replica.leader_id, self._address_of, self._connect
            )
        session.partitions[replica.key] = replica
        session.reset_backoff(replica.key)
        session.wake()

    def remove(self, replica: Replica) -> None:
        for session in self._sessions.values():
            if session.partitions.get(replica.key) is replica:
                del session.partitions[replica.key]

    def reconcile(self) -> None:
        for leader_id, session in list(self._sessions.items()):
            if not session.partitions:
                del self._sessions[leader_id]
                task = asyncio.create_task(session.stop())
                self._stopping.add(task)
                task.add_done_callback(self._stopping.discard)

    async def stop(self) -> None:
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            await session.stop()

    def describe(self) -> dict[int, list[str]]:
        return {lid: [f"{t}-{p}" for t, p in s.partitions] for lid, s in self._sessions.items()}
