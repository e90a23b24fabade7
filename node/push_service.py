"""Push delivery: committed records sent to a subscribed connection as soon as the high
watermark passes them, with credit-based flow control.

A consumer subscribes partitions (on their leader) from given offsets and grants
*credit* in bytes. Whenever a partition's high watermark advances, the leader
reads from the subscriber's position, never more than the remaining credit,
and pushes the batches in a frame whose request id is the negative
subscription id. The consumer grants more credit as it processes. So the
leader holds nothing on behalf of a slow consumer: data stays in the log
until credit arrives, and the connection's output is bounded by the credit.
Only records below the high watermark are pushed: Redis-like latency,
Kafka-like durability.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from cluster.errors import ErrorCode, KeystreamError
from node.protocols.native import ConnectionContext
from node.protocols.native_codec import Request, encode_error, encode_response
from node.replication.replica import Replica, Role
from node.server import Node
from node.storage.batch import iter_batches

log = logging.getLogger(__name__)

MAX_CREDIT_BYTES = 64 * 1024 * 1024
MAX_SUBSCRIPTIONS_PER_CONNECTION = 64
PUSH_CHUNK_BYTES = 1024 * 1024


@dataclass
class Subscription:
    sub_id: int
    ctx: ConnectionContext
    positions: dict[tuple[str, int], int]
    credit: int
    pushed_bytes: int = 0
    closed: bool = False
    scheduled: bool = False
    failed: set[tuple[str, int]] = field(default_factory=set)


class PushService:
    def __init__(self, node: Node) -> None:
        self.node = node
        self.manager = node.features["log"].manager
        self.subs: dict[tuple[int, int], Subscription] = {}  # (connection id, sub id)
        self.by_partition: dict[tuple[str, int], set[tuple[int, int]]] = {}
        self.manager.on_high_watermark.append(self._on_change)
        self.manager.on_role_change.append(self._on_role)
        node.add_native_handler("push_subscribe", self._h_subscribe)
        node.add_native_handler("push_credit", self._h_credit)
        node.add_native_handler("push_unsubscribe", self._h_unsubscribe)
        node.add_native_handler("describe_push", lambda req, ctx: [
            {"connection": k[0], "subscription": s.sub_id, "credit": s.credit, "pushed_bytes": s.pushed_bytes,
             "positions": [[t, p, o] for (t, p), o in s.positions.items()]}
            for k, s in self.subs.items()
        ])  # fmt: skip
        node.add_service(self)

    async def start(self) -> None:
        for server in self.node.native_servers:
            server.on_disconnect.append(self._on_disconnect)

    async def stop(self) -> None:
        self.subs.clear()
        self.by_partition.clear()

    # --- requests ------------------------------------------------------------------------------------
    def _h_subscribe(self, req: Request, ctx: ConnectionContext) -> Any:
        sub_id = req.args.get("subscription")
        parts = req.args.get("partitions")
        credit = req.args.get("credit", 0)
        if not isinstance(sub_id, int) or sub_id <= 0 or not isinstance(parts, list) or not parts:
            raise KeystreamError(ErrorCode.INVALID_REQUEST, "push_subscribe needs subscription > 0 and partitions")
        if not isinstance(credit, int) or not 0 <= credit <= MAX_CREDIT_BYTES:
            raise KeystreamError(ErrorCode.INVALID_REQUEST, f"credit must be between 0 and {MAX_CREDIT_BYTES} bytes")
        mine = [key for key in self.subs if key[0] == ctx.connection_id]
        if len(mine) >= MAX_SUBSCRIPTIONS_PER_CONNECTION and (ctx.connection_id, sub_id) not in self.subs:
            raise KeystreamError(ErrorCode.INVALID_REQUEST, "too many push subscriptions on this connection")
        positions: dict[tuple[str, int], int] = {}
        for part in parts:
            topic, partition, offset = part[0], part[1], part[2]
            replica = self.manager.leader_replica(topic, partition)
            if not isinstance(offset, int) or not replica.log.log_start_offset <= offset <= replica.log.log_end_offset:
                raise KeystreamError(
                    ErrorCode.OFFSET_OUT_OF_RANGE,
                    f"{replica.name}: offset {offset} outside [{replica.log.log_start_offset}, "
                    f"{replica.high_watermark}]",
                )
            positions[(topic, partition)] = offset
        key = (ctx.connection_id, sub_id)
        self._drop(key)
        sub = Subscription(sub_id, ctx, positions, credit)
        self.subs[key] = sub
        for tp in positions:
            self.by_partition.setdefault(tp, set()).add(key)
        self._schedule(sub)
        return {"subscription": sub_id, "partitions": len(positions)}

    def _h_credit(self, req: Request, ctx: ConnectionContext) -> Any:
        sub = self.subs.get((ctx.connection_id, req.args.get("subscription", -1)))
        grant = req.args.get("bytes")
        if sub is None:
            raise KeystreamError(ErrorCode.INVALID_REQUEST, "no such push subscription on this connection")
        if not isinstance(grant, int) or grant < 0:
            raise KeystreamError(ErrorCode.INVALID_REQUEST, "bytes must be a non-negative integer")
        sub.credit = min(MAX_CREDIT_BYTES, sub.credit + grant)
        self._schedule(sub)
        return {"credit": sub.credit}

    def _h_unsubscribe(self, req: Request, ctx: ConnectionContext) -> Any:
        self._drop((ctx.connection_id, req.args.get("subscription", -1)))
        return {"ok": True}

    def _drop(self, key: tuple[int, int]) -> None:
        sub = self.subs.pop(key, None)
        if sub is None:
            return
        sub.closed = True
        for tp in sub.positions:
            keys = self.by_partition.get(tp)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self.by_partition[tp]

    def _on_disconnect(self, ctx: ConnectionContext) -> None:
        for key in [k for k in self.subs if k[0] == ctx.connection_id]:
            self._drop(key)

    # --- pushing ---------------------------------------------------------------------------------------
    def _on_change(self, replica: Replica) -> None:
        for key in self.by_partition.get(replica.key, ()):
            sub = self.subs.get(key)
            if sub is not None:
                self._schedule(sub)

    def _on_role(self, replica: Replica) -> None:
        if replica.role == Role.LEADER:
            return
        for key in list(self.by_partition.get(replica.key, ())):
            sub = self.subs.get(key)
            if sub is None or sub.ctx.push is None:
                continue
            sub.positions.pop(replica.key, None)
            error = KeystreamError(ErrorCode.NOT_LEADER, f"{replica.name}: leadership moved",
                                   {"topic": replica.topic, "partition": replica.partition})  # fmt: skip
            sub.ctx.push(encode_error(-sub.sub_id, error))
            self.by_partition.get(replica.key, set()).discard(key)

    def _schedule(self, sub: Subscription) -> None:
        if not sub.scheduled and not sub.closed:
            sub.scheduled = True
            asyncio.get_running_loop().call_soon(self._pump, sub)

    def _pump(self, sub: Subscription) -> None:
        sub.scheduled = False
        if sub.closed or sub.ctx.push is None:
            return
        for (topic, partition), position in list(sub.positions.items()):
            if sub.credit <= 0:
                return
            replica = self.manager.replicas.get((topic, partition))
            if replica is None or replica.role != Role.LEADER:
                continue
            hw = replica.high_watermark
            if position >= hw:
                continue
            try:
                data = replica.log.read(position, min(sub.credit, PUSH_CHUNK_BYTES), max_offset=hw)
            except KeystreamError as exc:
                sub.ctx.push(
                    encode_error(
                        -sub.sub_id, KeystreamError(exc.code, exc.message, {"topic": topic, "partition": partition})
                    )
                )
                sub.positions.pop((topic, partition), None)
                continue
            if not data:
                continue
            last = None
            for header, _ in iter_batches(data, verify=False):
                last = header
            if last is None:
                continue
            sub.positions[(topic, partition)] = last.last_offset + 1
            sub.credit -= len(data)
            sub.pushed_bytes += len(data)
            sub.ctx.push(encode_response(-sub.sub_id, {"topic": topic, "partition": partition, "position": position,
                                                       "high_watermark": hw, "records": data}))  # fmt: skip
            if sub.positions[(topic, partition)] < hw:
                self._schedule(sub)
