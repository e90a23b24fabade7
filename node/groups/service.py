"""The group coordinator on a node: native ops around :class:`Group` state machines.

Where coordination lives. The coordinator of group ``G`` is the node leading
the keyspace shard that owns ``{__group:G}``; a request for ``G`` reaching
any other node gets ``NOT_COORDINATOR`` (with the right node in the detail)
and ``find_coordinator`` on any node names the right one. Each hosted group
remembers the shard and the shard's leader epoch it was loaded under; when
the shard's leadership moves (or comes back with a new epoch) the group is
dropped here and parked requests fail with ``NOT_COORDINATOR``, so members
rediscover the coordinator.

What is durable. Committed offsets are a hash and the last stable
generation's record a string, both written through ``KeystreamService.execute``,
so they are committed to the shard's replicated log (acks=all) before the
reply: they survive any single node failure. A new coordinator loads the
record on the first request for the group (members keep their ids,
generation and assignment and carry on; their sessions start afresh) and
reads offsets from the keyspace on every fetch (nothing cached that a
failover could make stale).

Time. One timer task ticks each group at its next deadline (session
expiries, rebalance timeouts, the initial join delay); request handlers wake
it when they move a deadline earlier.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import msgpack

from cluster.errors import ErrorCode, KeystreamError
from cluster.slots import key_slot
from cluster.state import KEYSPACE_TOPIC
from node.groups.coordinator import Effect, Group, GroupConfig, GroupState, Persist, Reply, next_token
from node.groups.protocol import (
    GROUP_KEY_PATTERN,
    MAX_METADATA_BYTES,
    MAX_PROTOCOLS,
    PROTOCOL_TYPE,
    Assignment,
    Subscription,
    group_of_key,
    group_tag,
    meta_key,
    offset_field,
    offsets_key,
    parse_offset_field,
    validate_group_id,
)
from node.keyspace import Map, RedisError
from node.keyspace import Reply as KvReply
from node.keyspace_service import KeyspaceService, Moved
from node.protocols.native import ConnectionContext
from node.protocols.native_codec import Request
from node.replication.replica import Replica, Role
from node.server import Node

log = logging.getLogger(__name__)

MAX_OFFSETS_PER_COMMIT = 100_000
MAX_GROUPS_PER_REQUEST = 1000
_MAX_SCAN_ROUNDS = 100_000


def _now_ms() -> int:
    return int(time.monotonic() * 1000)


@dataclass
class _Hosted:
    group: Group
    shard: int
    epoch: int
    persist_lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class GroupService:
    def __init__(self, node: Node) -> None:
        self.node = node
        self.keyspace: KeyspaceService = node.features["keyspace"]
        self.config = GroupConfig.from_extra(node.config.extra)
        self.groups: dict[str, _Hosted] = {}
        self._loading: dict[str, asyncio.Future[tuple[Group, bool]]] = {}
        self._waiters: dict[int, tuple[str, asyncio.Future[Any]]] = {}
        self._conn_tokens: dict[int, set[int]] = {}
        self._wake: asyncio.Event | None = None
        self._timer: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()
        for op, handler in {
            "find_coordinator": self._h_find_coordinator,
            "join_group": self._h_join,
            "sync_group": self._h_sync,
            "heartbeat": self._h_heartbeat,
            "leave_group": self._h_leave,
            "offset_commit": self._h_offset_commit,
            "offset_fetch": self._h_offset_fetch,
            "list_groups": self._h_list_groups,
            "describe_groups": self._h_describe_groups,
            "delete_groups": self._h_delete_groups,
            "alter_group_offsets": self._h_alter_offsets,
        }.items():
            node.add_native_handler(op, handler)
        self.keyspace.manager.on_role_change.append(self._on_role)
        node.add_service(self)

    async def start(self) -> None:
        self._wake = asyncio.Event()
        for server in self.node.native_servers:
            server.on_disconnect.append(self._on_disconnect)
        self._timer = asyncio.create_task(self._timer_loop(), name="group-timer")

    async def stop(self) -> None:
        tasks = [t for t in [self._timer, *self._background] if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        for group_id in list(self.groups):
            self._unload(group_id, ErrorCode.NOT_COORDINATOR, "the node is shutting down")

    # --- where groups live ----------------------------------------------------------------------------
    def _shard_of(self, group_id: str) -> int:
        try:
            return self.keyspace.shard_for_slot(key_slot(group_tag(group_id)))
        except KeystreamError as exc:
            raise KeystreamError(ErrorCode.COORDINATOR_NOT_AVAILABLE, exc.message) from None

    def _coordinator_shard(self, group_id: str) -> tuple[int, int]:
        """(shard, leader epoch) if this node coordinates ``group_id`` now; else raise."""
        shard_id = self._shard_of(group_id)
        shard = self.keyspace.shards.get(shard_id)
        if shard is None or shard.replica.role != Role.LEADER:
            leader = self.keyspace.leader_of(shard_id)
            if leader < 0:
                raise KeystreamError(ErrorCode.COORDINATOR_NOT_AVAILABLE, f"shard {shard_id} has no leader right now")
            raise KeystreamError(
                ErrorCode.NOT_COORDINATOR, f"group {group_id!r} is coordinated by node {leader}", {"node_id": leader}
            )
        if not shard.reads_allowed() or not self.node.lease_valid():
            raise KeystreamError(ErrorCode.COORDINATOR_NOT_AVAILABLE, f"shard {shard_id} is still becoming leader")
        return shard_id, shard.replica.leader_epoch

    async def _hosted(self, group_id: str, create: bool = True) -> _Hosted | None:
        """The group this node coordinates, loaded from the keyspace the first time."""
        shard_id, epoch = self._coordinator_shard(group_id)
        hosted = self.groups.get(group_id)
        if hosted is not None and (hosted.shard, hosted.epoch) != (shard_id, epoch):
            self._unload(group_id, ErrorCode.NOT_COORDINATOR, "coordination moved")
            hosted = None
        if hosted is not None:
            return hosted
        loading = self._loading.get(group_id)
        if loading is None:
            loading = asyncio.get_running_loop().create_future()
            self._loading[group_id] = loading
            try:
                raw = await self._kv([b"GET", meta_key(group_id)])
                stored = isinstance(raw, bytes) or bool(await self._kv([b"EXISTS", offsets_key(group_id)]))
                if self._coordinator_shard(group_id) != (shard_id, epoch):
                    raise KeystreamError(ErrorCode.NOT_COORDINATOR, "coordination moved while loading the group")
                loading.set_result((self._new_group(group_id, raw if isinstance(raw, bytes) else None), stored))
            except BaseException as exc:
                loading.set_exception(exc)
                loading.exception()  # retrieved: every waiter gets it through its own await
                raise
            finally:
                self._loading.pop(group_id, None)
        group, stored = await asyncio.shield(loading)
        existing = self.groups.get(group_id)
        if existing is not None and (existing.shard, existing.epoch) == (shard_id, epoch):
            return existing
        if not (create or stored):
            return None  # nothing durable and nobody asked to create it: keep no state for it
        hosted = self.groups[group_id] = _Hosted(group, shard_id, epoch)
        return hosted

    def _new_group(self, group_id: str, raw: bytes | None) -> Group:
        if raw is None:
            return Group(group_id, self.config)
        try:
            record = msgpack.unpackb(raw, raw=False)
            group = Group.from_record(group_id, record, _now_ms(), self.config)
        except Exception as exc:  # a record we can't read must not make the group unusable
            log.error("group %s: unreadable stored record (%s); starting it empty", group_id, exc)
            return Group(group_id, self.config)
        log.info(
            "group %s: loaded generation %d with %d member(s) in state %s",
            group_id,
            group.generation,
            len(group.members),
            group.state.value,
        )
        return group

    def _unload(self, group_id: str, error: ErrorCode, message: str) -> None:
        hosted = self.groups.pop(group_id, None)
        if hosted is not None:
            self._apply(hosted, hosted.group.close(error, message))

    def _on_role(self, replica: Replica) -> None:
        if replica.topic != KEYSPACE_TOPIC or replica.role == Role.LEADER:
            return
        for group_id, hosted in list(self.groups.items()):
            if hosted.shard == replica.partition:
                self._unload(group_id, ErrorCode.NOT_COORDINATOR, "this node no longer leads the group's shard")

    # --- effects ---------------------------------------------------------------------------------------
    def _apply(self, hosted: _Hosted, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, Reply):
                entry = self._waiters.get(effect.token)
                if entry is None or entry[1].done():
                    continue
                if effect.error == ErrorCode.NONE:
                    entry[1].set_result(effect.result)
                else:
                    entry[1].set_exception(KeystreamError(effect.error, effect.message, effect.detail))
            elif isinstance(effect, Persist):
                task = asyncio.create_task(self._persist(hosted, effect))
                self._background.add(task)
                task.add_done_callback(self._background.discard)
        if self._wake is not None:
            self._wake.set()

    async def _persist(self, hosted: _Hosted, effect: Persist) -> None:
        group_id = hosted.group.group_id
        ok, error = True, ErrorCode.NONE
        async with hosted.persist_lock:  # records of one group are written in the order decided
            try:
                await self._kv([b"SET", meta_key(group_id), msgpack.packb(effect.record, use_bin_type=True)])
            except KeystreamError as exc:
                ok, error = False, exc.code
                log.warning("group %s: storing generation %d failed: %s", group_id, effect.generation, exc)
        if effect.gate and self.groups.get(group_id) is hosted:
            self._apply(hosted, hosted.group.persisted(effect.generation, ok, _now_ms(), error))

    async def _park(self, hosted: _Hosted, ctx: ConnectionContext, call: Any) -> Any:
        """Run a join/sync whose reply may come later, from another request's effects."""
        token = next_token()
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiters[token] = (hosted.group.group_id, fut)
        tokens = self._conn_tokens.setdefault(ctx.connection_id, set())
        tokens.add(token)
        try:
            self._apply(hosted, call(token))
            return await fut
        finally:
            self._waiters.pop(token, None)
            tokens.discard(token)
            if not tokens:
                self._conn_tokens.pop(ctx.connection_id, None)

    def _on_disconnect(self, ctx: ConnectionContext) -> None:
        now = _now_ms()
        for token in self._conn_tokens.pop(ctx.connection_id, set()):
            entry = self._waiters.get(token)
            if entry is None:
                continue
            hosted = self.groups.get(entry[0])
            if hosted is not None:
                hosted.group.cancel(token, now)
            if not entry[1].done():
                entry[1].set_exception(ConnectionError("the member's connection closed"))
                entry[1].exception()

    async def _timer_loop(self) -> None:
        assert self._wake is not None
        while True:
            now = _now_ms()
            soonest: int | None = None
            for hosted in list(self.groups.values()):
                deadline = hosted.group.next_deadline()
                if deadline is not None and deadline <= now:
                    self._apply(hosted, hosted.group.tick(now))
                    deadline = hosted.group.next_deadline()
                if deadline is not None:
                    soonest = deadline if soonest is None else min(soonest, deadline)
            wait = 1.0 if soonest is None else min(1.0, max(0.001, (soonest - _now_ms()) / 1000))
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), wait)
            except TimeoutError:
                pass

    # --- the keyspace ------------------------------------------------------------------------------------
    async def _kv(self, argv: list[bytes]) -> KvReply:
        try:
            reply = await self.keyspace.execute(argv)
        except Moved as moved:
            raise KeystreamError(
                ErrorCode.NOT_COORDINATOR, "the group's shard moved", {"node_id": moved.node_id}
            ) from None
        except KeystreamError as exc:
            if exc.code in (ErrorCode.NOT_LEADER, ErrorCode.MOVED):
                raise KeystreamError(ErrorCode.NOT_COORDINATOR, exc.message) from None
            if exc.code in (ErrorCode.TRYAGAIN, ErrorCode.CLUSTERDOWN):
                raise KeystreamError(ErrorCode.COORDINATOR_NOT_AVAILABLE, exc.message) from None
            raise
        if isinstance(reply, RedisError):
            raise KeystreamError(ErrorCode.UNKNOWN_SERVER_ERROR, reply.message)
        return reply

    async def _read_offsets(self, group_id: str) -> dict[tuple[str, int], int]:
        reply = await self._kv([b"HGETALL", offsets_key(group_id)])
        out: dict[tuple[str, int], int] = {}
        if isinstance(reply, Map):
            for raw_field, value in reply.pairs:
                tp = parse_offset_field(raw_field) if isinstance(raw_field, bytes) else None
                if tp is not None and isinstance(value, bytes) and value.isdigit():
                    out[(tp.topic, tp.partition)] = int(value)
        return out

    async def _write_offsets(self, group_id: str, offsets: list[tuple[str, int, int]]) -> None:
        argv = [b"HSET", offsets_key(group_id)]
        for topic, partition, offset in offsets:
            argv += [offset_field(topic, partition), str(offset).encode()]
        await self._kv(argv)

    # --- handlers ------------------------------------------------------------------------------------------
    def _h_find_coordinator(self, req: Request, ctx: ConnectionContext) -> Any:
        group_id = validate_group_id(req.args.get("group_id"))
        shard_id = self._shard_of(group_id)
        leader = self.keyspace.leader_of(shard_id)
        node = self.node.raft.snapshot.node(leader) if leader >= 0 else None
        if node is None or node["fenced"]:
            raise KeystreamError(ErrorCode.COORDINATOR_NOT_AVAILABLE, f"shard {shard_id} has no leader right now")
        services: dict[str, str] = node["listeners"].get(ctx.listener) or next(iter(node["listeners"].values()), {})
        return {"node_id": leader, "address": services.get("native"), "shard": shard_id}

    async def _h_join(self, req: Request, ctx: ConnectionContext) -> Any:
        a = req.args
        group_id = validate_group_id(a.get("group_id"))
        session = _int(a.get("session_timeout_ms"), "session_timeout_ms")
        rebalance = _int(a.get("rebalance_timeout_ms", session), "rebalance_timeout_ms")
        protocols = _protocols(a.get("protocols"))
        hosted = await self._hosted(group_id)
        assert hosted is not None
        group = hosted.group
        now = _now_ms()
        return await self._park(
            hosted,
            ctx,
            lambda token: group.join(
                token,
                now,
                member_id=_str(a.get("member_id")),
                instance_id=_opt_str(a.get("group_instance_id")),
                client_id=_str(a.get("client_id")),
                client_host=ctx.peer,
                session_timeout_ms=session,
                rebalance_timeout_ms=rebalance,
                protocol_type=_str(a.get("protocol_type")),
                protocols=protocols,
            ),
        )

    async def _h_sync(self, req: Request, ctx: ConnectionContext) -> Any:
        a = req.args
        group_id = validate_group_id(a.get("group_id"))
        assignments: dict[str, bytes] = {}
        for item in a.get("assignments") or []:
            if not (
                isinstance(item, list)
                and len(item) == 2
                and isinstance(item[0], str)
                and isinstance(item[1], bytes)
                and len(item[1]) <= MAX_METADATA_BYTES
            ):
                raise KeystreamError(ErrorCode.INVALID_REQUEST, "assignments must be [[member_id, bytes], ...]")
            assignments[item[0]] = item[1]
        generation = _int(a.get("generation"), "generation")
        hosted = await self._hosted(group_id)
        assert hosted is not None
        group = hosted.group
        now = _now_ms()
        return await self._park(
            hosted,
            ctx,
            lambda token: group.sync(
                token,
                now,
                member_id=_str(a.get("member_id")),
                instance_id=_opt_str(a.get("group_instance_id")),
                generation=generation,
                assignments=assignments,
            ),
        )

    async def _h_heartbeat(self, req: Request, ctx: ConnectionContext) -> Any:
        a = req.args
        hosted = await self._hosted(validate_group_id(a.get("group_id")))
        assert hosted is not None
        code = hosted.group.heartbeat(
            _now_ms(),
            member_id=_str(a.get("member_id")),
            instance_id=_opt_str(a.get("group_instance_id")),
            generation=_int(a.get("generation"), "generation"),
        )
        if code != ErrorCode.NONE:
            raise KeystreamError(code, f"group is {hosted.group.state.value}, generation {hosted.group.generation}")
        return {"generation": hosted.group.generation}

    async def _h_leave(self, req: Request, ctx: ConnectionContext) -> Any:
        a = req.args
        leaving = [(_str(m[0]), _opt_str(m[1])) for m in a.get("members") or [] if isinstance(m, list) and len(m) == 2]
        hosted = await self._hosted(validate_group_id(a.get("group_id")))
        assert hosted is not None
        codes, effects = hosted.group.leave(_now_ms(), leaving)
        self._apply(hosted, effects)
        return {"members": [[mid, iid, int(code)] for (mid, iid), code in zip(leaving, codes, strict=True)]}

    async def _h_offset_commit(self, req: Request, ctx: ConnectionContext) -> Any:
        a = req.args
        group_id = validate_group_id(a.get("group_id"))
        offsets = _offsets(a.get("offsets"))
        hosted = await self._hosted(group_id)
        assert hosted is not None
        code = hosted.group.validate_commit(
            _now_ms(),
            member_id=_str(a.get("member_id")),
            instance_id=_opt_str(a.get("group_instance_id")),
            generation=_int(a.get("generation", -1), "generation"),
        )
        if code != ErrorCode.NONE:
            raise KeystreamError(code, f"group is {hosted.group.state.value}, generation {hosted.group.generation}")
        if offsets:
            await self._write_offsets(group_id, offsets)
        return {"committed": len(offsets)}

    async def _h_offset_fetch(self, req: Request, ctx: ConnectionContext) -> Any:
        a = req.args
        group_id = validate_group_id(a.get("group_id"))
        self._coordinator_shard(group_id)
        topics = a.get("topics")
        wanted = {str(t) for t in topics} if isinstance(topics, list) else None
        offsets = await self._read_offsets(group_id)
        return {"offsets": [[t, p, o] for (t, p), o in sorted(offsets.items()) if wanted is None or t in wanted]}

    async def _h_alter_offsets(self, req: Request, ctx: ConnectionContext) -> Any:
        """Set committed offsets of a group without members (reset-offsets, like Kafka's admin)."""
        a = req.args
        group_id = validate_group_id(a.get("group_id"))
        offsets = _offsets(a.get("offsets"))
        hosted = await self._hosted(group_id)
        assert hosted is not None
        if not hosted.group.is_empty:
            raise KeystreamError(
                ErrorCode.NON_EMPTY_GROUP,
                f"group {group_id!r} has {len(hosted.group.members)} member(s): stop them first",
            )
        if offsets:
            await self._write_offsets(group_id, offsets)
        return {"committed": len(offsets)}

    async def _h_list_groups(self, req: Request, ctx: ConnectionContext) -> Any:
        """Groups coordinated by this node: those in memory and those with keys in its shards."""
        found: set[str] = set()
        cursor = b"0"
        for _ in range(_MAX_SCAN_ROUNDS):
            reply = await self._kv([b"SCAN", cursor, b"MATCH", GROUP_KEY_PATTERN, b"COUNT", b"1000"])
            if not isinstance(reply, list) or len(reply) != 2:
                break
            raw_cursor, keys = reply
            for key in keys if isinstance(keys, list) else []:
                group_id = group_of_key(key) if isinstance(key, bytes) else None
                if group_id is not None:
                    found.add(group_id)
            cursor = raw_cursor if isinstance(raw_cursor, bytes) else b"0"
            if cursor == b"0":
                break
        found.update(self.groups)
        principal = self.node.security.principal(ctx)
        out = []
        for group_id in sorted(g for g in found if principal.can("read", "group", g)):
            try:
                hosted = await self._hosted(group_id, create=False)
            except KeystreamError:
                continue  # not ours (any more)
            if hosted is None or hosted.group.state == GroupState.DEAD:
                continue
            g = hosted.group
            out.append(
                {
                    "group_id": group_id,
                    "state": g.state.value,
                    "protocol_type": g.protocol_type,
                    "protocol": g.protocol,
                    "members": len(g.members),
                    "coordinator": self.node.node_id,
                }
            )
        return out

    async def _h_describe_groups(self, req: Request, ctx: ConnectionContext) -> Any:
        ids = req.args.get("group_ids")
        if not isinstance(ids, list) or len(ids) > MAX_GROUPS_PER_REQUEST:
            raise KeystreamError(
                ErrorCode.INVALID_REQUEST, f"group_ids must be a list of at most {MAX_GROUPS_PER_REQUEST}"
            )
        out = []
        for raw_id in ids:
            group_id = validate_group_id(raw_id)
            try:
                hosted = await self._hosted(group_id, create=False)
            except KeystreamError as exc:
                out.append({"group_id": group_id, "error": int(exc.code), "message": exc.message})
                continue
            if hosted is None:
                out.append(
                    {
                        "group_id": group_id,
                        "error": 0,
                        "state": GroupState.DEAD.value,
                        "generation": -1,
                        "protocol_type": None,
                        "protocol": None,
                        "leader": None,
                        "members": [],
                    }
                )
                continue
            out.append({"error": 0, **_describe(hosted.group), "coordinator": self.node.node_id})
        return out

    async def _h_delete_groups(self, req: Request, ctx: ConnectionContext) -> Any:
        ids = req.args.get("group_ids")
        if not isinstance(ids, list) or len(ids) > MAX_GROUPS_PER_REQUEST:
            raise KeystreamError(ErrorCode.INVALID_REQUEST, "group_ids must be a list")
        results = []
        for raw_id in ids:
            group_id = validate_group_id(raw_id)
            try:
                results.append([group_id, int(await self._delete(group_id)), ""])
            except KeystreamError as exc:
                results.append([group_id, int(exc.code), exc.message])
        return {"results": results}

    async def _delete(self, group_id: str) -> ErrorCode:
        hosted = await self._hosted(group_id, create=False)
        exists = await self._kv([b"EXISTS", offsets_key(group_id), meta_key(group_id)])
        live = hosted is not None and self.groups.get(group_id) is hosted and hosted.group.state != GroupState.DEAD
        if not live and not exists:
            return ErrorCode.GROUP_ID_NOT_FOUND
        if hosted is not None and not hosted.group.is_empty:
            return ErrorCode.NON_EMPTY_GROUP
        if hosted is not None and self.groups.get(group_id) is hosted:
            self._unload(group_id, ErrorCode.COORDINATOR_NOT_AVAILABLE, "the group was deleted")  # joins now retry
        await self._kv([b"DEL", offsets_key(group_id), meta_key(group_id)])
        log.info("group %s deleted", group_id)
        return ErrorCode.NONE


def _describe(group: Group) -> dict[str, Any]:
    out = group.describe()
    for member in out["members"]:
        member["assignment"] = (
            [list(tp) for tp in Assignment.decode(member["assignment"]).partitions]
            if (group.protocol_type == PROTOCOL_TYPE)
            else member["assignment"]
        )
        metadata = member.pop("metadata")
        member["topics"] = list(Subscription.decode(metadata).topics) if group.protocol_type == PROTOCOL_TYPE else []
    return out


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise KeystreamError(ErrorCode.INVALID_REQUEST, f"{what} must be an integer, got {value!r}")
    return value


def _protocols(raw: Any) -> list[tuple[str, bytes]]:
    if not isinstance(raw, list) or not 0 < len(raw) <= MAX_PROTOCOLS:
        raise KeystreamError(ErrorCode.INVALID_REQUEST, f"protocols must be a list of 1 to {MAX_PROTOCOLS} pairs")
    out = []
    for item in raw:
        if not (
            isinstance(item, list)
            and len(item) == 2
            and isinstance(item[0], str)
            and item[0]
            and isinstance(item[1], bytes)
            and len(item[1]) <= MAX_METADATA_BYTES
        ):
            raise KeystreamError(ErrorCode.INVALID_REQUEST, "each protocol must be [name, metadata bytes]")
        out.append((item[0], item[1]))
    return out


def _offsets(raw: Any) -> list[tuple[str, int, int]]:
    if not isinstance(raw, list) or len(raw) > MAX_OFFSETS_PER_COMMIT:
        raise KeystreamError(ErrorCode.INVALID_REQUEST, f"offsets must be a list of at most {MAX_OFFSETS_PER_COMMIT}")
    out = []
    for item in raw:
        if not (
            isinstance(item, list)
            and len(item) >= 3
            and isinstance(item[0], str)
            and item[0]
            and all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in item[1:3])
        ):
            raise KeystreamError(ErrorCode.INVALID_REQUEST, "each offset must be [topic, partition >= 0, offset >= 0]")
        out.append((item[0], item[1], item[2]))
    return out
