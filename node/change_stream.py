"""Keyspace change streams: every committed change, readable as the topic ``__keyspace.changes``.

Redis's keyspace notifications are fire-and-forget pub/sub: a subscriber that
is down misses them. Here every replica of a shard, as it applies a committed
record, appends one change record per key the command touched to a local log
(``<shard dir>/changes``): the key, the command, and the key's resulting type,
value and expiry time, or its deletion. Replicas apply the same records in
the same order with the record's own clock, so every replica writes the same
change log, offsets included; the shard's leader serves it as partition
``shard`` of the read-only topic ``__keyspace.changes``, with the usual fetch,
offsets, consumer groups and retention (``keyspace.changes.retention.ms``).

The cluster's own keys (``{__group:G}:...``, consumer-group offsets) are left out: a
group's commits are not changes of the user's data, as Kafka's ``__consumer_offsets``
writes appear in no user topic.

A snapshot records where the change log stood, so a replica that restarts
from a snapshot (or installs one) cuts its change log there and regenerates
the rest exactly as it was.

Value encoding (msgpack map): ``{"op": "HSET", "offset": <keyspace offset>,
"time": <record ms>, "type": "hash", "value": {...}, "expire_at": ms|None}``;
a deletion is ``{"op": ..., "deleted": true}``; a collection larger than
``MAX_VALUE_ELEMENTS`` carries ``"truncated": true, "size": n`` instead of its
value.
"""

from __future__ import annotations

import logging
from typing import Any

import msgpack

from node.keyspace import Keyspace, Map, PairArray, SetReply, SimpleString
from node.keyspace.slots import is_internal_key
from node.storage import LogConfig, PartitionLog
from node.storage.batch import build_batch

log = logging.getLogger(__name__)

CHANGES_SUFFIX = ".changes"
MAX_VALUE_ELEMENTS = 10_000
DAY_MS = 24 * 3600 * 1000

_READ_VALUE = {
    "string": lambda key: [b"GET", key],
    "hash": lambda key: [b"HGETALL", key],
    "list": lambda key: [b"LRANGE", key, b"0", b"-1"],
    "set": lambda key: [b"SMEMBERS", key],
    "zset": lambda key: [b"ZRANGE", key, b"0", b"-1", b"WITHSCORES"],
}
_SIZE = {"hash": b"HLEN", "list": b"LLEN", "set": b"SCARD", "zset": b"ZCARD"}


def _plain(reply: Any) -> Any:
    if isinstance(reply, Map):
        return {_plain(k): _plain(v) for k, v in reply.pairs}
    if isinstance(reply, SetReply):
        return [_plain(x) for x in reply.items]
    if isinstance(reply, PairArray):
        return [[_plain(a), _plain(b)] for a, b in reply.pairs]
    if isinstance(reply, SimpleString):
        return reply.text
    if isinstance(reply, list):
        return [_plain(x) for x in reply]
    return reply


def describe_key(keyspace: Keyspace, key: bytes, now_ms: int) -> dict[str, Any]:
    """The key's state after a record, read at the record's time (deterministic)."""
    kind = keyspace.read([b"TYPE", key], now_ms)
    kind_name = kind.text if isinstance(kind, SimpleString) else str(kind)
    if kind_name == "none":
        return {"deleted": True}
    out: dict[str, Any] = {"type": kind_name}
    size_cmd = _SIZE.get(kind_name)
    size = keyspace.read([size_cmd, key], now_ms) if size_cmd else None
    if isinstance(size, int) and size > MAX_VALUE_ELEMENTS:
        out["truncated"] = True
        out["size"] = size
    elif kind_name in _READ_VALUE:
        out["value"] = _plain(keyspace.read(_READ_VALUE[kind_name](key), now_ms))
    expire = keyspace.read([b"PEXPIRETIME", key], now_ms)
    out["expire_at"] = expire if isinstance(expire, int) and expire > 0 else None
    return out


class ChangeLog:
    """One shard replica's change log (a local PartitionLog, derived, never fetched)."""

    def __init__(self, directory: str, retention_ms: int) -> None:
        config = LogConfig(retention_ms=retention_ms, segment_bytes=64 * 1024 * 1024)
        self.log = PartitionLog.open(directory, config, 0)

    def append(self, keyspace: Keyspace, offset: int, op: str, keys: list[bytes], now_ms: int) -> int:
        """Append one change record per touched key; returns how many."""
        records = []
        for key in keys:
            if is_internal_key(key):
                continue
            change = describe_key(keyspace, key, now_ms)
            change.update(op=op, offset=offset, time=now_ms)
            records.append((key, msgpack.packb(change, use_bin_type=True), None, now_ms))
        if records:
            self.log.append_as_leader(build_batch(records, now_ms=now_ms), 0, now_ms)
        return len(records)

    def cut_at(self, next_offset: int) -> None:
        """Make the log end at ``next_offset`` (after loading a snapshot taken there)."""
        end = self.log.log_end_offset
        if end > next_offset >= self.log.log_start_offset:
            self.log.truncate_to(next_offset)
        elif next_offset != end:
            self.log.truncate_fully_and_start_at(next_offset)

    def close(self) -> None:
        self.log.close()
