"""Consumer groups in the SDK: :class:`GroupConsumer`, built on :class:`client.consumer.Consumer`.

    async with ks.group_consumer("billing", topics=["orders"], assignors="cooperative-sticky") as consumer:
        async for record in consumer:
            handle(record)
            await consumer.commit()      # commit-after-processing: at least once

How it works (Kafka's consumer protocol). The coordinator of the group (the
node leading the keyspace shard of ``{__group:G}``) is found with
``find_coordinator``; the member joins (``join_group``), the leader member
computes the assignment with the chosen assignor (client-side, see
``node/groups/assignors.py``) and hands it out through ``sync_group``; the
member then heartbeats every ``heartbeat_interval_ms`` and rejoins when told a
rebalance is in progress. Fetching is the plain :class:`Consumer`'s
(``assign``/``seek``), positioned at the committed offsets.

Ownership. A partition is owned from ``on_assigned`` to ``on_revoked`` (or
``on_lost``). Records are handed to the application only for owned
partitions, and an ownership change waits until the application is back in
``getmany``/the iterator (a *safe point*: everything it was given before is
processed), so a revocation never cuts a record in half: with
commit-after-processing, the revoked partitions' offsets are committed before
another member can start on them.

* **Eager** assignors (``range``, ``roundrobin``): every partition is revoked
  before the member rejoins; consumption stops for the whole rebalance.
* **Cooperative** (``cooperative-sticky``): the member rejoins with what it
  owns and keeps consuming; after the sync it revokes only what moved away
  and rejoins once more so those partitions can go to their new owners.

Liveness. ``session_timeout_ms``: the coordinator drops a member it has not
heard from that long; the member itself considers its partitions lost (stops
handing them out) when it has not had a successful heartbeat that long, so
it does not keep consuming partitions the group already gave away.
``max_poll_interval_ms``: an application that stays away from the poll loop
that long makes the member leave the group (it rejoins at the next poll).
Static membership (``group_instance_id``): the member does not leave on
close; a restart within the session timeout gets its old assignment back
without a rebalance.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

from client.consumer import Consumer
from client.records import ConsumerRecord, TopicPartition
from client.routing import ClusterClient
from cluster.errors import ErrorCode, KeystreamError
from node.groups.assignors import Assignor, MemberSubscription, get_assignor
from node.groups.protocol import PROTOCOL_TYPE, Assignment, Subscription, sorted_tps, validate_group_id

log = logging.getLogger(__name__)

RebalanceCallback = Callable[[set[TopicPartition]], Awaitable[None] | None]

_COORDINATOR_ERRORS = (
    ErrorCode.NOT_COORDINATOR,
    ErrorCode.COORDINATOR_NOT_AVAILABLE,
    ErrorCode.REQUEST_TIMED_OUT,
)
_FATAL = (
    ErrorCode.FENCED_INSTANCE_ID,
    ErrorCode.INCONSISTENT_GROUP_PROTOCOL,
    ErrorCode.INVALID_SESSION_TIMEOUT,
    ErrorCode.GROUP_MAX_SIZE_REACHED,
    ErrorCode.INVALID_GROUP_ID,
    ErrorCode.INVALID_REQUEST,
)
_MAX_JOIN_ATTEMPTS = 50  # MEMBER_ID_REQUIRED and superseded joins inside one rejoin


class CommitFailedError(KeystreamError):
    """The commit can't be done: the member is no longer in the group's current generation
    (its partitions may belong to another member now). Rejoining happens by itself."""

    def __init__(self, message: str, code: ErrorCode = ErrorCode.ILLEGAL_GENERATION) -> None:
        super().__init__(code, message)


class _CoordinatorMoved(Exception):
    pass


class GroupConsumer:
    def __init__(
        self,
        cluster: ClusterClient,
        group_id: str,
        *,
        topics: Iterable[str] | None = None,
        pattern: str | re.Pattern[str] | None = None,
        assignors: str | Sequence[str] = "range",
        session_timeout_ms: int = 10_000,
        heartbeat_interval_ms: int | None = None,
        max_poll_interval_ms: int = 300_000,
        rebalance_timeout_ms: int | None = None,
        group_instance_id: str | None = None,
        client_id: str = "keystream",
        enable_auto_commit: bool = True,
        auto_commit_interval_ms: int = 5000,
        auto_offset_reset: str = "latest",
        max_poll_records: int = 500,
        metadata_max_age_ms: int = 5000,
        request_timeout_ms: int = 30_000,
        on_assigned: RebalanceCallback | None = None,
        on_revoked: RebalanceCallback | None = None,
        on_lost: RebalanceCallback | None = None,
        **consumer_options: Any,
    ) -> None:
        self.cluster = cluster
        self.group_id = validate_group_id(group_id)
        names = [assignors] if isinstance(assignors, str) else list(assignors)
        if not names:
            raise ValueError("at least one assignor is required")
        self._assignors: list[Assignor] = [get_assignor(n) for n in names]
        # cooperative only when every offered assignor is (Kafka's rule: the protocol is the common one)
        self.cooperative = all(a.cooperative for a in self._assignors)
        if heartbeat_interval_ms is None:
            heartbeat_interval_ms = max(1, session_timeout_ms // 3)
        if heartbeat_interval_ms >= session_timeout_ms:
            raise ValueError("heartbeat_interval_ms must be below session_timeout_ms")
        self.session_timeout_ms = session_timeout_ms
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.max_poll_interval_ms = max_poll_interval_ms
        self.rebalance_timeout_ms = rebalance_timeout_ms or max_poll_interval_ms
        self.group_instance_id = group_instance_id
        self.client_id = client_id
        self.enable_auto_commit = enable_auto_commit
        self.auto_commit_interval_ms = auto_commit_interval_ms
        self.max_poll_records = max_poll_records
        self.metadata_max_age_ms = metadata_max_age_ms
        self.request_timeout_s = request_timeout_ms / 1000
        self.on_assigned = on_assigned
        self.on_revoked = on_revoked
        self.on_lost = on_lost
        self._consumer = Consumer(cluster, auto_offset_reset=auto_offset_reset, **consumer_options)
        self._topics: tuple[str, ...] = ()
        self._pattern: re.Pattern[str] | None = None
        # membership
        self.member_id = ""
        self.generation = -1
        self.leader_id: str | None = None
        self.protocol: str | None = None
        # unjoined, revoking (heartbeating before a rejoin), rebalancing (join/sync in flight),
        # assigning (synced: applying the assignment, revocations included), stable
        self.state = "unjoined"
        self.rebalances = 0
        self._coordinator: tuple[int, Any] | None = None
        self._rejoin = True
        self._owned: set[TopicPartition] = set()
        self._lost_pending: set[TopicPartition] = set()
        self._leader_counts: dict[str, int] = {}
        self._joined_topics: tuple[str, ...] = ()
        self._last_heartbeat_ok = time.monotonic()
        self._last_metadata_check = time.monotonic()
        # the application's side
        self._lock = asyncio.Lock()  # held by the application between polls, or by an ownership change
        self._user_holds = False
        self._in_poll = False
        self._last_poll = time.monotonic()
        self._poll_timed_out = False
        self._delivered: dict[TopicPartition, int] = {}
        self._committed: dict[TopicPartition, int] = {}
        self._version = 0
        self._tp_version: dict[TopicPartition, int] = {}
        self._next_auto_commit = time.monotonic() + auto_commit_interval_ms / 1000
        self._commit_lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._polled = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[Any]] = set()
        self._fatal: Exception | None = None
        self._closed = False
        if topics is not None or pattern is not None:
            self.subscribe(topics, pattern=pattern)

    # --- subscription ----------------------------------------------------------------------------------
    def subscribe(self, topics: Iterable[str] | None = None, *, pattern: str | re.Pattern[str] | None = None) -> None:
        """Subscribe to a list of topics or to every (non-internal) topic matching ``pattern``."""
        if (topics is None) == (pattern is None):
            raise ValueError("subscribe to topics or to a pattern (exactly one)")
        self._pattern = re.compile(pattern) if isinstance(pattern, str) else pattern
        self._topics = tuple(sorted(set(topics or ())))
        self._request_rejoin("subscription changed")

    def subscription(self) -> set[str]:
        return set(self._subscribed_topics())

    def _subscribed_topics(self) -> tuple[str, ...]:
        if self._pattern is None:
            return self._topics
        names = self.cluster.map.get("partitions", {})
        return tuple(sorted(t for t in names if not t.startswith("__") and self._pattern.fullmatch(t)))

    # --- lifecycle -----------------------------------------------------------------------------------------
    async def start(self) -> GroupConsumer:
        if not self._tasks and not self._closed:
            if not self.cluster.map:
                await self.cluster.refresh(reason="group consumer start")
            self._tasks = [
                asyncio.create_task(self._membership_loop(), name=f"group-{self.group_id}-membership"),
                asyncio.create_task(self._heartbeat_loop(), name=f"group-{self.group_id}-heartbeat"),
            ]
        return self

    async def __aenter__(self) -> GroupConsumer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Commit (with auto-commit), revoke, leave the group (dynamic members) and stop fetching."""
        if self._closed:
            return
        self._closed = True
        self._release_user()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        try:
            if self.member_id and self.generation >= 0 and self._owned:
                if self.enable_auto_commit:
                    await self._commit_quietly(self._positions(self._owned), closing=True)
                await self._call(self.on_revoked, set(self._owned))
            if self.member_id and self.group_instance_id is None:
                await self._leave("the consumer is closing")
        except Exception as exc:  # closing must not fail because the cluster is unreachable
            log.info("group %s: close: %s", self.group_id, exc)
        self._owned.clear()
        for task in list(self._background):
            task.cancel()
        await self._consumer.close()

    # --- polling ---------------------------------------------------------------------------------------------
    async def getmany(
        self, timeout_ms: float = 1000, max_records: int | None = None
    ) -> dict[TopicPartition, list[ConsumerRecord]]:
        """Records of owned partitions (waiting up to ``timeout_ms``). Calling it again means
        everything it returned before is processed: that is when ownership may change."""
        batch = await self._poll(timeout_ms, max_records)
        for tp, records in batch.items():
            self._delivered[tp] = records[-1].offset + 1
        return batch

    async def getone(self, timeout_ms: float | None = None) -> ConsumerRecord:
        deadline = None if timeout_ms is None else time.monotonic() + timeout_ms / 1000
        while True:
            wait = 1000.0 if deadline is None else max(0.0, (deadline - time.monotonic()) * 1000)
            for records in (await self.getmany(wait, max_records=1)).values():
                return records[0]
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"no record within {timeout_ms} ms")

    def __aiter__(self) -> AsyncIterator[ConsumerRecord]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[ConsumerRecord]:
        """Every ``__anext__`` is a safe point (the record before is processed), so an ownership
        change waits for one record, not for a whole batch."""
        while not self._closed:
            batch = await self._poll(1000, None)
            version = self._version
            for tp, records in batch.items():
                for record in records:
                    if not self._user_holds:  # back from the application: let a waiting change in
                        self._last_poll = time.monotonic()
                        await self._lock.acquire()
                        self._user_holds = True
                    if tp not in self._owned or self._tp_version.get(tp, 0) > version:
                        break  # revoked or sought meanwhile: the rest of this batch is stale
                    self._delivered[tp] = record.offset + 1
                    yield record
                    self._release_user()
                    self._maybe_auto_commit()

    async def _poll(self, timeout_ms: float, max_records: int | None) -> dict[TopicPartition, list[ConsumerRecord]]:
        self._release_user()
        if self._closed:
            raise KeystreamError(ErrorCode.INVALID_REQUEST, "the group consumer is closed")
        await self.start()
        self._in_poll = True
        self._last_poll = time.monotonic()
        self._polled.set()
        try:
            if self._poll_timed_out:
                self._poll_timed_out = False
                self._request_rejoin("polling again after max.poll.interval.ms")
            if self._lost_pending:  # partitions lost in the background: tell the application now
                lost, self._lost_pending = self._lost_pending, set()
                async with self._lock:
                    await self._call(self.on_lost or self.on_revoked, lost)
            self._maybe_auto_commit()
            deadline = time.monotonic() + timeout_ms / 1000
            limit = max_records or self.max_poll_records
            while True:
                self._raise_fatal()
                remaining = max(0.0, (deadline - time.monotonic()) * 1000)
                batch = await self._consumer.getmany(timeout_ms=min(remaining, 200.0), max_records=limit)
                # Records out of the buffer are valid for the assignment and positions as of now; an
                # ownership change while we wait for the lock re-seeks what it changes, so records
                # of a partition changed after this point are stale and dropped (nothing is skipped).
                version = self._version
                await self._lock.acquire()
                out = {
                    tp: records
                    for tp, records in batch.items()
                    if records and tp in self._owned and self._tp_version.get(tp, 0) <= version
                }
                if out:
                    self._user_holds = True
                    return out
                self._lock.release()
                if time.monotonic() >= deadline:
                    return {}
        finally:
            self._in_poll = False
            self._last_poll = time.monotonic()

    def _release_user(self) -> None:
        if self._user_holds:
            self._user_holds = False
            self._lock.release()

    def _raise_fatal(self) -> None:
        if self._fatal is not None:
            raise self._fatal

    # --- positions, seeking, pausing -------------------------------------------------------------------------
    def assignment(self) -> set[TopicPartition]:
        return set(self._owned)

    def position(self, tp: TopicPartition | tuple[str, int]) -> int | None:
        return self._consumer.position(tp)

    def seek(self, tp: TopicPartition | tuple[str, int], offset: int) -> None:
        tp = TopicPartition(*tp)
        if tp not in self._owned:
            raise KeystreamError(ErrorCode.INVALID_REQUEST, f"{tp.topic}-{tp.partition} is not assigned to this member")
        self._consumer.seek(tp, offset)
        self._bump(tp)
        self._delivered[tp] = offset

    async def seek_to_beginning(self, *tps: TopicPartition) -> None:
        targets = list(tps or self._owned)
        await self._consumer.seek_to_beginning(*targets)
        for tp in targets:
            self._bump(tp)

    async def seek_to_end(self, *tps: TopicPartition) -> None:
        targets = list(tps or self._owned)
        await self._consumer.seek_to_end(*targets)
        for tp in targets:
            self._bump(tp)

    def pause(self, *tps: TopicPartition) -> None:
        self._consumer.pause(*tps)

    def resume(self, *tps: TopicPartition) -> None:
        self._consumer.resume(*tps)

    def paused(self) -> set[TopicPartition]:
        return self._consumer.paused()

    def _bump(self, tp: TopicPartition) -> None:
        self._version += 1
        self._tp_version[tp] = self._version

    def _positions(self, tps: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: self._delivered[tp] for tp in tps if tp in self._delivered}

    # --- committing -------------------------------------------------------------------------------------------
    async def commit(self, offsets: Mapping[TopicPartition, int] | None = None) -> None:
        """Commit ``offsets`` (default: after every record handed out so far on owned partitions)
        and wait until it is durable. Raises :class:`CommitFailedError` if this member is no
        longer in the group's generation."""
        wanted = (
            self._positions(self._owned)
            if offsets is None
            else {TopicPartition(*tp): int(o) for tp, o in offsets.items()}
        )
        if wanted:
            await self._commit(wanted)

    def commit_nowait(self, offsets: Mapping[TopicPartition, int] | None = None) -> asyncio.Task[None]:
        """Start a commit in the background (errors are logged); returns its task."""
        task = asyncio.create_task(self._commit_logged(self.commit(offsets)))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def _commit_logged(self, coro: Awaitable[None]) -> None:
        try:
            await coro
        except (KeystreamError, ConnectionError, OSError) as exc:
            log.warning("group %s: commit failed: %s", self.group_id, exc)

    async def _commit_quietly(self, offsets: dict[TopicPartition, int], closing: bool = False) -> None:
        if offsets:
            await self._commit_logged(self._commit(offsets, closing))

    def _maybe_auto_commit(self) -> None:
        if not self.enable_auto_commit or time.monotonic() < self._next_auto_commit:
            return
        self._next_auto_commit = time.monotonic() + self.auto_commit_interval_ms / 1000
        offsets = {tp: o for tp, o in self._positions(self._owned).items() if self._committed.get(tp) != o}
        if offsets and self.generation >= 0:
            self.commit_nowait(offsets)

    async def _commit(self, offsets: dict[TopicPartition, int], closing: bool = False) -> None:
        """``closing``: a member on its way out does not wait out a rebalance (REBALANCE_IN_PROGRESS):
        the rebalance may be waiting for this very member's sync, which will never come (as Kafka's
        consumer, whose close gives up such a commit and leaves)."""
        async with self._commit_lock:  # commits go out one at a time, in order
            deadline = time.monotonic() + self.request_timeout_s
            delay = 0.02
            while True:
                if self.generation < 0 or not self.member_id:
                    raise CommitFailedError(
                        "not a member of the group right now (rejoining)", ErrorCode.UNKNOWN_MEMBER_ID
                    )
                args = {
                    "group_id": self.group_id,
                    "member_id": self.member_id,
                    "group_instance_id": self.group_instance_id,
                    "generation": self.generation,
                    "offsets": [[tp.topic, tp.partition, o] for tp, o in sorted(offsets.items())],
                }
                try:
                    conn = await self._coordinator_connection()
                    await conn.request("offset_commit", args, timeout=self.request_timeout_s)
                    self._committed.update(offsets)
                    return
                except KeystreamError as exc:
                    if exc.code in (
                        ErrorCode.ILLEGAL_GENERATION,
                        ErrorCode.UNKNOWN_MEMBER_ID,
                        ErrorCode.FENCED_INSTANCE_ID,
                    ):
                        self._request_rejoin(f"commit refused: {exc.code.name}")
                        raise CommitFailedError(f"commit refused: {exc.message or exc.code.name}", exc.code) from None
                    if exc.code in _COORDINATOR_ERRORS:
                        self._drop_coordinator()
                    elif exc.code != ErrorCode.REBALANCE_IN_PROGRESS or closing:
                        raise
                    error: Exception = exc
                except (ConnectionError, OSError) as exc:
                    self._drop_coordinator()
                    error = exc
                if time.monotonic() + delay > deadline:
                    raise CommitFailedError(
                        f"commit not done within the request timeout: {error}", ErrorCode.REQUEST_TIMED_OUT
                    )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.5)

    async def committed(self, tps: Iterable[TopicPartition] | None = None) -> dict[TopicPartition, int]:
        """Committed offsets (of ``tps``, default every partition the group committed)."""
        wanted = None if tps is None else {TopicPartition(*tp) for tp in tps}
        return await self._fetch_committed(wanted)

    async def _fetch_committed(self, tps: set[TopicPartition] | None) -> dict[TopicPartition, int]:
        deadline = time.monotonic() + self.request_timeout_s
        delay = 0.02
        while True:
            try:
                conn = await self._coordinator_connection()
                topics = None if tps is None else sorted({tp.topic for tp in tps})
                reply = await conn.request(
                    "offset_fetch", {"group_id": self.group_id, "topics": topics}, timeout=self.request_timeout_s
                )
                found = {TopicPartition(t, p): o for t, p, o in reply["offsets"]}
                return found if tps is None else {tp: o for tp, o in found.items() if tp in tps}
            except KeystreamError as exc:
                if exc.code not in _COORDINATOR_ERRORS:
                    raise
                self._drop_coordinator()
                error: Exception = exc
            except (ConnectionError, OSError) as exc:
                self._drop_coordinator()
                error = exc
            if time.monotonic() + delay > deadline:
                raise KeystreamError(ErrorCode.COORDINATOR_NOT_AVAILABLE, f"offset fetch failed: {error}")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)

    # --- the coordinator ----------------------------------------------------------------------------------------
    async def _coordinator_connection(self) -> Any:
        if self._coordinator is not None and not self._coordinator[1].closed:
            return self._coordinator[1]
        deadline = time.monotonic() + self.request_timeout_s
        delay = 0.05
        while True:
            try:
                info = await self.cluster.request_any(
                    "find_coordinator", {"group_id": self.group_id}, timeout=self.request_timeout_s
                )
                node_id = int(info["node_id"])
                try:
                    conn = await self.cluster.connection(node_id)
                except KeystreamError:
                    await self.cluster.refresh(reason="coordinator not in the map")
                    conn = await self.cluster.connection(node_id)
                self._coordinator = (node_id, conn)
                return conn
            except KeystreamError as exc:
                if exc.code not in (*_COORDINATOR_ERRORS, ErrorCode.NOT_LEADER, ErrorCode.CLUSTER_NOT_READY):
                    raise
                error: Exception = exc
            except (ConnectionError, OSError) as exc:
                error = exc
                try:
                    await self.cluster.refresh(reason=str(exc))
                except (ConnectionError, OSError):
                    pass
            if time.monotonic() + delay > deadline:
                raise KeystreamError(
                    ErrorCode.COORDINATOR_NOT_AVAILABLE, f"no coordinator for {self.group_id}: {error}"
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)

    def _drop_coordinator(self) -> None:
        self._coordinator = None

    async def _request(self, op: str, args: dict[str, Any], timeout: float) -> Any:
        """A request to the coordinator; coordinator trouble raises _CoordinatorMoved."""
        try:
            conn = await self._coordinator_connection()
            return await conn.request(op, {"group_id": self.group_id, **args}, timeout=timeout)
        except (ConnectionError, OSError) as exc:
            self._drop_coordinator()
            raise _CoordinatorMoved(str(exc)) from None
        except KeystreamError as exc:
            if exc.code in _COORDINATOR_ERRORS:
                self._drop_coordinator()
                raise _CoordinatorMoved(exc.message) from None
            raise

    # --- membership -------------------------------------------------------------------------------------------------
    def _request_rejoin(self, why: str) -> None:
        if not self._rejoin:
            log.debug("group %s: rejoining (%s)", self.group_id, why)
        self._rejoin = True
        self._wake.set()

    def _lose_all(self, why: str) -> None:
        """Stop handing out every owned partition now (another member may own them already);
        ``on_lost`` runs at the next ownership change."""
        if self._owned:
            log.info("group %s: %d partition(s) lost: %s", self.group_id, len(self._owned), why)
        self._lost_pending |= self._owned
        for tp in self._owned:
            self._bump(tp)
            self._delivered.pop(tp, None)
        self._owned = set()
        self._consumer.assign([])
        self.generation = -1
        self._request_rejoin(why)

    async def _membership_loop(self) -> None:
        delay = 0.05
        while not self._closed:
            if not self._rejoin:
                self._wake.clear()
                await self._wake.wait()
                continue
            if self._poll_timed_out:  # left for not polling: rejoin when the application is back
                self._polled.clear()
                await self._polled.wait()
                continue
            if self._pattern is None and not self._topics:
                self._wake.clear()
                await self._wake.wait()
                continue
            try:
                await self._join_and_sync()
                delay = 0.05
                continue
            except _CoordinatorMoved as exc:
                log.info("group %s: coordinator unavailable (%s); retrying", self.group_id, exc)
            except KeystreamError as exc:
                if exc.code in _FATAL:
                    self._fatal = exc
                    self._lose_all(f"fatal: {exc}")
                    self._rejoin = False
                    log.error("group %s: %s", self.group_id, exc)
                    return
                log.warning("group %s: rebalance failed: %s", self.group_id, exc)
            except (ConnectionError, OSError) as exc:
                log.info("group %s: rebalance failed: %s", self.group_id, exc)
            self._rejoin = True  # that attempt failed: try again after a pause
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    async def _join_and_sync(self) -> None:
        started = time.monotonic()
        # "revoking": still heartbeating while the application reaches a safe point (Kafka's
        # heartbeat thread does the same; REBALANCE_IN_PROGRESS answers keep the session alive)
        self.state = "revoking" if self.generation >= 0 and self.member_id else "rebalancing"
        if self._lost_pending:
            lost, self._lost_pending = self._lost_pending, set()
            async with self._lock:
                await self._call(self.on_lost or self.on_revoked, lost)
        if not self.cooperative and self._owned:
            await self._revoke(set(self._owned))
        self.state = "rebalancing"
        if self._pattern is not None:
            await self.cluster.refresh(reason="pattern subscription")
        topics = self._joined_topics = self._subscribed_topics()
        owned = tuple(sorted_tps(self._owned)) if self.cooperative else ()
        generation = self.generation
        protocols = [[a.name, Subscription(topics, owned, generation).encode()] for a in self._assignors]
        self._rejoin = False
        response: dict[str, Any] | None = None
        for _ in range(_MAX_JOIN_ATTEMPTS):
            args = {
                "member_id": self.member_id,
                "group_instance_id": self.group_instance_id,
                "client_id": self.client_id,
                "session_timeout_ms": self.session_timeout_ms,
                "rebalance_timeout_ms": self.rebalance_timeout_ms,
                "protocol_type": PROTOCOL_TYPE,
                "protocols": protocols,
            }
            try:
                response = await self._request("join_group", args, self.rebalance_timeout_ms / 1000 + 10)
                break
            except KeystreamError as exc:
                if exc.code == ErrorCode.MEMBER_ID_REQUIRED and isinstance(exc.detail, dict):
                    self.member_id = str(exc.detail.get("member_id", ""))
                elif exc.code == ErrorCode.UNKNOWN_MEMBER_ID:
                    self.member_id = ""
                    self._lose_all("the coordinator does not know this member")
                    self._rejoin = False
                    owned = ()
                    protocols = [[a.name, Subscription(topics, (), -1).encode()] for a in self._assignors]
                elif exc.code != ErrorCode.REBALANCE_IN_PROGRESS:
                    self._rejoin = True
                    raise
        if response is None:
            self._rejoin = True
            raise KeystreamError(ErrorCode.UNKNOWN_SERVER_ERROR, "join did not settle")
        self.member_id = response["member_id"]
        self.generation = response["generation"]
        self.leader_id = response["leader"]
        self.protocol = response["protocol"]
        assignments: list[list[Any]] = []
        if self.leader_id == self.member_id and not response.get("skip_assignment"):
            assignments = await self._assign(str(self.protocol), response["members"])
        try:
            synced = await self._request(
                "sync_group",
                {
                    "member_id": self.member_id,
                    "group_instance_id": self.group_instance_id,
                    "generation": self.generation,
                    "assignments": assignments,
                },
                self.request_timeout_s + self.rebalance_timeout_ms / 1000,
            )
        except KeystreamError as exc:
            if exc.code in (ErrorCode.UNKNOWN_MEMBER_ID, ErrorCode.ILLEGAL_GENERATION):
                if exc.code == ErrorCode.UNKNOWN_MEMBER_ID:
                    self.member_id = ""
                self._lose_all(f"sync refused: {exc.code.name}")
                return
            if exc.code == ErrorCode.REBALANCE_IN_PROGRESS:
                self._request_rejoin("a new rebalance started during the sync")
                return
            self._rejoin = True
            raise
        except _CoordinatorMoved:
            self._rejoin = True
            raise
        assigned = set(Assignment.decode(synced["assignment"]).partitions)
        self.state = "assigning"  # a member of the new generation (heartbeats go on), not settled yet
        self._last_heartbeat_ok = time.monotonic()
        self.rebalances += 1
        await self._apply_assignment(assigned)
        if self.state == "assigning":
            self.state = "stable"
        log.info(
            "group %s: generation %d, %d partition(s) (rebalance took %.0f ms)",
            self.group_id,
            self.generation,
            len(self._owned),
            (time.monotonic() - started) * 1000,
        )

    async def _assign(self, protocol: str, members: list[list[Any]]) -> list[list[Any]]:
        """The leader's job: run the group's assignor over every member's subscription."""
        assignor = next((a for a in self._assignors if a.name == protocol), None)
        if assignor is None:
            raise KeystreamError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, f"this member does not know {protocol!r}")
        subs = [MemberSubscription(str(mid), Subscription.decode(meta), inst) for mid, inst, meta in members]
        counts: dict[str, int] = {}
        for topic in sorted({t for m in subs for t in m.subscription.topics}):
            try:
                counts[topic] = len(await self.cluster.partitions_for(topic))
            except KeystreamError:
                counts[topic] = 0  # not created yet: assigned once it exists (metadata watch)
        self._leader_counts = counts
        result = assignor.assign({t: n for t, n in counts.items() if n}, subs)
        return [[mid, Assignment(tuple(tps)).encode()] for mid, tps in result.items()]

    async def _apply_assignment(self, assigned: set[TopicPartition]) -> None:
        if self.cooperative:
            revoked = self._owned - assigned
            if revoked:
                await self._revoke(revoked)
                self._request_rejoin(f"revoked {len(revoked)} partition(s): their new owners get them next round")
        added = assigned - self._owned
        committed = await self._fetch_committed(added) if added else {}
        async with self._lock:
            self._owned |= added
            self._consumer.assign(sorted_tps(self._owned))
            for tp in added:
                self._bump(tp)
                self._delivered.pop(tp, None)
                if tp in committed:
                    self._consumer.seek(tp, committed[tp])
                    self._committed[tp] = committed[tp]
            await self._call(self.on_assigned, set(added))

    async def _revoke(self, tps: set[TopicPartition]) -> None:
        """Give ``tps`` up at a safe point: commit what was processed, tell the application, stop."""
        async with self._lock:
            if self.enable_auto_commit:
                await self._commit_quietly(self._positions(tps))
            await self._call(self.on_revoked, set(tps))
            self._owned -= tps
            for tp in tps:
                self._bump(tp)
                self._delivered.pop(tp, None)
            self._consumer.assign(sorted_tps(self._owned))

    async def _call(self, callback: RebalanceCallback | None, tps: set[TopicPartition]) -> None:
        if callback is None:
            return
        try:
            result = callback(tps)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("group %s: rebalance callback failed", self.group_id)

    async def _leave(self, why: str) -> None:
        try:
            await self._request(
                "leave_group", {"members": [[self.member_id, self.group_instance_id]]}, min(self.request_timeout_s, 5.0)
            )
            log.info("group %s: left the group (%s)", self.group_id, why)
        except (KeystreamError, _CoordinatorMoved) as exc:
            log.info("group %s: leave failed (%s): %s", self.group_id, why, exc)

    # --- heartbeats and watches -----------------------------------------------------------------------------------
    async def _heartbeat_loop(self) -> None:
        interval = self.heartbeat_interval_ms / 1000
        while not self._closed:
            await asyncio.sleep(interval)
            now = time.monotonic()
            if self._check_poll_interval(now):
                continue
            revoking = self.state == "revoking"
            member = self.state in ("stable", "assigning")
            if not ((member and not self._rejoin) or revoking) or not self.member_id:
                continue
            try:
                await self._request(
                    "heartbeat",
                    {
                        "member_id": self.member_id,
                        "group_instance_id": self.group_instance_id,
                        "generation": self.generation,
                    },
                    min(self.request_timeout_s, self.session_timeout_ms / 1000),
                )
                self._last_heartbeat_ok = time.monotonic()
            except _CoordinatorMoved as exc:
                log.debug("group %s: heartbeat: coordinator moved (%s)", self.group_id, exc)
                interval = min(0.1, self.heartbeat_interval_ms / 1000)  # find the new one quickly
            except KeystreamError as exc:
                if revoking and exc.code == ErrorCode.REBALANCE_IN_PROGRESS:
                    self._last_heartbeat_ok = time.monotonic()
                    continue
                self._on_heartbeat_error(exc)
            else:
                interval = self.heartbeat_interval_ms / 1000
                await self._watch_metadata(now)
            if member and time.monotonic() - self._last_heartbeat_ok > self.session_timeout_ms / 1000:
                self._lose_all("no successful heartbeat within the session timeout")

    def _on_heartbeat_error(self, exc: KeystreamError) -> None:
        if exc.code == ErrorCode.REBALANCE_IN_PROGRESS:
            self._last_heartbeat_ok = time.monotonic()
            self._request_rejoin("the coordinator started a rebalance")
        elif exc.code == ErrorCode.ILLEGAL_GENERATION:
            self._lose_all("heartbeat from a stale generation")
        elif exc.code == ErrorCode.UNKNOWN_MEMBER_ID:
            self.member_id = ""
            self._lose_all("the coordinator no longer knows this member")
        elif exc.code in _FATAL:
            self._fatal = exc
            self._lose_all(str(exc))
        else:
            log.warning("group %s: heartbeat failed: %s", self.group_id, exc)

    def _check_poll_interval(self, now: float) -> bool:
        """The application stayed away from the poll loop too long: leave the group."""
        if self._in_poll or not self.member_id or self._poll_timed_out:
            return False
        if now - self._last_poll <= self.max_poll_interval_ms / 1000:
            return False
        log.warning(
            "group %s: no poll for %.1f s (max.poll.interval.ms=%d): leaving the group",
            self.group_id,
            now - self._last_poll,
            self.max_poll_interval_ms,
        )
        self._poll_timed_out = True
        member_id = self.member_id
        self._lose_all("max.poll.interval.ms exceeded")
        if self.group_instance_id is None:
            self._spawn_leave(member_id)
            self.member_id = ""
        self.state = "unjoined"
        return True

    def _spawn_leave(self, member_id: str) -> None:
        async def leave() -> None:
            try:
                await self._request("leave_group", {"members": [[member_id, None]]}, 5.0)
            except (KeystreamError, _CoordinatorMoved) as exc:
                log.info("group %s: leave failed: %s", self.group_id, exc)

        task = asyncio.create_task(leave())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _watch_metadata(self, now: float) -> None:
        """Pattern subscriptions follow new topics; the leader follows partition counts."""
        if now - self._last_metadata_check < self.metadata_max_age_ms / 1000:
            return
        self._last_metadata_check = now
        if self._pattern is None and self.leader_id != self.member_id:
            return
        try:
            await self.cluster.refresh(reason="group metadata watch")
        except (ConnectionError, OSError):
            return
        if self._pattern is not None:
            if self._subscribed_topics() != self._joined_topics:
                self._request_rejoin("the pattern matches a different set of topics")
                return
        if self.leader_id == self.member_id and self._leader_counts:
            now_counts = {t: self.cluster.partition_count(t) for t in self._leader_counts}
            if now_counts != self._leader_counts:
                self._request_rejoin("partition counts of subscribed topics changed")


class GroupAdmin:
    """Group administration: list, describe (with lag), committed offsets, reset, delete."""

    def __init__(self, cluster: ClusterClient, *, timeout_s: float = 30.0) -> None:
        self.cluster = cluster
        self.timeout_s = timeout_s

    async def _call(self, group_id: str, op: str, args: dict[str, Any]) -> Any:
        """``op`` on the group's coordinator, following it while it moves."""
        deadline = time.monotonic() + self.timeout_s
        delay = 0.05
        while True:
            try:
                info = await self.cluster.request_any("find_coordinator", {"group_id": group_id})
                conn = await self.cluster.connection(int(info["node_id"]))
                return await conn.request(op, {"group_id": group_id, **args}, timeout=self.timeout_s)
            except KeystreamError as exc:
                if exc.code not in (*_COORDINATOR_ERRORS, ErrorCode.NOT_LEADER):
                    raise
                error: Exception = exc
            except (ConnectionError, OSError) as exc:
                error = exc
            if time.monotonic() + delay > deadline:
                raise KeystreamError(ErrorCode.COORDINATOR_NOT_AVAILABLE, f"{op} for {group_id!r} failed: {error}")
            try:
                await self.cluster.refresh(reason=str(error))
            except (ConnectionError, OSError):
                pass
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)

    async def list_groups(self) -> list[dict[str, Any]]:
        """Every group with members or committed offsets (each node lists the groups it coordinates)."""
        if not self.cluster.map:
            await self.cluster.refresh(reason="list groups")
        found: dict[str, dict[str, Any]] = {}
        for node_id in sorted(int(n) for n in self.cluster.map.get("nodes", {})):
            try:
                conn = await self.cluster.connection(node_id)
                groups = await conn.request("list_groups", {}, timeout=self.timeout_s)
            except (KeystreamError, ConnectionError, OSError) as exc:
                log.info("list_groups: node %d did not answer: %s", node_id, exc)
                continue
            for group in groups:
                found.setdefault(group["group_id"], group)
        return [found[g] for g in sorted(found)]

    async def describe_group(self, group_id: str) -> dict[str, Any]:
        described = (await self._call(group_id, "describe_groups", {"group_ids": [group_id]}))[0]
        if described.get("error"):
            raise KeystreamError(ErrorCode(described["error"]), described.get("message", ""))
        return dict(described)

    async def committed(self, group_id: str, topics: Iterable[str] | None = None) -> dict[TopicPartition, int]:
        reply = await self._call(group_id, "offset_fetch", {"topics": None if topics is None else sorted(topics)})
        return {TopicPartition(t, p): o for t, p, o in reply["offsets"]}

    async def alter_offsets(self, group_id: str, offsets: Mapping[TopicPartition, int]) -> None:
        """Set committed offsets; only for a group without members (NON_EMPTY_GROUP otherwise)."""
        await self._call(
            group_id,
            "alter_group_offsets",
            {"offsets": [[tp.topic, tp.partition, int(o)] for tp, o in sorted(offsets.items())]},
        )

    async def delete_group(self, group_id: str) -> None:
        """Delete an empty group and its committed offsets (GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP)."""
        reply = await self._call(group_id, "delete_groups", {"group_ids": [group_id]})
        _gid, code, message = reply["results"][0]
        if code:
            raise KeystreamError(ErrorCode(code), message or f"cannot delete group {group_id!r}")

    async def lag(self, group_id: str, topics: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Per partition: owner (member id), committed offset, high watermark and lag, for every
        partition assigned in the group or with a committed offset."""
        from client.consumer import LATEST, list_offsets

        described = await self.describe_group(group_id)
        committed = await self.committed(group_id)
        owners: dict[TopicPartition, dict[str, Any]] = {}
        for member in described.get("members", []):
            for topic, partition in member.get("assignment") or []:
                owners[TopicPartition(topic, partition)] = member
        tps = set(committed) | set(owners)
        if topics is not None:
            wanted = set(topics)
            tps = {tp for tp in tps if tp.topic in wanted}
        ends: dict[TopicPartition, int] = {}
        existing = []
        for tp in tps:
            try:
                await self.cluster.partitions_for(tp.topic)
                existing.append(tp)
            except KeystreamError:
                continue  # the topic was deleted: no high watermark
        if existing:
            ends = await list_offsets(self.cluster, [(tp, LATEST) for tp in existing])
        rows = []
        for tp in sorted_tps(tps):
            member = owners.get(tp)
            end = ends.get(tp)
            offset = committed.get(tp)
            rows.append(
                {
                    "topic": tp.topic,
                    "partition": tp.partition,
                    "member_id": member["member_id"] if member else None,
                    "group_instance_id": member.get("group_instance_id") if member else None,
                    "client_host": member.get("client_host") if member else None,
                    "committed": offset,
                    "high_watermark": end,
                    "lag": None if end is None else end - (offset or 0),
                }
            )
        return rows
