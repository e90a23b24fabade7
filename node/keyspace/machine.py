"""The keyspace state machine of one shard: classify, prepare, apply, read.

How a shard uses it (see ``node/keyspace/__init__.py`` for the whole API):

1. ``classify(argv)`` on the node that received a command: unknown command, arity and
   CROSSSLOT errors, read or write, keys and slot (from the command table).
2. Writes, on the shard leader: ``prepare_write(argv, now_ms)`` makes the command
   deterministic (relative TTLs become absolute); the leader logs the result with a
   context ``ApplyContext(now_ms, seed, offset)``.
3. Every replica applies committed records in log order: ``apply(argv, ctx)``. Only the
   record decides the result: the time is the record's, randomness comes from the
   record's seed, iteration orders are insertion orders. Same records, same order -> same
   state and same replies everywhere (checked with ``digest()``).
4. Reads, on the leader: ``read(argv, now_ms)`` on the applied state; never mutates.

Offsets must increase from record to record (the WATCH window relies on it). Time never
goes backwards inside the machine: each record is applied at
``max(record time, latest time applied)``, so a leader with a slower clock after a
failover cannot bring expired keys back.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import IO, NamedTuple

from cluster import commands as command_table
from cluster.commands import CommandSpec, KeyExtractionError
from node.keyspace import hashes, keys, lists, sets, strings, zsets
from node.keyspace.database import Database
from node.keyspace.execution import Execution
from node.keyspace.expiry import ActiveExpiry
from node.keyspace.limits import KeyspaceLimits
from node.keyspace.replies import (
    CROSSSLOT,
    NULL_ARRAY,
    OOM,
    STRING_TOO_LONG,
    RedisError,
    Reply,
    SimpleString,
    unknown_command,
    wrong_arity,
)
from node.keyspace.slots import is_internal_key, key_slot
from node.keyspace.watch import ModificationWindow

Handler = Callable[[Execution, list[bytes]], Reply]
BlockingHandler = Callable[..., Reply]

_HANDLERS: dict[str, Handler] = {
    **strings.COMMANDS,
    **keys.COMMANDS,
    **hashes.COMMANDS,
    **lists.COMMANDS,
    **sets.COMMANDS,
    **zsets.COMMANDS,
}
_BLOCKING: dict[str, BlockingHandler] = dict(lists.BLOCKING_COMMANDS)

# Connection commands a client may queue between MULTI and EXEC; deterministic, so the
# machine answers them in place and the EXEC reply keeps its order.
_TRANSACTION_EXTRAS: dict[str, Callable[[list[bytes]], Reply]] = {
    "ping": lambda argv: argv[1] if len(argv) == 2 else SimpleString("PONG"),
    "echo": lambda argv: argv[1],
}

# The leader's determinisation, per command (argv, now_ms) -> argv.
_PREPARERS: dict[str, Callable[[list[bytes], int], list[bytes]]] = {
    "set": strings.absolute_expire_argv,
    "getex": strings.absolute_expire_argv,
    "setex": lambda argv, now: _setex_as_set(argv, now, seconds=True),
    "psetex": lambda argv, now: _setex_as_set(argv, now, seconds=False),
    "expire": keys.pexpireat_argv,
    "pexpire": keys.pexpireat_argv,
    "expireat": keys.pexpireat_argv,
}


def _setex_as_set(argv: list[bytes], now_ms: int, seconds: bool) -> list[bytes]:
    unit = b"EX" if seconds else b"PX"
    rewritten = strings.absolute_expire_argv([b"SET", argv[1], argv[3], unit, argv[2]], now_ms)
    return rewritten if rewritten[-2] == b"PXAT" else argv


class CommandKind(Enum):
    READ = "read"  # executed by the leader on its applied state: Keyspace.read
    WRITE = "write"  # logged, then applied by every replica: Keyspace.apply
    OTHER = "other"  # connection/server/cluster/pub-sub/transaction: the front end's


@dataclass(frozen=True, slots=True)
class CommandInfo:
    name: str  # lower case; "parent|sub" for subcommands
    spec: CommandSpec
    kind: CommandKind
    keys: tuple[bytes, ...]
    slot: int | None  # the slot of the keys, None for keyless commands
    blocking: bool  # BLPOP, BRPOP, BLMOVE, BRPOPLPUSH


@dataclass(frozen=True, slots=True)
class ApplyContext:
    """What a log record carries besides the argv."""

    now_ms: int  # the leader's wall clock (unix ms) when it logged the record
    seed: int  # the leader's random choice for SPOP and friends
    offset: int  # the record's log offset


class Watch(NamedTuple):
    """A key a transaction WATCHed: at which applied offset, at which leader time (ms)."""

    key: bytes
    offset: int
    time_ms: int


@dataclass(frozen=True, slots=True)
class TouchEvent:
    """Published after each applied record that changed something."""

    offset: int
    keys: tuple[bytes, ...]  # modified keys (duplicates removed, in order)
    flushed: bool  # FLUSHALL/FLUSHDB: every key changed


# (name as sent, argc) -> (spec, kind, key positions) for commands whose keys sit at
# positions that depend on the argument count only (every common command): every replica
# classifies every command it applies, so the command-table walk is done once per shape.
_SHAPES: dict[tuple[bytes, int], tuple[CommandSpec, CommandKind, tuple[int, ...]]] = {}
_SHAPE_CACHE_MAX = 4096


def classify_argv(argv: Sequence[bytes], need_slot: bool = True) -> CommandInfo:
    """Validate the shape of a command (no state needed): unknown command, arity,
    CROSSSLOT; raises :class:`RedisError` with Redis's text. ``need_slot=False``
    (applying a logged command): the slot of a single-key command is not computed."""
    if not argv:
        raise RedisError("ERR unknown command '', with args beginning with: ")
    name_sent = argv[0]
    shape = _SHAPES.get((name_sent, len(argv))) if type(name_sent) is bytes else None
    if shape is None:
        spec, kind, positions, fixed = _classify_shape(argv)
        if fixed and type(name_sent) is bytes and len(_SHAPES) < _SHAPE_CACHE_MAX:
            _SHAPES[(name_sent, len(argv))] = (spec, kind, positions)
    else:
        spec, kind, positions = shape
    found = tuple(argv[i] for i in positions)
    slot = None
    if found and (need_slot or len(found) > 1):
        slot = key_slot(found[0])
        for key in found[1:]:
            if key_slot(key) != slot:
                raise RedisError(CROSSSLOT)
    return CommandInfo(spec.name, spec, kind, found, slot, spec.is_blocking)


def _classify_shape(argv: Sequence[bytes]) -> tuple[CommandSpec, CommandKind, tuple[int, ...], bool]:
    spec = command_table.lookup(argv)
    if spec is None:
        raise RedisError(unknown_command(list(argv)))
    if not spec.arity_ok(len(argv)):
        raise RedisError(wrong_arity(spec.name))
    name = spec.name
    if name in _HANDLERS or name in _BLOCKING:
        kind = CommandKind.WRITE if spec.is_write else CommandKind.READ
    else:
        kind = CommandKind.OTHER
    try:
        positions = tuple(command_table.key_positions(spec, argv))
    except KeyExtractionError:
        positions = ()  # the command itself reports the malformed numkeys
    fixed = (
        not spec.subcommands
        and "|" not in name
        and all(
            isinstance(ks.begin_search, command_table.BeginIndex) and isinstance(ks.find_keys, command_table.FindRange)
            for ks in spec.key_specs
        )
    )
    return spec, kind, positions, fixed


def _transaction_slots(commands: Sequence[Sequence[bytes]]) -> int:
    slots: set[int] = set()
    for argv in commands:
        try:
            info = classify_argv(argv)
        except RedisError:
            continue
        if info.slot is not None:
            slots.add(info.slot)
    return len(slots)


class Keyspace:
    """One shard's state. See the module docstring and ``node/keyspace/__init__.py``."""

    def __init__(self, limits: KeyspaceLimits | None = None) -> None:
        self.limits = limits or KeyspaceLimits()
        self.db = Database()
        self.window = ModificationWindow(self.limits.watch_window)
        self.applied_offset = -1
        self.clock_ms = 0  # the latest record time applied
        self._expiry = ActiveExpiry()
        self._listeners: list[Callable[[TouchEvent], None]] = []

    # --- classification and preparation -----------------------------------------------

    def classify(self, argv: Sequence[bytes]) -> CommandInfo:
        return classify_argv(argv)

    def prepare_write(self, argv: Sequence[bytes], now_ms: int, rng: random.Random | None = None) -> list[bytes]:
        """The argv to log for a write: relative TTLs become absolute at ``now_ms``
        (pass the same ``now_ms`` as the record's). Commands that will fail are returned
        unchanged, so every replica fails them identically. ``rng`` is accepted for
        symmetry: random choices come from the record's seed, not from rewriting."""
        rewrite = _PREPARERS.get(argv[0].lower().decode("utf-8", "replace")) if argv else None
        argv = list(argv)
        return rewrite(argv, now_ms) if rewrite is not None else argv

    # --- applying records ---------------------------------------------------------------

    def apply(self, argv: Sequence[bytes], ctx: ApplyContext) -> Reply:
        """Apply one logged command; deterministic in (state, argv, ctx)."""
        ex = self._execution(ctx)
        reply = self._execute(ex, list(argv), in_transaction=False)
        self._finish(ex, ctx)
        return reply

    def apply_transaction(
        self, commands: Sequence[Sequence[bytes]], ctx: ApplyContext, watched: Sequence[Watch] = ()
    ) -> Reply:
        """MULTI/EXEC as one record: every command (reads included) runs atomically at
        the record's time. ``NULL_ARRAY`` (EXEC's nil) if a watched key changed after it
        was watched, expired since, or cannot be vouched for (see watch.py). Like Redis
        Cluster, a transaction whose keys span slots fails whole with CROSSSLOT."""
        ex = self._execution(ctx)
        if _transaction_slots(commands) > 1:
            self._finish(ex, ctx)
            return RedisError(CROSSSLOT)
        for watch in watched:
            if self._watch_broken(watch, ex.now_ms):
                self._finish(ex, ctx)
                return NULL_ARRAY
        replies: list[Reply] = [self._execute(ex, list(argv), in_transaction=True) for argv in commands]
        self._finish(ex, ctx)
        return replies

    def apply_expiry(self, expired: Sequence[bytes], ctx: ApplyContext) -> int:
        """The active-expiry record: delete those keys that are still expired at the
        record's time. Returns how many were deleted."""
        ex = self._execution(ctx)
        deleted = 0
        for key in expired:
            when = self.db.expire_at(key)
            if when is not None and ex.now_ms > when and self.db.delete(key):
                ex.touch(key)
                deleted += 1
        self._finish(ex, ctx)
        return deleted

    def _watch_broken(self, watch: Watch, now_ms: int) -> bool:
        if self.window.modified_after(watch.key, watch.offset):
            return True
        when = self.db.expire_at(watch.key)
        # Expired since the WATCH (Redis 7 counts that as a change), not before it.
        return when is not None and now_ms > when and when >= watch.time_ms

    def _execution(self, ctx: ApplyContext) -> Execution:
        if ctx.offset <= self.applied_offset:
            raise ValueError(f"offset {ctx.offset} <= applied offset {self.applied_offset}")
        now = max(ctx.now_ms, self.clock_ms)
        return Execution(self.db, now, ctx.seed, True, self.limits)

    def _finish(self, ex: Execution, ctx: ApplyContext) -> None:
        self.applied_offset = ctx.offset
        self.clock_ms = ex.now_ms
        if ex.flushed:
            self.window.record_flush(ctx.offset)
        touched = tuple(dict.fromkeys(ex.touched))
        if touched:
            self.window.record(touched, ctx.offset)
        if (touched or ex.flushed) and self._listeners:
            event = TouchEvent(ctx.offset, touched, ex.flushed)
            for listener in self._listeners:
                listener(event)

    def _execute(self, ex: Execution, argv: list[bytes], in_transaction: bool) -> Reply:
        try:
            info = classify_argv(argv, need_slot=False)
            if info.kind is CommandKind.OTHER:
                if in_transaction and info.name in _TRANSACTION_EXTRAS:
                    return _TRANSACTION_EXTRAS[info.name](argv)
                raise RedisError(unknown_command(argv))
            self._check_limits(info, argv)
            if info.blocking:
                return _BLOCKING[info.name](ex, argv, in_transaction=in_transaction)
            return _HANDLERS[info.name](ex, argv)
        except RedisError as error:
            return error

    def _check_limits(self, info: CommandInfo, argv: list[bytes]) -> None:
        limits = self.limits
        if any(len(key) > limits.max_key_bytes for key in info.keys):
            raise RedisError(STRING_TOO_LONG)
        if any(len(arg) > limits.max_value_bytes for arg in argv):
            raise RedisError(STRING_TOO_LONG)
        # At the key limit, a command that may add data and names a key that does not
        # exist yet (it could create it) is refused, as Redis refuses them past maxmemory.
        if (
            info.spec.denies_oom
            and self.db.key_count >= limits.max_keys
            and any(self.db.lookup(key) is None for key in info.keys)
        ):
            raise RedisError(OOM)

    # --- reads --------------------------------------------------------------------------

    def read(
        self, argv: Sequence[bytes], now_ms: int, rng: random.Random | None = None, checked: str | None = None
    ) -> Reply:
        """A read-only command on the applied state, at the leader's ``now_ms``; never
        changes anything (expired keys just read as absent). ``rng`` serves SRANDMEMBER,
        HRANDFIELD, ZRANDMEMBER and RANDOMKEY. ``checked``: the command's name, when the
        caller has already classified ``argv`` as a read (arity, keys in one slot) -- the
        RESP fast path caches that per command shape."""
        argv = list(argv)
        if checked is None:
            try:
                info = classify_argv(argv)
            except RedisError as error:
                return error
            if info.kind is not CommandKind.READ:
                raise ValueError(f"{info.name!r} is not a read-only keyspace command")
            checked = info.name
        ex = Execution(self.db, max(now_ms, self.clock_ms), rng, False, self.limits)
        try:
            return _HANDLERS[checked](ex, argv)
        except RedisError as error:
            return error

    # --- expiry, slots, listeners -----------------------------------------------------

    def active_expire_candidates(self, now_ms: int, limit: int) -> list[bytes]:
        """Leader only: up to ``limit`` keys past their TTL, for an expiry record."""
        return self._expiry.candidates(self.db, max(now_ms, self.clock_ms), limit)

    def count_keys_in_slot(self, slot: int) -> int:
        """CLUSTER COUNTKEYSINSLOT: the user's keys (not the cluster's ``{__...`` ones, as DBSIZE)."""
        internal = sum(1 for key in self.db.internal_keys if key_slot(key) == slot) if self.db.internal_keys else 0
        return self.db.count_in_slot(slot) - internal

    def keys_in_slot(self, slot: int, count: int) -> list[bytes]:
        """CLUSTER GETKEYSINSLOT: up to ``count`` of the user's keys in ``slot``."""
        found: list[bytes] = []
        for key in self.db.keys_in_slot(slot):
            if len(found) >= count:
                break
            if not is_internal_key(key):
                found.append(key)
        return found

    def scan(
        self,
        now_ms: int,
        cursor: int = 0,
        match: bytes | None = None,
        count: int = 10,
        type_name: bytes | None = None,
    ) -> tuple[int, list[bytes]]:
        """SCAN over this shard: ``(next_cursor, keys)``; the cursor's low 14 bits are the
        slot it continues in (see scan.py), 0 when done."""
        argv = [b"SCAN", b"%d" % cursor, b"COUNT", b"%d" % count]
        if match is not None:
            argv += [b"MATCH", match]
        if type_name is not None:
            argv += [b"TYPE", type_name]
        reply = self.read(argv, now_ms)
        if isinstance(reply, RedisError):
            raise reply
        assert isinstance(reply, list) and isinstance(reply[0], bytes)
        keys = reply[1]
        assert isinstance(keys, list)
        return int(reply[0]), [key for key in keys if isinstance(key, bytes)]

    def add_listener(self, listener: Callable[[TouchEvent], None]) -> None:
        """Called after every applied record that modified keys (wake BLPOP clients,
        invalidate client-side WATCH state)."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[TouchEvent], None]) -> None:
        self._listeners.remove(listener)

    @property
    def key_count(self) -> int:
        return self.db.key_count

    @property
    def user_key_count(self) -> int:
        """DBSIZE: the keys a user sees (not the cluster's internal ``{__...`` ones)."""
        return self.db.user_key_count

    # --- snapshots and digests -----------------------------------------------------------

    def snapshot(self, fp: IO[bytes]) -> None:
        from node.keyspace.snapshot import write_snapshot

        write_snapshot(self, fp)

    @classmethod
    def load(cls, fp: IO[bytes], limits: KeyspaceLimits | None = None) -> Keyspace:
        from node.keyspace.snapshot import read_snapshot

        keyspace = cls(limits)
        read_snapshot(keyspace, fp)
        return keyspace

    def digest(self) -> bytes:
        from node.keyspace.snapshot import state_digest

        return state_digest(self)
