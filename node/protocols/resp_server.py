"""The RESP front end's asyncio shell: one :class:`RespServer` per ``resp`` listener, one
:class:`RespConnection` (an ``asyncio.Protocol``) per client.

A connection moves bytes through the sans-I/O parser (``resp.RespParser``) and answers
every command in order. How a command is answered decides how fast a pipeline goes:

* **now** -- a reply value (PING, a GET served from the shard leader's applied state,
  every error): encoded and appended to this turn's output;
* **in order, later** -- a future (a SET: ``ShardReplica.submit`` queues its record for
  this event-loop turn's batch, so the 16 SETs of a ``-P 16`` pipeline, and those of every
  other client read in the same turn, become one log append and one replication round);
  later commands are still dispatched at once;
* **holding the connection** -- an awaitable whose outcome the following commands must
  not overtake (a read that must first see writes still being committed, WATCH, EXEC,
  a blocking BLPOP, a command on a shard that is just becoming leader, keyless commands):
  commands parsed after it wait, unparsed, until it is done.

Replies leave in command order whatever order their futures finish in; one write per
event-loop turn carries all that is ready. Nothing is ever awaited per command on the
fast path, and no task is created for it.

Limits (TigerBeetle style, each with a name): the parser's query-buffer limit (the client
is closed without a reply past it, as Redis does), at most ``MAX_QUEUED_REPLIES`` replies
waiting and ``MAX_HELD_COMMANDS`` commands held per connection before reading pauses,
reading pauses while the transport's write buffer is above its high-water mark (a client
that does not read its replies stops being read), and a subscriber whose unsent pushes
exceed the pub/sub output-buffer hard limit -- or the soft limit for longer than its
period -- is disconnected (Redis's ``client-output-buffer-limit pubsub 32mb 8mb 60``).

A protocol error (malformed, truncated-then-garbage or oversized frame) answers
``-ERR Protocol error: ...`` after the replies of the commands before it, then closes the
connection; nothing else on the node is affected.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final

from cluster import commands as command_table
from cluster.errors import ErrorCode, KeystreamError
from cluster.slots import key_slot
from node.keyspace import CommandKind, RedisError, classify_argv
from node.keyspace import replies as keyspace_replies
from node.keyspace.replies import CROSSSLOT, unknown_command
from node.protocols.resp import (
    RespParser,
    RespProtocolError,
    RespQueryBufferLimitError,
    encode_reply,
    register_reply_type,
)
from node.protocols.resp_commands import (
    COMMANDS,
    MULTI_IMMEDIATE,
    NO_AUTH_ALLOWED,
    SUBSCRIBED_ALLOWED,
    check_arity,
    keystream_error_reply,
)
from node.protocols.resp_types import NULL_ARRAY, OK, QUEUED, ErrorReply, Map, Push, RespSet, SimpleString

if TYPE_CHECKING:
    from node.keyspace_service import ShardReplica
    from node.resp_service import RespService

log = logging.getLogger(__name__)

MAX_QUEUED_REPLIES: Final = 4096  # replies waiting for earlier ones before reading pauses
MAX_HELD_COMMANDS: Final = 4096  # parsed commands waiting behind a holding command
MAX_HELD_INPUT_BYTES: Final = 1024 * 1024  # unparsed input kept while a command holds the connection
PARSE_BATCH: Final = 1024  # commands parsed per step
MAX_COMMANDS_PER_TURN: Final = 4096  # commands of one client run per event-loop iteration
WRITE_TIMEOUT_S: Final = 30.0  # a write not committed by then answers OUTCOME_UNKNOWN

_KIND_COMMAND: Final = 0  # keyspace_service.KIND_COMMAND (a plain command record)


# --- the keyspace's reply types as RESP (node.keyspace.replies <-> resp_types) ---------------------
register_reply_type(keyspace_replies.SimpleString, lambda value: SimpleString(value.text))
register_reply_type(keyspace_replies.RedisError, lambda error: ErrorReply(error.message))
register_reply_type(type(keyspace_replies.NULL_ARRAY), lambda _: NULL_ARRAY)
register_reply_type(keyspace_replies.Map, lambda value: Map(value.pairs))
register_reply_type(keyspace_replies.SetReply, lambda value: RespSet(value.items))
register_reply_type(
    keyspace_replies.PairArray,
    lambda value, protocol: keyspace_replies.flat(value.pairs) if protocol == 2 else [list(p) for p in value.pairs],
    with_protocol=True,
)


def _now_ms() -> int:
    return int(time.time() * 1000)


class _Pending:
    """A reply that is not known yet: a future, the protocol to encode it in, the slot of
    the command (for a MOVED that the outcome may turn into)."""

    __slots__ = ("fut", "muted", "protocol", "slot", "started", "watched")

    def __init__(self, fut: asyncio.Future[Any], protocol: int, slot: int, muted: bool) -> None:
        self.fut = fut
        self.protocol = protocol
        self.slot = slot
        self.started = time.monotonic()
        self.watched = False
        self.muted = muted


class _Close:
    """Queue marker: close the connection once everything before it is written."""

    __slots__ = ()


_CLOSE: Final = _Close()

_QueueItem = bytes | _Pending | _Close
Route = Callable[["RespConnection", list[bytes]], None]


class RespConnection(asyncio.Protocol):
    """One client. State Redis keeps per client: protocol, name, MULTI queue, WATCHed
    keys, subscriptions, READONLY/ASKING, CLIENT REPLY mode."""

    def __init__(self, server: RespServer) -> None:
        self.server = server
        self.service: RespService = server.service
        service = self.service
        self.id = service.next_client_id()
        self.protocol = 2
        self.name = b""
        self.lib_info: dict[str, str] = {}
        self.authenticated = not service.auth.required
        self.user = "default"
        # who is asking: None until authenticated; a superuser principal when unrestricted
        self.principal: Any = None
        self.restricted = False
        self.parser = RespParser(
            max_bulk_bytes=service.max_bulk_bytes,
            max_query_buffer_bytes=service.query_buffer_limit,
            authenticated=self.authenticated,
        )
        self.multi: list[list[bytes]] | None = None
        self.multi_error = False
        self.watched: list[Any] = []
        self.channels: dict[bytes, None] = {}
        self.patterns: dict[bytes, None] = {}
        self.shard_channels: dict[bytes, None] = {}
        self.readonly = False
        self.asking = False
        self.transport: asyncio.Transport | None = None
        self.peer = ""
        self.local = ""
        self.fd = -1
        self.created = time.monotonic()
        self.last_active = self.created
        self.last_write_shard: ShardReplica | None = None
        self.last_command = b"NULL"  # CLIENT LIST's cmd
        self._reply_mode = "on"  # on | off | skip
        self._muted = False
        self._queue: deque[_QueueItem] = deque()
        self._out: list[bytes] = []
        self._held: deque[list[bytes]] = deque()
        self._blockers: set[asyncio.Future[Any]] = set()
        self._processing = False
        self._closing = False
        self._doomed = False  # a QUIT or a protocol error: nothing more is read or run
        self._continue_scheduled = False
        self._reading_paused = False
        self._write_paused = False
        self._soft_limit_since: float | None = None

    # --- asyncio.Protocol ------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transport is not a subclass
        peer = transport.get_extra_info("peername")
        local = transport.get_extra_info("sockname")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        sock = transport.get_extra_info("socket")
        self.fd = sock.fileno() if sock is not None else -1
        self.local = f"{local[0]}:{local[1]}" if isinstance(local, tuple) else str(local)
        service = self.service
        service.stats.connections_received += 1
        if service.connection_count() >= service.max_clients:
            service.stats.rejected_connections += 1
            transport.write(b"-ERR max number of clients reached\r\n")  # type: ignore[attr-defined]
            transport.close()
            self._closing = True
            return
        self.server.connections[self.id] = self
        # Open mode (no users, no requirepass) serves only loopback peers unless --insecure.
        anonymous = service.auth.anonymous(self.peer)
        self.authenticated = anonymous is not None
        self.parser.authenticated = self.authenticated

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        self.server.connections.pop(self.id, None)
        self.service.auth.security.release(self.user, ("resp", self.id))
        self._unsubscribe_all()
        for fut in list(self._blockers):
            fut.cancel()
        self._blockers.clear()
        self._queue.clear()
        self._held.clear()

    def pause_writing(self) -> None:
        self._write_paused = True
        self._update_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        self._update_reading()
        self._process()

    def data_received(self, data: bytes) -> None:
        if self._closing or self._doomed:
            return
        self.service.stats.net_input_bytes += len(data)
        self.last_active = time.monotonic()
        try:
            self.parser.feed(data)
        except RespQueryBufferLimitError as error:
            log.warning("resp: %s from %s (id %d); closing", error.message, self.peer, self.id)
            self._abort()
            return
        except RespProtocolError as error:
            self._protocol_error(error)
            self._flush()
            return
        self._process()

    # --- the command loop ----------------------------------------------------------------------------
    def _process(self) -> None:
        """Dispatch held and newly parsed commands until one holds the connection, the
        reply queue is full, or the input is used up; then write what is ready."""
        if self._processing or self._closing:
            return
        if self._doomed:
            self._flush()
            return
        self._processing = True
        try:
            queue = self._queue
            held = self._held
            dispatch = self._dispatch
            budget = MAX_COMMANDS_PER_TURN
            while not self._blockers and len(queue) < MAX_QUEUED_REPLIES and not self._doomed:
                if held:
                    dispatch(held.popleft())
                    budget -= 1
                    continue
                if budget <= 0:
                    # Let the event loop run (heartbeats keep the read lease, other clients
                    # get their turn); carry on in a later iteration.
                    if not self._continue_scheduled:
                        self._continue_scheduled = True
                        asyncio.get_running_loop().call_soon(self._continue)
                    break
                if self._out and len(self._out) >= PARSE_BATCH:
                    # A long pipeline: send what is ready, and stop while the socket is full
                    # (its replies would otherwise pile up here without bound).
                    self._write_out()
                    if self._write_paused or self._closing:
                        break
                try:
                    commands = self.parser.read_commands(PARSE_BATCH)
                except RespProtocolError as error:
                    self._protocol_error(error)
                    break
                if not commands:
                    break
                self.service.stats.commands += len(commands)
                budget -= len(commands)
                for index, argv in enumerate(commands):
                    dispatch(argv)
                    if self._blockers or self._doomed:
                        if not self._doomed:
                            held.extend(commands[index + 1 :])
                        break
        finally:
            self._processing = False
        self._flush()
        self._update_reading()

    def _continue(self) -> None:
        self._continue_scheduled = False
        self._process()

    def _dispatch(self, argv: list[bytes]) -> None:
        self.last_command = argv[0]
        route = _ROUTES.get(argv[0])
        if route is None:
            route = _resolve_route(argv[0])
        if self._reply_mode == "on":
            route(self, argv)
            return
        # CLIENT REPLY OFF/SKIP: run the command without its replies.
        skip = self._reply_mode == "skip"
        self._muted = True
        try:
            route(self, argv)
        finally:
            self._muted = False
        if skip and self._reply_mode == "skip":
            self._reply_mode = "on"

    # --- answering ------------------------------------------------------------------------------------
    def reply(self, value: Any) -> None:
        """Answer now (after any earlier reply still pending)."""
        if self._muted:
            return
        data = encode_reply(value, self.protocol)
        if self._queue:
            self._queue.append(data)
        else:
            self._out.append(data)

    def reply_push(self, items: list[Any]) -> None:
        """A subscribe-style reply: a push frame in RESP3, an array in RESP2."""
        self.reply(Push(items) if self.protocol == 3 else items)

    def reply_later(self, fut: asyncio.Future[Any], slot: int = -1) -> None:
        """Answer with ``fut``'s outcome, in order, without holding later commands."""
        self._queue.append(_Pending(fut, self.protocol, slot, self._muted))

    def block_on(self, awaitable: Awaitable[Any], slot: int = -1) -> asyncio.Future[Any]:
        """Answer with the outcome of ``awaitable``; commands after it wait until it is done."""
        fut = asyncio.ensure_future(awaitable)
        self._blockers.add(fut)
        fut.add_done_callback(self._unblock)
        self.reply_later(fut, slot)
        return fut

    def _unblock(self, fut: asyncio.Future[Any]) -> None:
        self._blockers.discard(fut)
        if not self._closing:
            self._process()

    def pending_futures(self) -> list[asyncio.Future[Any]]:
        """Futures of replies still to come (WAIT waits for them)."""
        return [item.fut for item in self._queue if isinstance(item, _Pending)]

    def push(self, data: bytes) -> None:
        """A pub/sub message for this client (from the registry)."""
        if self._closing:
            return
        if self._queue:
            self._queue.append(data)
        else:
            self._out.append(data)
        if not self._processing:
            self._flush()

    def close_after_reply(self) -> None:
        self._queue.append(_CLOSE)
        self._doomed = True

    def _flush(self) -> None:
        """Move every reply that is ready, in order, to the socket (one write)."""
        queue = self._queue
        out = self._out
        while queue:
            head = queue[0]
            if type(head) is bytes:
                out.append(head)
            elif type(head) is _Pending:
                fut = head.fut
                if not fut.done():
                    if not head.watched:
                        head.watched = True
                        fut.add_done_callback(self._on_ready)
                    break
                if not head.muted:
                    out.append(encode_reply(self._outcome(head), head.protocol))
            else:  # _CLOSE
                queue.clear()
                self._write_out()
                self._closing = True
                if self.transport is not None:
                    self.transport.close()
                return
            queue.popleft()
        self._write_out()

    def _write_out(self) -> None:
        out = self._out
        if not out:
            return
        data = out[0] if len(out) == 1 else b"".join(out)
        out.clear()
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        transport.write(data)
        self.service.stats.net_output_bytes += len(data)
        if self.channels or self.patterns or self.shard_channels:
            self._check_pubsub_buffer(transport)
        elif transport.get_write_buffer_size() > self.service.normal_output_limit:
            log.warning("resp: client %d (%s) exceeded the output buffer limit; closing", self.id, self.peer)
            self._abort()

    def _check_pubsub_buffer(self, transport: asyncio.Transport) -> None:
        service = self.service
        size = transport.get_write_buffer_size()
        if size > service.pubsub_hard_limit:
            log.warning(
                "resp: subscriber %d (%s) has %d bytes of unsent messages (hard limit %d); disconnecting",
                self.id, self.peer, size, service.pubsub_hard_limit,
            )  # fmt: skip
            service.stats.output_limit_disconnections += 1
            self._abort()
            return
        if size > service.pubsub_soft_limit:
            now = time.monotonic()
            if self._soft_limit_since is None:
                self._soft_limit_since = now
            elif now - self._soft_limit_since > service.pubsub_soft_seconds:
                log.warning("resp: subscriber %d (%s) over the soft output limit too long; disconnecting",
                            self.id, self.peer)  # fmt: skip
                service.stats.output_limit_disconnections += 1
                self._abort()
        else:
            self._soft_limit_since = None

    def _on_ready(self, fut: asyncio.Future[Any]) -> None:
        if self._closing:
            return
        self._flush()
        if len(self._queue) < MAX_QUEUED_REPLIES // 2 and not self._blockers:
            self._process()
        else:
            self._update_reading()

    def _outcome(self, entry: _Pending) -> Any:
        fut = entry.fut
        if fut.cancelled():
            return ErrorReply("ERR command cancelled")
        exc = fut.exception()
        if exc is None:
            return fut.result()
        from node.keyspace_service import Moved

        if isinstance(exc, Moved):
            slot = exc.slot if exc.slot >= 0 else entry.slot
            if slot < 0:  # a keyless command on a shard whose leadership just moved
                return ErrorReply("TRYAGAIN leadership of a shard moved during the command")
            return self.service.moved_reply(slot, exc.node_id, self.server.listener)
        if isinstance(exc, KeystreamError):
            return keystream_error_reply(exc)
        if isinstance(exc, RedisError):
            return exc
        if isinstance(exc, TimeoutError):
            return ErrorReply("OUTCOME_UNKNOWN the command timed out (it may or may not have been applied)")
        log.error("resp: command failed for client %d", self.id, exc_info=exc)
        return ErrorReply(f"ERR internal error: {type(exc).__name__}")

    def expire_stalled(self, now: float) -> None:
        """Writes not committed within WRITE_TIMEOUT_S answer OUTCOME_UNKNOWN (called each second)."""
        expired = False
        for item in self._queue:
            if type(item) is _Pending and not item.fut.done() and now - item.started > WRITE_TIMEOUT_S:
                if item.fut not in self._blockers:
                    item.fut = _timed_out()
                    expired = True
        if expired:
            self._flush()

    # --- reading flow control -----------------------------------------------------------------------------
    def _update_reading(self) -> None:
        transport = self.transport
        if transport is None or self._closing:
            return
        pause = (
            self._write_paused
            or len(self._queue) >= MAX_QUEUED_REPLIES
            or len(self._held) >= MAX_HELD_COMMANDS
            or (bool(self._blockers) and self.parser.buffered_bytes > MAX_HELD_INPUT_BYTES)
        )
        if pause and not self._reading_paused:
            self._reading_paused = True
            transport.pause_reading()
        elif not pause and self._reading_paused:
            self._reading_paused = False
            transport.resume_reading()

    # --- errors and closing --------------------------------------------------------------------------------
    def _protocol_error(self, error: RespProtocolError) -> None:
        log.info("resp: protocol error from %s (id %d): %s", self.peer, self.id, error.message)
        self.service.stats.protocol_errors += 1
        self._held.clear()
        if error.reply is not None:
            self._queue.append(error.reply)
        self._queue.append(_CLOSE)
        self._doomed = True

    def _abort(self) -> None:
        self._closing = True
        if self.transport is not None:
            self.transport.abort()

    def kill(self) -> None:
        """CLIENT KILL: close now, without a reply."""
        self._closing = True
        if self.transport is not None:
            self.transport.close()

    # --- state changes used by commands -------------------------------------------------------------------
    def subscription_count(self) -> int:
        return len(self.channels) + len(self.patterns)

    def set_user(self, user: Any) -> bool:
        """After AUTH/HELLO AUTH: ``user`` is a cluster.auth.Principal (or a name). False when
        the user already holds its maximum of connections to this node."""
        security = self.service.auth.security
        name = user if isinstance(user, str) else user.name
        if self.authenticated and self.user != name:
            security.release(self.user, ("resp", self.id))
        if not security.acquire(name, ("resp", self.id)):
            return False
        if isinstance(user, str):
            self.user = user
            self.principal = None
            self.restricted = False
        else:
            self.user = user.name
            self.principal = user
            self.restricted = not user.superuser
        self.authenticated = True
        self.parser.authenticated = True
        return True

    def authorize(self, argv: list[bytes], keys: list[bytes], write: bool) -> ErrorReply | None:
        """The cluster's roles for a keyspace command (NOPERM as Redis words it)."""
        principal = self.service.auth.security.refresh(self.principal)
        self.principal = principal
        role = "write" if write else "read"
        if not keys:
            if not principal.can("admin" if write else "read", "key", "*"):
                name = argv[0].decode("utf-8", "replace").lower()
                return ErrorReply(f"NOPERM this user has no permissions to run the '{name}' command")
            return None
        for key in keys:
            if not principal.can(role, "key", key):
                return ErrorReply("NOPERM this user has no permissions to access one of the keys used as arguments")
        return None

    def set_reply_mode(self, mode: str) -> None:
        if mode == "on":
            self._reply_mode = "on"
            self._muted = False
            self.reply(OK)
        else:
            self._reply_mode = mode
            self._muted = True

    def reset(self) -> None:
        """RESET: back to a fresh connection's state (the id stays)."""
        self.multi = None
        self.multi_error = False
        self.watched = []
        self._unsubscribe_all()
        self.protocol = 2
        self.name = b""
        self.readonly = False
        self.asking = False
        self._reply_mode = "on"
        self._muted = False
        if self.service.auth.required:
            self.authenticated = False
            self.parser.authenticated = False
            self.principal = None
            self.restricted = False
        self.user = "default"

    def _unsubscribe_all(self) -> None:
        registry = self.service.registry
        for channel in self.channels:
            registry.unsubscribe(self, channel)
        for pattern in self.patterns:
            registry.punsubscribe(self, pattern)
        for channel in self.shard_channels:
            registry.sunsubscribe(self, channel)
        self.channels = {}
        self.patterns = {}
        self.shard_channels = {}

    def drop_shard_channels(self, channels: list[bytes]) -> None:
        """The shard of these channels left this node: tell the client, as Redis does."""
        registry = self.service.registry
        for channel in channels:
            if self.shard_channels.pop(channel, 0) is None:
                registry.sunsubscribe(self, channel)
                frame: Any = [b"sunsubscribe", channel, len(self.shard_channels)]
                self.push(encode_reply(Push(frame) if self.protocol == 3 else frame, self.protocol))

    def describe(self) -> dict[str, Any]:
        """CLIENT LIST fields."""
        now = time.monotonic()
        flags = "P" if self.channels or self.patterns or self.shard_channels else ""
        if self.multi is not None:
            flags += "x"
        if self.readonly:
            flags += "r"
        if self._blockers:
            flags += "b"
        buffered = self.transport.get_write_buffer_size() if self.transport is not None else 0
        return {
            "id": self.id,
            "addr": self.peer,
            "laddr": self.local,
            "fd": self.fd,
            "name": self.name.decode("utf-8", "replace"),
            "age": int(now - self.created),
            "idle": int(now - self.last_active),
            "flags": flags or "N",
            "db": 0,
            "sub": len(self.channels),
            "psub": len(self.patterns),
            "ssub": len(self.shard_channels),
            "multi": len(self.multi) if self.multi is not None else -1,
            "qbuf": self.parser.buffered_bytes,
            "qbuf-free": 0,
            "argv-mem": 0,
            "multi-mem": 0,
            "rbs": 0,
            "rbp": 0,
            "obl": 0,
            "oll": len(self._queue),
            "omem": buffered,
            "tot-mem": buffered + self.parser.buffered_bytes,
            "events": "r" if not self._reading_paused else "",
            "cmd": self.last_command.decode("utf-8", "replace").lower()[:64],
            "user": self.user,
            "redir": -1,
            "resp": self.protocol,
            "lib-name": self.lib_info.get("lib-name", ""),
            "lib-ver": self.lib_info.get("lib-ver", ""),
        }

    # --- keyspace commands: the fast path ------------------------------------------------------------------
    def _keyspace(self, argv: list[bytes]) -> None:
        if self.multi is not None or not self.authenticated or (self.protocol == 2 and self._subscribed()):
            self._keyspace_checked(argv)
            return
        shape = _SHAPES.get((argv[0], len(argv)))
        if shape is None:
            classified = _shape(argv)
            if isinstance(classified, ErrorReply):
                self.reply(classified)
                return
            shape = classified
        kind, positions, blocking, name = shape
        if self.restricted:
            refused = self.authorize(argv, [argv[p] for p in positions], kind is not _READ)
            if refused is not None:
                self.reply(refused)
                return
        service = self.service
        if not positions:
            self.block_on(service.keyspace.execute(argv))
            return
        slot = key_slot(argv[positions[0]])
        for position in positions[1:]:
            if key_slot(argv[position]) != slot:
                self.reply(ErrorReply(CROSSSLOT))
                return
        shard = service.leader_shard(slot)
        if shard is None:
            redirect = service.redirect_unless_leader(slot, self.server.listener)
            if redirect is not None:
                self.reply(redirect)
            else:
                self.block_on(service.keyspace.execute(argv), slot)
            return
        if kind is _READ:
            if shard.read_now_ok():
                self.reply(shard.keyspace.read(argv, _now_ms(), service.rng, checked=name))
            else:
                self.block_on(service.keyspace.execute(argv), slot)
        elif blocking or not shard.ready_to_serve():
            self.last_write_shard = shard
            self.block_on(service.keyspace.execute(argv), slot)
        else:
            now = _now_ms()
            self._queue.append(
                _Pending(shard.submit(_KIND_COMMAND, shard.keyspace.prepare_write(argv, now), now),
                         self.protocol, slot, self._muted)
            )  # fmt: skip
            self.last_write_shard = shard

    def _subscribed(self) -> bool:
        return bool(self.channels or self.patterns or self.shard_channels)

    def _keyspace_checked(self, argv: list[bytes]) -> None:
        """A keyspace command from a client that is not authenticated, is in MULTI, or is
        a RESP2 subscriber."""
        name = argv[0].decode("utf-8", "replace").lower()
        if not self.authenticated:
            self.reply(ErrorReply("NOAUTH Authentication required."))
            return
        if self.multi is not None:
            self._queue_in_multi(argv, name)
            return
        if self.protocol == 2 and self._subscribed():
            self.reply(_not_in_subscribed_context(argv))
            return
        self._keyspace(argv)

    def _queue_in_multi(self, argv: list[bytes], name: str) -> None:
        """A command between MULTI and EXEC: checked now, queued, run at EXEC as one record."""
        assert self.multi is not None
        error = check_arity(argv)
        if error is None and name not in ("ping", "echo"):
            try:
                info = classify_argv(argv)
            except RedisError as exc:
                error = ErrorReply(exc.message)
            else:
                if info.kind is CommandKind.OTHER:
                    error = ErrorReply("ERR Command not allowed inside a transaction")
                elif info.blocking:
                    pass  # a blocking command inside MULTI does not block, as in Redis
                if error is None and info.slot is not None:
                    error = self.service.redirect_unless_leader(info.slot, self.server.listener)
        if error is not None:
            self.multi_error = True
            self.reply(error)
            return
        self.multi.append(argv)
        self.reply(QUEUED)

    # --- EXEC and WATCH (they need the keyspace service) ------------------------------------------------------
    def cmd_exec(self, argv: list[bytes]) -> None:
        if self.multi is None:
            self.reply(ErrorReply("ERR EXEC without MULTI"))
            return
        commands, self.multi = self.multi, None
        watched, self.watched = self.watched, []
        if self.multi_error:
            self.multi_error = False
            self.reply(ErrorReply("EXECABORT Transaction discarded because of previous errors."))
            return
        local = {i: argv for i, argv in enumerate(commands) if argv[0].lower() in (b"ping", b"echo")}
        keyspace_commands = [argv for i, argv in enumerate(commands) if i not in local]
        slot = -1
        for argv in keyspace_commands:
            try:
                info = classify_argv(argv)
            except RedisError:
                continue
            if info.slot is not None:
                slot = info.slot
                break
        if not keyspace_commands and not watched:
            self.reply([_local_reply(argv) for argv in commands])
            return
        self.block_on(self._run_exec(keyspace_commands, watched, local, len(commands)), slot)

    async def _run_exec(
        self, commands: list[list[bytes]], watched: list[Any], local: dict[int, list[bytes]], total: int
    ) -> Any:
        reply = await self.service.keyspace.execute_transaction(commands, watched)
        if not local or not isinstance(reply, list):
            return reply
        results = iter(reply)
        return [_local_reply(local[i]) if i in local else next(results) for i in range(total)]

    def cmd_watch(self, argv: list[bytes]) -> None:
        if self.multi is not None:
            self.reply(ErrorReply("ERR WATCH inside MULTI is not allowed"))
            return
        keys = argv[1:]
        slots = {key_slot(k) for k in keys}
        if len(slots) > 1:
            self.reply(ErrorReply(CROSSSLOT))
            return
        slot = slots.pop()
        redirect = self.service.redirect_unless_leader(slot, self.server.listener)
        if redirect is not None:
            self.reply(redirect)
            return
        self.block_on(self._run_watch(keys), slot)

    async def _run_watch(self, keys: list[bytes]) -> Any:
        self.watched.extend(await self.service.keyspace.watch(keys))
        return OK


# --- what the fast path needs to know about a keyspace command, cached per (name, argc) ----------------

_Shape = tuple[CommandKind, tuple[int, ...], bool, str]  # kind, key positions, blocking, name
_SHAPES: dict[tuple[bytes, int], _Shape] = {}
_SHAPE_CACHE_MAX: Final = 8192  # (raw name, argument count) pairs remembered
_READ: Final = CommandKind.READ


def _shape(argv: list[bytes]) -> _Shape | ErrorReply:
    """Classify ``argv`` (unknown command, arity); remember the result for its (name,
    argc) when its keys sit at positions that depend on the argument count only (every
    key spec is an index start with a range), which is every common command: then the
    next GET or SET costs one dict lookup instead of a walk of the command table."""
    try:
        info = classify_argv(argv)
    except RedisError as error:
        return ErrorReply(error.message)
    if info.kind is CommandKind.OTHER:
        return ErrorReply(unknown_command(argv))
    positions: tuple[int, ...] = ()
    if info.keys:
        try:
            positions = tuple(command_table.key_positions(info.spec, argv))
        except command_table.KeyExtractionError:
            positions = ()
    shape = (info.kind, positions, info.blocking, info.name)
    spec = info.spec
    fixed = all(
        isinstance(ks.begin_search, command_table.BeginIndex) and isinstance(ks.find_keys, command_table.FindRange)
        for ks in spec.key_specs
    )
    if fixed and not spec.subcommands and "|" not in spec.name and len(_SHAPES) < _SHAPE_CACHE_MAX:
        _SHAPES[(argv[0], len(argv))] = shape
    return shape


def _local_reply(argv: list[bytes]) -> Any:
    if argv[0].lower() == b"echo":
        return argv[1] if len(argv) == 2 else ErrorReply("ERR wrong number of arguments for 'echo' command")
    return argv[1] if len(argv) > 1 else SimpleString("PONG")


def _timed_out() -> asyncio.Future[Any]:
    fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    fut.set_exception(KeystreamError(ErrorCode.OUTCOME_UNKNOWN, "write not committed in time"))
    return fut


def _not_in_subscribed_context(argv: list[bytes]) -> ErrorReply:
    spec = command_table.lookup(argv)
    name = spec.name if spec is not None else argv[0].decode("utf-8", "replace").lower()
    return ErrorReply(
        f"ERR Can't execute '{name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET "
        "are allowed in this context"
    )


# --- routing a command name to its handler ---------------------------------------------------------------

_ROUTES: dict[bytes, Route] = {}
_ROUTE_CACHE_MAX: Final = 4096  # distinct raw command names remembered (case variants included)


def _is_admin_command(name: str, argv: list[bytes]) -> bool:
    """Front-end commands a restricted user may not run (they act on the node or others)."""
    if name in ("bgsave",):
        return True
    return name == "client" and len(argv) > 1 and argv[1].lower() in (b"kill", b"pause", b"unpause")


def _front_end_route(name: str, handler: Route) -> Route:
    """Wrap one of our own commands with Redis's dispatch-time checks."""

    def route(conn: RespConnection, argv: list[bytes]) -> None:
        if not conn.authenticated and name not in NO_AUTH_ALLOWED:
            conn.reply(ErrorReply("NOAUTH Authentication required."))
            return
        if conn.restricted and _is_admin_command(name, argv):
            principal = conn.service.auth.security.refresh(conn.principal)
            if not principal.can("admin", "cluster"):
                conn.reply(ErrorReply(f"NOPERM this user has no permissions to run the '{name}' command"))
                return
        if conn.multi is not None and name not in MULTI_IMMEDIATE:
            conn._queue_in_multi(argv, name)
            return
        if conn.protocol == 2 and name not in SUBSCRIBED_ALLOWED and conn._subscribed():
            conn.reply(_not_in_subscribed_context(argv))
            return
        error = check_arity(argv)
        if error is not None:
            if name == "exec" and conn.multi is not None:
                conn.multi = None
            conn.reply(error)
            return
        handler(conn, argv)

    return route


_OWN_ROUTES: dict[str, Route] = {name: _front_end_route(name, handler) for name, handler in COMMANDS.items()}
_OWN_ROUTES["exec"] = _front_end_route("exec", RespConnection.cmd_exec)
_OWN_ROUTES["watch"] = _front_end_route("watch", RespConnection.cmd_watch)


def _resolve_route(raw: bytes) -> Route:
    name = raw.decode("utf-8", "surrogateescape").lower()
    route = _OWN_ROUTES.get(name) or RespConnection._keyspace
    if len(_ROUTES) < _ROUTE_CACHE_MAX:
        _ROUTES[raw] = route
    return route


class RespServer:
    """The RESP listener of one named listener."""

    def __init__(self, service: RespService, listener: str, bind: str) -> None:
        self.service = service
        self.listener = listener
        self.bind = bind
        self.connections: dict[int, RespConnection] = {}
        self._server: asyncio.base_events.Server | None = None

    async def start(self, host: str, port: int, ssl: Any = None) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: RespConnection(self), host or None, port, reuse_address=True, backlog=1024, ssl=ssl
        )

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for conn in list(self.connections.values()):
                conn.kill()
            await self._server.wait_closed()
            self._server = None
