"""The keyspace state machine: one shard's Redis-compatible data, sans-I/O.

A keyspace *shard* is a replicated partition of the internal log ``__keyspace``. Its
leader turns client commands into log records; every replica applies committed records in
log order to its own :class:`Keyspace`; the leader answers writes with the reply of its own
apply and reads from its applied state. Nothing here touches sockets, threads or clocks:
time and randomness come in as arguments.

Public API
==========

``Keyspace(limits: KeyspaceLimits | None = None)``

* ``classify(argv: Sequence[bytes]) -> CommandInfo`` — name, ``kind`` (``READ``,
  ``WRITE``, ``OTHER`` for what the front end handles), keys, ``slot``, ``blocking``.
  Raises :class:`RedisError` for an unknown command, a wrong arity or ``CROSSSLOT``.
  (Also available without a keyspace as ``classify_argv``.)
* ``prepare_write(argv, now_ms, rng=None) -> list[bytes]`` — leader side, before logging:
  ``EXPIRE k 10`` -> ``PEXPIREAT k <abs ms>``, ``SET ... EX|PX|EXAT`` and ``GETEX ...`` ->
  ``PXAT <abs>``, ``SETEX``/``PSETEX`` -> ``SET ... PXAT``. Never raises: an invalid command
  is logged unchanged and fails identically on every replica.
* ``apply(argv, ctx: ApplyContext) -> Reply`` — one write record, deterministic in
  (state, argv, ctx). ``ApplyContext(now_ms, seed, offset)``: the leader's clock when it
  logged, a random seed (SPOP), the record's log offset (strictly increasing). Blocking
  commands (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH) pop when a key has data and otherwise
  return ``WOULD_BLOCK``: the shell parks the client and retries when a listener reports
  one of its keys touched, or replies ``NULL_ARRAY`` at the timeout
  (``lists.blocking_timeout_ms(argv[-1])`` parses it).
* ``apply_transaction(commands, ctx, watched: Sequence[Watch] = ()) -> Reply`` — MULTI/EXEC
  as one record, atomic, reads included. ``Watch(key, offset, time_ms)``: the applied offset
  and leader time when the client WATCHed the key. Returns the list of replies, or
  ``NULL_ARRAY`` when a watched key changed, expired, or is older than the WATCH window
  (see ``watch.py``); ``RedisError(CROSSSLOT)`` when the commands' keys span slots. PING and
  ECHO may be queued too. Queue-time errors (EXECABORT) are the front end's.
* ``apply_expiry(keys, ctx) -> int`` — the active-expiry record: deletes the keys that are
  still expired at ``ctx.now_ms``.
* ``read(argv, now_ms, rng=None) -> Reply`` — read-only commands on the applied state.
* ``active_expire_candidates(now_ms, limit) -> list[bytes]`` — leader's sweep, bounded work.
* ``snapshot(fp)`` / ``Keyspace.load(fp, limits=None)`` — streaming msgpack, bounded memory,
  digest-checked; everything needed for identical future replies (orders, TTLs, WATCH
  window, clock, applied offset).
* ``digest() -> bytes`` — 16 bytes, order-independent over keys; equal on replicas.
* ``count_keys_in_slot(slot)``, ``keys_in_slot(slot, count)``, ``key_count``,
  ``user_key_count`` (without the cluster's ``{__...`` keys), ``applied_offset``,
  ``clock_ms``; ``scan(now_ms, cursor, match, count, type_name) -> (cursor, keys)``
  (the cursor's low 14 bits name the slot to continue in); SCAN/KEYS/RANDOMKEY/DBSIZE also through ``read``.
* ``add_listener(callback(TouchEvent))`` — after each record that modified keys:
  ``TouchEvent(offset, keys, flushed)``.

Replies (``replies.py``) map one-to-one to RESP2/RESP3: ``bytes`` bulk, ``None`` null,
``NULL_ARRAY`` null array, ``int``, ``float`` (double), ``SimpleString``, ``RedisError``,
``list``, ``Map``, ``SetReply``, ``PairArray`` (nested pairs in RESP3 only); error texts
are Redis 7.0's.

Modules: ``machine`` (dispatch, apply, read), ``execution`` (per-command context, lazy
expiry), ``database`` (per-slot storage), ``containers`` (set and sorted-set structures),
``strings``/``keys``/``hashes``/``lists``/``sets``/``zsets`` (commands), ``expiry`` (active
sweep), ``watch`` (WATCH window), ``scan`` (cursors, glob), ``snapshot`` (snapshots and
digest), ``numeric`` (Redis's number parsing and printing), ``arguments``, ``limits``,
``slots``, ``replies``.
"""

from __future__ import annotations

from node.keyspace.limits import KeyspaceLimits
from node.keyspace.machine import (
    ApplyContext,
    CommandInfo,
    CommandKind,
    Keyspace,
    TouchEvent,
    Watch,
    classify_argv,
)
from node.keyspace.replies import (
    NULL_ARRAY,
    OK,
    WOULD_BLOCK,
    Map,
    PairArray,
    RedisError,
    Reply,
    SetReply,
    SimpleString,
    format_double,
)
from node.keyspace.slots import key_slot
from node.keyspace.snapshot import SnapshotError

__all__ = [
    "NULL_ARRAY",
    "OK",
    "WOULD_BLOCK",
    "ApplyContext",
    "CommandInfo",
    "CommandKind",
    "Keyspace",
    "KeyspaceLimits",
    "Map",
    "PairArray",
    "RedisError",
    "Reply",
    "SetReply",
    "SimpleString",
    "SnapshotError",
    "TouchEvent",
    "Watch",
    "classify_argv",
    "format_double",
    "key_slot",
]
