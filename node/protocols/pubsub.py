"""Pub/sub: who listens to what on this node (sans-I/O), and the fan-out to the other nodes.

Two parts:

* :class:`PubSubRegistry` -- plain data, no I/O: channel, pattern and shard-channel
  subscriptions of this node's RESP connections, and the delivery of one message to the
  matching local subscribers. A message is encoded once per protocol (``message`` /
  ``pmessage`` / ``smessage`` as a RESP2 array or a RESP3 push frame) however many
  subscribers get it.
* :class:`PubSubFanout` -- the asyncio shell that makes ``PUBLISH`` cluster-wide, as Redis
  Cluster does over its bus: the message goes to the local subscribers at once and, over
  the native protocol (op ``resp_publish``), to every other live node, which delivers it
  to its own. Per peer there is one connection and one ordered queue drained in batches,
  so the messages one node publishes reach every subscriber in publishing order. Delivery
  is at most once (a peer that cannot be reached loses the messages meant for it, as a
  Redis node loses them when a link breaks); ``PUBLISH`` answers how many clients
  received the message on every node that answered within ``count_deadline_s`` (Redis
  Cluster counts only the local node's clients).

Sharded pub/sub (``SSUBSCRIBE``/``SPUBLISH``) needs no fan-out: a shard channel lives in
the slot of its name, and both the subscribers and the publishers of it talk to the
leader of that slot's shard (others get ``-MOVED``). When the shard's leadership leaves
this node, its subscribers get a ``sunsubscribe`` push for the channel, as Redis 7 sends
when a slot migrates.

``PUBSUB CHANNELS/NUMSUB/NUMPAT/SHARDCHANNELS/SHARDNUMSUB`` are answered for the whole
cluster: each node is asked (op ``resp_pubsub_query``) and the answers are merged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from cluster.errors import KeystreamError
from node.keyspace.scan import glob_matcher
from node.protocols.resp import encode_reply
from node.protocols.resp_types import Push

log = logging.getLogger(__name__)

# How many messages, and how many bytes of them, wait for one peer before new ones for it
# are dropped (a peer that is slower than the publishers must not grow our memory).
PEER_QUEUE_MAX_MESSAGES = 100_000
PEER_QUEUE_MAX_BYTES = 64 * 1024 * 1024
# One resp_publish request carries at most this many messages / bytes.
PEER_BATCH_MAX_MESSAGES = 1024
PEER_BATCH_MAX_BYTES = 1024 * 1024
# Requests in flight to one peer (they are answered in order).
PEER_MAX_IN_FLIGHT = 8
# A peer we failed to reach is not tried again (its messages are dropped) for this long.
PEER_RETRY_AFTER_S = 1.0
PEER_CONNECT_TIMEOUT_S = 2.0
PEER_QUERY_TIMEOUT_S = 2.0


class Subscriber(Protocol):
    """What the registry needs from a connection: its protocol and a way to push bytes."""

    protocol: int

    def push(self, data: bytes) -> None: ...


class MessageFrames:
    """One message's frame, encoded at most once per protocol version."""

    __slots__ = ("_items", "_resp2", "_resp3")

    def __init__(self, items: list[bytes]) -> None:
        self._items = items
        self._resp2: bytes | None = None
        self._resp3: bytes | None = None

    def get(self, protocol: int) -> bytes:
        if protocol == 2:
            if self._resp2 is None:
                self._resp2 = encode_reply(self._items, 2)
            return self._resp2
        if self._resp3 is None:
            self._resp3 = encode_reply(Push(self._items), 3)
        return self._resp3


class PubSubRegistry:
    """This node's subscriptions. Each map keeps subscribers in subscription order."""

    def __init__(self) -> None:
        self.channels: dict[bytes, dict[Subscriber, None]] = {}
        self.patterns: dict[bytes, dict[Subscriber, None]] = {}
        self.shard_channels: dict[bytes, dict[Subscriber, None]] = {}
        self._matchers: dict[bytes, Callable[[bytes], bool]] = {}
        self.messages_delivered = 0

    # --- subscriptions ------------------------------------------------------------------
    def subscribe(self, sub: Subscriber, channel: bytes) -> None:
        self.channels.setdefault(channel, {})[sub] = None

    def unsubscribe(self, sub: Subscriber, channel: bytes) -> None:
        _discard(self.channels, channel, sub)

    def psubscribe(self, sub: Subscriber, pattern: bytes) -> None:
        subs = self.patterns.get(pattern)
        if subs is None:
            subs = self.patterns[pattern] = {}
            self._matchers[pattern] = _pattern_matcher(pattern)
        subs[sub] = None

    def punsubscribe(self, sub: Subscriber, pattern: bytes) -> None:
        if _discard(self.patterns, pattern, sub):
            self._matchers.pop(pattern, None)

    def ssubscribe(self, sub: Subscriber, channel: bytes) -> None:
        self.shard_channels.setdefault(channel, {})[sub] = None

    def sunsubscribe(self, sub: Subscriber, channel: bytes) -> None:
        _discard(self.shard_channels, channel, sub)

    # --- delivery --------------------------------------------------------------------------
    def publish(self, channel: bytes, message: bytes) -> int:
        """Deliver to local channel and pattern subscribers; how many got it."""
        count = 0
        subs = self.channels.get(channel)
        if subs:
            frames = MessageFrames([b"message", channel, message])
            targets = list(subs)  # a push may unsubscribe (a client closed on its buffer limit)
            for sub in targets:
                sub.push(frames.get(sub.protocol))
            count += len(targets)
        if self.patterns:
            for pattern, matches in list(self._matchers.items()):
                if not matches(channel):
                    continue
                psubs = self.patterns.get(pattern)
                if not psubs:
                    continue
                pframes = MessageFrames([b"pmessage", pattern, channel, message])
                ptargets = list(psubs)
                for sub in ptargets:
                    sub.push(pframes.get(sub.protocol))
                count += len(ptargets)
        self.messages_delivered += count
        return count

    def spublish(self, channel: bytes, message: bytes) -> int:
        subs = self.shard_channels.get(channel)
        if not subs:
            return 0
        frames = MessageFrames([b"smessage", channel, message])
        targets = list(subs)
        for sub in targets:
            sub.push(frames.get(sub.protocol))
        self.messages_delivered += len(targets)
        return len(targets)

    # --- introspection (PUBSUB) --------------------------------------------------------------
    def query(self, what: str, args: list[bytes]) -> Any:
        """This node's part of a PUBSUB subcommand (merged over nodes by :func:`merge_query`)."""
        if what == "channels":
            return _matching(self.channels, args[0] if args else None)
        if what == "shardchannels":
            return _matching(self.shard_channels, args[0] if args else None)
        if what == "numsub":
            return [len(self.channels.get(ch, ())) for ch in args]
        if what == "shardnumsub":
            return [len(self.shard_channels.get(ch, ())) for ch in args]
        if what == "numpat":
            return list(self.patterns)
        raise ValueError(f"unknown pubsub query {what!r}")


def merge_query(what: str, args: list[bytes], parts: Iterable[Any]) -> Any:
    """Merge the nodes' answers into the reply a single Redis would give."""
    parts = list(parts)
    if what in ("channels", "shardchannels"):
        names: set[bytes] = set()
        for part in parts:
            names.update(bytes(n) for n in part)
        return sorted(names)
    if what in ("numsub", "shardnumsub"):
        totals = [0] * len(args)
        for part in parts:
            for i, n in enumerate(part[: len(args)]):
                totals[i] += int(n)
        out: list[Any] = []
        for channel, total in zip(args, totals, strict=True):
            out += [channel, total]
        return out
    if what == "numpat":
        patterns: set[bytes] = set()
        for part in parts:
            patterns.update(bytes(p) for p in part)
        return len(patterns)
    raise ValueError(f"unknown pubsub query {what!r}")


def _discard(table: dict[bytes, dict[Subscriber, None]], name: bytes, sub: Subscriber) -> bool:
    """Remove ``sub`` from ``table[name]``; True if that left nobody on ``name``."""
    subs = table.get(name)
    if subs is None:
        return False
    subs.pop(sub, None)
    if not subs:
        del table[name]
        return True
    return False


def _pattern_matcher(pattern: bytes) -> Callable[[bytes], bool]:
    matcher = glob_matcher(pattern)

    def matches(channel: bytes) -> bool:
        # Redis's stringmatchlen: an empty channel matches only patterns of stars.
        if not channel:
            return pattern.strip(b"*") == b""
        return matcher(channel)

    return matches


def _matching(table: dict[bytes, dict[Subscriber, None]], pattern: bytes | None) -> list[bytes]:
    if pattern is None:
        return list(table)
    matches = _pattern_matcher(pattern)
    return [name for name in table if matches(name)]


# --- the cross-node fan-out (asyncio) -----------------------------------------------------------


class PeerConnector(Protocol):
    """Opens native connections to other nodes (``NativeConnection.open`` in a node)."""

    def address_of(self, node_id: int) -> str | None: ...

    def live_peers(self) -> list[int]: ...


class _PeerLink:
    """The ordered stream of published messages to one other node."""

    def __init__(self, fanout: PubSubFanout, node_id: int) -> None:
        self.fanout = fanout
        self.node_id = node_id
        self.queue: deque[tuple[bytes, bytes, asyncio.Future[int] | None]] = deque()
        self.queued_bytes = 0
        self.down_until = 0.0
        self.dropped = 0
        self.conn: Any = None
        self._wakeup = asyncio.Event()
        self.task = asyncio.create_task(self._run(), name=f"pubsub-peer-{node_id}")

    def enqueue(self, channel: bytes, message: bytes, fut: asyncio.Future[int] | None) -> None:
        size = len(channel) + len(message)
        if (
            time.monotonic() < self.down_until
            or len(self.queue) >= PEER_QUEUE_MAX_MESSAGES
            or self.queued_bytes + size > PEER_QUEUE_MAX_BYTES
        ):
            self.dropped += 1
            if fut is not None and not fut.done():
                fut.set_result(0)
            return
        self.queue.append((channel, message, fut))
        self.queued_bytes += size
        self._wakeup.set()

    async def connection(self) -> Any:
        from client.connection import NativeConnection

        conn = self.conn
        address = self.fanout.connector.address_of(self.node_id)
        if address is None:
            raise ConnectionError(f"no address known for node {self.node_id}")
        if conn is None or conn.closed or conn.address != address:
            if conn is not None:
                await conn.close()
            self.conn = None
            connect = getattr(self.fanout.connector, "internal_connect", None)
            if connect is not None:  # a node: authenticated as a node, over TLS when configured
                conn = await connect(address, timeout=PEER_CONNECT_TIMEOUT_S)
            else:
                conn = await NativeConnection.open(address, connect_timeout=PEER_CONNECT_TIMEOUT_S)
            self.conn = conn
        return conn

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self.queue:
                try:
                    conn = await self.connection()
                except (ConnectionError, OSError, KeystreamError) as exc:
                    log.info("pub/sub: node %d unreachable (%s); dropping %d messages",
                             self.node_id, exc, len(self.queue))  # fmt: skip
                    self._give_up()
                    break
                batch = self._take_batch()
                try:
                    fut = conn.send("resp_publish", {"messages": [[c, m] for c, m, _ in batch]})
                except ConnectionError:
                    _resolve_zero(batch)
                    self.conn = None
                    continue
                fut.add_done_callback(lambda f, batch=batch: _resolve_counts(f, batch))
                if conn.in_flight >= PEER_MAX_IN_FLIGHT:
                    await asyncio.wait([fut], timeout=PEER_QUERY_TIMEOUT_S)

    def _take_batch(self) -> list[tuple[bytes, bytes, asyncio.Future[int] | None]]:
        batch: list[tuple[bytes, bytes, asyncio.Future[int] | None]] = []
        size = 0
        while self.queue and len(batch) < PEER_BATCH_MAX_MESSAGES and size < PEER_BATCH_MAX_BYTES:
            item = self.queue.popleft()
            item_size = len(item[0]) + len(item[1])
            size += item_size
            self.queued_bytes -= item_size
            batch.append(item)
        return batch

    def _give_up(self) -> None:
        self.down_until = time.monotonic() + PEER_RETRY_AFTER_S
        batch = list(self.queue)
        self.dropped += len(batch)
        self.queue.clear()
        self.queued_bytes = 0
        _resolve_zero(batch)

    async def close(self) -> None:
        self.task.cancel()
        try:
            await self.task
        except (asyncio.CancelledError, Exception):
            pass
        _resolve_zero(list(self.queue))
        self.queue.clear()
        if self.conn is not None:
            await self.conn.close()


def _resolve_zero(batch: Iterable[tuple[bytes, bytes, asyncio.Future[int] | None]]) -> None:
    for _, _, fut in batch:
        if fut is not None and not fut.done():
            fut.set_result(0)


def _resolve_counts(done: asyncio.Future[Any], batch: list[tuple[bytes, bytes, asyncio.Future[int] | None]]) -> None:
    counts: list[Any] = []
    if not done.cancelled() and done.exception() is None:
        result = done.result()
        counts = result if isinstance(result, list) else []
    for i, (_, _, fut) in enumerate(batch):
        if fut is not None and not fut.done():
            value = counts[i] if i < len(counts) and isinstance(counts[i], int) else 0
            fut.set_result(value)


class PubSubFanout:
    """Cluster-wide PUBLISH and PUBSUB queries over the native protocol."""

    def __init__(self, registry: PubSubRegistry, connector: PeerConnector, *, count_deadline_s: float = 1.0) -> None:
        self.registry = registry
        self.connector = connector
        self.count_deadline_s = count_deadline_s
        self._links: dict[int, _PeerLink] = {}
        self._closing: set[asyncio.Future[None]] = set()

    def _link(self, node_id: int) -> _PeerLink:
        link = self._links.get(node_id)
        if link is None:
            link = self._links[node_id] = _PeerLink(self, node_id)
        return link

    def publish(self, channel: bytes, message: bytes) -> int | asyncio.Future[int]:
        """Deliver here now and queue for every other live node. Returns the local count
        when there is no other node, else a future of the cluster-wide count."""
        local = self.registry.publish(channel, message)
        peers = self.connector.live_peers()
        if not peers:
            return local
        loop = asyncio.get_running_loop()
        futures = []
        for node_id in peers:
            fut: asyncio.Future[int] = loop.create_future()
            self._link(node_id).enqueue(channel, message, fut)
            futures.append(fut)
        total: asyncio.Future[int] = loop.create_future()
        timer = loop.call_later(self.count_deadline_s, _finish_sum, total, local, futures)
        _sum_when_done(total, local, futures, timer)
        return total

    def deliver_from_peer(self, messages: list[Any]) -> list[int]:
        """The ``resp_publish`` handler: deliver a peer's batch here, in order."""
        out = []
        for item in messages:
            if not isinstance(item, list | tuple) or len(item) != 2:
                out.append(0)
                continue
            channel, message = item
            if isinstance(channel, str):
                channel = channel.encode()
            if isinstance(message, str):
                message = message.encode()
            if not isinstance(channel, bytes) or not isinstance(message, bytes):
                out.append(0)
                continue
            out.append(self.registry.publish(channel, message))
        return out

    async def query(self, what: str, args: list[bytes]) -> Any:
        """A PUBSUB subcommand answered for the whole cluster."""
        local = self.registry.query(what, args)
        peers = self.connector.live_peers()

        async def ask(node_id: int) -> Any:
            try:
                conn = await self._link(node_id).connection()
                return await conn.request(
                    "resp_pubsub_query", {"what": what, "args": list(args)}, timeout=PEER_QUERY_TIMEOUT_S
                )
            except (ConnectionError, OSError, KeystreamError) as exc:
                log.info("pub/sub: node %d did not answer PUBSUB %s: %s", node_id, what, exc)
                return None

        answers = await asyncio.gather(*(ask(p) for p in peers))
        return merge_query(what, args, [local, *(a for a in answers if a is not None)])

    def forget_peers(self, keep: set[int]) -> None:
        """Close links to nodes that left the live set."""
        for node_id in [n for n in self._links if n not in keep]:
            link = self._links.pop(node_id)
            closing = asyncio.ensure_future(link.close())
            self._closing.add(closing)
            closing.add_done_callback(self._closing.discard)

    async def close(self) -> None:
        links, self._links = list(self._links.values()), {}
        for link in links:
            await link.close()

    def stats(self) -> dict[int, dict[str, int]]:
        return {n: {"queued": len(link.queue), "dropped": link.dropped} for n, link in self._links.items()}


def _sum_when_done(
    total: asyncio.Future[int], local: int, futures: list[asyncio.Future[int]], timer: asyncio.TimerHandle
) -> None:
    remaining = [len(futures)]

    def one_done(_: asyncio.Future[int]) -> None:
        remaining[0] -= 1
        if remaining[0] == 0:
            timer.cancel()
            _finish_sum(total, local, futures)

    for fut in futures:
        fut.add_done_callback(one_done)


def _finish_sum(total: asyncio.Future[int], local: int, futures: list[asyncio.Future[int]]) -> None:
    if total.done():
        return
    count = local
    for fut in futures:
        if fut.done() and not fut.cancelled() and fut.exception() is None:
            count += fut.result()
    total.set_result(count)
